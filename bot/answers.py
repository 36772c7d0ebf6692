"""Extractive answers: the unit of the guidance that answers first, then only further evidence.

No language model: the answer quotes the guidance. The search returns the top passages with
the cosine of each of their units (sentences, lists, labelled fields: index/sentences.py) and
the question's content terms with their IDF. Here:

1. Each unit of the top passages is scored (`unit_score`): its cosine with the question, how
   much of the question's weighted terms it prints (length-normalised), and its passage's
   rank. The best unit is quoted first (in a near tie, the best of the passage ranked
   first) - a list's lead-in with its items, a labelled field with its label, an action point
   with the first line of the progress reported under it, a sentence that refers back
   ("While this broad definition ...") with the one before it - and further units only when
   they carry evidence for this question: close to the best in meaning, or printing a
   question term the quotes so far do not (one too long with its context is quoted alone
   where it fits); never a sentence already quoted, nor, for a question about one
   recommendation, a passage about another. Titles and front matter are never evidence.
2. Whether the guidance covers the question (`grounding`): the best unit cosine blended with
   the IDF-weighted share of the question's content terms one of the top passages prints
   (conversational words do not count; a term no passage prints counts in full), halved when
   no top passage names the thing asked for ("is there a template ...": index/queries.py
   `asked_for`), against a threshold calibrated on part of the dev set
   (scripts/eval_retrieval.py). A question asking for a kind of fact (a date, a number ...) is
   declined when no unit on its subject prints one (`_on_subject`), one naming a year when the
   passage quoted first does not print it, one asking for a list ("what are the X") when no
   unit on its subject lists anything (index/evidence.py `enumerates`).
3. Greetings, thanks and "help" get a short reply, not a search (`small_talk`).

Pure core: no Telegram, no database.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from index.evidence import (
    UnitEvidence,
    counts,
    coverage,
    enumerates,
    names_mentioned,
    term_share,
)
from index.keyword import tokenize
from index.language import identify
from index.queries import (
    Asked,
    Term,
    answer_type,
    asks_for_list,
    expand_acronyms,
    normalise,
    query_terms,
    unread_words,
)
from index.search import Hit, Searcher, SearchResult
from index.sentences import Unit, units

MAX_QUERY_CHARS = 1000  # longer messages are searched with their first 1,000 characters
EVIDENCE_PASSAGES = 5  # units of the top passages compete for the quotes
COVERAGE_PASSAGES = 3  # grounding: the best term coverage among the top passages
CLOSEST = 3  # passages shown when the answer declines
MAX_QUOTES = 3
QUOTE_CHARS = 650  # quotes together stay below this, so an answer fits a phone screen
LIST_CHARS = 420  # a list longer than this shows each item by its opening words
FOLLOW_UP_WORDS = 12  # a longer question stands on its own
SHORT_UNIT = 90  # a quoted sentence shorter than this is followed by the next one
# Calibrated on the dev set's calibration part (scripts/eval_retrieval.py):
UNIT_RANK = 1.0  # a unit's quote score: its evidence + this x its passage's score (vs the best)
TOP_PASSAGE_RATIO = 0.97  # the top passage's best unit goes first when it scores this share
TYPED_RATIO = 0.7  # a unit printing the fact asked for goes first when it scores this share
TYPED_COVERAGE = 0.3  # ... and prints this weighted share of the question's terms
ASKED_MISSING = 0.5  # the grounding score is cut to this share when no top passage names the
# thing asked for ("is there a template": none prints "template")
FURTHER_RATIO = 0.8  # a further quote scores at least this share of the first one ...
COSINE_MARGIN = 0.03  # ... and is this close to it in meaning, or prints a new question term
GROUNDING_COSINE = 0.3  # share of the best unit cosine; the terms' coverage has the rest
# A French or Spanish question (its terms are its acronyms alone; see `grounding`):
LANGUAGE_GROUNDING_COSINE = 0.8  # share of the best unit cosine when it names acronyms
# The score it is answered from, per language (e5's cosines run lower in Spanish):
LANGUAGE_THRESHOLDS = {"fr": 0.553, "es": 0.499}

_WORDS = re.compile(r"[^\W_]+", re.UNICODE)
_LETTERS = re.compile(r"[^\W\d_]")
_ADDRESS = re.compile(r"\S+@\S+|\bhttps?://\S+|\bwww\.\S+", re.IGNORECASE)  # links, e-mail
_FOLLOW_UP_START = re.compile(  # in English, French and Spanish
    r"^[¿¡]?\s*(and|also|but|or|what about|how about|same for|what if|and if|then|so|"
    r"et|aussi|mais|alors|donc|qu['’]en est-il|pareil pour|m[êe]me chose pour|"
    r"y(?!\s*-?\s*a\b)|tambi[ée]n|pero|entonces|lo mismo para|qu[ée] tal)\b", re.IGNORECASE
)
_PRONOUN_START = re.compile(
    r"^(does|do|is|are|can|should|must|why|how)\s+(it|they|that|this|those|these)\b",
    re.IGNORECASE,
)
# Small talk: messages made only of these words (and punctuation or emoji) are not searched;
# in English, French and Spanish (the reply is in the message's language).
_SMALL_TALK = {
    "help": frozenset("help start menu commands what can you do how does this work use bot "
                      "guide assistant test testing ping it me please pls plz aide ayuda "
                      "comment ça ca marche fonctionne que peux tu faire fais s il vous plait "
                      "plaît svp stp cómo como funciona qué puedes haces hacer por favor "
                      "porfa".split()),
    "thanks": frozenset("thanks thank you thx ty cheers much very so many a lot appreciated "
                        "great helpful that was merci beaucoup gracias muchas mil".split()),
    "bye": frozenset("bye goodbye see you later ciao cya good night au revoir adieu adiós "
                     "adios chao hasta luego have a nice bonne journée soirée nuit semaine "
                     "buena jornada fin semana".split()),
    "greeting": frozenset("hi hello hey hiya howdy greetings good morning afternoon evening "
                          "day there all everyone dear team yo bonjour salut bonsoir coucou "
                          "hola buenos buenas buen día días dias tardes noches how are you "
                          "doing today va vas allez tal está estás esta estas".split()),
    "ack": frozenset("ok okay k kk cool great nice perfect fine got it alright all right yes "
                     "no sure good understood noted fair enough oui non d accord parfait "
                     "entendu compris bien très super génial noté sí si vale claro perfecto muy "
                     "entendido de acuerdo bueno genial".split()),
}
_YEAR = re.compile(r"\b(?:19|20)\d{2}\b")
# Where one clause of a question ends and another begins ("..., and what was ...").
_CLAUSE = re.compile(r",\s*(?:and|but|or|plus)\s+|;\s*|\?\s+|\s+and\s+(?=(?:what|how|who|whom|"
                     r"when|why|which|where|is|are|was|were|does|do|did|has|have|can|should|"
                     r"will|would|could)\b)", re.IGNORECASE)
_DATE_LABEL = re.compile(r"(?:target|due|completion) date|deadline", re.IGNORECASE)
# The labels of the UNECE table that a French or Spanish question asks for by its own words
# ("qui est responsable ...": "Responsibility:"; "date limite", "plazo": "Target date:").
_LANGUAGE_LABELS = {
    "fr": ((re.compile(r"responsib", re.IGNORECASE),
            re.compile(r"\bresponsab|\bqui (?:g[èe]re|s'occupe|pilote)\b|\bcharg[ée]e?s? de\b",
                       re.IGNORECASE)),
           (_DATE_LABEL, re.compile(r"\bdate (?:limite|butoir|cible|pr[ée]vue)\b|\bd[ée]lai\b|"
                                    r"\b[ée]ch[ée]ance\b|\b(?:pour|d'ici) quand\b",
                                    re.IGNORECASE))),
    "es": ((re.compile(r"responsib", re.IGNORECASE),
            re.compile(r"\bresponsab|\bqui[ée]n (?:se encarga|gestiona|lleva)\b|\bencargad[oa]s?\b",
                       re.IGNORECASE)),
           (_DATE_LABEL, re.compile(r"\bfecha (?:l[íi]mite|prevista|objetivo)\b|\bplazo\b|"
                                    r"\bpara cu[áa]ndo\b", re.IGNORECASE))),
}
_ASKS_DEADLINE = re.compile(r"\bdeadlines?\b|\bby when\b|\b(?:target|due) dates?\b|\bdue\b",
                            re.IGNORECASE)  # not "when did it go to EXCOM": that is a past date
# a sentence that refers back to the one before it: "These steps ...", "While this broad
# definition ...", "All of these steps ..." (not "this recommendation": its section's own)
_REFERS_BACK = re.compile(r"^(?:These|This|Those|They|Such|It|Its|Their|The latter|The former)\b|"
                          r"^(?:\w+,?\s+){1,2}(?:this|these|those|such|both)\s+"
                          r"(?!recommendation\b|as\b)\w+")
# a question about one recommendation ("the deadline for the IP risk recommendation"); in
# English, French and Spanish
_ONE_RECOMMENDATION = re.compile(
    r"\b(?:recommendation|recommandation|recomendaci[óo]n|recc?|reco)\b", re.IGNORECASE)
_HELP_TRIGGERS = frozenset("help menu commands start aide ayuda".split())
# The words that make a small-talk message a thanks or a goodbye ("how are you" has "you",
# as "thank you" does, and is a greeting).
_SMALL_TALK_SAYS = {
    "thanks": frozenset("thanks thank thx ty cheers appreciated helpful merci gracias".split()),
    "bye": frozenset("bye goodbye later ciao cya night revoir adieu adiós adios chao luego "
                     "have journée soirée nuit semaine semana jornada fin".split()),
}
_GREETING_PREFIX = re.compile(
    r"^\s*(?:hi|hello|hey|hiya|greetings|dear\s+\w+|good\s+(?:morning|afternoon|evening|day)|"
    r"bonjour|bonsoir|salut|hola|buen[oa]s(?:\s+(?:d[íi]as|tardes|noches))?|"
    r"thanks|thank you|thx|ok|okay|great|cool|perfect|merci|d['’]accord|parfait|gracias|"
    r"vale|perfecto)"
    r"(?:\s+(?:there|all|team|everyone))?\s*[,!.:;-]+\s*(?=\S)|"
    r"^\s*(?:hi|hello|hey)\s+(?=(?:what|how|why|who|where|when|which|is|are|can|do|does|"
    r"should|could|would|will|i|we)\b)", re.IGNORECASE)


@dataclass(frozen=True)
class Quote:
    """Verbatim units of one passage, as shown: `text` joins them (" … " marks a gap)."""

    hit: Hit
    units: tuple[int, ...]
    text: str
    score: float


@dataclass(frozen=True)
class Answer:
    """An answer to show, or the honest statement that the guidance does not cover it.

    `reason`: "answered"; "not_covered" (with the `closest` passages); "empty", "no_words",
    "number_only" (digits and punctuation: "1" typed for a button), "link_only" (a web or
    e-mail address alone), "no_terms" (nothing to search);
    "small_talk" (`small_talk` names the kind);
    "unsupported_language" (a language other than English, French and Spanish).
    `language` is the one the question was read in ("en", "fr", "es"), None when it is
    in another language.
    """

    question: str
    query: str  # what was searched (with the previous question for a follow-up)
    grounded: bool
    reason: str
    quotes: list[Quote] = field(default_factory=list)
    closest: list[Quote] = field(default_factory=list)
    version: str = ""
    top_score: float = 0.0
    truncated: bool = False
    follow_up: bool = False
    small_talk: str | None = None
    language: str | None = "en"

    @property
    def hits(self) -> list[Hit]:
        """The passages the answer used (quoted or shown as closest), each once."""
        seen: dict[str, Hit] = {}
        for quote in self.quotes or self.closest:
            seen.setdefault(quote.hit.chunk.id, quote.hit)
        return list(seen.values())


def has_words(text: str) -> bool:
    """True when the text has at least one word with a letter ("12345" or "?!" has none)."""
    return bool(_LETTERS.search(text))


def small_talk(text: str) -> str | None:
    """"greeting", "thanks", "bye", "ack" or "help" when the message is only that."""
    words = [w.lower() for w in _WORDS.findall(text)]
    if not words or len(words) > 8:
        return None
    if not set(words) <= frozenset().union(*_SMALL_TALK.values()):
        return None
    if set(words) & _HELP_TRIGGERS or set(words) <= _SMALL_TALK["help"]:
        return "help"
    for kind in ("thanks", "bye"):
        if set(words) & _SMALL_TALK_SAYS[kind]:
            return kind
    if set(words) & (_SMALL_TALK["greeting"] - _SMALL_TALK["ack"]):
        return "greeting"
    return "ack"


def without_greeting(text: str) -> str:
    """"hi, what is the Partner Portal?" -> "what is the Partner Portal?"."""
    return _GREETING_PREFIX.sub("", text, count=1)


def is_follow_up(question: str) -> bool:
    """An elliptic question that only makes sense with the previous one ("and for NGOs?")."""
    text = question.strip()
    words = _WORDS.findall(text)
    if not words or len(words) > FOLLOW_UP_WORDS:
        return False
    return bool(_FOLLOW_UP_START.match(text) or _PRONOUN_START.match(text))


def search_query(question: str, previous: str | None, *,
                 replied: bool = False) -> tuple[str, bool]:
    """The text to search: a follow-up is searched together with the previous question. A
    short reply to an earlier answer is a follow-up of it whatever its first word."""
    if previous and (is_follow_up(question) or (
            replied and 0 < len(_WORDS.findall(question)) <= FOLLOW_UP_WORDS)):
        return f"{previous} {question}", True
    return question, False


# --- quotes ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Scored:
    """A unit of one of the top passages, scored for the quotes."""

    hit: Hit
    rank: int
    evidence: UnitEvidence
    score: float

    @property
    def position(self) -> int:
        return self.evidence.position


def _scored_units(result: SearchResult) -> list[_Scored]:
    """Every unit of the top passages: its evidence plus its passage's rank score."""
    hits = result.hits[:EVIDENCE_PASSAGES]
    best = max((h.score for h in hits), default=1.0) or 1.0
    return [_Scored(hit, rank, e, e.score + UNIT_RANK * hit.score / best)
            for rank, hit in enumerate(hits) for e in hit.evidence]


def _shorten(text: str) -> str:
    """A list item by its opening words: up to its label's colon, or its first ten words."""
    head, colon, _ = text.partition(":")
    if colon and len(head) <= 80:
        return head + ": …"
    words = text.split()
    return text if len(words) <= 10 else " ".join(words[:10]) + " …"


def quote_text(pieces: list[Unit], chosen: Sequence[int]) -> str:
    """The quoted text of some units of one passage. A chosen list item or lead-in brings the
    whole list: the lead-in, then each item on its own line (by its opening words when the
    list is long, except the chosen ones); a later sentence of a labelled field comes after its
    label; a nested bullet (an action point's progress) starts a line; " … " marks a gap. A
    sentence the passage prints twice (a UNECE row's response repeated under its comments) is
    quoted once."""
    shown = set(chosen)
    for position in chosen:
        unit = pieces[position]
        lead = position if unit.kind == "lead" else unit.lead
        if lead is not None:
            shown |= {lead, *(i for i, u in enumerate(pieces) if u.lead == lead)}
    order = sorted(shown)
    long_list = sum(len(pieces[p].text) for p in order) > LIST_CHARS
    out = ""
    previous: int | None = None
    seen: set[str] = set()
    for position in order:
        unit = pieces[position]
        text = unit.text
        if text in seen:
            continue
        seen.add(text)
        if unit.kind == "item" and position not in chosen and long_list:
            first_of_item = position == min(i for i in order if pieces[i].lead == unit.lead
                                            and pieces[i].item == unit.item)
            if not first_of_item:
                continue
            text = _shorten(text)
        if unit.label and not text.startswith(unit.label) and (
                previous is None or pieces[previous].label != unit.label):
            text = f"{unit.label}: … {text}"
        new_line = previous is not None and (
            (unit.kind == "item" and (pieces[previous].item != unit.item
                                      or pieces[previous].kind == "lead"))
            or (unit.label is not None and pieces[previous].label != unit.label)
            or (unit.under is not None and pieces[previous].under != unit.under))
        if previous is None:
            out = text
        elif new_line:
            out += "\n" + text
        else:
            out += (" " if position == previous + 1 else " … ") + text
        previous = position
    return out


def select_quotes(result: SearchResult) -> tuple[list[Quote], list[_Scored]]:
    """The quotes of a grounded answer, best first, and every scored unit."""
    scored = _scored_units(result)
    if not scored:
        return [], scored
    ranked = sorted(scored, key=lambda s: -s.score)
    if result.kind:  # asked for a date, a number ...: a unit on the subject must print one
        subject = _subject(result)
        typed = [s for s in ranked if s.evidence.typed and s.score >= TYPED_RATIO * ranked[0].score
                 and _on_subject(result, s, subject)]
        if not typed:
            return [], scored
        typed.sort(key=lambda s: not _label_asked(result, s.evidence.unit))  # stable
        ranked = [typed[0], *(s for s in ranked if s is not typed[0])]
    elif result.language == "en" and asks_for_list(result.query):
        subject = _subject(result)
        if not any(enumerates(s.evidence.unit.text) and s.score >= TYPED_RATIO * ranked[0].score
                   and _on_subject(result, s, subject) for s in ranked):
            return [], scored  # "what are the 'Clinton principles'": none lists any
    if not result.kind and ranked[0].rank != 0:  # a near tie goes to the passage ranked first
        top = next((s for s in ranked if s.rank == 0), None)
        if top is not None and top.score >= TOP_PASSAGE_RATIO * ranked[0].score:
            ranked = [top, *(s for s in ranked if s is not top)]
    first = ranked[0]
    chosen: list[_Scored] = [first]
    about = _recommendation(first.hit) if _ONE_RECOMMENDATION.search(result.query) else None
    terms = result.terms
    covered = {i for i, t in enumerate(terms) if term_share(t, first.evidence.tokens) >= 1.0}
    for candidate in ranked[1:]:
        if len(chosen) >= MAX_QUOTES or candidate.score < FURTHER_RATIO * first.score:
            break
        new_terms = {i for i, t in enumerate(terms)
                     if i not in covered and term_share(t, candidate.evidence.tokens) >= 1.0}
        close = candidate.evidence.cosine >= first.evidence.cosine - COSINE_MARGIN
        if not (close or new_terms) or any(candidate.evidence.unit.text == c.evidence.unit.text
                                           for c in chosen):
            continue
        other = _recommendation(candidate.hit)
        if about is not None and other is not None and other != about:
            continue  # about another recommendation than the first quote
        chosen.append(candidate)
        covered |= new_terms
    return _as_quotes(chosen), scored


def _recommendation(hit: Hit) -> tuple[str, str] | None:
    """The recommendation a passage states or is about, with its document, or None."""
    label = hit.chunk.recommendation
    return (hit.chunk.source, label) if label else None


def _on_subject(result: SearchResult, unit: _Scored,
                subject: tuple[list[Term], list[float]]) -> bool:
    """Whether a unit that prints the kind of fact asked for prints it about the question's
    subject (English questions only): for "how many X", a number of X itself (`counts`:
    "three more courses" does not say how many partners); otherwise `TYPED_COVERAGE` of the
    weighted terms of the clause that asks for it (`subject`: `_subject`). A labelled field ("Target
    date: 31 December 2023") is about its row: the passage's terms count for it, except those
    its label prints ("deadline": "Target date"). For "which company ...", the unit must name
    a company beside its mention of one (`names_mentioned`): "joined forces with a
    pharmaceutical company" does not say which, nor does a name printed elsewhere."""
    if result.language != "en":
        return True
    if result.asked is not None and result.asked.counted:
        return counts(unit.evidence.unit.text, result.asked.terms)
    if result.kind == "name" and result.asked is not None and result.asked.which \
            and not names_mentioned(unit.evidence.unit.text, result.asked.terms, result.query,
                                    holder=result.asked.holder):
        return False  # "which company": "a pharmaceutical company" does not say which
    terms, weights = subject
    if not unit.evidence.unit.label:
        return coverage(terms, weights, unit.evidence.tokens) >= TYPED_COVERAGE
    label = frozenset(tokenize(unit.evidence.unit.label))
    rest = [(t, w) for t, w in zip(terms, weights, strict=True)
            if term_share(t, label) < 1.0]
    return bool(rest) and coverage([t for t, _ in rest], [w for _, w in rest],
                                   unit.hit.tokens) >= TYPED_COVERAGE


def _subject(result: SearchResult) -> tuple[list[Term], list[float]]:
    """The question's terms and weights that say what the fact asked for is about: those of
    the clause asking for it when the question has several ("How much cash did businesses
    donate after the tsunami, and what was the main difficulty ...": the cash, not the
    difficulty), else all of them."""
    pairs = list(zip(result.terms, result.weights, strict=True))
    clauses = _CLAUSE.split(result.query)
    asking = [c for c in clauses if answer_type(c) == result.kind] if len(clauses) > 1 else []
    if asking:
        tokens = set(tokenize(expand_acronyms(normalise(asking[0]))))
        kept = [(t, w) for t, w in pairs if any(set(form) <= tokens for form in t.forms)]
        if kept:
            pairs = kept
    return [t for t, _ in pairs], [w for _, w in pairs]


def _names(asked: Asked, tokens: frozenset[str]) -> bool:
    """Whether a text (its stemmed tokens) prints one of the terms of the thing asked for."""
    return any(term_share(term, tokens) >= 1.0 for term in asked.terms)


def _label_asked(result: SearchResult, unit: Unit) -> bool:
    """Whether a unit is a labelled field whose label names what the question asks for: a
    question term ("who is responsible": "Responsibility: DES"), or a deadline asked for
    ("is there a deadline": "Target date: 31 December 2023"); in French or Spanish, in the
    question's words (`_LANGUAGE_LABELS`)."""
    if not unit.label:
        return False
    if result.language in _LANGUAGE_LABELS:
        return any(label.match(unit.label) and asks.search(result.query)
                   for label, asks in _LANGUAGE_LABELS[result.language])
    if _DATE_LABEL.match(unit.label) and _ASKS_DEADLINE.search(result.query):
        return True
    label = frozenset(tokenize(unit.label))
    return any(term_share(term, label) >= 1.0 for term in result.terms)


def _names_missing(result: SearchResult, top: Sequence[Hit]) -> bool:
    """Whether none of the top passages names the thing asked for. A question asking for a
    kind of fact ("is there a deadline ...") is judged by the fact instead (`_on_subject`):
    the guidance prints a deadline as "Target date:" or "by the end of 2024"."""
    asked = result.asked
    if asked is None or (result.kind is not None and not asked.counted):
        return False
    return not any(_names(asked, h.tokens) for h in top)


def _year_missing(query: str, first: Quote) -> bool:
    """Whether the question names a year ("the 2006 meeting") that the passage quoted first
    does not print: it is about another year's."""
    years = _YEAR.findall(query)
    return bool(years) and not any(year in first.hit.chunk.text for year in years)


def _as_quotes(chosen: list[_Scored]) -> list[Quote]:
    """Group the chosen units by passage (in the order each passage was first chosen) and keep
    the quotes within `QUOTE_CHARS` in all; a text already quoted is not quoted again. Each is
    quoted with the context it needs (`_with_context`); one that does not fit so is quoted
    without it where room is left once the others are in."""
    groups: dict[str, list[_Scored]] = {}
    for item in chosen:
        groups.setdefault(item.hit.chunk.id, []).append(item)
    entries = list(groups.values())
    kept: dict[int, Quote] = {}
    left_out: list[int] = []
    used = 0
    for place, items in enumerate(entries):
        hit = items[0].hit
        pieces = units(hit.chunk.text)
        positions = _with_context(hit, pieces, tuple(sorted({i.position for i in items})))
        text = quote_text(pieces, positions)
        if any(text == q.text for q in kept.values()):
            continue
        if kept and used + len(text) > QUOTE_CHARS:
            left_out.append(place)
            continue
        used += len(text)
        kept[place] = Quote(hit, positions, text, max(i.score for i in items))
    for place in left_out:
        items = entries[place]
        hit = items[0].hit
        positions = tuple(sorted({i.position for i in items}))
        text = quote_text(units(hit.chunk.text), positions)
        if used + len(text) <= QUOTE_CHARS and not any(text == q.text for q in kept.values()):
            used += len(text)
            kept[place] = Quote(hit, positions, text, max(i.score for i in items))
    return [kept[place] for place in sorted(kept)]


def _with_context(hit: Hit, pieces: list[Unit], chosen: tuple[int, ...]) -> tuple[int, ...]:
    """The chosen units of one passage with the context they need to be read alone."""
    evidence = {e.position for e in hit.evidence}
    shown = set(chosen)
    for position in chosen:
        before, after = position - 1, position + 1
        unit = pieces[position]
        # a sentence that refers back ("These steps include ...") needs the one before it
        if _REFERS_BACK.match(unit.text) and before in evidence and unit.kind != "item":
            shown.add(before)
        # a short statement ("UNECE partially accepts the recommendation.") brings the
        # sentence after it, and so does one the next sentence refers back to
        if (after in evidence and pieces[after].kind not in ("item", "lead")
                and unit.kind != "lead" and (len(unit.text) < SHORT_UNIT
                                             or _REFERS_BACK.match(pieces[after].text))):
            shown.add(after)
        # an action point brings the first line of the progress reported under it
        below = [i for i, u in enumerate(pieces) if u.under == position]
        if below and not shown & set(below) and pieces[below[0]].kind != "lead":
            shown.add(below[0])
    return tuple(sorted(shown))


def closest_quotes(result: SearchResult, scored: list[_Scored] | None = None) -> list[Quote]:
    """For a declined question: each of the top passages by its unit that best matches it."""
    if scored is None:
        scored = _scored_units(result)
    best: dict[str, _Scored] = {}
    for item in scored:
        current = best.get(item.hit.chunk.id)
        if current is None or item.score > current.score:
            best[item.hit.chunk.id] = item
    top = sorted(best.values(), key=lambda s: s.rank)[:CLOSEST]
    return [Quote(s.hit, (s.position,), quote_text(units(s.hit.chunk.text), (s.position,)),
                  s.score) for s in top]


# --- grounding ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Grounding:
    """What the grounding decision rests on."""

    cosine: float  # best unit cosine in the top passages
    coverage: float  # best weighted share of the question's terms one top passage prints
    score: float  # the blend compared with the threshold


def grounding(result: SearchResult, scored: list[_Scored] | None = None) -> Grounding:
    """The evidence that the guidance covers the question (see the module docstring).

    A French or Spanish question has for terms its acronyms and the glossary's terms
    (index/queries.py `language_terms`): its score is the best unit cosine alone when it has
    none, else the cosine blended with their coverage (`LANGUAGE_GROUNDING_COSINE`: an acronym
    no passage prints - a thing the guidance never names - pulls it down); when they read
    every word it asks about (`unread_words`: "Qu'est-ce que le HACT ?"), their coverage
    tells as much as an English question's, and the English blend decides."""
    if scored is None:
        scored = _scored_units(result)
    cosine = max((s.evidence.cosine for s in scored), default=result.top_dense)
    top = result.hits[:COVERAGE_PASSAGES]
    covered = max((coverage(result.terms, result.weights, h.tokens) for h in top), default=0.0)
    if result.language == "en":
        score = GROUNDING_COSINE * cosine + (1.0 - GROUNDING_COSINE) * covered
        if _names_missing(result, top):
            score *= ASKED_MISSING
    elif result.terms:
        share = (GROUNDING_COSINE if not unread_words(result.query, result.language)
                 else LANGUAGE_GROUNDING_COSINE)
        score = share * cosine + (1.0 - share) * covered
    else:
        score = cosine
    return Grounding(cosine, covered, score)


def compose(question: str, result: SearchResult, *, threshold: float, follow_up: bool = False,
            truncated: bool = False, language_threshold: float | None = None) -> Answer:
    """Build the answer from the search result: quotes when grounded, else the closest.

    `threshold` decides for an English question; `language_threshold` (default: the
    language's `LANGUAGE_THRESHOLDS`) for a French or Spanish one, whose score is on another
    scale (`grounding`)."""
    quotes, scored = select_quotes(result)
    judged = grounding(result, scored)
    common = {"question": question, "query": result.query, "version": result.version,
              "top_score": judged.score, "truncated": truncated, "follow_up": follow_up,
              "language": result.language}
    if result.language != "en":
        threshold = (LANGUAGE_THRESHOLDS.get(result.language, threshold)
                     if language_threshold is None else language_threshold)
    if not quotes or judged.score < threshold or _year_missing(result.query, quotes[0]):
        return Answer(grounded=False, reason="not_covered",
                      closest=closest_quotes(result, scored), **common)  # type: ignore[arg-type]
    return Answer(grounded=True, reason="answered", quotes=quotes,
                  **common)  # type: ignore[arg-type]


def question_language(text: str) -> str | None:
    """The language a question is read in: "en", "fr" or "es" when it is clearly one of them,
    "en" as well when there is too little to tell ("HACT?": acronyms are English), None when
    it is in another language (index/language.py)."""
    guess = identify(text)
    if guess.language is not None:
        return guess.language
    return None if guess.other is not None else "en"


def answer_question(question: str, searcher: Searcher, *, threshold: float, top_k: int = 5,
                    previous: str | None = None, replied: bool = False,
                    language: str | None = None,
                    language_threshold: float | None = None) -> Answer:
    """Answer one message; `previous` is the question it may follow up (the last one in this
    conversation, or the one whose answer the user replied to: `replied`).

    The question is read in its own language (`question_language`, or `language` when
    given): an English one as English, a French or Spanish one is matched with the English
    guidance across languages (index/search.py), one in another language gets
    "unsupported_language"."""
    text = question.strip()
    if not text:
        return Answer(question=question, query="", grounded=False, reason="empty")
    if not has_words(text):
        reason = "number_only" if any(c.isdigit() for c in text) else "no_words"
        return Answer(question=question, query="", grounded=False, reason=reason)
    if not has_words(_ADDRESS.sub(" ", text)):
        return Answer(question=question, query="", grounded=False, reason="link_only")
    kind = small_talk(text)
    if kind is not None:
        return Answer(question=question, query="", grounded=False, reason="small_talk",
                      small_talk=kind, language=language or question_language(text))
    truncated = len(text) > MAX_QUERY_CHARS
    text = without_greeting(text[:MAX_QUERY_CHARS])
    read_as = language or question_language(text)
    if read_as is None:
        return Answer(question=question, query="", grounded=False,
                      reason="unsupported_language", language=None)
    if read_as == "en" and not query_terms(expand_acronyms(normalise(text))):
        return Answer(question=question, query="", grounded=False, reason="no_terms")
    query, follow_up = search_query(text, previous, replied=replied)
    result = searcher.search(query, max(top_k, EVIDENCE_PASSAGES), language=read_as)
    return compose(question, result, threshold=threshold, follow_up=follow_up,
                   truncated=truncated, language_threshold=language_threshold)
