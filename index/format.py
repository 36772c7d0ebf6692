"""The knowledge-file format, one copy: front matter (fields, rules, reader, writer) and the
paragraph grammar of the body. docs/knowledge-format.md describes the same rules in prose.

`ingest` writes documents with `write_front_matter` and builds its Markdown with the patterns
below; `index.corpus` reads them with `read_front_matter` and `index.chunks` cuts the body with
the same patterns, so what `partnerbot add` writes is what `partnerbot index` reads.

Grammar rules, decided once:
- Patterns match at the start of a line (`re.match`), on the line as written.
- `Recommendation N` and `Issue #N` headings are recognised in any letter case
  ("RECOMMENDATION 3", "issue #3"); everything else is literal.
- Sub-items are `(a)`..`(zz)`, lowercase Roman numerals `(iv)` and numbers `(1)`..`(99)`.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from index.errors import KnowledgeFileError

# --------------------------------------------------------------------------- paragraph grammar

HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
"""`## II. General comments`: group 1 the hashes (level), group 2 the heading text."""
NUMBERED = re.compile(r"^(\d{1,4})\.\s+\S")
"""A numbered paragraph `12. Organizations ...`: group 1 the number (locator `para 12`)."""
FOOTNOTE = re.compile(r"^\[\^([^\]]+)\]:\s*", re.MULTILINE)
"""A footnote definition line `[^3]: text`: group 1 the footnote label."""
FOOTNOTE_REF = re.compile(r"\[\^([^\]]+)\]")
"""A footnote reference `[^3]` anywhere in the text: group 1 the label."""
SUBITEM = re.compile(r"^\((?:[a-z]{1,2}|[ivxlc]+|\d{1,2})\)\s+\S")
"""A sub-item continuing a paragraph: `(a) ...`, `(iv) ...`, `(12) ...`."""
BULLET = re.compile(r"^(\s*)[-*+]\s+")
"""A bullet `- ...`; group 1 the indentation (empty for a top-level bullet)."""
RECOMMENDATION = re.compile(r"^Recommendation\s+(\d+)\b", re.IGNORECASE)
"""A `Recommendation N` heading text (any case): group 1 the number."""
ISSUE = re.compile(r"^Issue\s+#\s*(\d+)\b", re.IGNORECASE)
"""An `Issue #N` heading text (any case): group 1 the number."""

# --------------------------------------------------------------------------- front matter

REQUIRED = ("title", "organization", "date", "kind", "source")
OPTIONAL = ("symbol", "label")
FIELDS = ("title", "symbol", "label", "organization", "date", "kind", "source")
"""Every field, in the order they are written."""

DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")
SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
SLUG_MAX = 60
DATE_RULE = "use YYYY-MM-DD, YYYY-MM or YYYY"


def is_date(value: str) -> bool:
    """YYYY, YYYY-MM or YYYY-MM-DD naming a real calendar date (`2022-02-30` is not one)."""
    match = DATE.match(value)
    if match is None:
        return False
    year, month, day = match.groups()
    try:
        dt.date(int(year), int(month or 1), int(day or 1))
    except ValueError:
        return False
    return True


def is_slug(value: str) -> bool:
    """Lowercase ASCII letters and digits, words joined by single hyphens (`progress-report`)."""
    return bool(SLUG.match(value))


def slugify(text: str, max_length: int = SLUG_MAX) -> str:
    """Lowercase ASCII words joined by hyphens, cut at a word boundary to `max_length`."""
    ascii_text = "".join(ch if ch.isascii() else "" if unicodedata.combining(ch) else "-"
                         for ch in unicodedata.normalize("NFKD", text))
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    if len(slug) > max_length:
        cut = slug[: max_length + 1]
        slug = cut.rsplit("-", 1)[0] if "-" in cut else slug[:max_length]
    return slug.strip("-")


def field_text(value: object) -> str:
    """A front-matter value as the one-line text it stands for (YAML dates and numbers as
    written, runs of white space as one space); ValueError when it is empty or not text."""
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, dt.date):
        value = value.isoformat()
    elif isinstance(value, bool):
        raise ValueError(f"{value!r} is read as yes/no, not as text (put the value in quotes)")
    elif isinstance(value, (int, float)):
        value = str(value)
    if value is None:
        raise ValueError("must not be empty")
    if not isinstance(value, str):
        raise ValueError(f"must be a single text value, not a {type(value).__name__}")
    text = " ".join(value.split())
    if not text:
        raise ValueError("must not be empty")
    return text


class DocumentMeta(BaseModel):
    """A knowledge document's front matter. Unknown keys and empty values are errors (leave an
    optional field out rather than passing None); values are one line of text."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str
    symbol: str | None = None  # the UN document symbol, only where the document prints one
    label: str | None = None  # short citation label ("SG note on A/77/257")
    organization: str
    date: str  # YYYY-MM-DD, YYYY-MM or YYYY
    kind: str  # a slug: report, progress-report, background-note, ...
    source: str  # the original file name

    @field_validator("*", mode="before")
    @classmethod
    def _one_line_text(cls, value: object) -> str:
        return field_text(value)

    @field_validator("date")
    @classmethod
    def _date(cls, value: str) -> str:
        if not is_date(value):
            raise ValueError(f"{value!r} is not a date ({DATE_RULE})")
        return value

    @field_validator("kind")
    @classmethod
    def _kind(cls, value: str) -> str:
        if not is_slug(value):
            example = slugify(value) or "report"
            raise ValueError(f"{value!r} is not a short slug (use lowercase words joined by "
                             f"hyphens, e.g. {example})")
        return value


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, but dates stay text as written: `date: 2022-02-30` is then a bad
    date reported by field, not a crash inside the YAML reader."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@dataclass(frozen=True)
class FrontMatter:
    """The raw front matter of a file: values as YAML read them, and where each key stands."""

    values: dict[str, object]
    lines: dict[str, int]  # field -> line number in the file (1-based)
    end: int  # line number of the closing `---`
    body: str  # everything after the closing `---`


def split_front_matter(text: str, name: str) -> FrontMatter:
    """Split the `---` front matter from the body; KnowledgeFileError if it is not YAML fields.

    The file's first line must be `---` and the block ends at the next `---` line.
    """
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        raise KnowledgeFileError([f"{name}:1: front matter: missing (the file must start with "
                                  "'---')"])
    end = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), None)
    if end is None:
        raise KnowledgeFileError([f"{name}:1: front matter: no closing '---' line"])
    raw = "\n".join(lines[1:end])
    body = "\n".join(lines[end + 1 :])
    try:
        node = yaml.compose(raw, Loader=_Loader)
        data = yaml.load(raw, Loader=_Loader)  # a SafeLoader: no arbitrary objects
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = (mark.line + 2) if mark is not None else 2
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise KnowledgeFileError([f"{name}:{line}: front matter: invalid YAML: {problem}"]
                                 ) from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise KnowledgeFileError([f"{name}:2: front matter: must be a mapping of field: value"])
    key_lines: dict[str, int] = {}
    if isinstance(node, yaml.MappingNode):
        for key, _ in node.value:
            key_lines[str(key.value)] = key.start_mark.line + 2
    values = {str(key): value for key, value in data.items()}
    return FrontMatter(values, key_lines, end + 1, body)


def metadata_from(values: Mapping[str, object], name: str,
                  lines: Mapping[str, int] | None = None, end: int = 1) -> DocumentMeta:
    """Check front-matter values; KnowledgeFileError lists `file:line: field: message`, in
    file order, then the missing fields."""
    try:
        return DocumentMeta.model_validate(dict(values))
    except ValidationError as exc:
        lines = lines or {}
        allowed = ", ".join(REQUIRED + OPTIONAL)
        found: list[tuple[bool, int, str]] = []
        for error in exc.errors():
            key = str(error["loc"][0]) if error["loc"] else "front matter"
            if error["type"] == "missing":
                found.append((True, end, f"{name}:{end}: {key}: missing required field"))
                continue
            line = lines.get(key, 2)
            if error["type"] == "extra_forbidden":
                message = f"unknown field (allowed: {allowed})"
            elif error["type"] == "value_error":
                message = str(error["ctx"]["error"])
            else:
                message = error["msg"]
            found.append((False, line, f"{name}:{line}: {key}: {message}"))
        found.sort(key=lambda problem: problem[:2])
        raise KnowledgeFileError([problem for _, _, problem in found]) from None


def read_front_matter(text: str, name: str) -> tuple[DocumentMeta, str]:
    """A knowledge file's metadata and body; KnowledgeFileError names `file:line: field`."""
    front = split_front_matter(text, name)
    return metadata_from(front.values, name, front.lines, front.end), front.body


def _scalar(value: str, *, exact: bool) -> str:
    """`value` bare when YAML reads it back unchanged (`exact`: as the same string; else as
    the same `field_text`, so `2022-08-01` stays a bare date), else double-quoted."""
    try:
        read = yaml.safe_load(f"k: {value}")
        if isinstance(read, dict) and list(read) == ["k"]:
            back = read["k"]
            if back == value or (not exact and field_text(back) == value):
                return value
    except (yaml.YAMLError, ValueError):
        pass
    return json.dumps(value, ensure_ascii=False)


def write_front_matter(meta: DocumentMeta) -> str:
    """The `---` block for `meta`, fields in `FIELDS` order and absent ones left out;
    `read_front_matter` reads it back to the same metadata."""
    lines = ["---"]
    for key in FIELDS:
        value = getattr(meta, key)
        if value is not None:
            lines.append(f"{key}: {_scalar(value, exact=key != 'date')}")
    lines.append("---")
    return "\n".join(lines) + "\n"
