"""Extractive answers: the most relevant sentences of the best passages, each cited.

No language model: the answer quotes the guidance. Whether the guidance covers a question is
decided from the search's confidence (best dense similarity blended with how much of the
question the top passages print) against a threshold calibrated on the dev set.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from index.keyword import tokenize
from index.queries import expand_acronyms
from index.search import Hit, Searcher, SearchResult
from index.sentences import split_sentences

MAX_QUERY_CHARS = 1000  # longer messages are searched with their first 1,000 characters
MAX_PASSAGES = 3
MAX_SENTENCES = 2
_WORDS = re.compile(r"[^\W_]+", re.UNICODE)
_FOLLOW_UP_START = re.compile(
    r"^(and|also|but|or|what about|how about|same for|what if|and if|then|so)\b", re.IGNORECASE
)
_PRONOUN_START = re.compile(
    r"^(does|do|is|are|can|should|must|why|how)\s+(it|they|that|this|those|these)\b",
    re.IGNORECASE,
)
_FRENCH = frozenset(
    "le la les des est et pour une un du que qui avec dans sur ce cette nous vous quels "
    "quelles quel quelle comment partenaires"
    .split()
)
_SPANISH = frozenset(
    "el los las es y para una un del que con en por cómo cuál cuáles qué socios debe deben"
    .split()
)
_ENGLISH = frozenset(
    "the is are and for what how do does should with a an of to in on which who partner "
    "partners"
    .split()
)


@dataclass(frozen=True)
class Quote:
    """Sentences quoted from one passage, with the passage they come from."""

    hit: Hit
    sentences: list[str]


@dataclass(frozen=True)
class Answer:
    """An answer to show, or the honest statement that the guidance does not cover it."""

    question: str
    query: str  # what was searched (with the previous question for a follow-up)
    grounded: bool
    reason: str  # "answered", "not_covered", "empty", "no_words", "other_language"
    quotes: list[Quote] = field(default_factory=list)
    closest: list[Hit] = field(default_factory=list)
    version: str = ""
    top_score: float = 0.0
    truncated: bool = False
    follow_up: bool = False

    @property
    def hits(self) -> list[Hit]:
        """The passages the answer used (quoted or shown as closest)."""
        return [q.hit for q in self.quotes] or self.closest


def has_words(text: str) -> bool:
    """True when the text has at least one letter or digit word."""
    return bool(_WORDS.search(text))


def language_of(text: str) -> str:
    """A rough guess, 'en', 'fr' or 'es', from common function words."""
    words = [w.lower() for w in _WORDS.findall(text)]
    counts = {"en": sum(w in _ENGLISH for w in words), "fr": sum(w in _FRENCH for w in words),
              "es": sum(w in _SPANISH for w in words)}
    best = max(counts, key=lambda lang: counts[lang])
    return best if counts[best] > counts["en"] else "en"


def is_follow_up(question: str) -> bool:
    """An elliptic question that only makes sense with the previous one ("and for NGOs?")."""
    text = question.strip()
    words = _WORDS.findall(text)
    if not words or len(words) > 12:
        return False
    return bool(_FOLLOW_UP_START.match(text) or _PRONOUN_START.match(text))


def search_query(question: str, previous: str | None) -> tuple[str, bool]:
    """The text to search: a follow-up is searched together with the previous question."""
    if previous and is_follow_up(question):
        return f"{previous} {question}", True
    return question, False


def best_sentences(text: str, query: str, limit: int = MAX_SENTENCES) -> list[str]:
    """The `limit` sentences sharing most (rarer, longer) words with the query, in text order."""
    sentences = split_sentences(text)
    if len(sentences) <= limit:
        return sentences
    terms = set(tokenize(query))
    scored = []
    for position, sentence in enumerate(sentences):
        words = set(tokenize(sentence))
        overlap = sum(1.0 + math.log(len(w)) for w in words & terms)
        scored.append((overlap, -position, position))
    chosen = sorted(scored, reverse=True)[:limit]
    if all(score == 0 for score, _, _ in chosen):
        chosen = scored[:limit]
    return [sentences[p] for _, _, p in sorted(chosen, key=lambda item: item[2])]


QUOTE_COSINE_MARGIN = 0.12  # further passages are quoted when this close to the best cosine


def grounding_score(result: SearchResult) -> float:
    """What the grounding decision compares with the threshold: the search's confidence (best
    cosine blended with term coverage, see index/search.py), or the best cosine for a result
    that carries no confidence."""
    return result.confidence if result.confidence is not None else result.top_dense


def compose(question: str, result: SearchResult, *, threshold: float, follow_up: bool = False,
            truncated: bool = False) -> Answer:
    """Build the answer from search hits: quotes when grounded, else the closest passages."""
    hits = result.hits
    score = grounding_score(result)
    if not hits or score < threshold:
        reason = "other_language" if language_of(question) != "en" else "not_covered"
        return Answer(question=question, query=result.query, grounded=False, reason=reason,
                      closest=hits[:MAX_PASSAGES], version=result.version, top_score=score,
                      truncated=truncated, follow_up=follow_up)
    floor = result.top_dense - QUOTE_COSINE_MARGIN
    chosen = [hits[0]] + [h for h in hits[1:] if h.dense is not None and h.dense >= floor]
    terms = expand_acronyms(result.query)  # "IP" picks sentences on implementing partners
    quotes = [Quote(h, best_sentences(h.chunk.text, terms)) for h in chosen[:MAX_PASSAGES]]
    return Answer(question=question, query=result.query, grounded=True, reason="answered",
                  quotes=quotes, version=result.version, top_score=score, truncated=truncated,
                  follow_up=follow_up)


def answer_question(question: str, searcher: Searcher, *, threshold: float, top_k: int = 5,
                    previous: str | None = None) -> Answer:
    """Answer one question; `previous` is the last question in this conversation, if any."""
    text = question.strip()
    if not text:
        return Answer(question=question, query="", grounded=False, reason="empty")
    if not has_words(text):
        return Answer(question=question, query="", grounded=False, reason="no_words")
    truncated = len(text) > MAX_QUERY_CHARS
    text = text[:MAX_QUERY_CHARS]
    query, follow_up = search_query(text, previous)
    result = searcher.search(query, top_k)
    return compose(question, result, threshold=threshold, follow_up=follow_up, truncated=truncated)
