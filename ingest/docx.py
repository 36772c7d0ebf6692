"""Word (.docx) files: paragraphs and tables in body order, heading styles, Word's automatic
list numbering written out (`12.`, `(a)`, bullets) and footnotes kept with their paragraph."""

from __future__ import annotations

import datetime as dt
import io
import re
from typing import Any

from ingest.blocks import Block, Extracted, attach_notes
from ingest.errors import IngestError

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_W_NS = {"w": _W[1:-1]}
_DOCX_CONTAINERS = frozenset(
    _W + tag for tag in
    ("hyperlink", "ins", "moveTo", "smartTag", "fldSimple", "customXml", "sdt", "sdtContent",
     "bdo", "dir")
)
_DOCX_SKIP_NOTES = ("separator", "continuationSeparator", "continuationNotice")


def _xpath(element: Any, expression: str) -> list[Any]:
    """XPath with the `w:` prefix on any lxml element."""
    from lxml import etree

    return list(etree.XPath(expression, namespaces=_W_NS)(element))


def read_docx(data: bytes, name: str) -> Extracted:
    """Paragraphs and tables in body order; heading styles, list numbering and footnotes."""
    import docx

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # python-docx raises zip, XML and KeyError failures alike
        raise IngestError(f"{name} could not be opened as a Word document (the file is damaged "
                          "or not a .docx). Open it in Word and save it again as .docx, or add a "
                          "PDF version.") from exc
    try:
        reader = _DocxReader(document)
        blocks = reader.read()
    except Exception as exc:  # malformed parts inside an otherwise valid package
        raise IngestError(f"{name} could not be read as a Word document ({exc}). Open it in Word "
                          "and save it again as .docx, or add a PDF version.") from exc
    if not any(ch.isalnum() for block in blocks for ch in block.text):
        raise IngestError(f"{name} has no text (it may hold only images, such as a scan). Run it "
                          "through OCR first, or add a text version.")
    extracted = Extracted(blocks, title=reader.title)
    core = document.core_properties
    if core.title and core.title.strip():
        extracted.title = core.title
    if isinstance(core.created, dt.datetime):
        extracted.date = core.created.date().isoformat()
        extracted.date_origin = "Word creation date"
    return extracted


class _DocxReader:
    """Reads a python-docx Document into blocks."""

    def __init__(self, document: Any) -> None:
        self.document = document
        self.numbering = _DocxNumbering(document)
        self.footnotes = self.read_footnotes()
        self.note_numbers: dict[str, str] = {}
        self.notes: dict[str, list[str]] = {}
        self.title: str | None = None

    def read(self) -> list[Block]:
        from docx.text.paragraph import Paragraph

        blocks: list[Block] = []
        for item in self.document.iter_inner_content():
            block = self.paragraph(item) if isinstance(item, Paragraph) else self.table(item)
            if block is not None:
                blocks.append(block)
        attach_notes(blocks, self.notes)
        return blocks

    def read_footnotes(self) -> dict[str, str]:
        from docx.opc.constants import RELATIONSHIP_TYPE
        from docx.oxml.parser import parse_xml

        notes: dict[str, str] = {}
        for rel in self.document.part.rels.values():
            if rel.reltype != RELATIONSHIP_TYPE.FOOTNOTES or rel.is_external:
                continue
            root = parse_xml(rel.target_part.blob)
            for note in root.iterfind(f"{_W}footnote"):
                if note.get(f"{_W}type") in _DOCX_SKIP_NOTES:
                    continue
                text = " ".join(_docx_text(p) for p in note.iterfind(f"{_W}p"))
                notes[str(note.get(f"{_W}id"))] = " ".join(text.split())
        return notes

    def note_reference(self, note_id: str) -> str:
        """The `[^N]` marker for a Word footnote, numbered in order of first reference."""
        if note_id not in self.note_numbers:
            number = str(len(self.note_numbers) + 1)
            self.note_numbers[note_id] = number
            if self.footnotes.get(note_id):
                self.notes.setdefault(number, []).append(self.footnotes[note_id])
        return f"[^{self.note_numbers[note_id]}]"

    def paragraph(self, paragraph: Any) -> Block | None:
        label = self.numbering.label(paragraph)
        text = " ".join(_docx_text(paragraph._p, self.note_reference).split())
        if not text:
            return None
        style = _docx_style_name(paragraph)
        if style.lower() == "title":
            if self.title is None:
                self.title = text
            return Block(text, 1)
        level = _docx_heading_level(paragraph, style)
        if level:
            prefix = f"{label[0]} " if label and label[0] != "-" else ""
            return Block(prefix + text, level)
        if label is None:
            return Block(text)
        marker, depth = label
        if marker == "-":
            return Block("  " * depth + "- " + text, item=True)
        if re.fullmatch(r"\d+\.", marker):
            return Block(f"{marker} {text}" if depth == 0 else f"- {marker} {text}")
        return Block(f"{marker} {text}")

    def table(self, table: Any) -> Block | None:
        rows: list[str] = []
        for row in table.rows:
            cells: list[str] = []
            last = None
            for cell in row.cells:
                if cell._tc is last:  # a merged cell is listed once per grid column
                    continue
                last = cell._tc
                cells.append(" ".join(cell.text.split()))
            while cells and not cells[-1]:
                cells.pop()
            if any(cells):
                rows.append(" | ".join(cells))
        return Block("\n".join(rows)) if rows else None


def _docx_text(element: Any, on_note: Any = None) -> str:
    """Visible text of a paragraph: runs, tabs, breaks; `on_note(id)` renders footnote refs."""
    parts: list[str] = []

    def visit(parent: Any) -> None:
        for child in parent:
            if child.tag == f"{_W}r":
                for part in child:
                    tag = part.tag
                    if tag == f"{_W}t":
                        parts.append(part.text or "")
                    elif tag in (f"{_W}tab", f"{_W}br", f"{_W}cr"):
                        parts.append(" ")
                    elif tag == f"{_W}noBreakHyphen":
                        parts.append("-")
                    elif tag == f"{_W}footnoteReference" and on_note is not None:
                        parts.append(on_note(str(part.get(f"{_W}id"))))
            elif child.tag in _DOCX_CONTAINERS:
                visit(child)

    visit(element)
    return "".join(parts)


def _docx_style_name(paragraph: Any) -> str:
    try:
        style = paragraph.style
    except Exception:  # a style id missing from styles.xml
        return ""
    return str(style.name or "") if style is not None else ""


def _docx_heading_level(paragraph: Any, style: str) -> int:
    """Heading level from the style name (`Heading 2`, UN templates' `H23_G`) or outline level."""
    match = re.match(r"^(?:heading|h)\s*(\d)", style, re.IGNORECASE)
    if match and int(match.group(1)) > 0:
        return int(match.group(1))
    if style.lower().startswith("hch"):
        return 1
    outline = _xpath(paragraph._p, "w:pPr/w:outlineLvl/@w:val")
    if outline and str(outline[0]).isdigit() and int(outline[0]) < 9:
        return int(outline[0]) + 1
    return 0


def _format_number(value: int, fmt: str) -> str:
    if fmt in ("lowerLetter", "upperLetter"):
        letters = ""
        n = value
        while n > 0:
            n, rest = divmod(n - 1, 26)
            letters = chr(ord("a") + rest) + letters
        return letters.upper() if fmt == "upperLetter" else letters
    if fmt in ("lowerRoman", "upperRoman"):
        numerals = ((1000, "m"), (900, "cm"), (500, "d"), (400, "cd"), (100, "c"), (90, "xc"),
                    (50, "l"), (40, "xl"), (10, "x"), (9, "ix"), (5, "v"), (4, "iv"), (1, "i"))
        roman, n = "", value
        for amount, numeral in numerals:
            while n >= amount:
                roman, n = roman + numeral, n - amount
        return roman.upper() if fmt == "upperRoman" else roman
    return str(value)


class _DocxNumbering:
    """Word's automatic list numbers (`12.`, `(a)`, bullets), counted as Word counts them."""

    def __init__(self, document: Any) -> None:
        try:
            self.root: Any = document.part.numbering_part.element
        except Exception:  # no numbering part
            self.root = None
        self.counters: dict[str, list[int | None]] = {}
        self.seen: set[tuple[str, int]] = set()

    def num_pr(self, paragraph: Any) -> tuple[str | None, int]:
        """numId and level, from the paragraph or else from its style chain."""
        elements = [paragraph._p]
        try:
            style = paragraph.style
            while style is not None and len(elements) < 10:
                elements.append(style.element)
                style = style.base_style
        except Exception:
            pass
        for element in elements:
            num_pr = _xpath(element, "w:pPr/w:numPr")
            if num_pr:
                num_id = _xpath(num_pr[0], "w:numId/@w:val")
                ilvl = _xpath(num_pr[0], "w:ilvl/@w:val")
                level = int(ilvl[0]) if ilvl and str(ilvl[0]).isdigit() else 0
                return (str(num_id[0]) if num_id else None), min(level, 8)
        return None, 0

    def label(self, paragraph: Any) -> tuple[str, int] | None:
        """(`12.` / `(a)` / `-` for a bullet, level), or None for an unnumbered paragraph."""
        if self.root is None:
            return None
        num_id, ilvl = self.num_pr(paragraph)
        if not num_id or num_id == "0":
            return None
        nums = _xpath(self.root, f'w:num[@w:numId="{num_id}"]')
        abstract = _xpath(nums[0], "w:abstractNumId/@w:val") if nums else []
        if not abstract:
            return None
        abstract_id = str(abstract[0])
        levels = _xpath(nums[0], f'w:lvlOverride[@w:ilvl="{ilvl}"]/w:lvl') or _xpath(
            self.root, f'w:abstractNum[@w:abstractNumId="{abstract_id}"]/w:lvl[@w:ilvl="{ilvl}"]')
        if not levels:
            return None
        fmt = str((_xpath(levels[0], "w:numFmt/@w:val") or ["decimal"])[0])
        counters = self.counters.setdefault(abstract_id, [None] * 9)
        override = _xpath(nums[0], f'w:lvlOverride[@w:ilvl="{ilvl}"]/w:startOverride/@w:val')
        current = counters[ilvl]
        if override and (num_id, ilvl) not in self.seen:
            counters[ilvl] = int(override[0])
        elif current is None:
            counters[ilvl] = self.start(abstract_id, ilvl)
        else:
            counters[ilvl] = current + 1
        self.seen.add((num_id, ilvl))
        for deeper in range(ilvl + 1, 9):
            counters[deeper] = None
        if fmt == "bullet":
            return "-", ilvl
        if fmt == "none":
            return None
        text = str((_xpath(levels[0], "w:lvlText/@w:val") or [f"%{ilvl + 1}."])[0])

        def number(match: re.Match[str]) -> str:
            level = int(match.group(1)) - 1
            value = counters[level] if 0 <= level < 9 else None
            return _format_number(value or 1, self.format(abstract_id, level, fmt))

        label = re.sub(r"%([1-9])", number, text).strip()
        return (label, ilvl) if label else None

    def start(self, abstract_id: str, ilvl: int) -> int:
        found = _xpath(self.root, f'w:abstractNum[@w:abstractNumId="{abstract_id}"]'
                                  f'/w:lvl[@w:ilvl="{ilvl}"]/w:start/@w:val')
        return int(found[0]) if found and str(found[0]).isdigit() else 1

    def format(self, abstract_id: str, ilvl: int, default: str) -> str:
        found = _xpath(self.root, f'w:abstractNum[@w:abstractNumId="{abstract_id}"]'
                                  f'/w:lvl[@w:ilvl="{ilvl}"]/w:numFmt/@w:val')
        return str(found[0]) if found else default
