"""Hybrid search over the live index: BM25 + dense, fused with RRF; reloads new versions."""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from index.chunks import Chunk
from index.embedders import Embedder
from index.errors import IndexProblem
from index.fusion import reciprocal_rank_fusion
from index.store import LoadedIndex, load_live

log = logging.getLogger(__name__)
MODES = ("hybrid", "dense", "keyword")


@dataclass(frozen=True)
class Hit:
    """A passage found for a query, with the scores that put it there."""

    chunk: Chunk
    score: float  # the fused (or single-method) score used for ranking
    dense: float | None  # cosine similarity, when the dense search saw it
    keyword: float | None  # BM25 score, when it shares words with the query


@dataclass(frozen=True)
class SearchResult:
    """The hits for one query and the evidence used to judge confidence."""

    query: str
    hits: list[Hit]
    version: str
    top_dense: float  # best cosine similarity over the whole index
    top_keyword: float  # best BM25 score over the whole index


class Searcher:
    """Searches the live index version; picks up a new version when CURRENT changes.

    A query holds a reference to the version it started on, so a switch never disturbs it.
    """

    def __init__(self, index_dir: Path, embedder: Embedder, *, candidates: int = 50,
                 rrf_k: int = 60) -> None:
        self.index_dir = index_dir
        self.embedder = embedder
        self.candidates = candidates
        self.rrf_k = rrf_k
        self._index: LoadedIndex | None = None
        self._stamp: tuple[int, int] | None = None
        self._lock = threading.Lock()

    def load(self) -> LoadedIndex:
        """Load the model and the live index (raises IndexMissing, IndexModelMismatch, ...)."""
        self.embedder.load()
        with self._lock:
            self._index = load_live(self.index_dir, self.embedder.model_id)
            self._stamp = self._current_stamp()
        return self._index

    @property
    def index(self) -> LoadedIndex:
        """The version queries use now, reloaded first if an admin switched versions."""
        if self._index is None:
            return self.load()
        stamp = self._current_stamp()
        if stamp != self._stamp:
            self._reload(stamp)
        assert self._index is not None
        return self._index

    def _current_stamp(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.index_dir / "CURRENT")
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_ino)

    def _reload(self, stamp: tuple[int, int] | None) -> None:
        with self._lock:
            if stamp == self._stamp:
                return
            try:
                fresh = load_live(self.index_dir, self.embedder.model_id)
            except IndexProblem as exc:
                log.error("new index version not loaded, still serving %s: %s",
                          self._index.version if self._index else "-", exc)
                self._stamp = stamp
                return
            log.info("index switched to version %s", fresh.version)
            self._index, self._stamp = fresh, stamp

    def search(self, query: str, top_k: int = 5, *, mode: str = "hybrid") -> SearchResult:
        """The top_k passages for `query`."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        if top_k < 1:
            raise ValueError(f"top_k must be at least 1, got {top_k}")
        index = self.index
        dense_hits = []
        if mode != "keyword":
            dense_hits = index.dense.search(self.embedder.embed_query(query), self.candidates)
        keyword_hits = []
        if mode != "dense":
            keyword_hits = index.keyword.search(query, self.candidates)
        dense_of = dict(dense_hits)
        keyword_of = dict(keyword_hits)
        if mode == "dense":
            ranked = dense_hits
        elif mode == "keyword":
            ranked = keyword_hits
        else:
            ranked = reciprocal_rank_fusion(
                [[i for i, _ in dense_hits], [i for i, _ in keyword_hits]], k=self.rrf_k
            )
        hits = [Hit(index.chunks[i], score, dense_of.get(i), keyword_of.get(i))
                for i, score in ranked[:top_k]]
        return SearchResult(
            query=query, hits=hits, version=index.version,
            top_dense=dense_hits[0][1] if dense_hits else 0.0,
            top_keyword=keyword_hits[0][1] if keyword_hits else 0.0,
        )
