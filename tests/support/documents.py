"""Documents to convert, made for the ingest tests: PDFs (scanned, encrypted), Word files
(numbering, footnotes), HTML and Markdown sources, and helpers to read what ingest wrote."""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from pathlib import Path
from typing import Any

import yaml

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
