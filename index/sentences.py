"""Evidence units of a passage (its sentences, lists and labelled fields) and their vectors.

A question is usually answered by one sentence of a longer passage, or by a list with its
lead-in, or by one labelled field of a table row ("Target date: 31 December 2023"). `units`
cuts a passage's text into such units, clean enough to quote: footnote lines dropped (they stay
in the passage), footnote markers removed, paragraph numbers and bullet marks gone, and the
sentence splitter knows the abbreviations of these documents ("para. 18", "No. 5", "e.g.").

The build embeds every unit of every passage (`sentence_texts`) into `sentences.npy`, one row
per unit, with `sentence_owner.npy` giving the position of the passage each row belongs to. At
query time a passage's unit cosines are one dot product over its rows (`SentenceVectors`),
using the query vector the dense search already computed.

Pure functions and numpy only: no model, no bot code.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from index.chunks import Chunk

UnitKind = Literal["sentence", "lead", "item", "field"]

_FOOTNOTE_LINE = re.compile(r"^\[\d{1,3}\]\s")  # a footnote as rendered: "[3] This ..."
_FOOTNOTE_MARK = re.compile(r"(?<=\S)\[\d{1,3}\]")  # "... Nations.[3]" -> "... Nations."
_PARA_NUMBER = re.compile(r"^\d{1,4}\.\s+")
_BULLET = re.compile(r"^[-*+]\s+")
_SUBITEM = re.compile(r"^\((?:[a-z]{1,2}|[ivxlc]+|\d{1,2})\)\s")
# A labelled field of a table row: "Target date: 31 December 2023" (a short label, capitalised).
_FIELD = re.compile(r"^([A-Z][\w/&,()' -]{0,48}?):\s+(\S.*)$")
# A field value that opens with a status printed without a full stop ("In progress A report").
_STATUS = re.compile(r"^(In progress|Ongoing|Completed|Implemented|Not started|Closed)\s+(?=[A-Z])")
# Candidate sentence ends: . ! ? (and closing quotes or brackets), space, then a capital, digit,
# opening quote or bracket.
_END = re.compile(r"[.!?][\"”’)\]]*\s+(?=[\"“‘(\[A-Z0-9])")
# Words whose full stop does not end a sentence ("para. 18", "No. E.02.I.12", "e.g. UNDP").
ABBREVIATIONS = frozenset("""
para paras no nos art arts e.g i.e cf vol vols p pp ch chap sect fig figs ed eds rev add corr
mr mrs ms dr prof st inc ltd co corp jr sr vs approx ca op ibid al
""".split())
_INITIALS = re.compile(r"^(?:[A-Za-z]\.){1,4}$")  # "U.N.", "e.g.", "A." (an initial)
LABEL_ONLY_WORDS = 5  # "Action Points and Progress:" alone is a label, not evidence


@dataclass(frozen=True)
class Unit:
    """One quotable piece of a passage.

    `kind`: "sentence"; "lead" (a sentence ending with ":" that introduces list items);
    "item" (a sentence of a list item: `lead` is the position of its lead-in, `item` which
    item of that list it belongs to, from 0); "field" (a sentence of a labelled field). `label`
    is the field's label ("Target date") for every unit cut from a field.
    """

    text: str
    kind: UnitKind = "sentence"
    lead: int | None = None
    item: int | None = None
    label: str | None = None


def clean(text: str) -> str:
    """Text as it is quoted: footnote markers removed, spaces collapsed."""
    text = _FOOTNOTE_MARK.sub("", text)
    return re.sub(r"\s{2,}", " ", text).strip()


def split_sentences(text: str) -> list[str]:
    """The sentences of one line of text; full stops after known abbreviations, initials and
    decimal numbers do not end a sentence."""
    pieces: list[str] = []
    start = 0
    for match in _END.finditer(text):
        end = match.start() + 1
        word = text[:end].rsplit(None, 1)[-1].lstrip("(\"“‘[")
        if text[match.start()] == "." and (word[:-1].lower() in ABBREVIATIONS
                                            or _INITIALS.match(word)):
            continue
        pieces.append(text[start:match.end()].strip())
        start = match.end()
    pieces.append(text[start:].strip())
    return [p for p in pieces if p]


class _Cutter:
    """Builds the units of one passage line by line, tracking the open list."""

    def __init__(self) -> None:
        self.units: list[Unit] = []
        self.lead: int | None = None  # the lead-in whose items follow
        self.items = 0  # items seen under it

    def add(self, text: str, *, item: bool, label: str | None, new_item: bool) -> None:
        if item and self.lead is not None:
            if new_item:
                self.items += 1
            self.units.append(Unit(text, "item", self.lead, self.items - 1, label))
        else:
            self.units.append(Unit(text, "field" if label else "sentence", label=label))
        if text.endswith(":"):  # a lead-in: the items that follow belong to it
            self.lead, self.items = len(self.units) - 1, 0

    def line(self, line: str) -> None:
        item = bool(_BULLET.match(line) or _SUBITEM.match(line))
        body = clean(_BULLET.sub("", _PARA_NUMBER.sub("", line)))
        if not body:
            return
        if not item:
            self.lead = None
        label = None
        field = _FIELD.match(body) if _BULLET.match(line) else None
        if field and len(field.group(1).split()) <= LABEL_ONLY_WORDS:
            label, body = field.group(1), field.group(2)
            self.lead = None  # a table row's fields are not list items
            item = False
            status = _STATUS.match(body)
            if status:  # "In progress A Partnerships Report was ..."
                self.add(f"{label}: {status.group(1)}", item=False, label=label, new_item=False)
                body = body[status.end():]
            else:
                body = f"{label}: {body}"
        first = True
        for k, part in enumerate(p.strip() for p in body.split("•")):
            bulleted = k > 0 and self.lead is not None  # "aims to be: • An ... • A ..."
            for n, sentence in enumerate(split_sentences(part)):
                self.add(sentence, item=item or bulleted, label=label,
                         new_item=first or (bulleted and n == 0))
                first = False


def units(text: str) -> list[Unit]:
    """The evidence units of a passage's text, in order (see the module docstring)."""
    cutter = _Cutter()
    for raw in text.splitlines():
        line = raw.strip()
        if line and not _FOOTNOTE_LINE.match(line):
            cutter.line(line)
    out = cutter.units
    # A lead-in without items is a plain sentence, or a label when short ("Action Points and
    # Progress:"), which is not evidence; one with items is a "lead".
    kept: list[Unit] = []
    remap: dict[int, int] = {}
    for position, unit in enumerate(out):
        has_items = any(u.lead == position for u in out)
        if unit.text.endswith(":") and not has_items and len(unit.text.split()) <= LABEL_ONLY_WORDS:
            continue
        if has_items:
            unit = Unit(unit.text, "lead", label=unit.label)
        remap[position] = len(kept)
        kept.append(unit)
    return [Unit(u.text, u.kind, remap.get(u.lead) if u.lead is not None else None, u.item,
                 u.label) for u in kept]


# Names what `sentence_texts` embeds; stored with the vectors (sentences.json). A build reuses
# stored vectors, and a search uses them, only when it matches. Change it when `units` changes.
SENTENCE_TEXT = "units-1"


def sentence_texts(chunk: Chunk) -> list[str]:
    """What is embedded for each unit of a passage: the unit's text alone. (A unit prefixed by
    "Title > headings", as `Chunk.embed_text` does for the passage, was tried on the dev set
    and separated answerable from out-of-scope questions less well.) A passage without any
    unit gives its whole text once."""
    return [u.text for u in units(chunk.text)] or [chunk.text]


@dataclass(frozen=True)
class SentenceVectors:
    """Normalised unit vectors, rows grouped by passage: rows `starts[p]:starts[p + 1]`
    belong to the passage at position p."""

    vectors: np.ndarray  # float32, (units, dim)
    owner: np.ndarray  # int32, (units,): the passage position of each row
    starts: np.ndarray  # int64, (passages + 1,)

    @classmethod
    def from_arrays(cls, vectors: np.ndarray, owner: np.ndarray,
                    passages: int) -> SentenceVectors:
        """Check and index the stored arrays; raises ValueError when they do not fit."""
        owner = np.asarray(owner)
        if vectors.ndim != 2 or owner.ndim != 1 or len(vectors) != len(owner):
            raise ValueError("sentence vectors and owners do not match")
        if len(owner) and (owner.min() < 0 or owner.max() >= passages
                           or np.any(np.diff(owner) < 0)):
            raise ValueError("sentence owners are not sorted passage positions")
        starts = np.searchsorted(owner, np.arange(passages + 1)).astype(np.int64)
        if vectors.dtype != np.float32 or not vectors.flags.c_contiguous:
            vectors = np.ascontiguousarray(vectors, dtype=np.float32)  # else no copy: mmap kept
        return cls(vectors, owner.astype(np.int32), starts)

    def scores(self, query: np.ndarray, passages: Sequence[int]) -> dict[int, np.ndarray]:
        """{passage: the cosine of each of its units with `query`, in unit order}."""
        out: dict[int, np.ndarray] = {}
        q = query.astype(np.float32)
        for p in dict.fromkeys(int(p) for p in passages):
            lo, hi = int(self.starts[p]), int(self.starts[p + 1])
            out[p] = np.asarray(self.vectors[lo:hi] @ q, dtype=np.float32)
        return out

    def best(self, query: np.ndarray, passages: Sequence[int]) -> dict[int, float]:
        """{passage: best cosine of one of its units with `query`} (passages without units
        left out)."""
        return {p: float(s.max()) for p, s in self.scores(query, passages).items() if len(s)}


def stack_sentences(per_chunk: Sequence[np.ndarray], dim: int) -> tuple[np.ndarray, np.ndarray]:
    """(sentences.npy, sentence_owner.npy) from each passage's unit vectors, in order."""
    owner = np.concatenate([np.full(len(v), i, dtype=np.int32)
                            for i, v in enumerate(per_chunk)] or [np.zeros(0, np.int32)])
    rows = [v for v in per_chunk if len(v)]
    vectors = np.concatenate(rows).astype(np.float32) if rows else np.zeros((0, dim), np.float32)
    return vectors, owner.astype(np.int32)
