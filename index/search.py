"""Hybrid search over the live index: BM25 + dense, fused by score; reloads new versions.

One query, one embedding:
1. The query is normalised, its abbreviations written out and its acronyms spelled out
   (index/queries.py).
2. Dense: cosine similarity of the expanded query to every passage (the best `candidates`).
   Keyword: BM25 with one weight per stemmed word (`keyword_weights`: an acronym's long form
   and a synonym count less; in a message of several sentences - a follow-up is searched
   together with the previous question - the last sentence's words count more).
3. Fusion: each score is min-max scaled over the pooled candidates, then
   `DENSE_WEIGHT x dense + (1 - DENSE_WEIGHT) x BM25` (index/fusion.py).
4. Evidence for the answer: the cosine of every unit (sentence, list, labelled field; see
   index/sentences.py) of the top passages with the query vector already computed, the
   question's content terms with their corpus IDF, and how much of them one of the top
   passages prints. bot/answers.py picks the quotes and decides from these
   whether the guidance covers the question.
5. Re-rank: the best fused candidates by their best unit's evidence, a bonus for a
   recommendation when the question asks "which recommendation", one for the recommendation
   it names by number ("rec 6": Recommendation 6 and the paragraphs on it), and one for the
   documents of an organization the question names by acronym ("the JIU's", "UNECE's").
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index.chunks import Chunk
from index.embedders import Embedder, cosine_scale
from index.errors import IndexCorrupt, IndexProblem, IndexVersionDamaged
from index.evidence import (
    Coverage,
    Piece,
    UnitEvidence,
    evidence_units,
    passage_evidence,
    ranking_weights,
    term_weights,
)
from index.fusion import fuse_scores
from index.keyword import tokenize
from index.queries import (
    LANGUAGE_ACRONYMS,
    AnswerType,
    Asked,
    Term,
    answer_type,
    asked_for,
    asked_locator,
    capitalise_acronyms,
    expand_acronyms,
    expand_language_acronyms,
    focus_sentence,
    language_terms,
    named_recommendations,
    normalise,
    query_terms,
)
from index.store import UNUSABLE, LoadedIndex, load_live, load_version, mark_unusable

log = logging.getLogger(__name__)
MODES = ("hybrid", "dense", "keyword")

# Tuned on eval/devset.yaml (scripts/eval_retrieval.py); see the module docstring.
DENSE_WEIGHT = 0.4  # share of the scaled cosine in the fused score; BM25 has the rest
# A French or Spanish question: BM25 reads only its acronyms (index/queries.py), the dense
# model the rest, so the cosine has a larger share.
LANGUAGE_DENSE_WEIGHT = 0.5
ALTERNATIVE_WEIGHT = 0.5  # BM25 weight of an acronym's long form or a synonym, shared by its words
FOCUS_WEIGHT = 4.0  # BM25 weight of the last sentence's words in a several-sentence message
RERANK = 20  # the best fused candidates are re-ranked by their best unit's evidence ...
RERANK_WEIGHT = 1.0  # ... added with this weight to their fused score (scaled to the best)
LOCATOR_BONUS = 0.5  # added for a question asking "which recommendation" to each recommendation
NAMED_BONUS = 1.0  # added for a question naming "rec 6" to Recommendation 6 and the passages on it
# added to the passages of the documents issued by (or on a report of) an organization the
# question names by acronym: "which JIU rec ..." (chosen on the calibration part: 0.2-0.5 same)
ISSUER_BONUS = 0.3


class _ReadFailed(Exception):
    """A file of the version a query searches failed to read (`reason`): `Searcher.search`
    checks the version and searches again on the one serving then."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Hit:
    """A passage found for a query, with the scores that put it there."""

    chunk: Chunk
    score: float  # the score it is ranked by (fused, then re-ranked by its evidence)
    dense: float | None  # cosine similarity, when the dense search saw it
    keyword: float | None  # BM25 score, when it shares words with the query
    evidence: tuple[UnitEvidence, ...] = ()  # its units scored for the query (index/evidence.py)
    tokens: frozenset[str] = frozenset()  # the stemmed tokens BM25 indexed for it

    @property
    def sentence(self) -> float | None:
        """The best cosine of one of its units, when there are any."""
        return max(e.cosine for e in self.evidence) if self.evidence else None


@dataclass(frozen=True)
class SearchResult:
    """The hits for one query and the evidence an answer is judged on."""

    query: str
    hits: list[Hit]
    version: str
    top_dense: float  # best cosine similarity over the whole index (on the common range)
    top_keyword: float  # best BM25 score over the whole index
    terms: tuple[Term, ...] = ()  # the question's content terms (index/queries.py)
    weights: tuple[float, ...] = ()  # their weights (index/evidence.py `term_weights`)
    kind: AnswerType | None = None  # the kind of fact asked for, if any
    asked: Asked | None = None  # the thing asked for by name, if any (English questions)
    language: str = "en"  # the language the question was read in: "en", "fr" or "es"


def _issuer_names(terms: Iterable[Term]) -> tuple[tuple[str, ...], ...]:
    """The long forms of the organizations a question names by acronym ("JIU" -> joint
    inspection unit)."""
    return tuple(term.alternatives[0] for term in terms if term.proper and term.alternatives)


@functools.lru_cache(maxsize=256)
def _organization_tokens(organization: str) -> frozenset[str]:
    """The stemmed words of a document's front matter `organization`."""
    return frozenset(tokenize(organization))


def _issued_by(chunk: Chunk, issuers: tuple[tuple[str, ...], ...]) -> bool:
    """Whether the passage's document was issued by (or on a report of) a named organization."""
    if not chunk.organization:
        return False
    words = _organization_tokens(chunk.organization)
    return any(all(token in words for token in issuer) for issuer in issuers)


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
    Before every query the files of the version served are checked against their stat at the
    load (`LoadedIndex.changed`: ~12 `os.stat`); a file that changed is checked against its
    checksum, and a damaged version is marked unusable (index/store.py) and replaced by the
    newest intact one. The sentence vectors are the one file read at every query (the rows of
    its top passages, index/sentences.py): truncated after that check, the read ends early
    and raises, and the same replacement happens before the query is searched again, on the
    version that replaced it (nothing is memory-mapped, so no read can end the process).
    """

    def __init__(self, index_dir: Path, embedder: Embedder, *, candidates: int = 100,
                 language_embedder: Embedder | None = None) -> None:
        self.index_dir = index_dir
        self.embedder = embedder
        self.language_embedder = language_embedder  # French and Spanish, when the index has it
        self.candidates = candidates
        self._index: LoadedIndex | None = None
        self._stamp: tuple[int, int] | None = None
        self._lock = threading.Lock()
        self._tokens: dict[str, frozenset[str]] = {}
        self._pieces: dict[str, tuple[Piece, ...]] = {}

    def embedder_for(self, language: str, index: LoadedIndex | None = None) -> Embedder:
        """The embedder that reads questions in this language: the multilingual one for a
        French or Spanish question when the index version (default: the one served) holds
        its vectors, else the index's own model."""
        if language == "en" or self.language_embedder is None:
            return self.embedder
        vectors = (index or self.current()).language
        if vectors is None or vectors.model_id != self.language_embedder.model_id:
            return self.embedder
        return self.language_embedder

    def load(self) -> LoadedIndex:
        """Load the models and the live index (raises IndexMissing, IndexModelMismatch, ...).

        An index without the vectors of the multilingual model (built before it, or with
        another one) is served all the same: French and Spanish questions are then matched
        by the index's own model, and a warning says to build it again."""
        # The index is read first: an embedder being loaded on a thread (make_searcher's
        # prefetch) loads meanwhile, and the index's own errors come first.
        with self._lock:
            self._index = load_live(self.index_dir, self.embedder.model_id)
            self._stamp = self._current_stamp()
            self._tokens, self._pieces = {}, {}
            self._check_language(self._index)
        self.embedder.load()
        if self.language_embedder is not None:
            self.language_embedder.load()
        return self._index

    def _check_language(self, index: LoadedIndex) -> None:
        """Warn when French and Spanish questions cannot use the multilingual model."""
        if self.language_embedder is None:
            return
        found = index.language.model_id if index.language is not None else None
        if found != self.language_embedder.model_id:
            log.warning("index version %s has no vectors of %s (%s): French and Spanish "
                        "questions are matched by %s until the next build (partnerbot index)",
                        index.version, self.language_embedder.model_id,
                        f"it has {found}'s" if found else "built without", index.model_id)

    def current(self) -> LoadedIndex:
        """The version queries use now: loaded on first use, reloaded first if an admin
        switched versions, replaced when a file of it changed on disk (see the class
        docstring). Raises an IndexProblem when no intact version remains."""
        index = self._index
        if index is None:
            return self.load()
        stamp = self._current_stamp()
        if stamp != self._stamp:
            self._reload(stamp)
            index = self._index
            if index is None:
                return self.load()
        change = index.changed()
        if change is not None:
            return self._replace_changed(index, change)
        return index

    def _replace_changed(self, index: LoadedIndex, change: str) -> LoadedIndex:
        """The version to serve now that a file of `index` changed on disk: itself reloaded
        when its files still match their checksums, else the newest intact version (the
        damaged one marked unusable)."""
        with self._lock:
            served = self._index
            if served is index:
                return self._replace_locked(index, change)
        if served is None:  # another query found no intact version: try again
            return self.load()
        return served  # another query has replaced it already

    def _replace_locked(self, index: LoadedIndex, change: str) -> LoadedIndex:
        assert index.directory is not None  # `changed` found something, so it has files
        try:
            fresh = load_version(index.directory)
        except IndexCorrupt as exc:
            damage: IndexCorrupt = exc
        else:
            log.warning("index version %s: %s, but its files still match their checksums; "
                        "reloaded it", index.version, change)
            fresh.warnings = index.warnings
            self._install(fresh)
            return fresh
        reason = f"{change} while serving: {str(damage).removeprefix(index.version + ': ')}"
        marked = (isinstance(damage, IndexVersionDamaged)
                  and mark_unusable(index.directory, reason)) or (
            index.directory / UNUSABLE).exists()  # or another process marked it first
        log.error("index version %s is damaged (%s); %s, no longer served", index.version,
                  reason, f"marked unusable ({index.directory / UNUSABLE})" if marked
                  else "not marked")
        try:
            fresh = load_live(self.index_dir, self.embedder.model_id)
        except IndexProblem as exc:
            self._index, self._tokens, self._pieces = None, {}, {}
            log.error("no intact index version remains, searching is unavailable: %s", exc)
            raise
        log.warning("index now served from version %s, the newest intact one", fresh.version)
        self._install(fresh)
        return fresh

    def _install(self, fresh: LoadedIndex) -> None:
        self._index, self._stamp = fresh, self._current_stamp()
        self._tokens, self._pieces = {}, {}

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
            self._index, self._stamp, self._tokens, self._pieces = fresh, stamp, {}, {}

    def _passage_tokens(self, chunk: Chunk) -> frozenset[str]:
        """The stemmed tokens BM25 indexed for a passage (cached per version)."""
        tokens = self._tokens.get(chunk.id)
        if tokens is None:
            if len(self._tokens) > 10_000:
                self._tokens.clear()
            tokens = self._tokens[chunk.id] = frozenset(tokenize(chunk.keyword_text))
        return tokens

    def _evidence_units(self, chunk: Chunk) -> tuple[Piece, ...]:
        """A passage's evidence units with their tokens (cached per version)."""
        pieces = self._pieces.get(chunk.id)
        if pieces is None:
            if len(self._pieces) > 10_000:
                self._pieces.clear()
            pieces = self._pieces[chunk.id] = evidence_units(chunk)
        return pieces

    def search(self, query: str, top_k: int = 5, *, mode: str = "hybrid",
               language: str | None = None) -> SearchResult:
        """The top_k passages for `query`, with the evidence an answer needs.

        `language` is the question's ("en", "fr", "es"; None reads it as English): a French or
        Spanish question is matched by the dense model, and its acronyms alone are its terms
        (index/queries.py `language_terms`). Raises an IndexProblem when no intact index
        version can serve it."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        if top_k < 1:
            raise ValueError(f"top_k must be at least 1, got {top_k}")
        if language is not None and language != "en" and language not in LANGUAGE_ACRONYMS:
            raise ValueError(f"language must be en, {', '.join(LANGUAGE_ACRONYMS)} or None, "
                             f"got {language!r}")
        index = self.current()
        for _attempt in range(3):
            try:
                return self._search(index, query, top_k, mode, language or "en")
            except _ReadFailed as failed:
                index = self._replace_changed(index, failed.reason)
        raise IndexCorrupt("The index files keep changing while they are searched.",
                           "partnerbot index --status")

    def _search(self, index: LoadedIndex, query: str, top_k: int, mode: str,
                language: str) -> SearchResult:
        """`search` on one version; raises _ReadFailed when a file of it cannot be read."""
        english = language == "en"
        text = normalise(query) if english else capitalise_acronyms(query)
        terms = query_terms(text) if english else language_terms(text, language)
        focus = focus_sentence(text)
        focus_terms = (query_terms(focus) if english else language_terms(focus, language)
                       ) if focus else []
        embedder = self.embedder_for(language, index)
        dense, sentences, model_id = index.dense, index.sentences, index.model_id
        if embedder is not self.embedder and index.language is not None:
            dense, sentences = index.language.dense, index.language.sentences
            model_id = index.language.model_id
        vector = None
        dense_hits: list[tuple[int, float]] = []
        if mode != "keyword":
            vector = embedder.embed_query(
                expand_acronyms(text) if english else expand_language_acronyms(text, language))
            dense_hits = dense.search(vector, min(self.candidates, dense.size))
        keyword_hits: list[tuple[int, float]] = []
        if mode != "dense":
            scores = index.keyword.weighted_scores(keyword_weights(
                terms, focus_terms, index.keyword.knows))
            keyword_hits = _top(scores, self.candidates)
        if mode == "dense":
            ranked = dense_hits
        elif mode == "keyword":
            ranked = keyword_hits
        else:
            ranked = fuse_scores(dense_hits, keyword_hits,
                                 dense_weight=DENSE_WEIGHT if english else LANGUAGE_DENSE_WEIGHT)
        kind = answer_type(focus or text, None if english else language)
        idf = {token: weight for term in terms for form in term.forms for token in form
               if (weight := index.keyword.idf(token)) is not None}
        weights, ranking = term_weights(terms, idf), ranking_weights(terms, idf)
        pool = ranked[:max(top_k, RERANK)] if mode == "hybrid" else ranked[:top_k]
        named = named_recommendations(query)
        if named and mode == "hybrid":  # "rec 6": its passages compete, wherever they ranked
            pool += [(i, score) for i, score in ranked[len(pool):]
                     if index.chunks[i].recommendation in named]
        cosines = {}
        if vector is not None and sentences is not None:
            try:
                cosines = sentences.scores(vector, [i for i, _ in pool])
            except IndexCorrupt as exc:  # its file changed under this read (truncated?)
                raise _ReadFailed(index.changed() or str(exc).removeprefix(
                    f"{index.version}: ")) from exc
        dense_of, keyword_of = dict(dense_hits), dict(keyword_hits)
        a, b = cosine_scale(model_id)  # unit cosines on the common range (embedders)
        best = max((score for _, score in pool), default=1.0) or 1.0
        asked = asked_for(focus or text) if english else None
        wanted = asked_locator(asked)
        matcher = Coverage(terms, ranking, index.keyword.longer)  # prefix matches, once
        issuers = _issuer_names(terms)
        hits = []
        for i, score in pool:
            chunk = index.chunks[i]
            tokens = self._passage_tokens(chunk)
            evidence = passage_evidence(
                self._evidence_units(chunk), a * cosines[i] + b if i in cosines else (),
                a * dense_of.get(i, 0.0) + b, terms, ranking, kind=kind, question=focus or text,
                passage=tokens, matcher=matcher)
            if mode == "hybrid":  # re-ranked by its best unit; front matter alone sinks
                score = score / best + RERANK_WEIGHT * max(
                    (e.score for e in evidence), default=-1.0)
                if wanted and chunk.locator.lower().startswith(wanted):
                    score += LOCATOR_BONUS  # "which rec is about ...": a recommendation
                if chunk.recommendation in named:
                    score += NAMED_BONUS  # "rec 6": Recommendation 6 and the paragraphs on it
                if issuers and _issued_by(chunk, issuers):
                    score += ISSUER_BONUS  # "the JIU rec on ...": the JIU's documents
            hits.append(Hit(chunk, score, dense_of.get(i), keyword_of.get(i), evidence, tokens))
        hits.sort(key=lambda h: -h.score)
        return SearchResult(
            query=query, hits=hits[:top_k], version=index.version,
            top_dense=a * dense_hits[0][1] + b if dense_hits else 0.0,
            top_keyword=keyword_hits[0][1] if keyword_hits else 0.0,
            terms=tuple(terms), weights=tuple(weights), kind=kind, language=language,
            asked=asked)
