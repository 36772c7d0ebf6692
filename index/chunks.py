"""Passages cut along a knowledge document's own structure (see docs/knowledge-format.md)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from index.format import (
    BULLET,
    FOOTNOTE,
    FOOTNOTE_REF,
    HEADING,
    ISSUE,
    NUMBERED,
    RECOMMENDATION,
    SUBITEM,
)

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
        if RECOMMENDATION.match(self.locator) or ISSUE.match(self.locator):
            return None
        for heading in reversed(self.headings):
            if RECOMMENDATION.match(heading) or ISSUE.match(heading):
                return heading_label(heading)
        return None

    @property
    def recommendation(self) -> str | None:
        """The recommendation the passage states or is about ("Recommendation 6"), or None."""
        label = self.locator if RECOMMENDATION.match(self.locator) else self.context
        return label if label and RECOMMENDATION.match(label) else None

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
    text = FOOTNOTE.sub(r"[\1] ", text)
    return FOOTNOTE_REF.sub(r"[\1]", text)


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
        starts_item = bool(BULLET.match(line)) and not line.startswith((" ", "\t"))
        if current and (starts_item or HEADING.match(line)):
            blocks.append(current)
            current = []
        current.append(line.rstrip())
        if HEADING.match(line):
            blocks.append(current)
            current = []
    if current:
        blocks.append(current)
    return blocks


def split_document(body: str, *, source: str, title: str, symbol: str | None,
                   label: str | None = None, organization: str | None = None) -> list[Chunk]:
    """Cut a document body into passages with locators and heading paths."""
    cutter = _Cutter()
    for block in _blocks(body):
        heading = HEADING.match(block[0])
        if heading:
            cutter.heading(len(heading.group(1)), heading.group(2).strip())
        else:
            cutter.text(block)
    return _finish(cutter.drafts, source=source, title=title, symbol=symbol, label=label,
                   organization=organization)


class _Cutter:
    """Walks a body's blocks: the heading path, the recommendation or issue the text stands
    under, and the passage the next block may continue."""

    def __init__(self) -> None:
        self.drafts: list[_Draft] = []
        self.stack: list[tuple[int, str]] = []
        self.context = ""  # "rec", "issue" or ""
        self.number = ""  # of that recommendation or issue
        self.points = 0  # action points so far under the issue
        self.current: _Draft | None = None

    def start(self, kind: str, locator: str, lines: list[str]) -> _Draft:
        section = heading_label(self.stack[-1][1]) if self.stack else "Opening text"
        draft = _Draft(kind, locator, tuple(text for _, text in self.stack), section,
                       list(lines))
        self.drafts.append(draft)
        self.current = draft
        return draft

    def heading(self, level: int, text: str) -> None:
        self.current = None
        if level == 1:  # the document title
            return
        while self.stack and self.stack[-1][0] >= level:
            self.stack.pop()
        self.stack.append((level, text))
        rec, issue = RECOMMENDATION.match(text), ISSUE.match(text)
        if rec:
            self.context, self.number = "rec", rec.group(1)
        elif issue:
            self.context, self.number, self.points = "issue", issue.group(1), 0
        else:
            self.context = ""

    def text(self, block: list[str]) -> None:
        first, current = block[0], self.current
        numbered = NUMBERED.match(first)
        if numbered:
            self.start("para", f"para {numbered.group(1)}", block)
            return
        bullet = BULLET.match(first)
        if bullet and self.context == "issue" and not bullet.group(1):
            self.points += 1
            self.start("point", f"Issue #{self.number}, action point {self.points}", block)
            return
        continues = bool(FOOTNOTE.match(first) or SUBITEM.match(first) or bullet)
        if current is not None and continues:
            current.lines.extend(block)
        elif self.context and (current is None or current.kind == self.context):
            if current is None:
                locator = (f"Recommendation {self.number}" if self.context == "rec"
                           else f"Issue #{self.number}")
                current = self.start(self.context, locator, [])
            current.lines.extend(block)
        elif current is not None and current.kind == "point":
            current.lines.extend(block)
        else:
            self.start("free", "", block)


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
        text = render("\n".join(line.strip() if not BULLET.match(line) else line
                                for line in draft.lines)).strip()
        if not text:
            continue
        chunks.append(Chunk(chunk_id(source, locator, text), source, title, symbol, locator,
                            draft.headings, text, label, organization))
    return chunks
