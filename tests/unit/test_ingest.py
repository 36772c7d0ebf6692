"""bot.ingest: converting PDF, Word, HTML, Markdown and text files into knowledge documents."""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.ingest import (
    AddedDocument,
    IngestError,
    add_document,
    convert,
    slugify,
)

# --------------------------------------------------------------------------- file builders

PDF_TITLE = "Review of the management of implementing partners"
PDF_PAGES = [
    [
        "Review of Partner Selection",
        "Summary",
        "This report reviews how organizations select and manage partners.",
        "I. Introduction",
        "1. Organizations work with implementing partners to deliver",
        "programmes in the field and rely on them for results.",
        "2. The review covered twelve organizations and their imple-",
        "menting policies.3 It found gaps in due diligence.",
        "3. Selection procedures differ widely across the system and",
    ],
    [
        "are not always documented.",
        "II. General comments",
        "A. Definition",
        "4. A partner is an entity that receives resources from an",
        "organization to carry out activities:",
        "(a) it receives funds;",
        "(b) it reports results.",
        "Recommendation 1",
        "The executive heads should adopt a common partner policy by 2025.",
    ],
    [
        "Concluding Remarks",
        "The first closing paragraph is long enough that it wraps onto",
        "a second line.",
        "The second closing paragraph also wraps across more than one",
        "line of text here.",
    ],
]


def make_pdf(path: Path, pages: list[list[str]] = PDF_PAGES, *, title: str | None = PDF_TITLE,
             header: str | None = "A/77/999", footnote: str | None = "3 See A/77/257, para. 4.",
             ) -> Path:
    """A text PDF: running header, footer and page number on every page, a footnote on page 1."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    pdf = canvas.Canvas(str(path), pagesize=A4, invariant=1)  # invariant: created 2000-01-01
    if title:
        pdf.setTitle(title)
    for number, lines in enumerate(pages, start=1):
        pdf.setFont("Helvetica", 9)
        if header:
            pdf.drawString(450, 800, header)
        pdf.setFont("Helvetica", 11)
        y = 760
        for line in lines:
            pdf.drawString(72, y, line)
            y -= 16
        if number == 1 and footnote:
            pdf.setFont("Helvetica", 8)
            pdf.drawString(72, 90, footnote)
        pdf.setFont("Helvetica", 9)
        pdf.drawString(72, 40, "GE.22-12345")
        pdf.drawString(297, 40, str(number))
        pdf.showPage()
    pdf.save()
    return path


def make_scanned_pdf(path: Path) -> Path:
    """A page holding only a drawn rectangle: what a scan without OCR looks like to pypdf."""
    from reportlab.pdfgen import canvas

    pdf = canvas.Canvas(str(path))
    pdf.rect(72, 72, 400, 600, fill=1)
    pdf.showPage()
    pdf.save()
    return path


def make_encrypted_pdf(path: Path, tmp: Path) -> Path:
    from pypdf import PdfReader, PdfWriter

    plain = make_pdf(tmp / "plain-for-encryption.pdf")
    writer = PdfWriter(clone_from=PdfReader(plain))
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="RC4-128")
    with open(path, "wb") as handle:
        writer.write(handle)
    plain.unlink()
    return path


def make_docx(path: Path) -> Path:
    """Title style, headings, typed and automatic paragraph numbers, sub-items, a table."""
    import docx

    document = docx.Document()
    document.core_properties.title = "Partner Screening Policy"
    document.core_properties.created = dt.datetime(2021, 5, 4, 9, 30)
    document.add_heading("Partner Screening Policy", 0)
    document.add_heading("I. Scope", 1)
    document.add_paragraph("1. The policy applies to all implementing partners.")
    document.add_paragraph("2. It is reviewed every year by the partnership unit.")
    document.add_heading("Due diligence steps", 2)
    document.add_paragraph("Check the registration documents.", style="List Bullet")
    document.add_paragraph("Screen against the sanctions lists.", style="List Bullet")
    document.add_heading("Recommendation 3", 3)
    document.add_paragraph("Offices should screen every partner before signing.")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Risk", "Rating"
    table.cell(1, 0).text, table.cell(1, 1).text = "Fraud", "High"
    document.save(str(path))
    return path


def make_numbered_docx(path: Path) -> Path:
    """Paragraph numbers that Word generates (List Number style), so absent from the text."""
    import docx

    document = docx.Document()
    document.add_heading("Automatic Numbering", 1)
    for text in ("First numbered paragraph.", "Second numbered paragraph.",
                 "Third numbered paragraph."):
        document.add_paragraph(text, style="List Number")
    document.save(str(path))
    return path


def make_multilevel_docx(path: Path) -> Path:
    """Word numbering `12.` / `(a)` / `(i)` defined in numbering.xml, as UN templates do."""
    import docx
    from docx.oxml import parse_xml

    namespace = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
    document = docx.Document()
    numbering = document.part.numbering_part.element
    numbering.insert(0, parse_xml(
        f'<w:abstractNum {namespace} w:abstractNumId="77">'
        '<w:lvl w:ilvl="0"><w:start w:val="12"/><w:numFmt w:val="decimal"/>'
        '<w:lvlText w:val="%1."/></w:lvl>'
        '<w:lvl w:ilvl="1"><w:start w:val="1"/><w:numFmt w:val="lowerLetter"/>'
        '<w:lvlText w:val="(%2)"/></w:lvl>'
        '<w:lvl w:ilvl="2"><w:start w:val="1"/><w:numFmt w:val="lowerRoman"/>'
        '<w:lvlText w:val="(%3)"/></w:lvl></w:abstractNum>'))
    numbering.append(parse_xml(f'<w:num {namespace} w:numId="77"><w:abstractNumId w:val="77"/>'
                               '</w:num>'))
    for text, level in (("Partners are assessed.", 0), ("for capacity;", 1), ("for risk;", 1),
                        ("including fraud", 2), ("Results are shared.", 0), ("with donors.", 1)):
        paragraph = document.add_paragraph(text)
        paragraph._p.get_or_add_pPr().append(parse_xml(
            f'<w:numPr {namespace}><w:ilvl w:val="{level}"/><w:numId w:val="77"/></w:numPr>'))
    document.save(str(path))
    return path


_FOOTNOTES_XML = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<w:footnotes xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
    '<w:footnote w:type="separator" w:id="-1"><w:p><w:r><w:separator/></w:r></w:p></w:footnote>'
    '<w:footnote w:type="continuationSeparator" w:id="0"><w:p><w:r><w:continuationSeparator/>'
    '</w:r></w:p></w:footnote>'
    '<w:footnote w:id="1"><w:p><w:r><w:footnoteRef/></w:r><w:r><w:t xml:space="preserve"> '
    'See the Financial Regulations, rule 105.</w:t></w:r></w:p></w:footnote>'
    '</w:footnotes>'
)


def make_footnote_docx(path: Path) -> Path:
    """A Word file with a real footnote (python-docx cannot write one, so the XML is patched)."""
    import docx

    document = docx.Document()
    paragraph = document.add_paragraph("5. Partners must keep audited accounts.")
    paragraph.add_run("FNREF")
    document.add_paragraph("6. Audits happen every two years.")
    buffer = io.BytesIO()
    document.save(buffer)
    source = zipfile.ZipFile(io.BytesIO(buffer.getvalue()))
    with zipfile.ZipFile(path, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "word/document.xml":
                data = data.replace(b"<w:r><w:t>FNREF</w:t></w:r>",
                                    b'<w:r><w:footnoteReference w:id="1"/></w:r>')
                assert b"footnoteReference" in data
            elif item.filename == "word/_rels/document.xml.rels":
                data = data.replace(b"</Relationships>", (
                    b'<Relationship Id="rIdFoot" Type="http://schemas.openxmlformats.org/'
                    b'officeDocument/2006/relationships/footnotes" Target="footnotes.xml"/>'
                    b"</Relationships>"))
            elif item.filename == "[Content_Types].xml":
                data = data.replace(b"</Types>", (
                    b'<Override PartName="/word/footnotes.xml" ContentType="application/'
                    b'vnd.openxmlformats-officedocument.wordprocessingml.footnotes+xml"/></Types>'))
            target.writestr(item, data)
        target.writestr("word/footnotes.xml", _FOOTNOTES_XML)
    return path


HTML_PAGE = """<!DOCTYPE html>
<html><head>
<title>Due Diligence Guide</title>
<meta name="dcterms.date" content="2023-03-15">
<style>body { color: red; }</style>
<script>alert(1)</script>
</head>
<body>
<header>Site header</header>
<nav><a href="/">Home</a> <a href="/about">About us</a></nav>
<main>
<h1>Due Diligence Guide</h1>
<h2>I. Purpose</h2>
<p>1. This guide explains <b>how</b> to screen
   partners before any agreement.</p>
<p>2. It applies to all country offices.</p>
<script>document.write("injected text")</script>
<ul><li>Check the registration</li><li>Check the <em>sanctions</em> lists</li></ul>
<h3>Risk levels</h3>
<table><tr><th>Risk</th><th>Rating</th></tr><tr><td>Fraud</td><td>High</td></tr></table>
<p>Recommendation 2</p>
<p>Offices should record every screening.</p>
<div style="display: none">Hidden text</div>
<form><label>Search the site</label><input value="query"></form>
<noscript>Please enable JavaScript</noscript>
<iframe src="https://example.org/ad"></iframe>
</main>
<footer>Footer text</footer>
</body></html>
"""

MARKDOWN_WITH_FRONT_MATTER = """---
title: "Guidance note: partner capacity assessments"
organization: UNICEF
date: 2020-06-01
kind: guidance-note
source: capacity.pdf
layout: post
---

# Guidance note: partner capacity assessments

## Purpose

1. This note explains capacity assessments.

2. They are done before the first agreement.
"""


def front_matter(markdown: str) -> dict[str, Any]:
    """The YAML front matter of a produced document, parsed back with PyYAML."""
    match = re.match(r"^---\n(.*?)\n---\n", markdown, re.DOTALL)
    assert match, markdown[:200]
    data = yaml.safe_load(match.group(1))
    assert isinstance(data, dict)
    return data


def body(markdown: str) -> str:
    return markdown.split("\n---\n", 1)[1]


def snapshot(directory: Path) -> list[str]:
    """Every path under a directory, hidden temp files included."""
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*"))


@pytest.fixture()
def knowledge(tmp_path: Path) -> Path:
    target = tmp_path / "knowledge" / "docs"
    target.mkdir(parents=True)
    (target / "existing.md").write_text("keep me\n", encoding="utf-8")
    return target


@pytest.fixture()
def inbox(tmp_path: Path) -> Path:
    folder = tmp_path / "inbox"
    folder.mkdir()
    return folder


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
def test_bad_files_are_refused(inbox: Path, knowledge: Path, name: str, content: bytes,
                               pattern: str) -> None:
    path = inbox / name
    path.write_bytes(content)
    before = snapshot(knowledge)
    with pytest.raises(IngestError, match=pattern):
        add_document(path, knowledge)
    assert snapshot(knowledge) == before


def test_missing_file_and_directory_are_refused(inbox: Path, knowledge: Path) -> None:
    before = snapshot(knowledge)
    with pytest.raises(IngestError, match=r"nowhere\.pdf was not found\. Check the path"):
        add_document(inbox / "nowhere.pdf", knowledge)
    with pytest.raises(IngestError, match=r"is a directory, not a file"):
        add_document(inbox, knowledge)
    assert snapshot(knowledge) == before


@pytest.mark.parametrize("bad_date", ["2022-13-01", "2022-02-30", "22-01-01", "2022/01/01",
                                      "yesterday", "2022-1-5"])
def test_invalid_date_is_refused(inbox: Path, knowledge: Path, bad_date: str) -> None:
    text_file = inbox / "memo.txt"
    text_file.write_text("Text.\n", encoding="utf-8")
    before = snapshot(knowledge)
    with pytest.raises(IngestError, match=r"--date .* is not a valid date\. Use YYYY, YYYY-MM "
                                          r"or YYYY-MM-DD"):
        add_document(text_file, knowledge, date=bad_date)
    assert snapshot(knowledge) == before


def test_invalid_kind_and_empty_option_are_refused(inbox: Path) -> None:
    text_file = inbox / "memo.txt"
    text_file.write_text("Text.\n", encoding="utf-8")
    with pytest.raises(IngestError, match=r"--kind 'Annual Report' .* --kind annual-report"):
        convert(text_file, kind="Annual Report")
    with pytest.raises(IngestError, match=r"--title is empty"):
        convert(text_file, title="   ")


@pytest.mark.parametrize("maker", ["scanned", "encrypted", "corrupt-docx", "empty-html"])
def test_refused_conversions_write_nothing(inbox: Path, knowledge: Path, tmp_path: Path,
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
    before = snapshot(knowledge)
    with pytest.raises(IngestError):
        add_document(path, knowledge)
    assert snapshot(knowledge) == before


# --------------------------------------------------------------------------- writing


def test_add_document_writes_atomically_and_refuses_to_overwrite(inbox: Path,
                                                                 knowledge: Path) -> None:
    pdf = make_pdf(inbox / "review.pdf")
    added = add_document(pdf, knowledge, organization="JIU")
    assert isinstance(added, AddedDocument)
    assert added.path == knowledge / "review-of-the-management-of-implementing-partners.md"
    assert added.replaced is False
    assert (added.numbered_paragraphs, added.sections) == (4, 7)
    written = added.path.read_text(encoding="utf-8")
    assert front_matter(written)["organization"] == "JIU"
    assert snapshot(knowledge) == ["existing.md", added.path.name]  # no temp file left

    with pytest.raises(IngestError, match=r"already exists .*Use --replace to overwrite it"):
        add_document(pdf, knowledge, organization="Someone else")
    assert added.path.read_text(encoding="utf-8") == written

    again = add_document(pdf, knowledge, organization="Someone else", replace=True)
    assert again.replaced is True
    assert front_matter(again.path.read_text(encoding="utf-8"))["organization"] == "Someone else"
    assert snapshot(knowledge) == ["existing.md", added.path.name]


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


def test_output_is_read_by_the_indexer_with_para_locators(inbox: Path, knowledge: Path) -> None:
    corpus = pytest.importorskip("index.corpus")
    added = add_document(make_pdf(inbox / "review.pdf"), knowledge, organization="JIU")
    document = corpus.read_document(added.path)
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
