"""Hybrid search over the live index: BM25 + dense, fused by score; reloads new versions.

One query, one embedding:
1. The query is normalised and its acronyms spelled out (index/queries.py).
2. Dense: cosine similarity of the expanded query to every passage (the best `candidates`).
   Keyword: BM25 with one weight per stemmed word (`keyword_weights`: an acronym's long form
   and a synonym count less; in a message of several sentences - a follow-up is searched
   together with the previous question - the last sentence's words count more).
3. Fusion: each score is min-max scaled over the pooled candidates, then
   `DENSE_WEIGHT x dense + (1 - DENSE_WEIGHT) x BM25` (`fuse_scores`).
4. Confidence that the guidance covers the question (`confidence`): the best cosine, blended
   with the share of the question's content terms printed in one of the top passages
   (`coverage`; an unknown name counts double). When the index version stores sentence vectors
   (index/sentences.py), the cosine is the best one of a sentence of the top
   `SENTENCE_PASSAGES` passages (weighing `SENTENCE_COSINE_WEIGHT`) - one dot product over the
   sentence rows of the passages returned or weighed (all candidates only when
   `SENTENCE_FUSION_WEIGHT` ranks by them), with the query vector already computed; older
   versions use the best passage cosine (weighing `CONFIDENCE_COSINE_WEIGHT`).
   bot/answers.py declines below a threshold calibrated on eval/devset.yaml.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index.chunks import Chunk
from index.embedders import Embedder
from index.errors import IndexProblem
from index.fusion import reciprocal_rank_fusion
from index.keyword import tokenize
from index.queries import Term, expand_acronyms, focus_sentence, normalise, query_terms
from index.store import LoadedIndex, load_live

log = logging.getLogger(__name__)
MODES = ("hybrid", "dense", "keyword", "hybrid-rrf")  # hybrid-rrf: for comparison in the eval

# Tuned on eval/devset.yaml (scripts/eval_retrieval.py); see the module docstring.
DENSE_WEIGHT = 0.4  # share of the scaled cosine in the fused score; BM25 has the rest
ALTERNATIVE_WEIGHT = 0.5  # BM25 weight of an acronym's long form or a synonym, shared by its words
FOCUS_WEIGHT = 4.0  # BM25 weight of the last sentence's words in a several-sentence message
CONFIDENCE_COSINE_WEIGHT = 0.4  # share of the best cosine in the confidence; coverage the rest
COVERAGE_PASSAGES = 3  # coverage: the best of the top passages
NAME_WEIGHT = 2.0  # coverage weight of a capitalised name that no passage prints
PREFIX_MIN = 5  # a query stem this long also matches longer words it starts ("partner")
# Sentence vectors (index/sentences.py), when the index version has them:
# dense score = (1 - w) x passage cosine + w x max(that, best sentence cosine). Off: on the dev
# set w = 0.5 or 1 lowered hybrid recall@1 (0.815 -> 0.793) and recall@5 (0.978 -> 0.957).
SENTENCE_FUSION_WEIGHT = 0.0
SENTENCE_PASSAGES = 5  # confidence: the best sentence cosine among the top passages ...
SENTENCE_COSINE_WEIGHT = 0.3  # ... and its share in the confidence (coverage has the rest)


@dataclass(frozen=True)
class Hit:
    """A passage found for a query, with the scores that put it there."""

    chunk: Chunk
    score: float  # the fused (or single-method) score used for ranking
    dense: float | None  # cosine similarity, when the dense search saw it
    keyword: float | None  # BM25 score, when it shares words with the query
    sentence: float | None = None  # best cosine of one of its sentences, when the index has them


@dataclass(frozen=True)
class SearchResult:
    """The hits for one query and the evidence used to judge confidence."""

    query: str
    hits: list[Hit]
    version: str
    top_dense: float  # best cosine similarity over the whole index
    top_keyword: float  # best BM25 score over the whole index
    coverage: float | None = None  # best share of the query's terms printed in a top passage
    confidence: float | None = None  # see `confidence`; None when not computed
    top_sentence: float | None = None  # best sentence cosine in the top passages, when stored


def keyword_weights(terms: Iterable[Term], focus: Iterable[Term] = (),
                    known: Callable[[str], bool] = lambda _token: True) -> dict[str, float]:
    """{stemmed token: BM25 weight} for a query's terms.

    A word as written weighs 1 (added up when repeated; a hyphenated word also gives its
    parts). Another way to say a term (an acronym's long form, a synonym) weighs
    `ALTERNATIVE_WEIGHT` shared by its words - unless no passage prints the term as written
    (`known`), then each of its words weighs 1, as if the user had typed the long form. The
    terms of `focus` count `FOCUS_WEIGHT` times in all.
    """
    weights: dict[str, float] = {}

    def add(term: Term, factor: float) -> None:
        spread = [(token, 1.0) for token in term.tokens]
        written_known = all(map(known, term.tokens))
        for form in term.alternatives:
            share = ALTERNATIVE_WEIGHT / len(form) if written_known else 1.0
            spread += [(token, share) for token in form]
        for token, weight in spread:
            weights[token] = weights.get(token, 0.0) + factor * weight

    for term in terms:
        add(term, 1.0)
    for term in focus:
        add(term, FOCUS_WEIGHT - 1.0)
    return weights


def _scaled(scores: dict[int, float], floor: float) -> dict[int, float]:
    """Min-max scaling to [0, 1]; every score equal (or none) scales to 1."""
    top = max(scores.values(), default=floor)
    span = top - floor
    return {i: (s - floor) / span if span > 0 else 1.0 for i, s in scores.items()}


def fuse_scores(dense: Sequence[tuple[int, float]], keyword: Sequence[tuple[int, float]], *,
                dense_weight: float = DENSE_WEIGHT) -> list[tuple[int, float]]:
    """Weighted sum of min-max scaled scores over the pooled candidates, best first.

    `dense` is a best-first top-N of (passage, cosine): a passage outside it gets its lowest
    cosine (a bound for the rest). `keyword` holds (passage, BM25) for passages sharing a word;
    others score 0. Ties keep the order in which passages were first seen.
    """
    if not 0.0 <= dense_weight <= 1.0:
        raise ValueError(f"dense_weight must be within [0, 1], got {dense_weight}")
    pool = list(dict.fromkeys([i for i, _ in dense] + [i for i, _ in keyword]))
    if not pool:
        return []
    cos = dict(dense)
    floor_cos = min(cos.values(), default=0.0)
    dense_scaled = _scaled({i: cos.get(i, floor_cos) for i in pool}, floor_cos)
    bm25 = dict(keyword)
    keyword_scaled = _scaled({i: bm25.get(i, 0.0) for i in pool}, 0.0) if bm25 else {}
    fused = {i: dense_weight * dense_scaled[i]
             + (1.0 - dense_weight) * keyword_scaled.get(i, 0.0) for i in pool}
    return sorted(fused.items(), key=lambda pair: -pair[1])


def term_weights(terms: Sequence[Term], known: Callable[[str], bool]) -> list[float]:
    """Weight of each term in `coverage`: 1, or `NAME_WEIGHT` for a name (see `Term.name`) that
    no passage prints in any form - a question about something the guidance never mentions."""
    return [NAME_WEIGHT if term.name and not any(all(map(known, form)) for form in term.forms)
            else 1.0 for term in terms]


def coverage(terms: Sequence[Term], tokens: Collection[str],
             weights: Sequence[float] | None = None) -> float:
    """Weighted share of the query's terms that a passage (its stemmed tokens) prints, in [0, 1].

    A term counts when one of its forms is there (for a form of several words, the share of
    them that is). A stem of `PREFIX_MIN`+ letters also matches the longer words it starts
    ("partner" in "partnership"). No terms: 0.
    """
    if not terms:
        return 0.0
    weights = weights if weights is not None else [1.0] * len(terms)
    if len(weights) != len(terms):
        raise ValueError(f"{len(weights)} weights given for {len(terms)} terms")
    long_tokens = [t for t in tokens if len(t) >= PREFIX_MIN]

    def found(token: str) -> bool:
        return token in tokens or (
            len(token) >= PREFIX_MIN and any(t.startswith(token) for t in long_tokens))

    total = 0.0
    for term, weight in zip(terms, weights, strict=True):
        total += weight * max(sum(map(found, form)) / len(form) for form in term.forms)
    return total / sum(weights)


def confidence(top_cosine: float, term_coverage: float, *,
               cosine_weight: float = CONFIDENCE_COSINE_WEIGHT) -> float:
    """How sure we are that the guidance covers the question, in [0, 1] for cosines >= 0: a
    blend of the best cosine (the meaning is close) and of the best coverage of the question's
    terms by one of the top passages (the specific thing asked is printed there)."""
    return cosine_weight * top_cosine + (1.0 - cosine_weight) * term_coverage


def sentence_dense(dense: Sequence[tuple[int, float]], sentence: dict[int, float], *,
                   weight: float = SENTENCE_FUSION_WEIGHT) -> list[tuple[int, float]]:
    """The dense candidates rescored with their best sentence cosine, best first:
    `(1 - weight) x cosine + weight x max(cosine, sentence cosine)`."""
    rescored = [(i, (1.0 - weight) * cos + weight * max(cos, sentence.get(i, cos)))
                for i, cos in dense]
    return sorted(rescored, key=lambda pair: -pair[1])


def _top(scores: np.ndarray, k: int) -> list[tuple[int, float]]:
    """The k best (position, score) with a score above 0, best first.

    Equal scores are ordered by position; of passages tied at the k-th score, any may be kept.
    """
    if k < len(scores):
        part = np.argpartition(-scores, k - 1)[:k]
        order = part[np.lexsort((part, -scores[part]))]
    else:
        order = np.argsort(-scores, kind="stable")
    return [(int(i), float(scores[i])) for i in order if scores[i] > 0]


class Searcher:
    """Searches the live index version; picks up a new version when CURRENT changes.

    A query holds a reference to the version it started on, so a switch never disturbs it.
    """

    def __init__(self, index_dir: Path, embedder: Embedder, *, candidates: int = 100,
                 rrf_k: int = 60) -> None:
        self.index_dir = index_dir
        self.embedder = embedder
        self.candidates = candidates
        self.rrf_k = rrf_k  # for mode "hybrid-rrf"; "hybrid" fuses normalised scores
        self._index: LoadedIndex | None = None
        self._stamp: tuple[int, int] | None = None
        self._lock = threading.Lock()
        self._tokens: dict[Chunk, frozenset[str]] = {}

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

    def _passage_tokens(self, chunk: Chunk) -> frozenset[str]:
        """The stemmed tokens BM25 indexed for a passage (cached)."""
        tokens = self._tokens.get(chunk)
        if tokens is None:
            if len(self._tokens) > 10_000:
                self._tokens.clear()
            tokens = self._tokens[chunk] = frozenset(tokenize(chunk.embed_text))
        return tokens

    def search(self, query: str, top_k: int = 5, *, mode: str = "hybrid") -> SearchResult:
        """The top_k passages for `query`."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        if top_k < 1:
            raise ValueError(f"top_k must be at least 1, got {top_k}")
        index = self.index
        text = normalise(query)
        terms = query_terms(text)
        focus = focus_sentence(text)
        dense_hits: list[tuple[int, float]] = []
        sentence_of: dict[int, float] = {}
        if mode != "keyword":
            vector = self.embedder.embed_query(expand_acronyms(text))
            dense_hits = index.dense.search(vector, min(self.candidates, index.dense.size))
        keyword_hits: list[tuple[int, float]] = []
        if mode != "dense":
            scores = index.keyword.weighted_scores(keyword_weights(
                terms, query_terms(focus) if focus else (), index.keyword.knows))
            keyword_hits = _top(scores, self.candidates)
        sentences = index.sentences if mode != "keyword" else None
        if sentences is not None and SENTENCE_FUSION_WEIGHT > 0:  # every candidate is ranked by it
            pool = list(dict.fromkeys([i for i, _ in dense_hits] + [i for i, _ in keyword_hits]))
            sentence_of = sentences.best(vector, pool)
        dense_ranked = sentence_dense(dense_hits, sentence_of) if sentence_of else dense_hits
        if mode == "dense":
            ranked = dense_ranked
        elif mode == "keyword":
            ranked = keyword_hits
        elif mode == "hybrid-rrf":
            ranked = reciprocal_rank_fusion(
                [[i for i, _ in dense_ranked], [i for i, _ in keyword_hits]], k=self.rrf_k)
        else:
            ranked = fuse_scores(dense_ranked, keyword_hits, dense_weight=DENSE_WEIGHT)
        if sentences is not None and SENTENCE_FUSION_WEIGHT == 0:  # only the passages used below
            sentence_of = sentences.best(
                vector, [i for i, _ in ranked[:max(top_k, SENTENCE_PASSAGES)]])
        dense_of = dict(dense_hits)
        keyword_of = dict(keyword_hits)
        hits = [Hit(index.chunks[i], score, dense_of.get(i), keyword_of.get(i),
                    sentence_of.get(i)) for i, score in ranked[:top_k]]
        top_dense = dense_hits[0][1] if dense_hits else 0.0
        top_sentence = None
        if sentences is not None:
            top_sentence = max((sentence_of.get(i, 0.0) for i, _ in ranked[:SENTENCE_PASSAGES]),
                               default=0.0)
        weights = term_weights(terms, index.keyword.knows)  # the same whatever top_k is:
        covered = max((coverage(terms, self._passage_tokens(index.chunks[i]), weights)
                       for i, _ in ranked[:COVERAGE_PASSAGES]), default=0.0)
        return SearchResult(
            query=query, hits=hits, version=index.version, top_dense=top_dense,
            top_keyword=keyword_hits[0][1] if keyword_hits else 0.0, coverage=covered,
            confidence=(confidence(top_dense, covered) if top_sentence is None else
                        confidence(top_sentence, covered, cosine_weight=SENTENCE_COSINE_WEIGHT))
            if hits else 0.0, top_sentence=top_sentence,
        )
