"""How well each unit of a passage bears on a question: meaning, the question's terms, and
whether it prints the kind of fact asked for.

The search scores the units of its top candidates with `passage_evidence` to re-rank them
(index/search.py); the answer quotes the best of them (bot/answers.py). A unit's evidence is:

- its cosine with the question (the unit vectors stored at build time, index/sentences.py);
- the share of the question's content terms it prints, each weighted by its IDF over the
  passages (`term_weights`: a rare term says more), length-normalised like BM25;
- whether it prints the kind of fact the question asks for ("how many" -> a number,
  "when" -> a date, "how often" -> a frequency, "who" / "which company" -> a name).

Titles and front matter (the transmittal before a document's first section) are never
evidence (`is_front_matter`).

Pure functions: no model, no bot code.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from index.chunks import Chunk
from index.keyword import tokenize
from index.queries import AnswerType, Term, expand_acronyms
from index.sentences import Unit, units

NAME_WEIGHT = 2.0  # a capitalised name no passage prints counts double
PREFIX_MIN = 5  # a query stem this long also matches longer words it starts ("partner")
LENGTH_NORM = 0.0  # BM25's b for a unit's term share (0: long units are not held back)
AVERAGE_TOKENS = 18.0  # a unit's typical number of stemmed tokens
# The evidence score of a unit, used to re-rank passages and to pick quotes (calibrated on the
# dev set's calibration part, scripts/eval_retrieval.py):
COSINE_WEIGHT = 0.5
TERMS_WEIGHT = 0.5
ANSWER_TYPE_BONUS = 0.15  # a unit printing the kind of fact asked for

_WORDS = re.compile(r"[^\W_]+", re.UNICODE)
_OPENING = re.compile(r"^Opening text")
_NUMBER_WORDS = ("one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|"
                 "twenty|thirty|forty|fifty|hundred|hundreds|thousand|thousands|million|"
                 "millions|billion|billions|dozen|dozens|half|double|twice")
_PRINTS = {
    "money": re.compile(r"(?:\$|US\$|USD|€|EUR|CHF|£)\s?\d|\d[\d,.]*\s?(?:million|billion|"
                        r"thousand)?\s?(?:dollars|euros|francs|USD|EUR|CHF)\b"),
    "share": re.compile(r"\d\s?%|\bper ?cent\b|\bpercent\b|"  # "second half of 2023" is a date
                        r"\b(?<!first )(?<!second )(?:half|a third|a quarter|"
                        r"two thirds|majority|minority)\b", re.IGNORECASE),
    "number": re.compile(rf"\d[\d,.]*|\b(?:{_NUMBER_WORDS})\b|\bper ?cent\b|%", re.IGNORECASE),
    "date": re.compile(r"\b(?:19|20)\d{2}\b|\b(?:January|February|March|April|May|June|July|"
                       r"August|September|October|November|December)\b"),
    "frequency": re.compile(r"\b(?:every|each (?:year|month|week|quarter)|annual(?:ly)?|"
                            r"quarterly|monthly|weekly|daily|yearly|biennial(?:ly)?|twice|"
                            r"once a|times a|per (?:year|month|week|annum))\b", re.IGNORECASE),
}
_YEAR = re.compile(r"(?:19|20)\d{2}s?")
_URL = re.compile(r"\bhttps?://\S+")
_NAMING_WORDS = frozenset("""
recommendation recommendations para paragraph paragraphs issue sdg goal goals resolution
resolutions article articles principle principles item chapter section annex box no. no
number phase level tier rec
""".split())
# A name: a capitalised word that does not open a sentence, or an acronym anywhere (the value
# of a labelled field: "Responsibility: DES").
_NAME = re.compile(r"(?<![.!?:]\s)(?<!^)\b[A-Z][a-z]+(?:[A-Z][a-z]+)?\b|\b[A-Z]{2,}[a-z]?\b")
_GENERIC_NAMES = frozenset("""
united nations un organization organizations secretary-general secretary general assembly
member states state government governments office agency agencies system the a an in it this
these such for and of millennium development goals goal sdg sdgs executive heads board
january february march april may june july august september october november december
""".split())  # a month names nothing asked for ("the Deputy Executive Secretary since 1 September")


Longer = Callable[[str], frozenset[str]]  # the longer indexed tokens a stem starts


def printed(tokens_asked: Iterable[str], tokens: frozenset[str] | set[str]) -> frozenset[str]:
    """The asked tokens a text (its stemmed tokens) prints. A stem of `PREFIX_MIN`+ letters
    also matches the longer words it starts, found by scanning the text's tokens (`Coverage`
    looks them up in the index's vocabulary instead)."""
    asked = set(tokens_asked)
    found = asked & tokens
    for token in asked - found:
        if len(token) >= PREFIX_MIN and any(
                t.startswith(token) for t in tokens if len(t) > len(token)):
            found.add(token)
    return frozenset(found)


def _tokens(terms: Iterable[Term]) -> set[str]:
    """Every token of every form of the terms."""
    return {token for term in terms for form in term.forms for token in form}


def _share(term: Term, found: frozenset[str]) -> float:
    """The best share of one of a term's forms among the printed tokens `found`."""
    return max(sum(t in found for t in form) / len(form) for form in term.forms)


def term_share(term: Term, tokens: frozenset[str] | set[str]) -> float:
    """How much of one term a text prints: the best share of one of its forms' tokens
    (`printed`)."""
    return _share(term, printed(_tokens([term]), tokens))


def term_weights(terms: Sequence[Term], idf: dict[str, float]) -> list[float]:
    """Weight of each term: the IDF of its best printed form (the least frequent token of a
    form decides it); a term no passage prints in any form gets the corpus's highest IDF,
    twice for a capitalised name (a thing the guidance never names)."""
    unknown = max(max(idf.values(), default=1.0), 1.0)
    weights = []
    for term in terms:
        known = [max(idf[t] for t in form) for form in term.forms if all(t in idf for t in form)]
        weights.append(max(known) if known else unknown * (NAME_WEIGHT if term.name else 1.0))
    return weights


def ranking_weights(terms: Sequence[Term], idf: dict[str, float]) -> list[float]:
    """`term_weights` for ranking: a term no passage prints weighs 0 (it would lower every
    passage's share alike, and so only blur the terms that do tell passages apart)."""
    return [w if any(all(t in idf for t in form) for form in term.forms) else 0.0
            for term, w in zip(terms, term_weights(terms, idf), strict=True)]


class Coverage:
    """`coverage` of one question's terms, for the many texts of one search: the tokens each
    asked token matches (itself, and with `longer` the longer words a stem starts) are looked
    up once, then each text costs one disjointness test per asked token."""

    def __init__(self, terms: Sequence[Term], weights: Sequence[float],
                 longer: Longer | None = None) -> None:
        if len(weights) != len(terms):
            raise ValueError(f"{len(weights)} weights given for {len(terms)} terms")
        self.total = sum(weights)
        self.asked = _tokens(terms)
        self.matches = None if longer is None else {
            token: longer(token) | {token} if len(token) >= PREFIX_MIN else frozenset({token})
            for token in self.asked}
        self.weighted = list(zip(terms, weights, strict=True))

    def of(self, tokens: frozenset[str] | set[str]) -> float:
        """Weighted share of the terms a text (its stemmed tokens) prints, in [0, 1]."""
        if not self.weighted or self.total <= 0:
            return 0.0
        if self.matches is None:
            found = printed(self.asked, tokens)
        else:
            found = frozenset(token for token, match in self.matches.items()
                              if not match.isdisjoint(tokens))
        if not found:
            return 0.0
        return sum(w * _share(term, found) for term, w in self.weighted) / self.total


def coverage(terms: Sequence[Term], weights: Sequence[float],
             tokens: frozenset[str] | set[str], longer: Longer | None = None) -> float:
    """Weighted share of the terms a text (its stemmed tokens) prints, in [0, 1]; 0 without
    terms (`longer`: see `Coverage`)."""
    return Coverage(terms, weights, longer).of(tokens)


def prints_answer(text: str, kind: AnswerType | None, question: str) -> bool:
    """True when `text` prints the kind of fact the question asks for (always for none): a
    number, a date, a frequency, or a name the question does not already give."""
    if kind is None:
        return True
    asked = {w.lower() for w in _WORDS.findall(question)}
    # a fact whose words the question gives is no answer ("by 2005" asked for)
    return any(not words or not words <= asked for words in _facts(text, kind))


_NAMES_AFTER_COLON = re.compile(r"\w:\s+\S.*?\s(?:and|or)\s")  # "... critical: X and Y"
_ITEM = re.compile(r"^\s*(?:\(?[a-z0-9]{1,3}\)|[•▪◦-])\s")


def enumerates(text: str) -> bool:
    """Whether a text lists things: a list's lead-in (ending with a colon) or item, or a
    sentence with a semicolon, two commas ("including due diligence, risk ..., fraud
    prevention, ...") or a colon before "X and Y" ("two ... challenges are particularly
    critical: the importance of local ownership and the strong management ...")."""
    if text.rstrip().endswith(":") or _ITEM.match(text):
        return True
    return any(";" in s or s.count(",") >= 2 or _NAMES_AFTER_COLON.search(s)
               for s in re.split(r"(?<=[.!?])\s+", text))


@functools.lru_cache(maxsize=65536)
def _facts(text: str, kind: AnswerType) -> tuple[frozenset[str], ...]:
    """The words of each fact of a kind a text prints (each name, in lower case), found once
    per text: a search looks at the same units again and again."""
    text = _URL.sub(" ", text)  # "...final%205%20Sept..." prints no share
    if kind == "name":
        return tuple(frozenset([m.group(0).lower()]) for m in _NAME.finditer(text)
                     if m.group(0).lower() not in _GENERIC_NAMES)
    facts = []
    for match in _PRINTS[kind].finditer(text):
        words = frozenset(w.lower() for w in _WORDS.findall(match.group(0)))
        if not (kind == "number" and _not_a_quantity(text, match)):
            facts.append(words)
    return tuple(facts)


NAME_WINDOW = 4  # words either side of a mention of the thing asked for that may name it
HOLDER_WINDOW = 2  # ... and of a role, for who holds it ("Olga Algayerova, Executive Secretary")


def names_mentioned(text: str, terms: Sequence[Term], question: str, *,
                    holder: bool = False) -> bool | None:
    """Whether a text that mentions the thing a "which ..." question asks for names it: a
    name the question does not give (nor its acronyms' long forms) within NAME_WINDOW words
    of a mention ("Novartis, a pharmaceutical company"), not a mention alone ("WHO joined
    forces with a pharmaceutical company"). A capitalised word inside the sentence is a mention
    as the last word of a name ("the World Health Organization"), not inside one ("the UNDP
    Division for Business Partnerships" is a division). For the `holder` of a role ("who is
    the Executive Secretary"), a name right beside it (`HOLDER_WINDOW`) and set apart from it
    ("Olga Algayerova, Executive Secretary"), not the words that run on from it ("the Deputy
    Executive Secretary", "the Focal Points Meeting"). None when the text does not mention the
    thing (a name elsewhere may answer)."""
    forms = _tokens(terms)
    words = list(_WORDS.finditer(text))
    mentions = [n for n, word in enumerate(words) if forms & set(tokenize(word.group(0)))
                and (holder or n == 0 or not _capitalised(word.group(0))
                     or n + 1 == len(words) or not _capitalised(words[n + 1].group(0)))]
    if not mentions:
        return None
    given = set(tokenize(expand_acronyms(question)))  # "WFP": World Food Programme too
    starts = {word.start(): n for n, word in enumerate(words)}
    named = {starts[m.start()] for m in _NAME.finditer(text) if m.start() in starts
             and m.group(0).lower() not in _GENERIC_NAMES
             and not set(tokenize(m.group(0))) <= given}
    window = NAME_WINDOW
    if holder:  # the role's own name: the capitalised words that run on from its mention
        window = HOLDER_WINDOW
        for mention in mentions:
            for step in (-1, 1):
                n = mention + step
                while 0 <= n < len(words) and _capitalised(words[n].group(0)) \
                        and _run_on(text, words[min(n, n - step)], words[max(n, n - step)]):
                    named.discard(n)
                    n += step
    return any(abs(n - mention) <= window for n in named for mention in mentions)


_OF_THEM = re.compile(r"\s+(?:of them|in all|in total|altogether)\b")
COUNT_WINDOW = 4  # words from a number to the thing it counts ("20 public pension funds")


def counts(text: str, terms: Sequence[Term]) -> bool:
    """Whether a text gives the number of the thing a "how many X" question counts: a number
    (not a year nor a paragraph number) followed within `COUNT_WINDOW` words by X ("over 15
    leading global businesses") or just before it with "of them" ("suppliers (120 of them"),
    not a number of something else beside a mention of X ("the three lines of defence model
    by CEB ... the organizations")."""
    forms = _tokens(terms)
    words = list(_WORDS.finditer(text))
    for n, word in enumerate(words):
        if _PRINTS["number"].fullmatch(word.group(0)) is None or _not_a_quantity(text, word):
            continue
        following = words[n + 1:n + 1 + COUNT_WINDOW]
        if any(forms & set(tokenize(after.group(0))) for after in following):
            return True
        if _OF_THEM.match(text, word.end()) and any(
                forms & set(tokenize(before.group(0))) for before in words[max(0, n - 2):n]):
            return True
    return False


def _capitalised(word: str) -> bool:
    return word[:1].isupper()


def _run_on(text: str, first: re.Match[str], second: re.Match[str]) -> bool:
    """Whether two words follow each other with only spaces between ("Deputy Executive", not
    "Algayerova, Executive")."""
    return not text[first.end():second.start()].strip()


def _not_a_quantity(text: str, match: re.Match[str]) -> bool:
    """A year ("in 2005") or a number that names something ("Recommendation 3", "SDG 5",
    "resolution 58/129"), not an amount."""
    number = match.group(0).rstrip(".,")
    if _YEAR.fullmatch(number):
        return True
    before = text[:match.start()].rstrip()
    if before.endswith(("/", "#")) or text[match.end():match.end() + 1] == "/":
        return True
    previous = before.rsplit(None, 1)[-1].lower().strip("(") if before else ""
    return previous in _NAMING_WORDS

def is_front_matter(chunk: Chunk, unit: Unit) -> bool:
    """The document's title, or a title line or the transmittal before its first section."""
    text = unit.text.strip()
    if text.rstrip(".") == chunk.title.rstrip("."):
        return True
    if not _OPENING.match(chunk.locator):
        return False
    return not text.endswith((".", "?", "!", ":", ";")) or chunk.title in text


@dataclass(frozen=True)
class UnitEvidence:
    """One unit of a passage scored for a question."""

    position: int  # in units(chunk.text)
    unit: Unit
    cosine: float
    terms: float  # weighted share of the question's terms it prints
    tokens: frozenset[str]
    typed: bool  # the question asks for a kind of fact (a date ...) and this unit prints one

    @property
    def score(self) -> float:
        """Its evidence: cosine and term share blended, with the answer-type bonus."""
        return (COSINE_WEIGHT * self.cosine + TERMS_WEIGHT * self.terms
                + (ANSWER_TYPE_BONUS if self.typed else 0.0))


@dataclass(frozen=True)
class Piece:
    """A unit of a passage that can be evidence, with its stemmed tokens (prepared once)."""

    position: int  # in units(chunk.text)
    unit: Unit
    tokens: frozenset[str]


def evidence_units(chunk: Chunk) -> tuple[Piece, ...]:
    """The units of a passage that can be evidence: front matter left out. (Adding the
    tokens of the unit's place - title, issuer, heading path - was measured on the dev set
    and did not help.)"""
    return tuple(Piece(position, unit, frozenset(tokenize(unit.text)))
                 for position, unit in enumerate(units(chunk.text))
                 if not is_front_matter(chunk, unit))


def passage_evidence(pieces: Sequence[Piece], cosines: Sequence[float] | np.ndarray,
                     fallback: float,
                     terms: Sequence[Term], weights: Sequence[float], *,
                     kind: AnswerType | None, question: str,
                     passage: frozenset[str] = frozenset(),
                     matcher: Coverage | None = None) -> tuple[UnitEvidence, ...]:
    """A passage's evidence units (`evidence_units`) scored for a question. `cosines` are the
    stored cosines of all its units; without them (an older index) every unit gets
    `fallback`, the passage's own cosine. `weights` are for ranking units against each other:
    a term no passage prints weighs 0 there (`ranking_weights`), it cannot tell them apart.
    `passage` is the passage's tokens as indexed (`_names_printed`); `matcher`: the search's
    `Coverage` of these terms and weights (without it, one that scans each unit's tokens)."""
    stored = bool(pieces) and len(cosines) > max(p.position for p in pieces)
    named = _names_printed(pieces, terms, passage)
    share = (matcher or Coverage(terms, weights)).of
    out = []
    for piece in pieces:
        length = 1.0 + LENGTH_NORM * max(0.0, len(piece.tokens) / AVERAGE_TOKENS - 1.0)
        out.append(UnitEvidence(
            piece.position, piece.unit,
            float(cosines[piece.position]) if stored else fallback,
            share(piece.tokens | named) / length, piece.tokens,
            kind is not None and prints_answer(piece.unit.text, kind, question)))
    return tuple(out)


def _names_printed(pieces: Sequence[Piece], terms: Sequence[Term],
                   indexed: frozenset[str]) -> frozenset[str]:
    """The tokens of the proper names the question gives ("UNECE", "UNICEF"; not concepts
    such as "IP") that the passage prints somewhere, or its place as indexed (`indexed`:
    its title, who issued it, and its text; without it, the units' tokens): each of its
    units is about them ("training will be organized" in UNECE's row is about UNECE)."""
    passage = indexed or frozenset().union(*(p.tokens for p in pieces))
    return frozenset(token for term in terms if term.proper for form in term.forms
                     if all(t in passage for t in form) for token in form)
