"""ingest: bad input, writing the document, and what the indexer reads of it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from index.corpus import read_document
from index.errors import Problem
from index.format import FIELDS
from ingest import (
    AddedDocument,
    IngestError,
    add_document,
    convert,
    slugify,
)
from tests.conftest import REAL_DOCS
from tests.support.documents import (
    body,
    front_matter,
    make_encrypted_pdf,
    make_pdf,
    make_scanned_pdf,
    snapshot,
)

# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("name", "content", "pattern"),
    [
        ("table.xlsx", b"PK\x03\x04 spreadsheet", r"table\.xlsx is a '\.xlsx' file, which cannot "
                                                    r"be added\. Supported types: \.pdf, \.docx"),
        ("photo.png", b"\x89PNG\r\n\x1a\n....", r"photo\.png is a '\.png' file"),
        ("old.doc", b"\xd0\xcf\x11\xe0 old word", r"save it as \.docx"),
        ("README", b"text", r"README is a file without an extension"),
        ("empty.pdf", b"", r"empty\.pdf is empty\. Add a file that contains the document's text"),
        ("empty.docx", b"", r"empty\.docx is empty"),
        ("blank.txt", b"  \n\t\n  ", r"blank\.txt is empty"),
        ("blank.md", "\u00a0\n\u3000\n".encode(), r"blank\.md is empty"),
    ],
)
def test_bad_files_are_refused(inbox: Path, target_docs: Path, name: str, content: bytes,
                               pattern: str) -> None:
    path = inbox / name
    path.write_bytes(content)
    before = snapshot(target_docs)
    with pytest.raises(IngestError, match=pattern):
        add_document(path, target_docs)
    assert snapshot(target_docs) == before


def test_missing_file_and_directory_are_refused(inbox: Path, target_docs: Path) -> None:
    before = snapshot(target_docs)
    with pytest.raises(IngestError, match=r"nowhere\.pdf was not found\. Check the path"):
        add_document(inbox / "nowhere.pdf", target_docs)
    with pytest.raises(IngestError, match=r"is a directory, not a file"):
        add_document(inbox, target_docs)
    assert snapshot(target_docs) == before


@pytest.mark.parametrize("bad_date", ["2022-13-01", "2022-02-30", "22-01-01", "2022/01/01",
                                      "yesterday", "2022-1-5"])
def test_invalid_date_is_refused(inbox: Path, target_docs: Path, bad_date: str) -> None:
    text_file = inbox / "memo.txt"
    text_file.write_text("Text.\n", encoding="utf-8")
    before = snapshot(target_docs)
    with pytest.raises(IngestError, match=r"--date .* is not a valid date\. Use YYYY, YYYY-MM "
                                          r"or YYYY-MM-DD"):
        add_document(text_file, target_docs, date=bad_date)
    assert snapshot(target_docs) == before


def test_invalid_kind_and_empty_option_are_refused(inbox: Path) -> None:
    text_file = inbox / "memo.txt"
    text_file.write_text("Text.\n", encoding="utf-8")
    with pytest.raises(IngestError, match=r"--kind 'Annual Report' .* --kind annual-report"):
        convert(text_file, kind="Annual Report")
    with pytest.raises(IngestError, match=r"--title is empty"):
        convert(text_file, title="   ")


@pytest.mark.parametrize("maker", ["scanned", "encrypted", "corrupt-docx", "empty-html"])
def test_refused_conversions_write_nothing(inbox: Path, target_docs: Path, tmp_path: Path,
                                           maker: str) -> None:
    if maker == "scanned":
        path = make_scanned_pdf(inbox / "scan.pdf")
    elif maker == "encrypted":
        path = make_encrypted_pdf(inbox / "locked.pdf", tmp_path)
    elif maker == "corrupt-docx":
        path = inbox / "broken.docx"
        path.write_bytes(b"garbage" * 50)
    else:
        path = inbox / "empty.html"
        path.write_text("<html><body><script>x()</script></body></html>", encoding="utf-8")
    before = snapshot(target_docs)
    with pytest.raises(IngestError):
        add_document(path, target_docs)
    assert snapshot(target_docs) == before


# --------------------------------------------------------------------------- writing


def test_add_document_writes_atomically_and_refuses_to_overwrite(inbox: Path,
                                                                 target_docs: Path) -> None:
    pdf = make_pdf(inbox / "review.pdf")
    added = add_document(pdf, target_docs, organization="JIU")
    assert isinstance(added, AddedDocument)
    assert added.path == target_docs / "review-of-the-management-of-implementing-partners.md"
    assert added.replaced is False
    assert (added.numbered_paragraphs, added.sections) == (4, 7)
    written = added.path.read_text(encoding="utf-8")
    assert front_matter(written)["organization"] == "JIU"
    assert snapshot(target_docs) == ["existing.md", added.path.name]  # no temp file left

    with pytest.raises(IngestError, match=r"already exists .*Use --replace to overwrite it"):
        add_document(pdf, target_docs, organization="Someone else")
    assert added.path.read_text(encoding="utf-8") == written

    again = add_document(pdf, target_docs, organization="Someone else", replace=True)
    assert again.replaced is True
    assert front_matter(again.path.read_text(encoding="utf-8"))["organization"] == "Someone else"
    assert snapshot(target_docs) == ["existing.md", added.path.name]


def test_add_document_creates_the_directory(inbox: Path, tmp_path: Path) -> None:
    text_file = inbox / "memo.txt"
    text_file.write_text("Text.\n", encoding="utf-8")
    added = add_document(text_file, tmp_path / "new" / "docs", title="New Memo")
    assert added.path == tmp_path / "new" / "docs" / "new-memo.md"
    assert added.path.is_file()


def test_convert_is_pure(inbox: Path) -> None:
    pdf = make_pdf(inbox / "review.pdf")
    before = snapshot(inbox)
    convert(pdf)
    assert snapshot(inbox) == before


def test_slugify() -> None:
    assert slugify("Review of the Management: Partners (2022)!") == \
        "review-of-the-management-partners-2022"
    assert slugify("\u00c9valuation des partenaires d\u2019ex\u00e9cution") == \
        "evaluation-des-partenaires-d-execution"
    long = slugify("word " * 40)
    assert len(long) <= 60 and not long.endswith("-") and long.startswith("word-word")


def test_non_latin_title_gets_a_usable_source_id(inbox: Path) -> None:
    text_file = inbox / "\u62a5\u544a.txt"
    text_file.write_text("Text.\n", encoding="utf-8")
    _, summary = convert(text_file, title="\u5408\u4f5c\u4f19\u4f34\u5ba1\u67e5")
    assert re.fullmatch(r"document-[0-9a-f]{8}", summary.source_id)


# --------------------------------------------------------------------------- the indexer


def test_output_is_read_by_the_indexer_with_para_locators(inbox: Path, target_docs: Path) -> None:
    added = add_document(make_pdf(inbox / "review.pdf"), target_docs, organization="JIU")
    document = read_document(added.path)
    locators = [chunk.locator for chunk in document.chunks]
    paras = [locator for locator in locators if locator.startswith("para ")]
    assert paras == ["para 1", "para 2", "para 3", "para 4"]
    assert "Recommendation 1" in locators
    by_locator = {chunk.locator: chunk for chunk in document.chunks}
    assert "See A/77/257, para. 4." in by_locator["para 2"].text  # footnote stays in its passage
    assert "(b) it reports results." in by_locator["para 4"].text  # sub-items too
    assert by_locator["para 4"].headings == ("II. General comments", "A. Definition")
    assert document.symbol == "A/77/999"


def test_numbered_headings_opening_pages_are_not_taken_for_running_headers(inbox: Path) -> None:
    filler = "This paragraph is filler text that keeps the page realistic."
    pages = [["Background Of The Review", filler],
             ["Recommendation 1", "Offices should screen partners before signing."],
             ["Recommendation 2", "Offices should record the screening result."],
             ["Closing Words", filler]]
    markdown, _ = convert(make_pdf(inbox / "recs.pdf", pages, footnote=None))
    text = body(markdown)
    assert "Recommendation 1\n\nOffices should screen" in text
    assert "Recommendation 2\n\nOffices should record" in text


def test_unwrapped_text_file_has_one_paragraph_per_line(inbox: Path) -> None:
    long_line = "Partners are selected through a competitive process " * 4
    text_file = inbox / "unwrapped.txt"
    text_file.write_text(f"{long_line.strip()}.\n{long_line.strip()}!\n", encoding="utf-8")
    markdown, summary = convert(text_file, title="Unwrapped")
    assert summary.paragraphs == 2
    assert body(markdown).count("Partners are selected") == 8


def test_invalid_front_matter_date_needs_fixing_or_an_option(inbox: Path) -> None:
    note = inbox / "dated.md"
    note.write_text("---\ntitle: Dated Note\ndate: 2022-14\n---\n\nText.\n", encoding="utf-8")
    with pytest.raises(IngestError, match=r"dated\.md: front matter date '2022-14' is not a "
                                          r"valid date.*pass --date"):
        convert(note)
    markdown, _ = convert(note, date="2022-04")
    assert front_matter(markdown)["date"] == "2022-04"


def test_html_ordered_and_nested_lists(inbox: Path) -> None:
    page = inbox / "lists.html"
    page.write_text("<html><body><p>Steps:</p><ol start='3'><li>Register<ul><li>online</li>"
                    "</ul></li><li><p>Screen</p></li></ol></body></html>", encoding="utf-8")
    markdown, _ = convert(page, title="Lists")
    assert body(markdown) == ("\n# Lists\n\nSteps:\n\n- 3. Register\n\n  - online\n\n"
                              "- 4. Screen\n")


def test_html_title_without_site_suffix(inbox: Path) -> None:
    page = inbox / "page.html"
    page.write_text("<html><head><title>Partner Vetting | UN Portal</title></head><body>"
                    "<h1>Partner Vetting</h1><p>Vetting happens once.</p></body></html>",
                    encoding="utf-8")
    markdown, _ = convert(page)
    assert front_matter(markdown)["title"] == "Partner Vetting"
    assert body(markdown) == "\n# Partner Vetting\n\nVetting happens once.\n"


# --------------------------------------------------------------------------- one format


def test_ingest_error_is_a_problem() -> None:
    error = IngestError("x.pdf is empty.")
    assert isinstance(error, Problem)
    assert str(error) == "x.pdf is empty."


@pytest.mark.parametrize(
    "values",
    [
        {"title": "Review: partners & 'quotes' #1 \u2014 \"yes\"", "organization": "yes",
         "symbol": "- A/1/2", "label": "SG note on A/77/257", "date": "2022-02-28",
         "kind": "annual-report"},
        {"title": "2024", "organization": "null", "symbol": "A/77/257", "label": "[draft]",
         "date": "2024", "kind": "report"},
        {"title": "Plain title", "organization": "O: colon", "label": "on", "date": "2021-07",
         "kind": "note"},
    ],
)
def test_what_add_writes_the_indexer_reads_with_the_same_metadata(
        inbox: Path, target_docs: Path, values: dict[str, Any]) -> None:
    text_file = inbox / "memo.txt"
    text_file.write_text("1. The only paragraph.\n", encoding="utf-8")
    added = add_document(text_file, target_docs, **values)
    document = read_document(added.path)
    meta = added.metadata
    assert (document.title, document.symbol, document.label, document.organization,
            document.date, document.kind, document.original) == (
        meta.title, meta.symbol, meta.label, meta.organization, meta.date, meta.kind,
        meta.source)
    assert {key: getattr(meta, key) for key in values} == values
    assert meta.source == "memo.txt"


@pytest.mark.parametrize("path", sorted(REAL_DOCS.glob("*.md")), ids=lambda p: p.stem)
def test_knowledge_documents_round_trip_through_add(path: Path, tmp_path: Path) -> None:
    """Adding a knowledge document again changes neither its metadata nor its passages."""
    added = add_document(path, tmp_path)
    original, again = read_document(path), read_document(added.path)
    for key in ("title", "symbol", "label", "organization", "date", "kind", "original"):
        assert getattr(again, key) == getattr(original, key), key
    # the source id comes from the title; the same locators and texts give the same chunk ids
    assert [(c.locator, c.headings, c.text) for c in again.chunks] == \
        [(c.locator, c.headings, c.text) for c in original.chunks]
    assert not added.warnings


def test_front_matter_fields_are_written_in_the_format_order(inbox: Path) -> None:
    text_file = inbox / "memo.txt"
    text_file.write_text("Text.\n", encoding="utf-8")
    markdown, _ = convert(text_file, title="T", symbol="A/1/2", label="L", organization="O",
                          date="2020", kind="k")
    keys = [line.split(":", 1)[0] for line in markdown.split("---\n")[1].splitlines()]
    assert keys == list(FIELDS)


def test_markdown_source_keeps_its_label(inbox: Path) -> None:
    note = inbox / "labelled.md"
    note.write_text("---\ntitle: Labelled Note\nlabel: Short label\ndate: 2020\n---\n\n"
                    "1. Text.\n", encoding="utf-8")
    markdown, summary = convert(note)
    assert front_matter(markdown)["label"] == "Short label"
    assert summary.metadata.label == "Short label"
    assert not any("label" in warning for warning in summary.warnings)


def test_markdown_source_with_a_kind_that_is_not_a_slug_is_refused(inbox: Path) -> None:
    note = inbox / "kinded.md"
    note.write_text("---\ntitle: Kinded Note\nkind: Annual Report\n---\n\nText.\n",
                    encoding="utf-8")
    with pytest.raises(IngestError, match=r"kinded\.md: front matter kind 'Annual Report' is not "
                                          r"a short slug.*--kind annual-report"):
        convert(note)
    markdown, _ = convert(note, kind="annual-report")
    assert front_matter(markdown)["kind"] == "annual-report"


def test_numbered_sub_items_stay_in_their_paragraph_after_add(inbox: Path,
                                                              target_docs: Path) -> None:
    text_file = inbox / "items.txt"
    text_file.write_text("Partner Rules\n\n3. Offices check the following:\n\n"
                         "(11) the registration,\n\n(12) the audited accounts.\n\n"
                         "Unnumbered closing text.\n", encoding="utf-8")
    added = add_document(text_file, target_docs, title="Partner Rules")
    by_locator = {c.locator: c for c in read_document(added.path).chunks}
    assert "(12) the audited accounts." in by_locator["para 3"].text
    assert "(11) the registration," in by_locator["para 3"].text


def test_issue_heading_in_any_case_is_an_issue_after_add(inbox: Path, target_docs: Path) -> None:
    text_file = inbox / "issues.txt"
    text_file.write_text("Issue Tracker Notes\n\nissue #3. Screening businesses\n\n"
                         "Practices differ widely.\n", encoding="utf-8")
    added = add_document(text_file, target_docs, title="Issue Tracker Notes")
    assert "\n## issue #3. Screening businesses\n" in added.path.read_text(encoding="utf-8")
    by_locator = {c.locator: c for c in read_document(added.path).chunks}
    assert by_locator["Issue #3"].text == "Practices differ widely."
