"""Query normalisation: acronyms spelled out, synonyms, content terms, sentences.

Staff write "IP", "PSEA" or "KPIs" where the guidance prints "implementing partner", "prevention
of sexual exploitation and abuse" or "key performance indicators". Neither BM25 (no shared word)
nor the small dense model (which reads "IP" as intellectual property) connects the two, so each
known acronym in a query is followed by its long form before searching: the acronym itself stays,
for the passages that print it. The acronyms, synonyms, short forms, spellings and chat words
are data about the domain and the conversation, not about particular questions
(index/vocabulary.py).

`query_terms` gives the content terms of a query (function words left out, each term with the
other ways to write it); they feed both the weighted BM25 query and the coverage part of the
confidence (index/search.py). `focus_sentence` picks the last sentence of a message: a follow-up
is searched together with the previous question, and what is asked now weighs more.

Pure functions only: no model, no index.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import bm25s.stopwords

from index.keyword import STOPWORDS, tokenize
from index.lexicon import english_terms, fold, folded_words
from index.vocabulary import (
    ABBREVIATIONS,
    ACRONYMS,
    CHAT_PHRASES,
    CHAT_WORDS,
    SPELLING_STEMS,
    SPELLINGS,
    SYNONYMS,
)

_ABBREVIATION = re.compile(
    r"(?<![\w/'’])(" + "|".join(sorted(map(re.escape, ABBREVIATIONS), key=len, reverse=True))
    + r")(?![\w/-])", re.IGNORECASE)
_SPELLING = re.compile(r"\b(" + "|".join(SPELLINGS) + r")\b", re.IGNORECASE)
_ISE = re.compile(r"\b((?:" + "|".join(SPELLING_STEMS) + r")i)s(e|ed|es|ing)\b|"
                  r"\b([A-Za-z]{3,}i)sation(s?)\b", re.IGNORECASE)


_ACRONYM = re.compile(
    r"(?<![\w&])(" + "|".join(sorted(map(re.escape, ACRONYMS), key=len, reverse=True))
    + r")(s|’s|'s)?(?![\w&])"
)
# After ? or !, or after a full stop that ends a word of 3+ letters before a capital ("e.g. x",
# "No. 5" and "U.N. staff" do not end a sentence).
_SENTENCE = re.compile(r"(?<=[?!])\s+(?=\S)|(?<=[^\W\d_]{3}\.)\s+(?=[A-Z\"“(])")


def expand_acronyms(query: str) -> str:
    """`Do IPs need PSEA training?` -> `Do IPs (implementing partners) need PSEA (prevention
    of sexual exploitation and abuse) training?`; a long form already in the query is not added
    twice."""
    lowered = query.lower()

    def spell(match: re.Match[str]) -> str:
        acronym, suffix = match.group(1), match.group(2) or ""
        long_form = ACRONYMS[acronym]
        if long_form.lower() in lowered:
            return match.group(0)
        if suffix == "s" and not long_form.endswith("s"):
            long_form += "s"
        return f"{acronym}{suffix} ({long_form})"

    return _ACRONYM.sub(spell, query)


def sentences(query: str) -> list[str]:
    """The sentences of a message (see `_SENTENCE` for where it is cut)."""
    return [part.strip() for part in _SENTENCE.split(query.strip()) if part.strip()]


def focus_sentence(query: str) -> str | None:
    """The last sentence of a message of several sentences, else None.

    A follow-up is searched as `<previous question> <follow-up>`; the last sentence is what is
    asked now, the earlier ones are context.
    """
    parts = sentences(query)
    return parts[-1] if len(parts) > 1 else None


# English function words (the common NLTK list, plus the tokenizer's own stopwords): they carry
# no topic, so they are neither searched for nor required in a passage.
FUNCTION_WORDS = STOPWORDS | frozenset("""
i me my myself we our ours ourselves you your yours yourself yourselves he him his himself she
her hers herself it its itself they them their theirs themselves what which who whom this that
these those am is are was were be been being have has had having do does did doing a an the and
but if or because as until while of at by for with about against between into through during
before after above below to from up down in out on off over under again further then once here
there when where why how all any both each few more most other some such no nor not only own
same so than too very can will just don should now cannot without within upon via across
toward towards among amongst onto every
""".split())

_APOSTROPHE = re.compile(r"[’‘`]")
# Acronyms typed in lower case, as staff chat ("what is hact", "dd for ngos"), read as the
# acronym; not those that are English words or chat in lower case ("who", "sea", "erm").
_NOT_LOWER_ACRONYMS = frozenset("who sea co des erm ga sop tor ola pri".split())
_BY_LOWER = {acronym.lower(): acronym for acronym in sorted(ACRONYMS, reverse=True)}
_LOWER_ACRONYM = re.compile(
    r"(?<![\w&])(" + "|".join(sorted((re.escape(a) for a in _BY_LOWER
                                       if a not in _NOT_LOWER_ACRONYMS), key=len, reverse=True))
    + r")(s|'s)?(?![\w&])")
_CONTRACTION = re.compile(r"\b(can|won)'t\b|n't\b|'(?:s|re|ve|ll|d|m)\b", re.IGNORECASE)
# The same typed without the apostrophe ("cant", "dont", "doesnt").
_BARE_NOT = re.compile(r"\b(can|don|doesn|didn|isn|aren|wasn|weren|shouldn|couldn|wouldn|"
                       r"haven|hasn|won)t\b", re.IGNORECASE)
_SENTENCE_START = re.compile(r"[.?!:;\"“(]\s*$")
_WORD = re.compile(r"[A-Za-z0-9&]+(?:[-'][A-Za-z0-9&]+)*")


def _as_cased(written: str, word: str) -> str:
    """`word` capitalised as `written` is ("Labor" -> "Labour")."""
    return word.capitalize() if written[:1].isupper() else word


def capitalise_acronyms(text: str) -> str:
    """The acronyms of a text typed in lower case in capitals: "what is hact" -> "what is
    HACT", "ngos" -> "NGOs" (not "who", "sea": `_NOT_LOWER_ACRONYMS`)."""
    return _LOWER_ACRONYM.sub(lambda m: _BY_LOWER[m.group(1)] + (m.group(2) or ""), text)


def normalise(query: str) -> str:
    """Typographic apostrophes made plain, acronyms typed in lower case in capitals
    (`hact` -> `HACT`), contractions undone (`We’re` -> `We`, `can't`
    -> `can not`, `IP's` -> `IP`) so that the tokenizer's stopwords apply, the short forms
    staff type written out (`rec 2` -> `recommendation 2`), and words spelt the guidance's way
    (`organisation` -> `organization`, `labor` -> `labour`: index/vocabulary.py)."""
    text = capitalise_acronyms(_APOSTROPHE.sub("'", query))
    text = _ABBREVIATION.sub(lambda m: ABBREVIATIONS[m.group(1).lower()], text)
    text = _SPELLING.sub(lambda m: _as_cased(m.group(0), SPELLINGS[m.group(0).lower()]), text)
    text = _ISE.sub(lambda m: f"{m.group(1)}z{m.group(2)}" if m.group(1)
                    else f"{m.group(3)}zation{m.group(4)}", text)

    def undo(match: re.Match[str]) -> str:
        if match.group(1):
            return {"can": "can not", "won": "will not"}[match.group(1).lower()]
        return " not" if match.group(0).lower() == "n't" else ""

    text = _CONTRACTION.sub(undo, text)
    return _BARE_NOT.sub(lambda m: {"can": "can not", "won": "will not"}.get(
        m.group(1).lower(), m.group(1)[:-1] + " not"), text)


@dataclass(frozen=True)
class Term:
    """One thing the query asks about, and the ways a passage may print it.

    `tokens` are the stemmed tokens as written (a hyphenated word: the whole, then its parts);
    `alternatives` the stemmed tokens of other ways to say it: an acronym's long form
    (`IP` -> `("implement", "partner")`) or a domain synonym (`companies` -> `("busi",)`).
    `name` marks a word written with a capital inside a sentence (a name: "Nestle", "Umoja")
    or an acronym; `proper` one of them that names an organization, a place or a programme
    ("UNECE", "UNICEF", "Nestle"), not a concept ("IP", "KPI").
    """

    text: str
    tokens: tuple[str, ...]
    alternatives: tuple[tuple[str, ...], ...] = ()
    name: bool = False
    proper: bool = False

    @functools.cached_property
    def forms(self) -> tuple[tuple[str, ...], ...]:
        """Each way a passage may print the term: as written (a hyphenated word also as its
        parts), then each alternative."""
        written = ((self.tokens[0],), self.tokens[1:]) if len(self.tokens) > 1 else (self.tokens,)
        return written + self.alternatives


# Words every passage is about, however it writes them: the guidance is the UN's, and its
# documents print "UN" (the 2006 note, 44 times) or "United Nations" (the others), so the word
# of a question would only lift the note that abbreviates it.
EVERYWHERE = frozenset({"un"})


def _stems(phrase: str) -> tuple[str, ...]:
    return tuple(t for t in tokenize(phrase) if t not in FUNCTION_WORDS)


def query_terms(query: str) -> list[Term]:
    """The content terms of a query, in order: function and chat words left out, and "UN"."""
    terms: list[Term] = []
    text = CHAT_PHRASES.sub(" ", normalise(query))
    for match in _WORD.finditer(text):
        word = match.group(0)
        acronym = _ACRONYM.fullmatch(word)
        if acronym:
            short = tuple(tokenize(acronym.group(1)))
            long_form = _stems(ACRONYMS[acronym.group(1)])
            if short:
                terms.append(Term(word, short, (long_form,) if long_form else (), name=True,
                                  proper=ACRONYMS[acronym.group(1)][:1].isupper()))
            continue
        lowered = word.lower()
        if lowered in FUNCTION_WORDS or lowered in CHAT_WORDS or lowered in EVERYWHERE:
            continue
        tokens = tuple(t for t in tokenize(word) if t not in FUNCTION_WORDS)
        if not tokens:
            continue
        synonyms = tuple(s for s in map(_stems, SYNONYMS.get(lowered, ())) if s)
        starts_sentence = not text[: match.start()].strip() or bool(
            _SENTENCE_START.search(text[: match.start()]))
        name = word[0].isupper() and not starts_sentence
        terms.append(Term(word, tokens, synonyms, name=name, proper=name))
    return terms


# --- what kind of answer a question asks for ------------------------------------------------

AnswerType = str  # "money", "share", "number", "date", "frequency" or "name"
_ASKS = {
    "money": re.compile(r"\bhow much (?:money|funding|funds|cash|does \w+(?: \w+){0,4} cost)\b|"
                        r"\bhow much\b.*\b(?:cost|costs|pay|paid|spend|spent|raised|mobili[sz]ed|"
                        r"committed|contributed|donated|channel|fund)\b|"
                        r"\b(?:what|which) (?:amount|sum|fee|price|cost)\b|\bhow much is the fee\b|"
                        r"\b(?:maximum|minimum|largest|smallest) (?:cash|amount|sum|advance|"
                        r"contribution|grant|budget)\b|\bwhat (?:contribution )?amount\b",
                        re.IGNORECASE),
    "share": re.compile(r"\bwhat (?:share|percentage|percent|proportion|fraction|rate)\b|"
                        r"\bhow much of\b", re.IGNORECASE),
    "frequency": re.compile(r"\bhow (?:often|frequently|regularly)\b|\bat what intervals?\b",
                            re.IGNORECASE),
    # not "When UNECE sets out ..., does it have to ...": a clause of time before the question
    "date": re.compile(r"^\W*(?:and\s+|so\s+)?(?:where and )?when\b(?![^,?]{3,}?,\s*(?:does|do|did|"
                       r"is|are|was|were|should|can|could|must|will|would|has|have|how|what|"
                       r"who|why|which)\b)|"
                       r"\b(?:by|since|until|till) when\b|"
                       r"\bwhat (?:date|year|month|day)\b|\bwhich (?:date|year|month)\b|"
                       r"\bdeadlines?\b|\btarget date\b|\bwhat time(?:line|frame)\b",
                       re.IGNORECASE),
    "number": re.compile(r"\bhow (?:many|much|long|large|big|old)\b|"
                         r"\bwhat(?:'s|s| is| was| are)? (?:the )?(?:share|percentage|percent|"
                         r"proportion|amount|rate|number|sum|budget|cost|price|fee|size|"
                         r"duration|total|figure)\b|"
                         r"\b(?:above|below|up to|over|under|from) what (?:amount|value|sum|"
                         r"level|threshold|size)\b|\bmaximum\b|\bminimum\b|\bthreshold\b",
                         re.IGNORECASE),
    # "who is the course for", "who is rec 3 aimed at": the audience, which the guidance
    # describes ("individuals ... who have responsibility for building partnerships"), no name
    "name": re.compile(r"^\W*(?:and\s+)?(?:who|whom|whose|whos)\b(?!(?: is| are|'s)\b[^,;?]{0,60}?"
                       r"\b(?:aimed at|addressed to|targeted at|meant for|intended for|open to|"
                       r"(?:actually|really|only) for|for)\s*(?:[,;?]|$|only\b|or\b))|"
                       r"(?:^|[,;:]\s*)\W*which (?:[a-z-]+ )?(?:companies|company|firms?|"
                       r"businesses|business|corporations?|organi[sz]ations?|agenc(?:y|ies)|"
                       r"entit(?:y|ies)|persons?|people|countr(?:y|ies)|donors?|partners?|offices?|units?)\b|"
                       r"\bwhat(?:'s|s| is| was) the name\b|\bthe name of\b|\bdocument symbol\b",
                       re.IGNORECASE),
}
# A question for the members of a plural thing ("what are the main types of ...", "what topics
# should the training cover"): a list answers it, or a sentence that enumerates.
_ASKS_LIST = re.compile(r"^(?:\w+,?\s+)?(?:what|which)\s+(?:are|were|will be)\s+the\s+"
                       r"(?:[\w'-]+\s+){0,4}?[a-z]+s\b|^(?:\w+,?\s+)?(?:what|which)\s+[a-z]+s\s+"
                       r"(?:do|does|did|should|must|will|would)\b", re.IGNORECASE)


# The same questions in French and Spanish ("combien coûte", "à quelle fréquence", "quand";
# "cuánto cuesta", "cada cuánto", "cuándo", "quién"), accents optional.
_ASKS_IN: dict[str, dict[str, re.Pattern[str]]] = {
    "fr": {
        "money": re.compile(r"\bcombien (?:co[uû]te|co[uû]tent|d'argent|de fonds)\b|"
                            r"\bquel (?:montant|co[uû]t|prix|budget)\b|\ble montant\b|"
                            r"\bmontant maxim", re.I),
        "share": re.compile(r"\bquel(?:le)? (?:part|pourcentage|proportion|taux)\b", re.I),
        "frequency": re.compile(r"\b(?:[àa] quelle fr[ée]quence|tous les combien|"
                                r"combien de fois)\b", re.I),
        "date": re.compile(r"^\W*(?:et\s+)?quand\b|\b(?:depuis|jusqu'[àa]) quand\b|"
                           r"\bquand\s*\?|\b(?:quelle|date) (?:date|ann[ée]e|[ée]ch[ée]ance)\b|"
                           r"\bd[ée]lai\b|\b[ée]ch[ée]ance\b|\bdate (?:limite|butoir|cible)\b",
                           re.I),
        "number": re.compile(r"\bcombien\b|\bquel (?:nombre|seuil)\b|"
                             r"\b[àa] partir de quel\b|\bmaximum\b|\bminimum\b|\bseuil\b",
                             re.I),
        "name": re.compile(r"^\W*(?:et\s+)?qui\b|\bqui (?:est|sont|g[èe]re|s'occupe)\b|"
                           r"\bc['’]est qui\b|\bqui c['’]est\b|\b(?:le|du|son|leur) nom\b|"
                           r"\bquel(?:le)?s? (?:entreprises?|soci[ée]t[ée]s?|organisations?|"
                           r"agences?|entit[ée]s?|pays|donateurs?|bureaux?)\b", re.I),
    },
    "es": {
        "money": re.compile(r"\bcu[áa]nto (?:cuesta|cuestan|dinero)\b|"
                            r"\bqu[ée] (?:monto|importe|costo|precio|presupuesto)\b|"
                            r"\b(?:anticipo|monto) m[áa]ximo\b", re.I),
        "share": re.compile(r"\bqu[ée] (?:porcentaje|proporci[óo]n|parte|tasa)\b", re.I),
        "frequency": re.compile(r"\b(?:cada cu[áa]nto|con qu[ée] frecuencia|"
                                r"cu[áa]ntas veces)\b", re.I),
        "date": re.compile(r"^\W*[¿¡]?\s*(?:y\s+)?cu[áa]ndo\b|\b(?:desde|hasta) cu[áa]ndo\b|"
                           r"\bqu[ée] (?:fecha|a[ñn]o)\b|\bplazo\b|\bfecha (?:l[íi]mite|meta|"
                           r"objetivo)\b", re.I),
        "number": re.compile(r"\bcu[áa]nt[oa]s?\b|\bqu[ée] (?:n[úu]mero|umbral)\b|"
                             r"\ba partir de qu[ée]\b|\bm[áa]ximo\b|\bm[íi]nimo\b|\bumbral\b",
                             re.I),
        "name": re.compile(r"^\W*[¿¡]?\s*(?:y\s+)?qui[ée]n(?:es)?\b|"
                           r"\bqu[ée] (?:empresas?|compa[ñn][íi]as?|organizaciones?|"
                           r"organismos?|agencias?|entidades?|pa[íi]s(?:es)?|donantes?|"
                           r"oficinas?)\b|\bel nombre\b", re.I),
    },
}


def answer_type(question: str, language: str | None = None) -> AnswerType | None:
    """The kind of fact a question asks for, when it asks for one: "how much does it cost" an
    amount of money, "what share" a percentage, "how many ..." a number, "when ...", "by
    when", "deadline" a date, "how often" a frequency, "who ...", "which company ..." a name.
    Questions that ask why, how or whether ask for none. A French or Spanish question
    (`language` "fr", "es") is read with the same questions in its language."""
    patterns = _ASKS_IN.get(language or "en", _ASKS)
    text = question if language in _ASKS_IN else normalise(question)
    for kind in ("money", "share", "frequency", "date", "number", "name"):
        if patterns[kind].search(text):
            return kind
    return None


def asks_for_list(question: str) -> bool:
    """Whether an English question asks for the members of a plural thing ("What are the
    'Clinton principles' ...?", "What topics should the training cover?")."""
    return bool(_ASKS_LIST.search(normalise(question)))


# --- French and Spanish questions -----------------------------------------------------------
# The guidance is English; a French or Spanish question is matched with it by the multilingual
# dense model (index/embedders.py). Its words are not English: the English stemmer would match
# "formation" with "formation", "information" with "information", never "formation" with
# "training", so BM25 and the coverage of the grounding read only the terms an English
# passage prints as the question writes them - acronyms (PSEA, HACT, UNDP, KPIs) - and the
# acronyms of the UN's French and Spanish terminology, read as their English ones ("PNUD" is
# UNDP, "CCI" / "DCI" the JIU, "GAR" / "GBR" results-based management). "ONU" is left alone,
# like "UN" in English: every passage is about the United Nations.

LANGUAGE_ACRONYMS: dict[str, dict[str, str]] = {
    "fr": {
        "PNUD": "UNDP", "CEE-ONU": "UNECE", "CEE": "ECE", "OMS": "WHO",
        "CCI": "JIU", "GAR": "RBM", "EAS": "SEA", "PEAS": "PSEA", "FNUPI": "UNFIP",
        "ODD": "SDG", "OMD": "MDG", "ONG": "NGO", "ONGI": "INGO", "OSC": "CSO", "PME": "SME",
        "OIT": "ILO", "HCR": "UNHCR", "FNUAP": "UNFPA", "PAM": "WFP", "ONUDI": "UNIDO",
        "BCAH": "OCHA", "BSCI": "OIOS", "BAJ": "OLA", "CCS": "CEB", "CCG": "HLCM",
        "AG": "GA", "CR": "RC", "BCR": "RCO", "BCAD": "DCO", "EPNU": "UNCT", "RSE": "CSR",
        "ICP": "KPI", "ICR": "KPI", "PGI": "ERP", "PON": "SOP", "TdR": "ToR",
        "ESCNU": "UNSSC", "IJS": "DSA", "GNUDD": "UNSDG", "GNUD": "UNDG",
    },
    "es": {
        "PNUD": "UNDP", "CEPE": "UNECE", "OMS": "WHO", "DCI": "JIU",
        "GBR": "RBM", "GpR": "RBM", "EAS": "SEA", "PEAS": "PSEA", "ODS": "SDG", "ODM": "MDG",
        "ONG": "NGO", "ONGI": "INGO", "OSC": "CSO", "PYME": "SME", "pyme": "SME",
        "OIT": "ILO", "ACNUR": "UNHCR", "ONUDI": "UNIDO", "OCAH": "OCHA", "OSSI": "OIOS",
        "OAJ": "OLA", "JJE": "CEB", "AG": "GA", "CR": "RC", "OCR": "RCO", "OCD": "DCO",
        "RSE": "CSR", "RSC": "CSR", "ICR": "KPI", "ICD": "KPI", "PON": "SOP", "TdR": "ToR",
        "GNUDS": "UNSDG", "GNUD": "UNDG",
    },
}
_LOCAL_ACRONYM = {
    language: re.compile(r"(?<![\w&-])(" + "|".join(sorted(map(re.escape, table), key=len,
                                                          reverse=True))
                         + r")(s)?(?![\w&-])")
    for language, table in LANGUAGE_ACRONYMS.items()
}
_LOCAL_APOSTROPHE = re.compile(r"[’‘`]")


def local_acronyms(query: str, language: str) -> list[str]:
    """The English acronyms a French or Spanish question names, in order: its English ones
    as written ("PSEA", "KPIs" -> "KPI") and its own read as English ("PNUD" -> "UNDP")."""
    found: list[tuple[int, str]] = []
    table = LANGUAGE_ACRONYMS.get(language, {})
    for match in _ACRONYM.finditer(query):
        found.append((match.start(), match.group(1)))
    if table:
        for match in _LOCAL_ACRONYM[language].finditer(query):
            found.append((match.start(), table[match.group(1)]))
    return [acronym for _, acronym in sorted(found)]


def _forms(phrase: str) -> tuple[tuple[str, ...], ...]:
    """The ways a passage may print an English phrase of the glossary: a hyphenated word as a
    whole or as its parts ("e-learning": "e-learn", or "e" and "learn"), as `Term.forms`
    reads a word of an English question; a phrase of several words as its stems."""
    stems = _stems(phrase)
    if len(stems) > 1 and " " not in phrase.strip():
        return (stems[0],), stems[1:]
    return (stems,) if stems else ()


def language_terms(query: str, language: str) -> list[Term]:
    """The terms of a French or Spanish question an English passage can print: its acronyms
    (`local_acronyms`), each with its English long form as the other way to write it, then
    the domain terms of the glossary (index/lexicon.py) by their English ("partenaires
    d'exécution" -> "implementing partner"). A glossary term is written in another language,
    so only its English forms can match a passage (its own form is a token no passage has:
    `keyword_weights` then weighs each English word 1)."""
    terms: list[Term] = []
    text = _LOCAL_APOSTROPHE.sub("'", query)
    for acronym in dict.fromkeys(local_acronyms(text, language)):
        short = tuple(tokenize(acronym))
        long_form = _stems(ACRONYMS[acronym]) if acronym in ACRONYMS else ()
        if short:
            terms.append(Term(acronym, short, (long_form,) if long_form else (), name=True,
                              proper=ACRONYMS.get(acronym, "")[:1].isupper()))
    seen: set[tuple[tuple[str, ...], ...]] = set()
    for found, english in english_terms(_ACRONYM.sub(" ", text), language):
        english = tuple(dict.fromkeys(  # then the guidance's words for them ("entities")
            [*english, *(synonym for word in english for synonym in SYNONYMS.get(word, ()))]))
        forms = tuple(dict.fromkeys(form for phrase in english for form in _forms(phrase)))
        if forms and forms not in seen:
            seen.add(forms)
            terms.append(Term(found, (f"{language}:{found}",), forms))
    return terms


# The words a French or Spanish question asks with rather than names what it asks about: the
# Snowball stop words (as bm25s ships them), the question words and verbs of a question, and
# the words asking for a deadline (its date decides: `answer_type`).
_ASKING = {
    "fr": frozenset(map(fold, bm25s.stopwords.STOPWORDS_FRENCH)) | frozenset("""
quoi comment pourquoi quel quelle quels quelles combien quand ou est existe signifie veut dire
faut peut peuvent doit doivent y a t il c onu nations unies echeance delai butoir limite
""".split()),
    "es": frozenset(map(fold, bm25s.stopwords.STOPWORDS_SPANISH)) | frozenset("""
que como cual cuales cuanto cuantos cuanta cuantas donde cuando quien quienes hay existe
significa quiere decir puede pueden debe deben onu naciones unidas plazo limite
""".split()),
}


def unread_words(query: str, language: str) -> list[str]:
    """The words of a French or Spanish question that say what it asks about but that neither
    its acronyms nor the glossary read (`language_terms`), so that only the dense model can
    match them: "Comment enregistrer le HACT ?" -> ["enregistrer"]; none in "Qu'est-ce que
    le HACT ?"."""
    text = capitalise_acronyms(_LOCAL_APOSTROPHE.sub("'", query))
    text = _ACRONYM.sub(" ", text)
    if language in _LOCAL_ACRONYM:
        text = _LOCAL_ACRONYM[language].sub(" ", text)
    read = {word for found, _ in english_terms(text, language) for word in found.split()}
    asking = _ASKING.get(language, frozenset())
    return [word for word in folded_words(text, language) if word not in asking
            and word not in read and not word.isdigit()]


def expand_language_acronyms(query: str, language: str) -> str:
    """A French or Spanish question with its acronyms followed by their English long form, as
    `expand_acronyms` does for English: "le PNUD" -> "le PNUD (United Nations Development
    Programme)"."""
    table = LANGUAGE_ACRONYMS.get(language, {})
    text = _LOCAL_APOSTROPHE.sub("'", query)

    def spell(match: re.Match[str]) -> str:
        english = table.get(match.group(1), match.group(1))
        long_form = ACRONYMS.get(english)
        return f"{match.group(0)} ({long_form})" if long_form else match.group(0)

    text = _ACRONYM.sub(spell, text)
    return _LOCAL_ACRONYM[language].sub(spell, text) if table else text


# --- the thing a question asks for by name ------------------------------------------------
# "Is there a template for ...?", "Which form do we use ...?", "How do I register ...?", "How
# many people sit on ...?": a passage that never prints "template", "form", "register" or
# "people" does not answer it, however close it is otherwise (index/evidence.py, bot/answers.py).

_ASKED = re.compile(  # at the start of the question or of a clause ("the UNIDO one, how many ...")
    r"(?:^|[,;:]\s*)\W*(?:(?P<exists>(?:is|are) there)(?: (?:a|an|any|one|some))?"
    r"|(?P<which>which|what(?=\s+(?:[\w-]+\s+)?(?:recommendations?|issues?)\b)"
    r"|what(?: is| was|'s)? the names? of(?: the| a| an)?)"
    r"|(?P<holder>who(?: is| was|'s|s| are| were)? the)"  # "who's the" is "who the" by now
    r"|(?P<count>how many)"
    r"|(?P<procedure>how (?:do|can|should) i))\s+(?P<rest>.+)",
    re.IGNORECASE)
_NOT_A_THING = frozenset("going about".split())  # "is there going to be ...", "which about"
# Words of such a phrase that name no thing: adverbs, and the time of a role ("the current
# Executive Secretary"). ("UN" is no term at all: `EVERYWHERE`.)
_NOT_ASKED = frozenset("already still ever yet usually typically normally current present "
                       "new".split())
ASKED_WORDS = 3  # the words of the thing asked for, at most


@dataclass(frozen=True)
class Asked:
    """What a question asks for by name: a passage that answers it prints one of `terms`.

    `counted` ("how many X"): the number that answers it must come with X in one unit;
    `which` ("which X", "the name of X"): the answer names an X; `holder` ("who is the X"):
    it names who holds the role X, not the role ("the Deputy Executive Secretary")."""

    terms: tuple[Term, ...]
    counted: bool = False
    which: bool = False
    holder: bool = False


def asked_for(question: str) -> Asked | None:
    """The thing an English question asks for by name, if it asks for one: the head noun of
    "is there a/an NOUN PHRASE", the plural of "how many NOUN PHRASE", any content word of
    "which NOUN PHRASE", "what is the name of NOUN PHRASE", "who is the NOUN PHRASE" (a
    person: "who is the Executive Secretary") or "what (JIU) recommendation ..."
    (a phrase: up to `ASKED_WORDS` words, to the first function or chat word), the verb of
    "how do I VERB" (a procedure; "how do we build ..." asks for practice, which the guidance
    gives in other words)."""
    match = _ASKED.search(CHAT_PHRASES.sub(" ", normalise(question)))
    if not match:
        return None
    words: list[str] = []
    for word in _WORD.findall(match.group("rest")):
        lowered = word.lower()
        if lowered in FUNCTION_WORDS or lowered in CHAT_WORDS or len(words) == ASKED_WORDS:
            break
        words.append(word)
    if not words or words[0].lower() in _NOT_A_THING:
        return None
    if match.group("exists"):
        words = words[-1:]
    elif match.group("count"):  # its plural noun: "how many indian suppliers took part"
        plural = [w for w in words if w.lower().endswith("s") and not w.lower().endswith("ss")]
        words = plural[-1:] or words[:1]
    elif match.group("procedure"):
        words = words[:1]
    terms = tuple(term for word in words if word.lower() not in _NOT_ASKED
                  for term in query_terms(word))
    holder = bool(match.group("holder"))
    if holder:  # the role, not whose it is: "the UNICEF focal point"
        terms = tuple(term for term in terms if not term.name) or terms
    return Asked(terms, counted=bool(match.group("count")),
                 which=bool(match.group("which")) or holder, holder=holder) if terms else None


# Kinds of passage a locator names (index/chunks.py): "Recommendation 8", "Issue #2, action
# point 1", "Box 3 ¶6"; by their stemmed tokens.
_LOCATOR_KINDS = {tuple(tokenize(kind)): kind for kind in ("recommendation", "issue", "box")}


def asked_locator(asked: Asked | None) -> str | None:
    """The kind of passage a question asks for by name ("which JIU rec is about training":
    "recommendation"), as its locators start in lower case; None for any other question."""
    if asked is None or asked.counted:
        return None
    for term in asked.terms[:2]:  # "which JIU rec ...", not "which agencies supported rec 3"
        if term.tokens in _LOCATOR_KINDS:
            return _LOCATOR_KINDS[term.tokens]
    return None


# "Recommendation 6", "rec 6", "recommandation no 6", "la reco 3", "recomendación 6": a question
# naming one recommendation by its number, in English, French or Spanish.
_NAMED_RECOMMENDATION = re.compile(
    r"\b(?:recommendations?|recommandations?|recomendaci(?:ó|o)n(?:es)?|recos?|recs?)\s*"
    r"(?:n(?:o|°|º|um|úm|um\.|úm\.)?\.?\s*|#\s*)?(\d{1,2})\b(?![.,]\d)", re.IGNORECASE)


def named_recommendations(question: str) -> frozenset[str]:
    """The recommendations a question names by number, as their locators read ("rec 6, is it
    done": {"Recommendation 6"})."""
    return frozenset(f"Recommendation {int(n)}" for n in _NAMED_RECOMMENDATION.findall(question))
