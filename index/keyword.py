"""Keyword search: BM25 (bm25s) over stemmed English tokens; the only bm25s importer."""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

_TOKEN = re.compile(r"[a-z0-9]+(?:[-'][a-z0-9]+)*")
STOPWORDS = frozenset("""
a an and are as at be been but by can could did do does for from had has have how i if in into
is it its me my of on or our should so than that the their them then there these they this to
us was we were what when where which who whom why will with would you your about any also
""".split())


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


def _bm25s() -> Any:
    """bm25s, with its logger quieted: it sets itself to DEBUG on import."""
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)
    return bm25s


def tokenize(text: str) -> list[str]:
    """Lowercase words minus stopwords, stemmed; hyphenated words also give their parts."""
    words: list[str] = []
    for word in _TOKEN.findall(text.lower()):
        parts = [word, *word.split("-")] if "-" in word else [word]
        words.extend(p.replace("'", "") for p in parts if p and p not in STOPWORDS)
    return list(_stemmer().stemWords(words))


class KeywordIndex:
    """A BM25 index over passages, saved to and loaded from a directory."""

    def __init__(self, retriever: Any, size: int) -> None:
        self._retriever = retriever
        self.size = size

    @classmethod
    def build(cls, texts: list[str]) -> KeywordIndex:
        retriever = _bm25s().BM25()
        retriever.index([tokenize(t) or [""] for t in texts], show_progress=False)
        return cls(retriever, len(texts))

    def save(self, directory: Path) -> None:
        self._retriever.save(str(directory), show_progress=False)

    @classmethod
    def load(cls, directory: Path, size: int) -> KeywordIndex:
        retriever = _bm25s().BM25.load(str(directory), show_progress=False, mmap=False)
        return cls(retriever, size)

    def search(self, query: str, k: int) -> list[tuple[int, float]]:
        """(passage position, BM25 score) best first, only passages sharing a word."""
        tokens = tokenize(query)
        if not tokens or self.size == 0:
            return []
        k = min(k, self.size)
        docs, scores = self._retriever.retrieve([tokens], k=k, show_progress=False, n_threads=1)
        return [(int(d), float(s)) for d, s in zip(docs[0], scores[0], strict=True) if s > 0]

    def knows(self, token: str) -> bool:
        """True when some passage has this stemmed token."""
        return token in self._retriever.vocab_dict

    def weighted_scores(self, weights: dict[str, float]) -> np.ndarray:
        """BM25 score of every passage for a query given as {stemmed token: weight}.

        sum over tokens of weight x BM25(token): the same as BM25 when every weight is 1, and
        lets a caller count some words more (a follow-up's own words) or less (the long form
        of an acronym). Tokens the index has never seen score nothing.
        """
        total = np.zeros(self.size, dtype=np.float32)
        vocab = self._retriever.vocab_dict
        by_weight: dict[float, list[int]] = {}
        for token, weight in weights.items():
            if weight > 0 and token in vocab:
                by_weight.setdefault(float(weight), []).append(int(vocab[token]))
        for weight, ids in by_weight.items():
            scores = self._retriever.get_scores_from_ids(ids)
            total += weight * np.asarray(scores, dtype=np.float32)
        return total

    def idf(self, token: str) -> float | None:
        """BM25's inverse document frequency of a stemmed token, None when no passage has it:
        ln(1 + (N - df + 0.5) / (df + 0.5))."""
        position = self._retriever.vocab_dict.get(token)
        if position is None or not token:
            return None
        indptr = self._retriever.scores["indptr"]
        df = int(indptr[position + 1] - indptr[position])
        if df == 0:
            return None
        return float(np.log1p((self.size - df + 0.5) / (df + 0.5)))
