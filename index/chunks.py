"""Passages cut along a knowledge document's own structure (see docs/knowledge-format.md)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_NUMBERED = re.compile(r"^(\d{1,4})\.\s+\S")
_FOOTNOTE = re.compile(r"^\[\^[^\]]+\]:")
_SUBITEM = re.compile(r"^\((?:[a-z]{1,2}|[ivxlc]+)\)\s")
_BULLET = re.compile(r"^(\s*)[-*+]\s+")
_RECOMMENDATION = re.compile(r"^Recommendation\s+(\d+)\b", re.IGNORECASE)
_ISSUE = re.compile(r"^Issue\s+#\s*(\d+)\b", re.IGNORECASE)
_MARKER_ONLY = re.compile(r"^(?:[IVXLC]+|[A-Z]|\d+)$")


@dataclass(frozen=True)
class Chunk:
    """One citable passage: its text as a reader sees it, and where it comes from."""

    id: str
    source: str
    title: str
    symbol: str | None
    locator: str
    headings: tuple[str, ...]
    text: str
    label: str | None = None  # the document's short citation label (front matter `label`)
    organization: str | None = None  # who issued the document (front matter `organization`)

    @property
    def document_label(self) -> str:
        """The document as cited: its label, else its symbol, else its title."""
        return self.label or self.symbol or self.title

    @property
    def context(self) -> str | None:
        """What a passage is about when its section says so and its locator does not: the
        recommendation or issue whose heading it stands under ("Recommendation 3")."""
        if _RECOMMENDATION.match(self.locator) or _ISSUE.match(self.locator):
            return None
        for heading in reversed(self.headings):
            if _RECOMMENDATION.match(heading) or _ISSUE.match(heading):
                return heading_label(heading)
        return None

    @property
    def citation(self) -> str:
        """Short citation, e.g. `A/77/257, para 20`."""
        return f"{self.document_label}, {self.locator}"

    @property
    def embed_text(self) -> str:
        """What is embedded: title and heading path, then the passage."""
        path = " > ".join((self.title, *self.headings))
        return f"{path}\n{self.text}"

    @property
    def keyword_text(self) -> str:
        """What BM25 indexes: the embedded text and who issued the document, so that "the
        JIU recommendation on ..." or "the SG report" finds that document's passages."""
        return f"{self.embed_text}\n{self.organization}" if self.organization else self.embed_text


def chunk_id(source: str, locator: str, text: str) -> str:
    """Content hash of a passage: changes whenever its source, locator or text changes."""
    digest = hashlib.sha256(f"{source}\x1f{locator}\x1f{text}".encode()).hexdigest()
    return digest[:20]


def heading_label(heading: str) -> str:
    """`Box 3. Sharing resources` -> `Box 3`; `II. General comments` stays whole."""
    head = re.split(r"[.:]\s", heading, maxsplit=1)[0].strip().rstrip(".:")
    if not head or _MARKER_ONLY.match(head):
        return heading.strip().rstrip(".:")
    return head


def render(text: str) -> str:
    """Markdown markup a reader should not see: bold markers and footnote syntax."""
    text = text.replace("**", "")
    text = re.sub(r"^\[\^([^\]]+)\]:\s*", r"[\1] ", text, flags=re.MULTILINE)
    return re.sub(r"\[\^([^\]]+)\]", r"[\1]", text)


@dataclass
class _Draft:
    kind: str  # "para", "rec", "issue", "point", "free"
    locator: str
    headings: tuple[str, ...]
    label: str
    lines: list[str] = field(default_factory=list)


def _blocks(body: str) -> list[list[str]]:
    """Split the body into blocks at blank lines; bullet items start their own block."""
    blocks: list[list[str]] = []
    current: list[str] = []
    for line in body.splitlines():
        if not line.strip():
            if current:
                blocks.append(current)
                current = []
            continue
        starts_item = bool(_BULLET.match(line)) and not line.startswith((" ", "\t"))
        if current and (starts_item or _HEADING.match(line)):
            blocks.append(current)
            current = []
        current.append(line.rstrip())
        if _HEADING.match(line):
            blocks.append(current)
            current = []
    if current:
        blocks.append(current)
    return blocks


def split_document(body: str, *, source: str, title: str, symbol: str | None,
                   label: str | None = None, organization: str | None = None) -> list[Chunk]:
    """Cut a document body into passages with locators and heading paths."""
    drafts: list[_Draft] = []
    stack: list[tuple[int, str]] = []
    context = ""  # "rec", "issue" or ""
    context_number = ""
    points = 0
    current: _Draft | None = None

    def headings() -> tuple[str, ...]:
        return tuple(text for _, text in stack)

    def section_label() -> str:
        return heading_label(stack[-1][1]) if stack else "Opening text"

    def start(kind: str, locator: str, lines: list[str]) -> _Draft:
        draft = _Draft(kind, locator, headings(), section_label(), list(lines))
        drafts.append(draft)
        return draft

    for block in _blocks(body):
        first = block[0]
        heading = _HEADING.match(first)
        if heading:
            level, text = len(heading.group(1)), heading.group(2).strip()
            current = None
            if level == 1:
                continue
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, text))
            rec, issue = _RECOMMENDATION.match(text), _ISSUE.match(text)
            if rec:
                context, context_number = "rec", rec.group(1)
            elif issue:
                context, context_number, points = "issue", issue.group(1), 0
            else:
                context = ""
            continue
        if _NUMBERED.match(first):
            number = _NUMBERED.match(first).group(1)  # type: ignore[union-attr]
            current = start("para", f"para {number}", block)
            continue
        bullet = _BULLET.match(first)
        continues = bool(_FOOTNOTE.match(first) or _SUBITEM.match(first))
        if bullet and context == "issue" and not bullet.group(1):
            points += 1
            current = start("point", f"Issue #{context_number}, action point {points}", block)
            continue
        if current is not None and (continues or bullet):
            current.lines.extend(block)
            continue
        if context == "rec" and (current is None or current.kind == "rec"):
            if current is None:
                current = start("rec", f"Recommendation {context_number}", [])
            current.lines.extend(block)
            continue
        if context == "issue" and (current is None or current.kind == "issue"):
            if current is None:
                current = start("issue", f"Issue #{context_number}", [])
            current.lines.extend(block)
            continue
        if current is not None and current.kind == "point":
            current.lines.extend(block)
            continue
        current = start("free", "", block)

    return _finish(drafts, source=source, title=title, symbol=symbol, label=label,
                   organization=organization)


def _finish(drafts: list[_Draft], *, source: str, title: str, symbol: str | None,
            label: str | None, organization: str | None) -> list[Chunk]:
    """Number unnumbered passages under the same heading and hash every passage."""
    counts: dict[tuple[tuple[str, ...], str], int] = {}
    for draft in drafts:
        if draft.kind == "free":
            key = (draft.headings, draft.label)
            counts[key] = counts.get(key, 0) + 1
    seen: dict[tuple[tuple[str, ...], str], int] = {}
    chunks: list[Chunk] = []
    used: set[str] = set()
    for draft in drafts:
        locator = draft.locator
        if draft.kind == "free":
            key = (draft.headings, draft.label)
            seen[key] = seen.get(key, 0) + 1
            locator = draft.label if counts[key] == 1 else f"{draft.label} ¶{seen[key]}"
        base, n = locator, 1
        while locator in used:  # the same heading label in two sections
            n += 1
            locator = f"{base} ({n})"
        used.add(locator)
        text = render("\n".join(line.strip() if not _BULLET.match(line) else line
                                for line in draft.lines)).strip()
        if not text:
            continue
        chunks.append(Chunk(chunk_id(source, locator, text), source, title, symbol, locator,
                            draft.headings, text, label, organization))
    return chunks
