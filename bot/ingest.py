"""Turning a PDF, Word, HTML, Markdown or text file into a knowledge document.

The output follows docs/knowledge-format.md: YAML front matter, `##` headings, numbered
paragraphs kept as `N. text`, `Recommendation N` headings and `[^N]` footnotes. `convert` is pure
(it only reads the file); `add_document` also writes `<source_id>.md` atomically.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import math
import os
import re
import tempfile
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

SUPPORTED = (".pdf", ".docx", ".html", ".htm", ".md", ".txt")
FIELDS = ("title", "symbol", "organization", "date", "kind", "source")
DEFAULT_KIND = "document"
UNKNOWN_ORGANIZATION = "Unknown"
SLUG_MAX = 60

_SUPPORTED_TEXT = ", ".join(SUPPORTED)
_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")
_KIND = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_NUMBERED = re.compile(r"^(\d{1,4})\.\s+\S")
_NUMBER_ONLY = re.compile(r"^(\d{1,3})\.$")
_LINE_NUMBERED = re.compile(r"^(\d{1,3})\.\s+\S")
_SUBITEM = re.compile(r"^\((?:[a-z]{1,2}|[ivxlc]+|\d{1,2})\)\s+\S")
_BULLET_GLYPH = re.compile(
    r"^[\u2022\u25cf\u25aa\u25e6\u2023\u2043\u25a0\u25a1\uf0b7\uf0a7\uf0d8]\s*"
)
_DASH_BULLET = re.compile(r"^[-\u2013\u2014*]\s+(?=\S)")
_MARKER = re.compile(r"^([IVXLC]{1,7}|[A-Z])\.\s+(\S.*)$")
_ROMAN = re.compile(r"^M{0,3}(CM|CD|D?C{0,3})(XC|XL|L?X{0,3})(IX|IV|V?I{0,3})$")
_RECOMMENDATION = re.compile(r"^Recommendation\s+\d+\.?$", re.IGNORECASE)
_ISSUE = re.compile(r"^Issue\s+#\s*\d+\b")
_PAGE_NUMBER = re.compile(
    r"^(?:page\s+)?[-\u2013\u2014]?\s*\d{1,4}\s*[-\u2013\u2014]?(?:\s*(?:/|of)\s*\d{1,4})?$",
    re.IGNORECASE,
)
_JOB_NUMBER = re.compile(r"^(?:GE\.)?\d{2}-\d{5}\b|^\*\d{7,8}\*$")  # UN print job numbers
_PAGE_ROMAN = re.compile(r"^(?=[ivxl])(?:xl|l?x{0,3})(?:ix|iv|v?i{0,3})$")
_TOC_LINE = re.compile(
    r"(?:\.\s?){4,}\s*\d+$|\u2026{2,}\s*\d+$|\s\d{1,3}[\u2013-]\d{1,3}\s+\d{1,3}$"
)
_UN_SYMBOL = re.compile(r"^[A-Z]{1,10}(?:/[A-Z0-9][A-Za-z0-9.\-]*){2,}$")
_FOOTNOTE_LINE = re.compile(r"^(\d{1,3})\s+(\S.*)$")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_MASTHEAD = re.compile(r"distr\.|^original:|session$|^(?:agenda )?item \d", re.IGNORECASE)
_FOOTNOTE_REF = re.compile(r"\[\^(\d+)\]")
_MD_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_TERMINAL = (".", "!", "?", ":", ";", ")", '"', "\u201d", "\u2019")
_SMALL_WORDS = frozenset(
    "a an and as at but by de des du et for from in into la le les nor of on or per the to "
    "vs via with within under over between against among upon without through its their".split()
)
_JUNK_TITLES = re.compile(
    r"^(?:untitled|no title|title|document\d*|word document|presentation|slide \d+|"
    r"microsoft word - .*|.*\.(?:docx?|pdf|rtf|txt|html?|odt))$",
    re.IGNORECASE,
)
_GENERIC_HEADINGS = frozenset(
    {"united nations", "general assembly", "security council", "economic and social council",
     "contents", "table of contents", "summary", "executive summary", "abstract", "introduction",
     "foreword", "preface", "annex", "annexes", "page", "paragraphs page"}
)
_HTML_DROP = ("script", "style", "nav", "header", "footer", "noscript", "iframe", "form",
              "template", "svg", "button", "select", "textarea", "input", "object", "embed")
_HTML_INLINE = frozenset(
    "a abbr b bdi bdo cite code data del dfn em font i ins kbd label mark q s samp small span "
    "strike strong sub sup time tt u var wbr img".split()
)
_HTML_BLOCK = frozenset(
    "address article aside blockquote dd details div dl dt figcaption figure h1 h2 h3 h4 h5 h6 "
    "hr li main ol p pre section summary table tr td th ul".split()
)
_HTML_DATE_META = ("dcterms.date", "dcterms.created", "dcterms.issued", "dc.date", "date",
                   "dc.date.created", "dc.date.issued", "citation_publication_date",
                   "article:published_time", "datepublished")


class IngestError(Exception):
    """A file that cannot be added; the message says what was wrong and what to do next."""


@dataclass(frozen=True)
class Conversion:
    """What `convert` made of a file: the front-matter values and counts of the body."""

    source_id: str
    title: str
    symbol: str | None
    organization: str
    date: str
    kind: str
    source: str
    sections: int
    paragraphs: int
    numbered_paragraphs: int
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class AddedDocument:
    """A document written to the knowledge directory by `add_document`."""

    path: Path
    source_id: str
    title: str
    sections: int
    paragraphs: int
    numbered_paragraphs: int
    warnings: tuple[str, ...]
    replaced: bool


@dataclass
class _Block:
    """A heading (level >= 1 before ranking) or a text block (level 0), with its footnotes."""

    text: str
    level: int = 0
    notes: list[str] = field(default_factory=list)
    item: bool = False

    @property
    def is_heading(self) -> bool:
        return self.level > 0


@dataclass
class _Extracted:
    """Body blocks and whatever metadata the file itself carries."""

    blocks: list[_Block]
    title: str | None = None
    date: str | None = None
    date_origin: str = ""
    symbol: str | None = None
    warnings: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- public API


def convert(
    path: Path,
    *,
    title: str | None = None,
    symbol: str | None = None,
    date: str | None = None,
    kind: str | None = None,
    organization: str | None = None,
) -> tuple[str, Conversion]:
    """Read `path` and return its knowledge-format Markdown and a summary; writes nothing."""
    title = _option_text(title, "--title")
    symbol = _option_text(symbol, "--symbol")
    organization = _option_text(organization, "--organization")
    if date is not None:
        date = _valid_date(date.strip(), "--date")
    if kind is not None:
        kind = _valid_kind(kind.strip())
    path = Path(path)
    data = _read_file(path)
    suffix = path.suffix.lower()
    if suffix == ".md":
        front, body, warnings = _markdown(data, path.name)
        extracted = _Extracted([], warnings=warnings)
    else:
        front, body = {}, ""
        if suffix == ".pdf":
            extracted = _pdf(data, path.name)
        elif suffix == ".docx":
            extracted = _docx(data, path.name)
        elif suffix in (".html", ".htm"):
            extracted = _html(data, path.name)
        else:
            text, warnings = _decode_text(data, path.name)
            extracted = _Extracted(_text_blocks(text.split("\f"), pdf=False)[0],
                                   warnings=warnings)
    warnings = extracted.warnings
    chosen_title = title or front.get("title") or _pick_title(extracted, body, path, warnings)
    blocks = _finish_blocks(extracted.blocks, chosen_title)
    if suffix != ".md" and not any(not block.is_heading for block in blocks):
        raise IngestError(f"{path.name} has no document text (only a title, page numbers or "
                          "running headers were found). If it is a scan, run it through OCR "
                          "first, or add a text version.")
    chosen_date = date
    if not chosen_date and front.get("date"):
        chosen_date = _valid_date(front["date"], f"{path.name}: front matter date",
                                  "Fix it, or pass --date.")
    if not chosen_date and extracted.date:
        chosen_date = extracted.date
        warnings.append(f"date {chosen_date} is the file's {extracted.date_origin}; "
                        "pass --date if the document is dated differently.")
    if not chosen_date:
        chosen_date = dt.date.today().isoformat()
        warnings.append(f"no date found in the file; used today's date {chosen_date}. "
                        "Pass --date to set the document's date.")
    chosen_symbol = symbol or front.get("symbol")
    if not chosen_symbol and extracted.symbol:
        chosen_symbol = extracted.symbol
        warnings.append(f"symbol {chosen_symbol} was taken from the page headers; "
                        "pass --symbol to change it.")
    chosen_org = organization or front.get("organization")
    if not chosen_org:
        chosen_org = UNKNOWN_ORGANIZATION
        warnings.append(f"organization is '{UNKNOWN_ORGANIZATION}'; add the file again with "
                        "--organization NAME --replace to set it.")
    meta = {
        "title": chosen_title,
        "symbol": chosen_symbol,
        "organization": chosen_org,
        "date": chosen_date,
        "kind": kind or front.get("kind") or DEFAULT_KIND,
        "source": front.get("source") or path.name,
    }
    body = body.strip("\n") + "\n" if suffix == ".md" else _render_body(chosen_title, blocks)
    markdown = _front_matter(meta) + "\n" + body
    sections, paragraphs, numbered = _count(body)
    summary = Conversion(
        source_id=_source_id(chosen_title, path), title=chosen_title, symbol=meta["symbol"],
        organization=chosen_org, date=chosen_date, kind=meta["kind"] or DEFAULT_KIND,
        source=meta["source"] or path.name, sections=sections, paragraphs=paragraphs,
        numbered_paragraphs=numbered, warnings=tuple(warnings),
    )
    return markdown, summary


def add_document(
    path: Path,
    docs_dir: Path,
    *,
    title: str | None = None,
    symbol: str | None = None,
    date: str | None = None,
    kind: str | None = None,
    organization: str | None = None,
    replace: bool = False,
) -> AddedDocument:
    """Convert `path` and write it as `docs_dir/<source_id>.md`; nothing is written on error."""
    markdown, summary = convert(path, title=title, symbol=symbol, date=date, kind=kind,
                                organization=organization)
    target = Path(docs_dir) / f"{summary.source_id}.md"
    existed = target.exists()
    if existed and not replace:
        raise _exists_error(target, summary)
    _write_atomic(target, markdown, overwrite=replace, summary=summary)
    return AddedDocument(
        path=target, source_id=summary.source_id, title=summary.title,
        sections=summary.sections, paragraphs=summary.paragraphs,
        numbered_paragraphs=summary.numbered_paragraphs, warnings=summary.warnings,
        replaced=existed,
    )


def slugify(text: str, max_length: int = SLUG_MAX) -> str:
    """Lowercase ASCII words joined by hyphens, cut at a word boundary to `max_length`."""
    ascii_text = "".join(ch if ch.isascii() else "" if unicodedata.combining(ch) else "-"
                         for ch in unicodedata.normalize("NFKD", text))
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    if len(slug) > max_length:
        cut = slug[: max_length + 1]
        slug = cut.rsplit("-", 1)[0] if "-" in cut else slug[:max_length]
    return slug.strip("-")


# --------------------------------------------------------------------------- options and files


def _option_text(value: str | None, option: str) -> str | None:
    """Options are single-line text; an empty one is a mistake, not a default."""
    if value is None:
        return None
    text = " ".join(value.split())
    if not text:
        raise IngestError(f"{option} is empty. Give it a value, or leave the option out.")
    return text


def _valid_date(value: str, where: str, fix: str = "") -> str:
    """YYYY, YYYY-MM or YYYY-MM-DD naming a real calendar date."""
    match = _DATE.match(value)
    ok = match is not None
    if match:
        year, month, day = match.group(1), match.group(2), match.group(3)
        try:
            dt.date(int(year), int(month or 1), int(day or 1))
        except ValueError:
            ok = False
    if not ok:
        raise IngestError(f"{where} '{value}' is not a valid date. Use YYYY, YYYY-MM or "
                          f"YYYY-MM-DD, e.g. 2022-08-01. {fix}".rstrip())
    return value


def _valid_kind(value: str) -> str:
    if _KIND.match(value):
        return value
    suggestion = slugify(value) or DEFAULT_KIND
    raise IngestError(f"--kind '{value}' is not a short slug. Use lowercase words joined by "
                      f"hyphens, e.g. --kind {suggestion}.")


def _read_file(path: Path) -> bytes:
    """The file's bytes, after the checks that need no parsing."""
    name = path.name
    if not path.exists():
        raise IngestError(f"{path} was not found. Check the path and the file name.")
    if path.is_dir():
        raise IngestError(f"{path} is a directory, not a file. Name one document file to add.")
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        if suffix == ".doc":
            hint = "Open it in Word and save it as .docx (or PDF), then add that file."
        elif not suffix:
            hint = "Give the file the extension that matches its type, or export it as PDF."
        else:
            hint = "Save or export it as one of these (e.g. PDF or Word .docx), then add that."
        what = f"a '{suffix}' file" if suffix else "a file without an extension"
        raise IngestError(f"{name} is {what}, which cannot be added. Supported types: "
                          f"{_SUPPORTED_TEXT}. {hint}")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise IngestError(f"{name} could not be read ({exc.strerror or exc}). Check that the "
                          "file is readable, then try again.") from exc
    if not data.strip():
        raise IngestError(f"{name} is empty. Add a file that contains the document's text.")
    return data


def _decode_text(data: bytes, name: str) -> tuple[str, list[str]]:
    """UTF-8 (with or without BOM, or UTF-16 with BOM); Windows-1252 as a warned fallback."""
    warnings: list[str] = []
    not_text = (f"{name} is not a text file (it contains binary data). Add the original "
                f"document instead, or save it as UTF-8 text. Supported types: {_SUPPORTED_TEXT}.")
    if data.startswith(b"\xef\xbb\xbf"):
        text = data.decode("utf-8-sig", errors="replace")
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise IngestError(not_text) from exc
    elif b"\x00" in data:
        raise IngestError(not_text)
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            try:
                text = data.decode("cp1252")
            except UnicodeDecodeError as exc:
                raise IngestError(f"{name} is not UTF-8 text and could not be read as "
                                  "Windows-1252 either. Save it as UTF-8 text and try again."
                                  ) from exc
            warnings.append(f"{name} is not UTF-8; it was read as Windows-1252. Check accented "
                            "characters in the result, or save the file as UTF-8 and add it again.")
    controls = sum(1 for ch in text if unicodedata.category(ch) == "Cc" and ch not in "\t\n\r\f")
    if controls > max(2, len(text) // 100):
        raise IngestError(not_text)
    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    if not text.strip():
        raise IngestError(f"{name} is empty. Add a file that contains the document's text.")
    return text, warnings


# --------------------------------------------------------------------------- PDF


def _pdf(data: bytes, name: str) -> _Extracted:
    """Text per page via pypdf, then the plain-text layout rules."""
    from pypdf import PasswordType, PdfReader
    from pypdf.errors import DependencyError

    corrupt = (f"{name} could not be read as a PDF (the file is damaged or not really a PDF). "
               "Open it in a PDF viewer and save or print it to a new PDF, then add that copy.")
    needs_crypto = (f"{name} is encrypted with AES, which this installation cannot decrypt (the "
                    "'cryptography' package is missing). Save or print an unprotected copy and "
                    "add that, or ask the administrator to install pypdf[crypto].")
    try:
        reader = PdfReader(io.BytesIO(data))
        encrypted = reader.is_encrypted
    except Exception as exc:  # pypdf raises many exception types for broken files
        raise IngestError(corrupt) from exc
    if encrypted:
        try:
            opened = reader.decrypt("") != PasswordType.NOT_DECRYPTED
        except DependencyError as exc:
            raise IngestError(needs_crypto) from exc
        except Exception:
            opened = False
        if not opened:
            raise IngestError(f"{name} is password-protected (encrypted). Remove the protection "
                              "(open it with the password and save an unprotected copy), then "
                              "add that copy.")
    pages: list[str] = []
    failed: list[int] = []
    try:
        for number, page in enumerate(reader.pages, start=1):
            try:
                pages.append(page.extract_text() or "")
            except DependencyError:
                raise
            except Exception:
                pages.append("")
                failed.append(number)
    except DependencyError as exc:
        raise IngestError(needs_crypto) from exc
    except Exception as exc:
        raise IngestError(corrupt) from exc
    if not pages or len(failed) == len(pages):
        raise IngestError(corrupt)
    if not any(ch.isalnum() for text in pages for ch in text):
        raise IngestError(f"{name} has no extractable text (it looks like a scanned image). Run "
                          "it through OCR first, or add a text version.")
    warnings: list[str] = []
    empty = [n for n, text in enumerate(pages, start=1)
             if not any(ch.isalnum() for ch in text) and n not in failed]
    if failed:
        warnings.append(f"text could not be read from page(s) {_ranges(failed)}; their content "
                        "is missing.")
    if empty:
        warnings.append(f"page(s) {_ranges(empty)} have no text (blank, or scanned images); "
                        "OCR them if they hold content.")
    blocks, header_symbol = _text_blocks(pages, pdf=True)
    extracted = _Extracted(blocks, symbol=header_symbol, warnings=warnings)
    try:
        meta = reader.metadata
        meta_title = meta.title if meta is not None else None
        created = meta.creation_date if meta is not None else None
    except Exception:
        meta_title, created = None, None
    if isinstance(meta_title, str):
        extracted.title = meta_title
        if not extracted.symbol and _UN_SYMBOL.match(meta_title.strip()):
            extracted.symbol = meta_title.strip()
    if isinstance(created, dt.datetime):
        extracted.date, extracted.date_origin = created.date().isoformat(), "PDF creation date"
    return extracted


def _ranges(numbers: list[int]) -> str:
    """[1, 2, 3, 7] -> '1-3, 7'."""
    parts: list[str] = []
    start = prev = numbers[0]
    for n in [*numbers[1:], 0]:
        if n == prev + 1:
            prev = n
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        start = prev = n
    return ", ".join(parts)


# --------------------------------------------------------------------------- PDF and plain text


def _text_blocks(pages: list[str], *, pdf: bool) -> tuple[list[_Block], str | None]:
    """Lines of text pages -> blocks; page furniture and footnotes are handled on paged input."""
    page_lines = [[" ".join(_CONTROL.sub(" ", line).split()) for line in page.split("\n")]
                  for page in pages]
    symbol = None
    notes: dict[str, list[str]] = {}
    if pdf or len(page_lines) > 1:
        page_lines, removed = _strip_furniture(page_lines)
        symbol = _header_symbol(removed)
        page_lines = [_split_footnotes(lines, notes) for lines in page_lines]
    inner = _tidy_lines([line for page in page_lines for line in page])
    while inner and not inner[0]:
        inner.pop(0)
    while inner and not inner[-1]:
        inner.pop()
    lengths = sorted(len(line) for line in inner if line)
    typical = lengths[int(len(lengths) * 0.8)] if lengths else 0
    if not pdf and "" in inner:
        mode = "blank"
    elif not pdf and typical > 150:
        mode = "lines"
    else:
        mode = "wrapped"
    blocks = _LineParser(mode, typical).parse(inner)
    _attach_notes(blocks, notes)
    return blocks, symbol


def _tidy_lines(lines: list[str]) -> list[str]:
    """Drop table-of-contents lines; join a lone paragraph number `12.` to the line after it."""
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if line and _TOC_LINE.search(line):
            continue
        if _NUMBER_ONLY.match(line):
            j = i
            while j < len(lines) and not lines[j]:
                j += 1
            if j < len(lines) and not lines[j][0].isdigit() and not _TOC_LINE.search(lines[j]):
                line, i = f"{line} {lines[j]}", j + 1
        out.append(line)
    return out


def _norm_furniture(line: str) -> str | None:
    """A header/footer line with its numbers blanked, or None for lines never treated so."""
    if not line or _LINE_NUMBERED.match(line) or _NUMBER_ONLY.match(line) or len(line) > 120:
        return None
    return re.sub(r"\d+", "#", line.lower())


def _strip_furniture(pages: list[list[str]]) -> tuple[list[list[str]], list[str]]:
    """Remove page numbers and lines repeated at the top or bottom of at least half the pages."""
    def edges(lines: list[str]) -> list[int]:
        filled = [i for i, line in enumerate(lines) if line]
        return filled[:3] + filled[-3:]

    exact: Counter[str] = Counter()
    similar: Counter[str] = Counter()
    for lines in pages:
        keys = {lines[i] for i in edges(lines) if _norm_furniture(lines[i])}
        exact.update(keys)
        similar.update({str(_norm_furniture(key)) for key in keys})
    half = math.ceil(len(pages) * 0.5)
    # Lines differing only in their numbers ("Page 3", "2/25") need three pages, so that
    # "Recommendation 1" and "Recommendation 2" opening two pages are not taken for a header.
    repeated = {key for key, count in exact.items() if count >= max(2, half)}
    numbered = {key for key, count in similar.items() if count >= max(3, half)}

    def furniture(line: str) -> bool:
        return bool(_PAGE_NUMBER.match(line) or _PAGE_ROMAN.match(line) or line in repeated
                    or _JOB_NUMBER.match(line) or _norm_furniture(line) in numbered)

    removed: list[str] = []
    result: list[list[str]] = []
    for lines in pages:
        filled = [i for i, line in enumerate(lines) if line]
        drop: set[int] = set()
        for order in (filled[:3], list(reversed(filled))[:3]):
            for i in order:
                if not furniture(lines[i]):
                    break
                drop.add(i)
        removed.extend(lines[i] for i in sorted(drop))
        result.append([line for i, line in enumerate(lines) if i not in drop])
    return result, removed


def _header_symbol(removed: list[str]) -> str | None:
    """A UN document symbol (`A/77/257`) printed in the running header of several pages."""
    counts = Counter(token for line in removed for token in line.split()
                     if _UN_SYMBOL.match(token) and any(ch.isdigit() for ch in token))
    best = counts.most_common(1)
    return best[0][0] if best and best[0][1] >= 2 else None


def _footnote_ref(number: str) -> re.Pattern[str]:
    """A footnote number glued to the word or punctuation before it, as PDFs extract them."""
    return re.compile(r"(?:(?<=[^\W\d_])|(?<=[^\d\s][.,;:)\]\u201d\"\u2019]))"
                      + number + r"(?=[\s,.;:)]|$)")


def _split_footnotes(lines: list[str], notes: dict[str, list[str]]) -> list[str]:
    """Move a footnote zone at the page bottom into `notes`, marking its references `[^N]`.

    Only accepted when the zone's numbers run consecutively and every one of them is found
    glued to text above it (`partners.3 The`); otherwise the page is left as it is.
    """
    end = len(lines)
    while end and not lines[end - 1]:
        end -= 1
    for start in range(max(0, end - 15), end):
        if not _FOOTNOTE_LINE.match(lines[start]):
            continue
        zone = _footnote_zone(lines[start:end])
        body = list(lines[:start])
        found: list[tuple[str, int, re.Match[str]]] = []
        for number, _ in zone:
            pattern = _footnote_ref(number)
            hit = next(((i, m) for i, line in enumerate(body) if (m := pattern.search(line))),
                       None)
            if hit is None:
                break
            found.append((number, hit[0], hit[1]))
        if not zone or len(found) != len(zone):
            continue
        for number, i, match in found:
            body[i] = body[i][: match.start()] + f"[^{number}]" + body[i][match.end():]
        for number, text in zone:
            notes.setdefault(number, []).append(text)
        return body
    return lines


def _footnote_zone(lines: list[str]) -> list[tuple[str, str]]:
    """`3 See ...` lines with consecutive numbers (and their continuation lines)."""
    zone: list[tuple[str, list[str]]] = []
    expected: int | None = None
    for line in lines:
        if not line:
            continue
        match = _FOOTNOTE_LINE.match(line)
        if match and (expected is None or int(match.group(1)) == expected):
            zone.append((match.group(1), [match.group(2)]))
            expected = int(match.group(1)) + 1
        elif zone:
            zone[-1][1].append(line)
    return [(number, _join(parts)) for number, parts in zone]


def _attach_notes(blocks: list[_Block], notes: dict[str, list[str]]) -> None:
    """Put each `[^N]: text` line after the text block that refers to it."""
    if not notes:
        return
    pending: list[str] = []
    last_text: _Block | None = None
    for block in blocks:
        refs = pending + _FOOTNOTE_REF.findall(block.text)
        if block.is_heading:
            pending = refs
            continue
        pending = []
        last_text = block
        for number in refs:
            if notes.get(number):
                block.notes.append(f"[^{number}]: {notes[number].pop(0)}")
    if last_text is not None:
        for number in pending:
            if notes.get(number):
                last_text.notes.append(f"[^{number}]: {notes[number].pop(0)}")


def _join(lines: list[str]) -> str:
    """Join hard-wrapped lines; a word hyphenated at the line end is rejoined."""
    text = ""
    for line in lines:
        if not text:
            text = line
        elif text.endswith("\u00ad") or (re.search(r"[^\W\d_]-$", text)
                                          and line[:1].islower()):
            text = text[:-1] + line
        else:
            text = f"{text} {line}"
    return text.replace("\u00ad", "")


def _is_title_case(line: str) -> bool:
    """A short line whose significant words all start with a capital letter."""
    if len(line) > 80 or line.endswith((".", ",", ";", ":")) or ". " in line:
        return False
    tokens = [token.strip("()[]\"'\u201c\u201d\u2018\u2019,") for token in line.split()]
    tokens = [token for token in tokens if token]
    if not tokens or len(tokens) > 12:
        return False
    numbers = [token for token in tokens if any(ch.isdigit() for ch in token)]
    if len(numbers) > 1 or any(len(token) > 4 for token in numbers):
        return False
    words = [token for token in tokens if token[0].isalpha()]
    if not words or not words[0][0].isupper() or sum(len(word) for word in words) < 3:
        return False
    return all(word[0].isupper() or word.lower() in _SMALL_WORDS for word in words)


class _LineParser:
    """Groups lines into numbered paragraphs, sub-items, headings and other paragraphs."""

    def __init__(self, mode: str, typical: int) -> None:
        self.mode = mode  # "wrapped" (PDF), "blank" (blank lines separate), "lines" (1 per line)
        self.typical = typical
        self.blocks: list[_Block] = []
        self.current: list[str] = []
        self.last_number = 0
        self.last_letter: str | None = None
        self.section_level = 0

    def parse(self, lines: list[str]) -> list[_Block]:
        for i, line in enumerate(lines):
            if not line:
                self.close()
                continue
            after = lines[i + 1] if i + 1 < len(lines) else ""
            self.feed(line, after)
        self.close()
        return self.blocks

    def close(self) -> None:
        if self.current:
            self.blocks.append(_Block(_join(self.current)))
            self.current = []

    def feed(self, line: str, after: str) -> None:
        prev = self.current[-1] if self.current else None
        standalone = (prev is None or prev.endswith(_TERMINAL) or self.mode == "lines"
                      or self.short(prev))
        numbered = _LINE_NUMBERED.match(line)
        if numbered and (standalone or int(numbered.group(1)) == self.last_number + 1):
            self.close()
            self.last_number = int(numbered.group(1))
            self.current.append(line)
            return
        level = self.heading_level(line, after) if standalone and not numbered else None
        if level is not None:
            self.close()
            self.blocks.append(_Block(line, level))
            return
        glyph = _BULLET_GLYPH.match(line)
        listy = prev is None or standalone or prev.endswith((",", " and", " or"))
        if glyph or (listy and (_SUBITEM.match(line) or _DASH_BULLET.match(line))):
            self.close()
            if glyph:
                line = "- " + line[glyph.end():]
            elif _DASH_BULLET.match(line):
                line = "- " + _DASH_BULLET.sub("", line)
            self.current.append(line)
            return
        if self.current and not self.ends_paragraph(prev, line):
            self.current.append(line)
            return
        self.close()
        self.current.append(line)
        if self.mode == "lines":
            self.close()

    def short(self, line: str) -> bool:
        """A wrapped line well short of the usual width: its paragraph (or heading) ended."""
        return (self.mode == "wrapped" and len(line) < 0.7 * self.typical
                and not line.endswith(("-", "\u00ad")))

    def ends_paragraph(self, prev: str | None, line: str) -> bool:
        if prev is None or self.mode == "blank":
            return False
        if self.mode == "lines":
            return True
        return self.short(prev) and (prev.endswith(_TERMINAL) or not line[:1].islower())

    def heading_level(self, line: str, after: str) -> int | None:
        """Raw heading level (1 Roman section, 2 lettered section, deeper for the rest)."""
        if len(line) > 100 or line.endswith((",", ";", ":")) or after[:1].islower():
            return None
        marker = _MARKER.match(line)
        if marker and not line.endswith(".") and len(marker.group(2).split()) <= 14:
            rest = marker.group(2)
            if rest[0].isupper() or rest[0].isdigit() or rest[0] in "\"'\u201c":
                return self.marker_level(marker.group(1))
        if _RECOMMENDATION.match(line) or _ISSUE.match(line) or _is_title_case(line):
            return min(self.section_level + 1, 3)
        return None

    def marker_level(self, marker: str) -> int:
        follows_letter = (self.last_letter is not None and len(marker) == 1
                          and ord(marker) == ord(self.last_letter) + 1)
        if not follows_letter and _ROMAN.match(marker):
            self.last_letter = None
            self.section_level = 1
            return 1
        self.last_letter = marker
        self.section_level = 2
        return 2


# --------------------------------------------------------------------------- Word (.docx)

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


def _docx(data: bytes, name: str) -> _Extracted:
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
    extracted = _Extracted(blocks, title=reader.title)
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

    def read(self) -> list[_Block]:
        from docx.text.paragraph import Paragraph

        blocks: list[_Block] = []
        for item in self.document.iter_inner_content():
            block = self.paragraph(item) if isinstance(item, Paragraph) else self.table(item)
            if block is not None:
                blocks.append(block)
        _attach_notes(blocks, self.notes)
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

    def paragraph(self, paragraph: Any) -> _Block | None:
        label = self.numbering.label(paragraph)
        text = " ".join(_docx_text(paragraph._p, self.note_reference).split())
        if not text:
            return None
        style = _docx_style_name(paragraph)
        if style.lower() == "title":
            if self.title is None:
                self.title = text
            return _Block(text, 1)
        level = _docx_heading_level(paragraph, style)
        if level:
            prefix = f"{label[0]} " if label and label[0] != "-" else ""
            return _Block(prefix + text, level)
        if label is None:
            return _Block(text)
        marker, depth = label
        if marker == "-":
            return _Block("  " * depth + "- " + text, item=True)
        if re.fullmatch(r"\d+\.", marker):
            return _Block(f"{marker} {text}" if depth == 0 else f"- {marker} {text}")
        return _Block(f"{marker} {text}")

    def table(self, table: Any) -> _Block | None:
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
        return _Block("\n".join(rows)) if rows else None


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


# --------------------------------------------------------------------------- HTML


def _html(data: bytes, name: str) -> _Extracted:
    """Visible text of p, li, headings and tables, without scripts, navigation or forms."""
    from bs4 import BeautifulSoup, Tag

    soup = BeautifulSoup(data, "html.parser")
    title = " ".join(soup.title.get_text(" ").split()) if soup.title else ""
    first_h1 = next((tag for tag in soup.find_all("h1") if isinstance(tag, Tag)), None)
    h1 = " ".join(first_h1.get_text(" ").split()) if first_h1 is not None else ""
    page_date = None
    for meta in soup.find_all("meta"):
        key = str(meta.get("name") or meta.get("property") or meta.get("itemprop") or "")
        match = re.match(r"\d{4}(?:-\d{2}(?:-\d{2})?)?", str(meta.get("content") or "").strip())
        if key.lower() in _HTML_DATE_META and match and _is_date(match.group(0)):
            page_date = match.group(0)
            break
    for tag in soup.find_all(["head", *_HTML_DROP]):
        if isinstance(tag, Tag) and not tag.decomposed:
            tag.decompose()
    for tag in soup.find_all(True):
        if not isinstance(tag, Tag) or tag.decomposed:
            continue
        style = str(tag.get("style") or "").replace(" ", "").lower()
        if (tag.has_attr("hidden") or str(tag.get("aria-hidden") or "").lower() == "true"
                or "display:none" in style or "visibility:hidden" in style):
            tag.decompose()
    walker = _HtmlWalker()
    walker.walk(soup.body or soup)
    walker.flush()
    if not any(ch.isalnum() for block in walker.blocks for ch in block.text):
        raise IngestError(f"{name} has no visible text after removing scripts, styles, "
                          "navigation and forms. If the page builds its text with JavaScript, save "
                          "it from the browser as PDF and add that instead.")
    if h1 and _title_key(h1) in _title_key(title):  # "Guide | Site name" -> "Guide"
        title = h1
    extracted = _Extracted(walker.blocks, title=title or h1 or None)
    if page_date:
        extracted.date, extracted.date_origin = page_date, "page date (meta tag)"
    return extracted


class _HtmlWalker:
    """Walks the parsed page, turning block elements into blocks and lists into bullets."""

    def __init__(self) -> None:
        self.blocks: list[_Block] = []
        self.inline: list[str] = []

    def flush(self) -> None:
        text = " ".join("".join(self.inline).split())
        self.inline = []
        if text:
            self.blocks.append(_Block(text))

    def walk(self, node: Any, depth: int = 0) -> None:
        from bs4 import NavigableString, Tag
        from bs4.element import PreformattedString

        for child in node.children:
            if isinstance(child, PreformattedString):  # comments, doctype, CDATA
                continue
            if isinstance(child, NavigableString):
                self.inline.append(str(child))
                continue
            if not isinstance(child, Tag):
                continue
            tag = child.name.lower()
            if re.fullmatch(r"h[1-6]", tag):
                self.flush()
                text = " ".join(child.get_text(" ").split())
                if text:
                    self.blocks.append(_Block(text, int(tag[1])))
            elif tag == "table":
                self.flush()
                self.table(child)
            elif tag in ("ul", "ol"):
                self.flush()
                self.list(child, depth)
            elif tag == "br":
                self.inline.append(" ")
            elif tag in _HTML_INLINE and child.find(list(_HTML_BLOCK)) is None:
                self.inline.append(child.get_text())
            else:
                self.flush()
                self.walk(child, depth)
                self.flush()

    def list(self, node: Any, depth: int) -> None:
        start_attr = str(node.get("start") or "1")
        number = int(start_attr) if start_attr.isdigit() else 1
        for item in node.find_all("li", recursive=False):
            first = len(self.blocks)
            self.walk(item, depth + 1)
            self.flush()
            if first < len(self.blocks) and not self.blocks[first].is_heading \
                    and not self.blocks[first].item:
                block = self.blocks[first]
                marker = f"{number}. " if node.name == "ol" else ""
                block.text = "  " * depth + "- " + marker + block.text
                block.item = True
            number += 1

    def table(self, table: Any) -> None:
        caption = table.find("caption")
        if caption is not None:
            text = " ".join(caption.get_text(" ").split())
            if text:
                self.blocks.append(_Block(text))
        rows: list[str] = []
        for row in table.find_all("tr"):
            if row.find_parent("table") is not table:
                continue
            cells = [" ".join(cell.get_text(" ").split())
                     for cell in row.find_all(["td", "th"], recursive=False)]
            while cells and not cells[-1]:
                cells.pop()
            if any(cells):
                rows.append(" | ".join(cells))
        if rows:
            self.blocks.append(_Block("\n".join(rows)))


# --------------------------------------------------------------------------- Markdown


def _markdown(data: bytes, name: str) -> tuple[dict[str, str], str, list[str]]:
    """Front-matter values (known fields only) and the body, kept as written."""
    text, warnings = _decode_text(data, name)
    lines = text.split("\n")
    front: dict[str, str] = {}
    body = text
    if lines[0].strip() == "---":
        end = next((i for i in range(1, len(lines)) if lines[i].strip() in ("---", "...")), None)
        if end is None:
            raise IngestError(f"{name}:1: front matter: no closing '---' line. Add one after the "
                              "front matter, or remove the opening '---'.")
        body = "\n".join(lines[end + 1:])
        try:
            values = yaml.safe_load("\n".join(lines[1:end]))
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 2 if mark is not None else 2
            problem = getattr(exc, "problem", None) or "not valid YAML"
            raise IngestError(f"{name}:{line}: front matter: invalid YAML ({problem}). Fix it, or "
                              "remove the front matter and give --title and the other options."
                              ) from exc
        if values is None:
            values = {}
        if not isinstance(values, dict):
            raise IngestError(f"{name}:2: front matter: must be 'field: value' lines. Fix it, or "
                              "remove the front matter and give --title and the other options.")
        for key, value in values.items():
            if str(key) not in FIELDS:
                warnings.append(f"front matter field '{key}' is not part of the knowledge format "
                                "and was dropped.")
                continue
            if isinstance(value, dt.datetime):
                value = value.date()
            if isinstance(value, dt.date):
                value = value.isoformat()
            if value is not None and str(value).strip():
                front[str(key)] = " ".join(str(value).split())
    if not any(line.strip() and not _MD_HEADING.match(line) for line in body.split("\n")):
        raise IngestError(f"{name} has no text besides its front matter and headings. Add the "
                          "document's text, then add it again.")
    return front, body, warnings


# --------------------------------------------------------------------------- assembling


def _is_date(value: str) -> bool:
    try:
        _valid_date(value, "date")
    except IngestError:
        return False
    return True


def _finish_blocks(blocks: list[_Block], title: str) -> list[_Block]:
    """Recommendation headings, title heading dropped, heading levels ranked to ## .. ####."""
    blocks = [block for block in blocks if block.text.strip()]
    if not any(not block.is_heading for block in blocks):
        blocks = [_Block(block.text) for block in blocks]
    parent_level = 0  # of the last heading that is not a recommendation
    for block in blocks:
        if not block.is_heading and _RECOMMENDATION.match(block.text):
            block.text, block.level = block.text.rstrip("."), parent_level + 1
        elif block.is_heading and not _RECOMMENDATION.match(block.text):
            parent_level = block.level
    key = _title_key(title)
    for i, block in enumerate(blocks):
        if block.is_heading and _title_key(block.text) == key:
            del blocks[i]
            break
    ranks = {level: min(2 + rank, 4)
             for rank, level in enumerate(sorted({b.level for b in blocks if b.is_heading}))}
    for block in blocks:
        if block.is_heading:
            block.level = ranks[block.level]
    return blocks


def _title_key(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.casefold()).split())


def _usable_title(text: str | None) -> str | None:
    """A metadata title, unless it is empty, generic, a file name or a document symbol."""
    if not text:
        return None
    text = " ".join(text.split())
    if len(text) < 3 or _JUNK_TITLES.match(text) or _UN_SYMBOL.match(text):
        return None
    return text


def _pick_title(extracted: _Extracted, body: str, path: Path, warnings: list[str]) -> str:
    """Metadata title, else the first meaningful heading, else the file stem."""
    meta = _usable_title(extracted.title)
    if meta:
        return meta
    if body:
        headings = [(len(m.group(1)), m.group(2)) for line in body.split("\n")
                    if (m := _MD_HEADING.match(line))]
        candidates = [text for level, text in sorted(headings, key=lambda h: h[0])]
    else:
        candidates = [block.text for block in extracted.blocks if block.is_heading]
    for candidate in candidates:
        candidate = " ".join(candidate.split())
        if (_title_key(candidate) not in _GENERIC_HEADINGS and not _MARKER.match(candidate)
                and not _MASTHEAD.search(candidate)
                and not _RECOMMENDATION.match(candidate) and len(candidate.split()) >= 2):
            warnings.append(f"title taken from the first heading ('{candidate}'); pass --title "
                            "to change it.")
            return candidate
    warnings.append(f"no title found in the file; used the file name '{path.stem}'. Pass --title "
                    "to set a proper title.")
    return " ".join(path.stem.split()) or path.name


def _escape(line: str) -> str:
    """Keep a text line that starts with `#` from being read as a heading."""
    return "\\" + line if re.match(r"^#{1,6}(\s|$)", line) else line


def _render_body(title: str, blocks: list[_Block]) -> str:
    parts = [f"# {title}"]
    for block in blocks:
        if block.is_heading:
            parts.append("#" * block.level + " " + " ".join(block.text.split()))
            continue
        lines = [_escape(line) for line in block.text.split("\n")]
        parts.append("\n".join(lines + block.notes))
    return "\n\n".join(parts) + "\n"


def _yaml_scalar(value: str) -> str:
    """The value as a plain YAML scalar when that reads back unchanged, else double-quoted."""
    try:
        if yaml.safe_load(f"k: {value}") == {"k": value}:
            return value
    except yaml.YAMLError:
        pass
    return json.dumps(value, ensure_ascii=False)


def _front_matter(meta: dict[str, str | None]) -> str:
    lines = ["---"]
    for key in FIELDS:
        value = meta.get(key)
        if value:
            lines.append(f"{key}: {value if key == 'date' else _yaml_scalar(value)}")
    lines.append("---")
    return "\n".join(lines) + "\n"


def _count(body: str) -> tuple[int, int, int]:
    """Headings below the title, text blocks, and text blocks that are numbered paragraphs."""
    sections = paragraphs = numbered = 0
    in_block = False
    for line in body.split("\n"):
        if not line.strip():
            in_block = False
            continue
        heading = _MD_HEADING.match(line)
        if heading:
            sections += len(heading.group(1)) >= 2
            in_block = False
            continue
        if not in_block and not line.startswith("[^"):
            paragraphs += 1
            numbered += bool(_NUMBERED.match(line))
        in_block = True
    return sections, paragraphs, numbered


def _source_id(title: str, path: Path) -> str:
    return (slugify(title) or slugify(path.stem)
            or "document-" + hashlib.sha1(title.encode()).hexdigest()[:8])


def _exists_error(target: Path, summary: Conversion) -> IngestError:
    return IngestError(f"{target} already exists (source id '{summary.source_id}'). Use --replace "
                       "to overwrite it, or --title to add this file under a different title.")


def _write_atomic(target: Path, text: str, *, overwrite: bool, summary: Conversion) -> None:
    """Write via a temporary file in the same directory; never clobber unless `overwrite`."""
    directory = target.parent
    try:
        directory.mkdir(parents=True, exist_ok=True)
        handle_fd, temp_name = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=".tmp",
                                                dir=directory)
    except OSError as exc:
        raise IngestError(f"could not write to {directory} ({exc.strerror or exc}). Check that "
                          "the knowledge directory is writable.") from exc
    temp = Path(temp_name)
    try:
        with os.fdopen(handle_fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, 0o644)
        if overwrite:
            os.replace(temp, target)
        else:
            try:
                os.link(temp, target)  # fails if the target appeared meanwhile
            except FileExistsError:
                raise _exists_error(target, summary) from None
            except OSError:  # hard links unsupported here
                if target.exists():
                    raise _exists_error(target, summary) from None
                os.replace(temp, target)
    except OSError as exc:
        raise IngestError(f"could not write {target} ({exc.strerror or exc}). Check that the "
                          "knowledge directory is writable; nothing was changed.") from exc
    finally:
        temp.unlink(missing_ok=True)
