"""ingest: each format (PDF, Word, HTML, Markdown, text) converted into a knowledge document."""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from pathlib import Path

import pytest

from ingest import (
    IngestError,
    convert,
)
from tests.support.documents import (
    HTML_PAGE,
    MARKDOWN_WITH_FRONT_MATTER,
    PDF_TITLE,
    body,
    front_matter,
    make_docx,
    make_encrypted_pdf,
    make_footnote_docx,
    make_multilevel_docx,
    make_numbered_docx,
    make_pdf,
    make_scanned_pdf,
)

# --------------------------------------------------------------------------- PDF


def test_pdf_keeps_numbered_paragraphs_headings_and_footnotes(inbox: Path) -> None:
    markdown, summary = convert(make_pdf(inbox / "review.pdf"), organization="JIU")
    meta = front_matter(markdown)
    assert meta == {"title": PDF_TITLE, "symbol": "A/77/999", "organization": "JIU",
                    "date": dt.date(2000, 1, 1), "kind": "document", "source": "review.pdf"}
    text = body(markdown)
    assert f"# {PDF_TITLE}\n" in text
    assert "\n## I. Introduction\n" in text
    assert "\n## II. General comments\n\n### A. Definition\n" in text
    assert "\n#### Recommendation 1\n\nThe executive heads should adopt" in text
    assert "\n## Summary\n\nThis report reviews" in text
    # hard-wrapped lines joined, hyphenation undone, a paragraph continued across a page break
    assert ("\n1. Organizations work with implementing partners to deliver programmes in the "
            "field and rely on them for results.\n") in text
    assert "their implementing policies.[^3] It found gaps" in text
    assert "\n[^3]: See A/77/257, para. 4.\n" in text
    assert ("\n3. Selection procedures differ widely across the system and are not always "
            "documented.\n") in text
    assert "activities:\n\n(a) it receives funds;\n\n(b) it reports results.\n" in text
    # two unnumbered paragraphs told apart by their short last lines
    assert ("wraps onto a second line.\n\nThe second closing paragraph also wraps across more "
            "than one line of text here.\n") in text
    # running header, footer and page numbers are gone
    assert "GE.22" not in text and "A/77/999" not in text
    assert not re.search(r"^\d+$", text, re.MULTILINE)
    assert [int(n) for n in re.findall(r"^(\d+)\. ", text, re.MULTILINE)] == [1, 2, 3, 4]
    assert summary.numbered_paragraphs == 4
    assert summary.source_id == "review-of-the-management-of-implementing-partners"
    assert any("header" in warning for warning in summary.warnings)


def test_pdf_title_falls_back_to_first_heading_and_options_win(inbox: Path) -> None:
    pdf = make_pdf(inbox / "untitled.pdf", title=None, header=None)
    markdown, summary = convert(pdf)
    assert summary.title == "Review of Partner Selection"
    assert any("first heading" in warning for warning in summary.warnings)
    assert "symbol" not in front_matter(markdown)

    markdown, summary = convert(pdf, title="Own Title", symbol="JIU/REP/2023/4",
                                date="2023-07", kind="report", organization="JIU")
    meta = front_matter(markdown)
    assert (meta["title"], meta["symbol"], meta["date"], meta["kind"]) == (
        "Own Title", "JIU/REP/2023/4", "2023-07", "report")
    assert "# Own Title\n\n## Review of Partner Selection\n" in body(markdown)
    assert summary.warnings == ()


def test_pdf_without_metadata_or_headings_uses_file_stem(inbox: Path) -> None:
    pages = [["this is lowercase text that has no heading at all and goes on.",
              "more lowercase text follows on the next line."]]
    pdf = make_pdf(inbox / "field_notes.pdf", pages, title=None, header=None, footnote=None)
    markdown, summary = convert(pdf)
    assert summary.title == "field_notes"
    assert summary.source_id == "field-notes"
    assert "this is lowercase text that has no heading at all and goes on. more" in markdown


def test_scanned_pdf_is_refused(inbox: Path) -> None:
    with pytest.raises(IngestError, match=r"scan\.pdf has no extractable text .*OCR"):
        convert(make_scanned_pdf(inbox / "scan.pdf"))


def test_encrypted_pdf_is_refused(inbox: Path, tmp_path: Path) -> None:
    pdf = make_encrypted_pdf(inbox / "locked.pdf", tmp_path)
    with pytest.raises(IngestError, match=r"locked\.pdf is password-protected.*unprotected copy"):
        convert(pdf)


def test_aes_pdf_without_cryptography_says_so(inbox: Path, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from pypdf import PdfReader
    from pypdf.errors import DependencyError

    def no_aes(self: object, password: str) -> None:
        raise DependencyError("cryptography>=3.1 is required for AES algorithm")

    monkeypatch.setattr(PdfReader, "decrypt", no_aes)
    pdf = make_encrypted_pdf(inbox / "aes.pdf", tmp_path)
    with pytest.raises(IngestError, match=r"aes\.pdf is encrypted with AES.*unprotected copy"):
        convert(pdf)


def test_corrupt_pdf_is_refused(inbox: Path) -> None:
    bad = inbox / "broken.pdf"
    bad.write_bytes(b"this is not a pdf at all " * 20)
    with pytest.raises(IngestError, match=r"broken\.pdf could not be read as a PDF"):
        convert(bad)
    truncated = inbox / "truncated.pdf"
    truncated.write_bytes(make_pdf(inbox / "whole.pdf").read_bytes()[:400])
    with pytest.raises(IngestError, match=r"truncated\.pdf"):
        convert(truncated)


# --------------------------------------------------------------------------- Word


def test_docx_headings_numbers_bullets_and_table(inbox: Path) -> None:
    markdown, summary = convert(make_docx(inbox / "policy.docx"))
    meta = front_matter(markdown)
    assert meta["title"] == "Partner Screening Policy"
    assert meta["date"] == dt.date(2021, 5, 4)
    assert meta["source"] == "policy.docx"
    text = body(markdown)
    assert text.count("Partner Screening Policy") == 1  # the Title paragraph became `# Title`
    assert "\n## I. Scope\n\n1. The policy applies to all implementing partners.\n\n" in text
    assert "\n2. It is reviewed every year by the partnership unit.\n" in text
    assert "\n### Due diligence steps\n\n- Check the registration documents.\n\n" in text
    assert "\n- Screen against the sanctions lists.\n" in text
    assert "\n#### Recommendation 3\n\nOffices should screen every partner" in text
    assert "\nRisk | Rating\nFraud | High\n" in text
    assert (summary.sections, summary.numbered_paragraphs) == (3, 2)


def test_docx_automatic_numbering_is_written_out(inbox: Path) -> None:
    markdown, _ = convert(make_numbered_docx(inbox / "auto.docx"))
    text = body(markdown)
    assert "\n1. First numbered paragraph.\n\n2. Second numbered paragraph.\n\n3. Third" in text


def test_docx_multilevel_numbering_restarts_sub_items(inbox: Path) -> None:
    markdown, summary = convert(make_multilevel_docx(inbox / "levels.docx"), title="Levels")
    assert body(markdown) == (
        "\n# Levels\n\n12. Partners are assessed.\n\n(a) for capacity;\n\n(b) for risk;\n\n"
        "(i) including fraud\n\n13. Results are shared.\n\n(a) with donors.\n")
    assert summary.numbered_paragraphs == 2


def test_docx_footnote_follows_its_paragraph(inbox: Path) -> None:
    markdown, _ = convert(make_footnote_docx(inbox / "notes.docx"), title="Audit Rules")
    text = body(markdown)
    assert ("\n5. Partners must keep audited accounts.[^1]\n"
            "[^1]: See the Financial Regulations, rule 105.\n\n6. Audits happen") in text


def test_docx_without_text_is_refused(inbox: Path) -> None:
    import docx

    empty = inbox / "blank.docx"
    docx.Document().save(str(empty))
    with pytest.raises(IngestError, match=r"blank\.docx has no text"):
        convert(empty)


def test_corrupt_docx_is_refused(inbox: Path) -> None:
    bad = inbox / "broken.docx"
    bad.write_bytes(b"PK\x03\x04 definitely not a zip archive" * 10)
    with pytest.raises(IngestError, match=r"broken\.docx could not be opened as a Word document"):
        convert(bad)
    not_word = inbox / "other.docx"
    with zipfile.ZipFile(not_word, "w") as archive:
        archive.writestr("hello.txt", "hello")
    with pytest.raises(IngestError, match=r"other\.docx could not be opened"):
        convert(not_word)


# --------------------------------------------------------------------------- HTML


def test_html_visible_text_only(inbox: Path) -> None:
    page = inbox / "guide.html"
    page.write_text(HTML_PAGE, encoding="utf-8")
    markdown, summary = convert(page, organization="OCHA")
    meta = front_matter(markdown)
    assert meta["title"] == "Due Diligence Guide"
    assert meta["date"] == dt.date(2023, 3, 15)
    text = body(markdown)
    for hidden in ("alert(1)", "color: red", "injected text", "Site header", "Home", "About us",
                   "Footer text", "Search the site", "query", "enable JavaScript", "Hidden text",
                   "<"):
        assert hidden not in text, hidden
    assert text.count("Due Diligence Guide") == 1
    assert "\n## I. Purpose\n\n1. This guide explains how to screen partners before any " \
           "agreement.\n\n2. It applies to all country offices.\n" in text
    assert "\n- Check the registration\n\n- Check the sanctions lists\n" in text
    assert "\n### Risk levels\n\nRisk | Rating\nFraud | High\n" in text
    assert "\n#### Recommendation 2\n\nOffices should record every screening.\n" in text
    assert summary.numbered_paragraphs == 2


def test_html_without_visible_text_is_refused(inbox: Path) -> None:
    page = inbox / "app.htm"
    page.write_text("<html><head><title>App</title><script>render()</script></head>"
                    "<body><nav>Menu</nav><div id='root'></div></body></html>", encoding="utf-8")
    with pytest.raises(IngestError, match=r"app\.htm has no visible text .*save it from the "
                                          r"browser as PDF"):
        convert(page)


# --------------------------------------------------------------------------- Markdown and text


def test_markdown_front_matter_is_kept_and_options_override(inbox: Path) -> None:
    note = inbox / "note.md"
    note.write_text(MARKDOWN_WITH_FRONT_MATTER, encoding="utf-8")
    markdown, summary = convert(note, kind="note", symbol="UNICEF/2020/1")
    meta = front_matter(markdown)
    assert meta == {"title": "Guidance note: partner capacity assessments",
                    "symbol": "UNICEF/2020/1", "organization": "UNICEF",
                    "date": dt.date(2020, 6, 1), "kind": "note", "source": "capacity.pdf"}
    assert body(markdown).lstrip("\n") == MARKDOWN_WITH_FRONT_MATTER.split("---\n", 2)[2].lstrip()
    assert any("'layout'" in warning for warning in summary.warnings)
    assert summary.source_id == "guidance-note-partner-capacity-assessments"
    assert (summary.sections, summary.numbered_paragraphs) == (1, 2)


def test_markdown_without_front_matter_gets_one(inbox: Path) -> None:
    note = inbox / "plain-note.md"
    note.write_text("# Field Visit Guidance\n\nVisits happen twice a year.\n", encoding="utf-8")
    markdown, summary = convert(note, date="2024")
    meta = front_matter(markdown)
    assert meta["title"] == "Field Visit Guidance"
    assert meta["date"] == 2024  # YAML reads a bare year as a number, as the format allows
    assert meta["organization"] == "Unknown"
    assert meta["source"] == "plain-note.md"
    assert body(markdown) == "\n# Field Visit Guidance\n\nVisits happen twice a year.\n"
    assert any("Unknown" in warning for warning in summary.warnings)


def test_markdown_with_broken_front_matter_is_refused(inbox: Path) -> None:
    note = inbox / "bad.md"
    note.write_text("---\ntitle: [unclosed\nkind: x\n---\n\nText.\n", encoding="utf-8")
    with pytest.raises(IngestError, match=r"bad\.md:\d+: front matter: invalid YAML"):
        convert(note)
    note.write_text("---\ntitle: Never closed\n\nText.\n", encoding="utf-8")
    with pytest.raises(IngestError, match=r"bad\.md:1: front matter: no closing"):
        convert(note)


def test_text_file_paragraphs_and_headings(inbox: Path) -> None:
    text_file = inbox / "memo.txt"
    text_file.write_text(
        "Partner Selection Memo\n\n"
        "II. General comments\n\n"
        "7. Offices select partners through open calls\n"
        "for proposals published on the portal.\n\n"
        "8. Direct selection needs a written justification.\n\n"
        "Free text paragraph without a number,\n"
        "wrapped over two lines.\n",
        encoding="utf-8",
    )
    markdown, summary = convert(text_file)
    text = body(markdown)
    assert summary.title == "Partner Selection Memo"
    assert ("\n## II. General comments\n\n7. Offices select partners through open calls for "
            "proposals published on the portal.\n\n8. Direct selection") in text
    assert "\nFree text paragraph without a number, wrapped over two lines.\n" in text


def test_cp1252_text_is_read_with_a_warning(inbox: Path) -> None:
    text_file = inbox / "legacy.txt"
    text_file.write_bytes("Caf\u00e9 r\u00e9sum\u00e9 of the partner\u2019s record.\n"
                          .encode("cp1252"))
    markdown, summary = convert(text_file, title="Legacy Record")
    assert "Caf\u00e9 r\u00e9sum\u00e9 of the partner\u2019s record." in markdown
    assert any("Windows-1252" in warning for warning in summary.warnings)


def test_utf8_bom_is_accepted_silently(inbox: Path) -> None:
    text_file = inbox / "bom.txt"
    text_file.write_bytes("\ufeffShort note with a BOM.\n".encode())
    markdown, summary = convert(text_file, title="Bom Note", date="2022-01-31")
    assert "\ufeff" not in markdown
    assert "\nShort note with a BOM.\n" in markdown
    assert not any("Windows-1252" in warning for warning in summary.warnings)


def test_binary_text_file_is_refused(inbox: Path) -> None:
    binary = inbox / "data.txt"
    binary.write_bytes(b"\x00\x01\x02binary\x00content\xff" * 10)
    with pytest.raises(IngestError, match=r"data\.txt is not a text file"):
        convert(binary)


def test_front_matter_values_round_trip_through_yaml(inbox: Path) -> None:
    text_file = inbox / "tricky.txt"
    text_file.write_text("Body text.\n", encoding="utf-8")
    title = "Review: partners & 'quotes' #1 \u2014 \"yes\""
    markdown, _ = convert(text_file, title=title, organization="yes", symbol="- A/1/2",
                          date="2022-02-28")
    meta = front_matter(markdown)
    assert meta["title"] == title
    assert meta["organization"] == "yes"  # not the boolean True
    assert meta["symbol"] == "- A/1/2"


