"""Sentences of a passage, and the sentence vectors stored beside the passage vectors.

A question is often answered by one sentence of a longer passage; the passage vector blurs it
with the rest. The build embeds every sentence of every passage (`sentence_texts`) into
`sentences.npy`, one row per sentence, with `sentence_owner.npy` giving the position of the
passage each row belongs to. At query time the best sentence cosine of a candidate passage is
one dot product over that passage's rows (`SentenceVectors.best`), using the query vector the
dense search already computed.

Pure functions and numpy only: no model, no bot code.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from index.chunks import Chunk

_SENTENCE_END = re.compile(r"(?<=[.;!?])\s+(?=[\"“(\[A-Z0-9•-])")
_PARA_NUMBER = re.compile(r"^\d{1,4}\.\s+")
_BULLET_MARK = re.compile(r"^[-*+]\s+")


def split_sentences(text: str) -> list[str]:
    """Sentences of a passage, footnote lines and list items kept as their own sentences."""
    sentences: list[str] = []
    for line in text.splitlines():
        line = _BULLET_MARK.sub("", _PARA_NUMBER.sub("", line.strip()))
        if line:
            sentences.extend(s.strip() for s in _SENTENCE_END.split(line) if s.strip())
    return sentences


# Names what `sentence_texts` embeds; stored with the vectors (sentences.json), and a build
# reuses stored sentence vectors only when it matches. Change it when `sentence_texts` changes.
SENTENCE_TEXT = "plain-1"


def sentence_texts(chunk: Chunk) -> list[str]:
    """What is embedded for each sentence of a passage: the sentence alone. "Title > headings"
    + sentence (as `Chunk.embed_text` does for the passage) was tried on eval/devset.yaml: it
    kept one more answerable question above every out-of-scope one at the best setting but
    left a gap of 0.001 to the nearest out-of-scope confidence, against 0.005 for the sentence
    alone. A passage without any sentence gives its whole text once."""
    return split_sentences(chunk.text) or [chunk.text]


@dataclass(frozen=True)
class SentenceVectors:
    """Normalised sentence vectors, rows grouped by passage: rows `starts[p]:starts[p + 1]`
    belong to the passage at position p."""

    vectors: np.ndarray  # float32, (sentences, dim)
    owner: np.ndarray  # int32, (sentences,): the passage position of each row
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
        return cls(vectors,
                   owner.astype(np.int32), starts)

    def best(self, query: np.ndarray, passages: Sequence[int]) -> dict[int, float]:
        """{passage: best cosine of one of its sentences with `query`} (passages without
        sentences left out)."""
        if not len(passages):
            return {}
        pos = np.asarray(passages, dtype=np.int64)
        lo, hi = self.starts[pos], self.starts[pos + 1]
        counts = hi - lo
        keep = counts > 0
        if not keep.any():
            return {}
        pos, lo, counts = pos[keep], lo[keep], counts[keep]
        rows = np.repeat(lo - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
        scores = self.vectors[rows] @ query.astype(np.float32)
        best = np.maximum.reduceat(scores, np.cumsum(counts) - counts)
        return {int(p): float(s) for p, s in zip(pos, best, strict=True)}


def stack_sentences(per_chunk: Sequence[np.ndarray], dim: int) -> tuple[np.ndarray, np.ndarray]:
    """(sentences.npy, sentence_owner.npy) from each passage's sentence vectors, in order."""
    owner = np.concatenate([np.full(len(v), i, dtype=np.int32)
                            for i, v in enumerate(per_chunk)] or [np.zeros(0, np.int32)])
    rows = [v for v in per_chunk if len(v)]
    vectors = np.concatenate(rows).astype(np.float32) if rows else np.zeros((0, dim), np.float32)
    return vectors, owner.astype(np.int32)
