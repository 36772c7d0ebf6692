"""Text blocks and the layout rules that find them in pages of plain text (PDF, .txt).

A `Block` is a heading (level >= 1, ranked later) or a paragraph of text (level 0) with its
footnotes. The rules here turn hard-wrapped lines into paragraphs, drop page furniture
(running headers, page numbers, tables of contents) and move page-bottom footnotes next to the
paragraph that cites them, written in the grammar of `index.format`.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field

from index.format import FOOTNOTE_REF, ISSUE, NUMBERED, RECOMMENDATION, SUBITEM

UN_SYMBOL = re.compile(r"^[A-Z]{1,10}(?:/[A-Z0-9][A-Za-z0-9.\-]*){2,}$")
"""A UN document symbol such as `A/77/257`."""

_NUMBER_ONLY = re.compile(r"^(\d{1,3})\.$")
_BULLET_GLYPH = re.compile(
    r"^[\u2022\u25cf\u25aa\u25e6\u2023\u2043\u25a0\u25a1\uf0b7\uf0a7\uf0d8]\s*"
)
_DASH_BULLET = re.compile(r"^[-\u2013\u2014*]\s+(?=\S)")
MARKER = re.compile(r"^([IVXLC]{1,7}|[A-Z])\.\s+(\S.*)$")
"""A section heading's marker: `II. General comments`, `A. Definition`."""
_ROMAN = re.compile(r"^M{0,3}(CM|CD|D?C{0,3})(XC|XL|L?X{0,3})(IX|IV|V?I{0,3})$")
_PAGE_NUMBER = re.compile(
    r"^(?:page\s+)?[-\u2013\u2014]?\s*\d{1,4}\s*[-\u2013\u2014]?(?:\s*(?:/|of)\s*\d{1,4})?$",
    re.IGNORECASE,
)
_JOB_NUMBER = re.compile(r"^(?:GE\.)?\d{2}-\d{5}\b|^\*\d{7,8}\*$")  # UN print job numbers
_PAGE_ROMAN = re.compile(r"^(?=[ivxl])(?:xl|l?x{0,3})(?:ix|iv|v?i{0,3})$")
_TOC_LINE = re.compile(
    r"(?:\.\s?){4,}\s*\d+$|\u2026{2,}\s*\d+$|\s\d{1,3}[\u2013-]\d{1,3}\s+\d{1,3}$"
)
_FOOTNOTE_LINE = re.compile(r"^(\d{1,3})\s+(\S.*)$")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_TERMINAL = (".", "!", "?", ":", ";", ")", '"', "\u201d", "\u2019")
_SMALL_WORDS = frozenset(
    "a an and as at but by de des du et for from in into la le les nor of on or per the to "
    "vs via with within under over between against among upon without through its their".split()
)


@dataclass
class Block:
    """A heading (level >= 1 before ranking) or a text block (level 0), with its footnotes."""

    text: str
    level: int = 0
    notes: list[str] = field(default_factory=list)
    item: bool = False

    @property
    def is_heading(self) -> bool:
        return self.level > 0


@dataclass
class Extracted:
    """Body blocks and whatever metadata the file itself carries."""

    blocks: list[Block]
    title: str | None = None
    date: str | None = None
    date_origin: str = ""
    symbol: str | None = None
    warnings: list[str] = field(default_factory=list)


def title_key(text: str) -> str:
    """Text compared as a title: case, punctuation and spacing ignored."""
    return " ".join(re.sub(r"[^\w\s]", " ", text.casefold()).split())


def bare_recommendation(text: str) -> bool:
    """A line that is only `Recommendation N` (a full stop allowed): a heading to be."""
    return bool(RECOMMENDATION.fullmatch(text[:-1] if text.endswith(".") else text))


def _numbered_line(line: str) -> re.Match[str] | None:
    """A line opening a numbered paragraph; four-digit numbers in raw text are years."""
    match = NUMBERED.match(line)
    return match if match and len(match.group(1)) <= 3 else None


def join(lines: list[str]) -> str:
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


# --------------------------------------------------------------------------- pages to blocks


def text_blocks(pages: list[str], *, pdf: bool) -> tuple[list[Block], str | None]:
    """Lines of text pages -> blocks; page furniture and footnotes are handled on paged input.

    Also returns a document symbol found in the running headers, if any.
    """
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
    attach_notes(blocks, notes)
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


# --------------------------------------------------------------------------- page furniture


def _norm_furniture(line: str) -> str | None:
    """A header/footer line with its numbers blanked, or None for lines never treated so."""
    if not line or _numbered_line(line) or _NUMBER_ONLY.match(line) or len(line) > 120:
        return None
    return re.sub(r"\d+", "#", line.lower())


def _edges(lines: list[str]) -> list[int]:
    """Indexes of the first and last three non-empty lines of a page."""
    filled = [i for i, line in enumerate(lines) if line]
    return filled[:3] + filled[-3:]


def _strip_furniture(pages: list[list[str]]) -> tuple[list[list[str]], list[str]]:
    """Remove page numbers and lines repeated at the top or bottom of at least half the pages."""
    exact: Counter[str] = Counter()
    similar: Counter[str] = Counter()
    for lines in pages:
        keys = {lines[i] for i in _edges(lines) if _norm_furniture(lines[i])}
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
                     if UN_SYMBOL.match(token) and any(ch.isdigit() for ch in token))
    best = counts.most_common(1)
    return best[0][0] if best and best[0][1] >= 2 else None


# --------------------------------------------------------------------------- footnotes


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
    return [(number, join(parts)) for number, parts in zone]


def attach_notes(blocks: list[Block], notes: dict[str, list[str]]) -> None:
    """Put each `[^N]: text` line after the text block that refers to it."""
    if not notes:
        return
    pending: list[str] = []
    last_text: Block | None = None
    for block in blocks:
        refs = pending + FOOTNOTE_REF.findall(block.text)
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


# --------------------------------------------------------------------------- lines to blocks


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
        self.blocks: list[Block] = []
        self.current: list[str] = []
        self.last_number = 0
        self.last_letter: str | None = None
        self.section_level = 0

    def parse(self, lines: list[str]) -> list[Block]:
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
            self.blocks.append(Block(join(self.current)))
            self.current = []

    def feed(self, line: str, after: str) -> None:
        prev = self.current[-1] if self.current else None
        standalone = (prev is None or prev.endswith(_TERMINAL) or self.mode == "lines"
                      or self.short(prev))
        numbered = _numbered_line(line)
        if numbered and (standalone or int(numbered.group(1)) == self.last_number + 1):
            self.close()
            self.last_number = int(numbered.group(1))
            self.current.append(line)
            return
        level = self.heading_level(line, after) if standalone and not numbered else None
        if level is not None:
            self.close()
            self.blocks.append(Block(line, level))
            return
        item = self.item(line, listy=prev is None or standalone
                         or prev.endswith((",", " and", " or")))
        if item is not None:
            self.close()
            self.current.append(item)
            return
        if self.current and not self.ends_paragraph(prev, line):
            self.current.append(line)
            return
        self.close()
        self.current.append(line)
        if self.mode == "lines":
            self.close()

    @staticmethod
    def item(line: str, *, listy: bool) -> str | None:
        """The line as a list item (`- ...` or `(a) ...`) when it starts one, else None."""
        glyph = _BULLET_GLYPH.match(line)
        if glyph:
            return "- " + line[glyph.end():]
        if not listy:
            return None
        if _DASH_BULLET.match(line):
            return "- " + _DASH_BULLET.sub("", line)
        return line if SUBITEM.match(line) else None

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
        marker = MARKER.match(line)
        if marker and not line.endswith(".") and len(marker.group(2).split()) <= 14:
            rest = marker.group(2)
            if rest[0].isupper() or rest[0].isdigit() or rest[0] in "\"'\u201c":
                return self.marker_level(marker.group(1))
        if bare_recommendation(line) or ISSUE.match(line) or _is_title_case(line):
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
