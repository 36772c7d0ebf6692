"""Evidence units of a passage (its sentences, lists and labelled fields) and their vectors.

A question is usually answered by one sentence of a longer passage, or by a list with its
lead-in, or by one labelled field of a table row ("Target date: 31 December 2023"). `units`
cuts a passage's text into such units, clean enough to quote: footnote lines dropped (they stay
in the passage), footnote markers removed, paragraph numbers and bullet marks gone, and the
sentence splitter knows the abbreviations of these documents ("para. 18", "No. 5", "e.g.").

The build embeds every unit of every passage (`sentence_texts`) into `sentences.npy`, one row
per unit, with `sentence_owner.npy` giving the position of the passage each row belongs to. At
query time a passage's unit cosines are one dot product over its rows (`SentenceVectors`,
which reads them from the file), using the query vector the dense search already computed.

Pure functions, numpy and file reads only: no model, no bot code.
"""

from __future__ import annotations

import os
import re
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from index.chunks import Chunk
from index.errors import IndexCorrupt, IndexVersionDamaged

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
    is the field's label ("Target date") for every unit cut from a field. `under` is, for a
    unit of a bullet nested under another ("- Compile a list ..." / "  - UNSSC has compiled
    this list ..."), the position of the outer bullet's first unit.
    """

    text: str
    kind: UnitKind = "sentence"
    lead: int | None = None
    item: int | None = None
    label: str | None = None
    under: int | None = None


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
        self.outer: int | None = None  # the first unit of the last bullet not nested
        self.nested = False  # whether the line being cut is a nested bullet

    def add(self, text: str, *, item: bool, label: str | None, new_item: bool) -> None:
        under = self.outer if self.nested else None
        if item and self.lead is not None:
            if new_item:
                self.items += 1
            self.units.append(Unit(text, "item", self.lead, self.items - 1, label, under))
        else:
            self.units.append(Unit(text, "field" if label else "sentence", label=label,
                                   under=under))
        if text.endswith(":"):  # a lead-in: the items that follow belong to it
            self.lead, self.items = len(self.units) - 1, 0

    def line(self, line: str, *, nested: bool = False) -> None:
        item = bool(_BULLET.match(line) or _SUBITEM.match(line))
        body = clean(_BULLET.sub("", _PARA_NUMBER.sub("", line)))
        if not body:
            return
        self.nested = nested and self.outer is not None
        if not self.nested:
            self.outer = len(self.units) if _BULLET.match(line) else None
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
            cutter.line(line, nested=raw[:1].isspace() and bool(_BULLET.match(line)))
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
            unit = Unit(unit.text, "lead", label=unit.label, under=unit.under)
        remap[position] = len(kept)
        kept.append(unit)
    return [Unit(u.text, u.kind, remap.get(u.lead) if u.lead is not None else None, u.item,
                 u.label, remap.get(u.under) if u.under is not None else None) for u in kept]


# Names what `sentence_texts` embeds; stored with the vectors (sentences.json). A build reuses
# stored vectors, and a search uses them, only when it matches. Change it when `units` changes.
SENTENCE_TEXT = "units-1"


def sentence_texts(chunk: Chunk) -> list[str]:
    """What is embedded for each unit of a passage: the unit's text alone. (A unit prefixed by
    "Title > headings", as `Chunk.embed_text` does for the passage, was tried on the dev set
    and separated answerable from out-of-scope questions less well.) A passage without any
    unit gives its whole text once."""
    return [u.text for u in units(chunk.text)] or [chunk.text]


class _RowFile:
    """The rows of a float32 (rows, dim) .npy file, read with `os.pread` when asked for.

    Not memory-mapped: a mapped file truncated under the process ends it with SIGBUS at the
    next read of a lost page, whereas a read past the new end is only short, and raises
    IndexVersionDamaged here. The descriptor closes when the object is garbage (a query holds
    the version it started on, hence this object, until it is done)."""

    def __init__(self, path: Path, fd: int, offset: int, rows: int, dim: int) -> None:
        self.path, self.fd, self.offset, self.rows, self.dim = path, fd, offset, rows, dim
        self.row_bytes = dim * 4
        weakref.finalize(self, os.close, fd)

    def read(self, lo: int, hi: int) -> np.ndarray:
        """Rows lo:hi as a (hi - lo, dim) float32 array (read-only)."""
        want = (hi - lo) * self.row_bytes
        start = self.offset + lo * self.row_bytes
        try:
            data = os.pread(self.fd, want, start)
            while 0 < len(data) < want:  # a regular file reads short only at its end
                more = os.pread(self.fd, want - len(data), start + len(data))
                if not more:
                    break
                data += more
        except OSError as exc:
            raise IndexCorrupt(f"{self.path.parent.name}: {self.path.name} cannot be read "
                               f"({exc.strerror or exc})") from exc
        if len(data) != want:
            raise IndexVersionDamaged(
                f"{self.path.parent.name}: {self.path.name} ended early (read {len(data)} of "
                f"{want} bytes at byte {start}: truncated?)")
        return np.frombuffer(data, dtype="<f4").reshape(hi - lo, self.dim)


class SentenceVectors:
    """Normalised unit vectors, rows grouped by passage: rows `starts[p]:starts[p + 1]`
    belong to the passage at position p.

    Served from the file (`open`): a query reads only the rows of its top passages, with one
    `os.pread` each (the page cache holds the file, not the process: at 100k passages it is
    ~0.6 GB), and a file that ended early raises IndexVersionDamaged instead of ending the
    process (see `_RowFile`). `from_arrays` holds them in memory instead (tests, tools).
    """

    def __init__(self, owner: np.ndarray, starts: np.ndarray, dim: int, *,
                 matrix: np.ndarray | None = None, file: _RowFile | None = None) -> None:
        self.owner = owner  # int32, (units,): the passage position of each row
        self.starts = starts  # int64, (passages + 1,)
        self.dim = dim
        self._matrix = matrix  # float32, (units, dim), when held in memory
        self._file = file  # else where the rows are read from

    @staticmethod
    def _index(owner: np.ndarray, rows: int, passages: int) -> tuple[np.ndarray, np.ndarray]:
        owner = np.asarray(owner)
        if owner.ndim != 1 or len(owner) != rows:
            raise ValueError("sentence vectors and owners do not match")
        if len(owner) and (owner.min() < 0 or owner.max() >= passages
                           or np.any(np.diff(owner) < 0)):
            raise ValueError("sentence owners are not sorted passage positions")
        starts = np.searchsorted(owner, np.arange(passages + 1)).astype(np.int64)
        return owner.astype(np.int32), starts

    @classmethod
    def from_arrays(cls, vectors: np.ndarray, owner: np.ndarray,
                    passages: int) -> SentenceVectors:
        """Check and index arrays held in memory; raises ValueError when they do not fit."""
        if vectors.ndim != 2:
            raise ValueError("sentence vectors and owners do not match")
        owner, starts = cls._index(owner, len(vectors), passages)
        return cls(owner, starts, int(vectors.shape[1]),
                   matrix=np.ascontiguousarray(vectors, dtype=np.float32))

    @classmethod
    def open(cls, path: Path, owner: np.ndarray, passages: int) -> SentenceVectors:
        """The vectors of a float32 .npy file (sentences.npy), read on demand: only its
        header is read here. Raises ValueError when the file or the owners do not fit,
        OSError when it cannot be opened. A file of another layout is read into memory."""
        with open(path, "rb") as handle:
            version = np.lib.format.read_magic(handle)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(handle)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(handle)
            else:
                return cls.from_arrays(np.load(path), owner, passages)
            if len(shape) != 2:
                raise ValueError(f"{path.name} is not a matrix (shape {shape})")
            if fortran or dtype != np.dtype("<f4"):
                return cls.from_arrays(np.load(path), owner, passages)
            rows, dim = int(shape[0]), int(shape[1])
            offset = handle.tell()
            size = os.fstat(handle.fileno()).st_size
            if size != offset + rows * dim * 4:
                raise ValueError(f"{path.name} is {size} bytes, its header says "
                                 f"{offset + rows * dim * 4}")
            owner, starts = cls._index(owner, rows, passages)
            fd = os.dup(handle.fileno())  # the same open file, kept after `handle` closes
        return cls(owner, starts, dim, file=_RowFile(path, fd, offset, rows, dim))

    @property
    def path(self) -> Path | None:
        """The file the rows are read from at each query; None when held in memory."""
        return self._file.path if self._file is not None else None

    def rows(self, passage: int) -> np.ndarray:
        """The unit vectors of the passage at this position, (its units, dim)."""
        lo, hi = int(self.starts[passage]), int(self.starts[passage + 1])
        if self._matrix is not None:
            return self._matrix[lo:hi]
        if lo == hi or self._file is None:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self._file.read(lo, hi)

    def scores(self, query: np.ndarray, passages: Sequence[int]) -> dict[int, np.ndarray]:
        """{passage: the cosine of each of its units with `query`, in unit order}.

        Raises IndexVersionDamaged when the file ended early (truncated under the process),
        IndexCorrupt when it cannot be read."""
        out: dict[int, np.ndarray] = {}
        q = query.astype(np.float32)
        for p in dict.fromkeys(int(p) for p in passages):
            out[p] = np.asarray(self.rows(p) @ q, dtype=np.float32)
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
