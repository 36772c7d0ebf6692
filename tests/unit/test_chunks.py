"""Chunking follows each document structure of docs/knowledge-format.md."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.chunks import chunk_id, heading_label, split_document
from index.corpus import read_corpus, read_document
from index.errors import KnowledgeFileError
from index.format import DocumentMeta, read_front_matter, write_front_matter
from tests.conftest import REAL_DOCS, SAMPLE_DOCS


def locators(path: Path) -> list[str]:
    return [c.locator for c in read_document(path).chunks]


def test_numbered_paragraphs_footnotes_and_subitems() -> None:
    doc = read_document(SAMPLE_DOCS / "sample-report.md")
    by_locator = {c.locator: c for c in doc.chunks}
    assert by_locator["para 1"].text.endswith("[1] The survey covered fourteen agencies.")
    assert "(a) check commitment" in by_locator["para 2"].text
    assert "(b) review sanctions lists." in by_locator["para 2"].text
    assert by_locator["para 1"].headings == ("I. Introduction",)


def test_recommendation_text_and_its_comment_paragraphs() -> None:
    doc = read_document(SAMPLE_DOCS / "sample-report.md")
    by_locator = {c.locator: c for c in doc.chunks}
    assert by_locator["Recommendation 1"].text.startswith("The executive heads should adopt")
    assert by_locator["para 3"].headings == ("II. Recommendations", "Recommendation 1")
    assert by_locator["para 4"].text == "4. Capacity assessments remain costly for small partners."


def test_unnumbered_paragraphs_are_counted_under_their_heading() -> None:
    assert locators(SAMPLE_DOCS / "sample-report.md") == [
        "Summary ¶1", "Summary ¶2", "para 1", "para 2", "Recommendation 1", "para 3", "para 4",
        "Box 1 ¶1", "Box 1 ¶2",
    ]


def test_table_row_is_one_passage_with_labelled_columns() -> None:
    doc = read_document(SAMPLE_DOCS / "table-and-issues.md")
    row = next(c for c in doc.chunks if c.locator == "Recommendation 1")
    assert "Management response: Accepted" in row.text
    assert "Target date: 31 December 2023" in row.text
    assert "**" not in row.text


def test_issues_and_action_points() -> None:
    doc = read_document(SAMPLE_DOCS / "table-and-issues.md")
    by_locator = {c.locator: c for c in doc.chunks}
    assert by_locator["Issue #1"].text.endswith("Action Points and Progress:")
    assert "A screening tool was released." in by_locator["Issue #1, action point 1"].text
    assert "No progress thus far." in by_locator["Issue #1, action point 2"].text
    assert doc.date == "2006"


def test_heading_label() -> None:
    assert heading_label("Box 3. Sharing and coordinating resources") == "Box 3"
    assert heading_label("II. General comments") == "II. General comments"
    assert heading_label("Summary") == "Summary"


def test_chunk_id_changes_with_text_source_or_locator() -> None:
    base = chunk_id("doc", "para 1", "text")
    assert base == chunk_id("doc", "para 1", "text")
    assert len({base, chunk_id("doc2", "para 1", "text"), chunk_id("doc", "para 2", "text"),
                chunk_id("doc", "para 1", "text!")}) == 4


def test_embed_text_carries_title_and_heading_path() -> None:
    chunks = split_document("## A. Section\n\n1. Some text.", source="s", title="T", symbol=None)
    assert chunks[0].embed_text.startswith("T > A. Section")
    assert chunks[0].embed_text.endswith("1. Some text.")


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("jiu-implementing-partners",
         ["para 1", "Recommendation 1", "para 8", "Recommendation 10"]),
        ("jiu-results-based-management", ["Summary ¶1", "Recommendation 7", "para 16"]),
        ("towards-global-partnerships", ["para 1", "para 55", "para 66", "Box 1 ¶1"]),
        ("unece-private-sector-evaluation", [f"Recommendation {n}" for n in range(1, 9)]),
        ("private-sector-focal-points-2006", ["Issue #1", "Issue #2, action point 1", "Issue #6"]),
    ],
)
def test_real_documents_have_their_locators(source: str, expected: list[str]) -> None:
    found = locators(REAL_DOCS / f"{source}.md")
    assert len(found) == len(set(found)), "locators must be unique within a document"
    for locator in expected:
        assert locator in found


def test_every_numbered_paragraph_of_the_2005_report_is_one_passage() -> None:
    found = locators(REAL_DOCS / "towards-global-partnerships.md")
    assert [f"para {n}" for n in range(1, 67)] == [x for x in found if x.startswith("para ")]


def test_broken_front_matter_is_named_with_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "good.md").write_text("---\ntitle: T\norganization: O\ndate: 2020\nkind: k\n"
                                      "source: s\n---\n\n1. Text.\n", encoding="utf-8")
    (tmp_path / "bad.md").write_text("---\ntitle: T\norganisation: O\ndate: someday\nkind: k\n"
                                     "source: s\n---\n\n1. Text.\n", encoding="utf-8")
    (tmp_path / "yaml.md").write_text("---\ntitle: [unclosed\n---\n\ntext\n", encoding="utf-8")
    with pytest.raises(KnowledgeFileError) as caught:
        read_corpus(tmp_path)
    assert caught.value.problems == [
        "bad.md:3: organisation: unknown field (allowed: title, organization, date, kind, "
        "source, symbol, label)",
        "bad.md:4: date: 'someday' is not a date (use YYYY-MM-DD, YYYY-MM or YYYY)",
        "bad.md:7: organization: missing required field",
        "yaml.md:2: front matter: invalid YAML: expected ',' or ']', but got '<stream end>'",
    ]


def test_missing_front_matter_and_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "plain.md").write_text("Just text\n", encoding="utf-8")
    with pytest.raises(KnowledgeFileError, match=r"plain.md:1: front matter: missing"):
        read_corpus(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(KnowledgeFileError, match=r"no \*\.md documents"):
        read_corpus(empty)


# --------------------------------------------------------------------------- index.format


def _read(body: str) -> dict[str, str]:
    return {c.locator: c.text for c in split_document(body, source="s", title="T", symbol=None)}


def test_sub_items_numbered_lettered_and_roman_continue_their_paragraph() -> None:
    chunks = _read("3. Offices check:\n\n(a) the name;\n\n(iv) the address;\n\n"
                   "(12) the accounts.\n\nA closing remark.")
    assert chunks["para 3"].endswith("(a) the name;\n(iv) the address;\n(12) the accounts.")
    assert chunks["Opening text"] == "A closing remark."


@pytest.mark.parametrize("heading", ["Issue #3. Screening", "issue #3. screening",
                                     "ISSUE # 3: Screening"])
def test_issue_headings_in_any_case(heading: str) -> None:
    chunks = _read(f"## {heading}\n\nPractices differ.\n\n- Share practice.\n  - Done.")
    assert chunks["Issue #3"] == "Practices differ."
    assert chunks["Issue #3, action point 1"] == "- Share practice.\n  - Done."


@pytest.mark.parametrize("heading", ["Recommendation 2", "RECOMMENDATION 2", "recommendation 2."])
def test_recommendation_headings_in_any_case(heading: str) -> None:
    assert _read(f"### {heading}\n\nAdopt a policy.") == {"Recommendation 2": "Adopt a policy."}


def test_front_matter_with_label_is_read() -> None:
    meta, body = read_front_matter("---\ntitle: T\nlabel: SG note on A/77/257\n"
                                   "organization: O\ndate: 2022-08-01\nkind: note\n"
                                   "source: s.txt\n---\n\nText.\n", "x.md")
    assert meta.label == "SG note on A/77/257"
    assert meta.symbol is None
    assert meta.date == "2022-08-01"
    assert body == "\nText."


@pytest.mark.parametrize(
    ("changed", "problem"),
    [
        ({"date": "2022-02-30"}, "x.md:4: date: '2022-02-30' is not a date "
                                 "(use YYYY-MM-DD, YYYY-MM or YYYY)"),
        ({"kind": "Annual Report"}, "x.md:5: kind: 'Annual Report' is not a short slug (use "
                                    "lowercase words joined by hyphens, e.g. annual-report)"),
        ({"label": ""}, "x.md:7: label: must not be empty"),
        ({"symbol": "yes"}, "x.md:7: symbol: True is read as yes/no, not as text "
                            "(put the value in quotes)"),
        ({"title": "[a, b]"}, "x.md:2: title: must be a single text value, not a list"),
    ],
)
def test_front_matter_rules(changed: dict[str, str], problem: str) -> None:
    fields = {"title": "T", "organization": "O", "date": "2020", "kind": "k", "source": "s"}
    lines = [f"{key}: {value}" for key, value in {**fields, **changed}.items()]
    text = "---\n" + "\n".join(lines) + "\n---\n\nText.\n"
    with pytest.raises(KnowledgeFileError) as caught:
        read_front_matter(text, "x.md")
    assert caught.value.problems == [problem]


@pytest.mark.parametrize(
    "values",
    [
        {"title": "Review: partners & 'quotes' #1", "symbol": "A/77/257",
         "label": "SG note on A/77/257", "organization": "yes", "date": "2022-08-01",
         "kind": "note-by-secretary-general", "source": "000.txt"},
        {"title": "2005", "organization": "- O", "date": "2006", "kind": "k", "source": "null"},
        {"title": "T \u2014 \"quoted\"", "label": "[1]", "organization": "O", "date": "2021-07",
         "kind": "k", "source": "a: b"},
    ],
)
def test_written_front_matter_reads_back_the_same(values: dict[str, str]) -> None:
    meta = DocumentMeta(**values)
    text = write_front_matter(meta) + "\n1. Text.\n"
    again, body = read_front_matter(text, "x.md")
    assert again == meta
    assert body == "\n1. Text."


def test_chunks_and_corpus_share_the_format_patterns() -> None:
    from index import chunks, format

    for name in ("HEADING", "NUMBERED", "FOOTNOTE", "SUBITEM", "BULLET", "RECOMMENDATION",
                 "ISSUE"):
        assert getattr(chunks, name) is getattr(format, name), name
