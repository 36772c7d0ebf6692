"""A source file to a knowledge document: options checked, text extracted, metadata chosen.

`convert` is pure (it only reads the file); `add_document` also writes `<source_id>.md`
atomically into the knowledge directory.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict, Unpack

from index.errors import KnowledgeFileError
from index.format import DocumentMeta, is_date, is_slug, metadata_from, slugify
from ingest.blocks import Extracted, text_blocks
from ingest.docx import read_docx
from ingest.errors import IngestError
from ingest.files import decode_text, read_file, write_atomic
from ingest.html import read_html
from ingest.markdown import (
    assemble,
    count,
    finish_blocks,
    pick_title,
    read_markdown,
    render_body,
    source_id,
)
from ingest.pdf import read_pdf

DEFAULT_KIND = "document"
UNKNOWN_ORGANIZATION = "Unknown"


@dataclass(frozen=True)
class Conversion:
    """What `convert` made of a file: the document's metadata and counts of the body."""

    source_id: str
    metadata: DocumentMeta
    sections: int
    paragraphs: int
    numbered_paragraphs: int
    warnings: tuple[str, ...]

    @property
    def title(self) -> str:
        return self.metadata.title


@dataclass(frozen=True)
class AddedDocument:
    """A document written to the knowledge directory by `add_document`."""

    path: Path
    source_id: str
    title: str
    metadata: DocumentMeta
    sections: int
    paragraphs: int
    numbered_paragraphs: int
    warnings: tuple[str, ...]
    replaced: bool


class Given(TypedDict, total=False):
    """The metadata an admin may give for a document (the options of `partnerbot add`)."""

    title: str | None
    symbol: str | None
    label: str | None
    date: str | None
    kind: str | None
    organization: str | None


@dataclass(frozen=True)
class _Options:
    """The metadata given on the command line, checked; None where not given."""

    title: str | None = None
    symbol: str | None = None
    label: str | None = None
    date: str | None = None
    kind: str | None = None
    organization: str | None = None


def convert(
    path: Path,
    *,
    title: str | None = None,
    symbol: str | None = None,
    label: str | None = None,
    date: str | None = None,
    kind: str | None = None,
    organization: str | None = None,
) -> tuple[str, Conversion]:
    """Read `path` and return its knowledge-format Markdown and a summary; writes nothing."""
    options = _Options(
        title=_option_text(title, "--title"), symbol=_option_text(symbol, "--symbol"),
        label=_option_text(label, "--label"),
        date=None if date is None else _valid_date(date.strip(), "--date"),
        kind=None if kind is None else _valid_kind(kind.strip(), "--kind"),
        organization=_option_text(organization, "--organization"),
    )
    path = Path(path)
    front, body, extracted = _extract(path, read_file(path))
    warnings = extracted.warnings
    chosen_title = (options.title or front.get("title")
                    or pick_title(extracted, body, path, warnings))
    if path.suffix.lower() == ".md":
        body = body.strip("\n") + "\n"
    else:
        blocks = finish_blocks(extracted.blocks, chosen_title)
        if not any(not block.is_heading for block in blocks):
            raise IngestError(f"{path.name} has no document text (only a title, page numbers or "
                              "running headers were found). If it is a scan, run it through OCR "
                              "first, or add a text version.")
        body = render_body(chosen_title, blocks)
    meta = _metadata(path, chosen_title, options, front, extracted, warnings)
    sections, paragraphs, numbered = count(body)
    summary = Conversion(
        source_id=source_id(chosen_title, path), metadata=meta, sections=sections,
        paragraphs=paragraphs, numbered_paragraphs=numbered, warnings=tuple(warnings),
    )
    return assemble(meta, body), summary


def add_document(path: Path, docs_dir: Path, *, replace: bool = False,
                 **given: Unpack[Given]) -> AddedDocument:
    """Convert `path` and write it as `docs_dir/<source_id>.md`; nothing is written on error."""
    markdown, summary = convert(path, **given)
    target = Path(docs_dir) / f"{summary.source_id}.md"
    existed = target.exists()
    exists = IngestError(f"{target} already exists (source id '{summary.source_id}'). Use "
                         "--replace to overwrite it, or --title to add this file under a "
                         "different title.")
    if existed and not replace:
        raise exists
    write_atomic(target, markdown, overwrite=replace, exists=exists)
    return AddedDocument(
        path=target, source_id=summary.source_id, title=summary.title, metadata=summary.metadata,
        sections=summary.sections, paragraphs=summary.paragraphs,
        numbered_paragraphs=summary.numbered_paragraphs, warnings=summary.warnings,
        replaced=existed,
    )


# --------------------------------------------------------------------------- extraction


def _extract(path: Path, data: bytes) -> tuple[dict[str, str], str, Extracted]:
    """Front-matter values and body (Markdown sources) or blocks (every other type)."""
    suffix = path.suffix.lower()
    if suffix == ".md":
        front, body, warnings = read_markdown(data, path.name)
        return front, body, Extracted([], warnings=warnings)
    if suffix == ".pdf":
        extracted = read_pdf(data, path.name)
    elif suffix == ".docx":
        extracted = read_docx(data, path.name)
    elif suffix in (".html", ".htm"):
        extracted = read_html(data, path.name)
    else:
        text, warnings = decode_text(data, path.name)
        extracted = Extracted(text_blocks(text.split("\f"), pdf=False)[0], warnings=warnings)
    return {}, "", extracted


# --------------------------------------------------------------------------- metadata


def _metadata(path: Path, title: str, options: _Options, front: dict[str, str],
              extracted: Extracted, warnings: list[str]) -> DocumentMeta:
    """Options first, then the source's front matter, then what the file carries, then
    defaults (each guess or default is named in a warning)."""
    fix = "Fix it, or pass --{}."
    date = options.date
    if not date and front.get("date"):
        date = _valid_date(front["date"], f"{path.name}: front matter date", fix.format("date"))
    if not date and extracted.date:
        date = extracted.date
        warnings.append(f"date {date} is the file's {extracted.date_origin}; "
                        "pass --date if the document is dated differently.")
    if not date:
        date = dt.date.today().isoformat()
        warnings.append(f"no date found in the file; used today's date {date}. "
                        "Pass --date to set the document's date.")
    symbol = options.symbol or front.get("symbol")
    if not symbol and extracted.symbol:
        symbol = extracted.symbol
        warnings.append(f"symbol {symbol} was taken from the page headers; "
                        "pass --symbol to change it.")
    organization = options.organization or front.get("organization")
    if not organization:
        organization = UNKNOWN_ORGANIZATION
        warnings.append(f"organization is '{UNKNOWN_ORGANIZATION}'; add the file again with "
                        "--organization NAME --replace to set it.")
    kind = options.kind
    if not kind and front.get("kind"):
        kind = _valid_kind(front["kind"], f"{path.name}: front matter kind", fix.format("kind"))
    values = {
        "title": title, "symbol": symbol, "label": options.label or front.get("label"),
        "organization": organization, "date": date, "kind": kind or DEFAULT_KIND,
        "source": front.get("source") or path.name,
    }
    try:
        return metadata_from({key: value for key, value in values.items() if value}, path.name)
    except KnowledgeFileError as exc:  # the checks above should leave nothing to find
        raise IngestError("; ".join(exc.problems)) from exc


# --------------------------------------------------------------------------- options


def _option_text(value: str | None, option: str) -> str | None:
    """Options are single-line text; an empty one is a mistake, not a default."""
    if value is None:
        return None
    text = " ".join(value.split())
    if not text:
        raise IngestError(f"{option} is empty. Give it a value, or leave the option out.")
    return text


def _valid_date(value: str, where: str, fix: str = "") -> str:
    """YYYY, YYYY-MM or YYYY-MM-DD naming a real calendar date (the rule of index.format)."""
    if not is_date(value):
        raise IngestError(f"{where} '{value}' is not a valid date. Use YYYY, YYYY-MM or "
                          f"YYYY-MM-DD, e.g. 2022-08-01. {fix}".rstrip())
    return value


def _valid_kind(value: str, where: str, fix: str = "") -> str:
    """A short slug (the rule of index.format), with the slug to use suggested."""
    if is_slug(value):
        return value
    suggestion = slugify(value) or DEFAULT_KIND
    raise IngestError(f"{where} '{value}' is not a short slug. Use lowercase words joined by "
                      f"hyphens, e.g. --kind {suggestion}. {fix}".rstrip())
