"""Markdown in and out: reading a Markdown source, and assembling the knowledge document.

The output is written in the grammar of `index.format`, with its front-matter writer, so the
index reads back exactly the metadata and structure produced here.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from index.errors import KnowledgeFileError
from index.format import (
    FIELDS,
    FOOTNOTE,
    HEADING,
    NUMBERED,
    DocumentMeta,
    field_text,
    slugify,
    split_front_matter,
    write_front_matter,
)
from ingest.blocks import MARKER, UN_SYMBOL, Block, Extracted, bare_recommendation, title_key
from ingest.errors import IngestError
from ingest.files import decode_text

_MASTHEAD = re.compile(r"distr\.|^original:|session$|^(?:agenda )?item \d", re.IGNORECASE)
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
_FIX_FRONT_MATTER = "Fix it, or remove the front matter and give --title and the other options."


# --------------------------------------------------------------------------- Markdown sources


def read_markdown(data: bytes, name: str) -> tuple[dict[str, str], str, list[str]]:
    """Front-matter values (known fields only) and the body, kept as written."""
    text, warnings = decode_text(data, name)
    front: dict[str, str] = {}
    body = text
    if text.split("\n", 1)[0].strip() == "---":
        try:
            raw = split_front_matter(text, name)
        except KnowledgeFileError as exc:
            raise IngestError(f"{exc.problems[0]}. {_FIX_FRONT_MATTER}") from exc
        body = raw.body
        front = _known_fields(raw.values, name, warnings)
    if not any(line.strip() and not HEADING.match(line) for line in body.split("\n")):
        raise IngestError(f"{name} has no text besides its front matter and headings. Add the "
                          "document's text, then add it again.")
    return front, body, warnings


def _known_fields(values: dict[str, object], name: str, warnings: list[str]) -> dict[str, str]:
    """The knowledge-format fields as one-line text; other fields are dropped with a warning,
    empty ones silently (the options or defaults fill them)."""
    front: dict[str, str] = {}
    for key, value in values.items():
        if key not in FIELDS:
            warnings.append(f"front matter field '{key}' is not part of the knowledge format "
                            "and was dropped.")
            continue
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        try:
            front[key] = field_text(value)
        except ValueError as exc:
            raise IngestError(f"{name}: front matter: {key}: {exc}. {_FIX_FRONT_MATTER}") from exc
    return front


# --------------------------------------------------------------------------- title


def _usable_title(text: str | None) -> str | None:
    """A metadata title, unless it is empty, generic, a file name or a document symbol."""
    if not text:
        return None
    text = " ".join(text.split())
    if len(text) < 3 or _JUNK_TITLES.match(text) or UN_SYMBOL.match(text):
        return None
    return text


def _title_like(candidate: str) -> bool:
    return (title_key(candidate) not in _GENERIC_HEADINGS and not MARKER.match(candidate)
            and not _MASTHEAD.search(candidate) and not bare_recommendation(candidate)
            and len(candidate.split()) >= 2)


def pick_title(extracted: Extracted, body: str, path: Path, warnings: list[str]) -> str:
    """Metadata title, else the first meaningful heading, else the file stem."""
    meta = _usable_title(extracted.title)
    if meta:
        return meta
    if body:
        headings = [(len(m.group(1)), m.group(2)) for line in body.split("\n")
                    if (m := HEADING.match(line))]
        candidates = [text for level, text in sorted(headings, key=lambda h: h[0])]
    else:
        candidates = [block.text for block in extracted.blocks if block.is_heading]
    for candidate in candidates:
        candidate = " ".join(candidate.split())
        if _title_like(candidate):
            warnings.append(f"title taken from the first heading ('{candidate}'); pass --title "
                            "to change it.")
            return candidate
    warnings.append(f"no title found in the file; used the file name '{path.stem}'. Pass --title "
                    "to set a proper title.")
    return " ".join(path.stem.split()) or path.name


def source_id(title: str, path: Path) -> str:
    """The knowledge file's name (without `.md`): the title as a slug."""
    return (slugify(title) or slugify(path.stem)
            or "document-" + hashlib.sha1(title.encode()).hexdigest()[:8])


# --------------------------------------------------------------------------- assembling


def finish_blocks(blocks: list[Block], title: str) -> list[Block]:
    """Recommendation headings, title heading dropped, heading levels ranked to ## .. ####."""
    blocks = [block for block in blocks if block.text.strip()]
    if not any(not block.is_heading for block in blocks):
        blocks = [Block(block.text) for block in blocks]
    parent_level = 0  # of the last heading that is not a recommendation
    for block in blocks:
        if not block.is_heading and bare_recommendation(block.text):
            block.text, block.level = block.text.rstrip("."), parent_level + 1
        elif block.is_heading and not bare_recommendation(block.text):
            parent_level = block.level
    key = title_key(title)
    for i, block in enumerate(blocks):
        if block.is_heading and title_key(block.text) == key:
            del blocks[i]
            break
    ranks = {level: min(2 + rank, 4)
             for rank, level in enumerate(sorted({b.level for b in blocks if b.is_heading}))}
    for block in blocks:
        if block.is_heading:
            block.level = ranks[block.level]
    return blocks


def _escape(line: str) -> str:
    """Keep a text line that starts with `#` from being read as a heading."""
    return "\\" + line if HEADING.match(line) or re.fullmatch(r"#{1,6}", line) else line


def render_body(title: str, blocks: list[Block]) -> str:
    """`# Title`, then each heading as `##`..`####` and each text block with its footnotes."""
    parts = [f"# {title}"]
    for block in blocks:
        if block.is_heading:
            parts.append("#" * block.level + " " + " ".join(block.text.split()))
            continue
        lines = [_escape(line) for line in block.text.split("\n")]
        parts.append("\n".join(lines + block.notes))
    return "\n\n".join(parts) + "\n"


def assemble(meta: DocumentMeta, body: str) -> str:
    """The knowledge file: front matter written by `index.format`, a blank line, the body."""
    return write_front_matter(meta) + "\n" + body


def count(body: str) -> tuple[int, int, int]:
    """Headings below the title, text blocks, and text blocks that are numbered paragraphs."""
    sections = paragraphs = numbered = 0
    in_block = False
    for line in body.split("\n"):
        if not line.strip():
            in_block = False
            continue
        heading = HEADING.match(line)
        if heading:
            sections += len(heading.group(1)) >= 2
            in_block = False
            continue
        if not in_block and not FOOTNOTE.match(line):
            paragraphs += 1
            numbered += bool(NUMBERED.match(line))
        in_block = True
    return sections, paragraphs, numbered
