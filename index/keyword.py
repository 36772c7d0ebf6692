"""Keyword search: BM25 over stemmed English tokens, built by bm25s (its only importer) and
searched with numpy."""

from __future__ import annotations

import bisect
import json
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


# The files of a saved index: bm25s's own layout (BM25.save), read back without bm25s.
_ARRAYS = ("data", "indices", "indptr")
_SCORING = ("lucene", "robertson", "atire")  # the methods whose absent words score nothing


TOKENS = 2  # how `tokenize` reads text; a saved index of another way is rebuilt (store.py)


_TOKENS_FILE = "tokens.json"  # beside bm25s's own files, which bm25s.BM25.load must still read


def saved_tokens(directory: Path) -> int:
    """How the tokens of a saved index were read (`TOKENS`; 1 before it was recorded)."""
    try:
        saved = json.loads((directory / _TOKENS_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return 1
    return int(saved["tokens"]) if isinstance(saved, dict) and "tokens" in saved else 1


def tokenize(text: str) -> list[str]:
    """Lowercase words minus stopwords, stemmed; hyphenated words also give their parts.
    "united" stays whole: stemmed, the "United" of "United Nations" (in most passages) would
    be the "unit" of "an implementing partner unit"."""
    words: list[str] = []
    for word in _TOKEN.findall(text.lower()):
        parts = [word, *word.split("-")] if "-" in word else [word]
        words.extend(p.replace("'", "") for p in parts if p and p not in STOPWORDS)
    return [word if word == "united" else stem
            for word, stem in zip(words, _stemmer().stemWords(words), strict=True)]


def _columns(vocab: dict[str, int], indptr: np.ndarray) -> dict[str, int]:
    """The words that have a column of scores (bm25s also lists "", the word of an empty
    passage, without one)."""
    return {word: int(i) for word, i in vocab.items() if 0 <= int(i) < len(indptr) - 1}


class KeywordIndex:
    """A BM25 index over passages, saved to and loaded from a directory.

    bm25s builds it (once per index version) and precomputes every word's BM25 score in
    every passage that has it: a sparse matrix by word (CSC `data`, `indices`, `indptr`).
    Queries only add up those scores, with numpy: loading and searching never import
    bm25s, whose import (scipy.sparse) would cost a third of a second at every start-up.
    """

    def __init__(self, data: np.ndarray, indices: np.ndarray, indptr: np.ndarray,
                 vocab: dict[str, int], size: int, params: dict[str, Any],
                 tokens: int = TOKENS) -> None:
        self._data = data
        self._indices = indices
        self._indptr = indptr
        self._vocab = vocab
        self.size = size
        self._params = params
        self.tokens = tokens  # how its words were read (`TOKENS` when built by this code)
        self._sorted: list[str] | None = None  # the vocabulary in order, for `longer`

    @classmethod
    def build(cls, texts: list[str]) -> KeywordIndex:
        retriever = _bm25s().BM25()
        if retriever.method not in _SCORING:
            raise ValueError(f"BM25 method {retriever.method} scores absent words")
        retriever.index([tokenize(t) or [""] for t in texts], show_progress=False)
        scores = retriever.scores
        params = {"k1": retriever.k1, "b": retriever.b, "delta": retriever.delta,
                  "method": retriever.method, "idf_method": retriever.idf_method,
                  "dtype": retriever.dtype, "int_dtype": retriever.int_dtype,
                  "num_docs": int(scores["num_docs"]), "version": _bm25s().__version__,
                  "backend": "numpy"}
        data, indices, indptr = (np.asarray(scores[name]) for name in _ARRAYS)
        return cls(data, indices, indptr, _columns(retriever.vocab_dict, indptr), len(texts),
                   params, TOKENS)

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        for name, array in zip(_ARRAYS, (self._data, self._indices, self._indptr),
                               strict=True):
            np.save(directory / f"{name}.csc.index.npy", array, allow_pickle=False)
        for name, value in (("vocab", self._vocab), ("params", self._params)):
            (directory / f"{name}.index.json").write_text(
                json.dumps(value, ensure_ascii=False, indent=4), encoding="utf-8")
        (directory / _TOKENS_FILE).write_text(json.dumps({"tokens": self.tokens}),
                                              encoding="utf-8")

    @classmethod
    def load(cls, directory: Path, size: int) -> KeywordIndex:
        """Read a saved index; raises ValueError (or OSError) when its files do not fit."""
        params = json.loads((directory / "params.index.json").read_text(encoding="utf-8"))
        vocab = json.loads((directory / "vocab.index.json").read_text(encoding="utf-8"))
        data, indices, indptr = (np.load(directory / f"{name}.csc.index.npy",
                                         allow_pickle=False) for name in _ARRAYS)
        if params.get("method") not in _SCORING or params.get("num_docs") != size:
            raise ValueError(f"BM25 parameters {params} do not fit {size} passages")
        if not isinstance(vocab, dict):
            raise ValueError("BM25 vocabulary is not a mapping")
        columns = _columns(vocab, indptr)
        if len(data) != len(indices) or int(indptr[-1]) != len(data) \
                or len(columns) != len(indptr) - 1 \
                or (len(indices) and not 0 <= int(indices.min()) <= int(indices.max()) < size):
            raise ValueError("BM25 arrays do not fit each other")
        return cls(data, indices, indptr, columns, size, params, saved_tokens(directory))

    def _scores(self, token_ids: list[int]) -> np.ndarray:
        """Sum of the tokens' BM25 scores in every passage (bm25s's get_scores_from_ids)."""
        scores = np.zeros(self.size, dtype=np.float32)
        for token in token_ids:
            start, end = int(self._indptr[token]), int(self._indptr[token + 1])
            np.add.at(scores, self._indices[start:end], self._data[start:end])
        return scores

    def search(self, query: str, k: int) -> list[tuple[int, float]]:
        """(passage position, BM25 score) best first, only passages sharing a word."""
        ids = [self._vocab[t] for t in tokenize(query) if t in self._vocab]
        if not ids or self.size == 0:
            return []
        scores = self._scores(ids)
        order = np.argsort(-scores, kind="stable")[:min(k, self.size)]
        return [(int(d), float(scores[d])) for d in order if scores[d] > 0]

    def longer(self, stem: str) -> frozenset[str]:
        """The indexed tokens longer than `stem` that start with it ("partner": "partnership")."""
        if self._sorted is None:
            self._sorted = sorted(self._vocab)
        words = self._sorted
        out = []
        for n in range(bisect.bisect_right(words, stem), len(words)):
            if not words[n].startswith(stem):
                break
            out.append(words[n])
        return frozenset(out)

    def knows(self, token: str) -> bool:
        """True when some passage has this stemmed token."""
        return token in self._vocab

    def weighted_scores(self, weights: dict[str, float]) -> np.ndarray:
        """BM25 score of every passage for a query given as {stemmed token: weight}.

        sum over tokens of weight x BM25(token): the same as BM25 when every weight is 1, and
        lets a caller count some words more (a follow-up's own words) or less (the long form
        of an acronym). Tokens the index has never seen score nothing.
        """
        total = np.zeros(self.size, dtype=np.float32)
        by_weight: dict[float, list[int]] = {}
        for token, weight in weights.items():
            if weight > 0 and token in self._vocab:
                by_weight.setdefault(float(weight), []).append(int(self._vocab[token]))
        for weight, ids in by_weight.items():
            total += weight * self._scores(ids)
        return total

    def idf(self, token: str) -> float | None:
        """BM25's inverse document frequency of a stemmed token, None when no passage has it:
        ln(1 + (N - df + 0.5) / (df + 0.5))."""
        position = self._vocab.get(token)
        if position is None or not token:
            return None
        df = int(self._indptr[position + 1] - self._indptr[position])
        if df == 0:
            return None
        return float(np.log1p((self.size - df + 0.5) / (df + 0.5)))
