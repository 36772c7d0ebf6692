"""Semantic checks of a structurally valid checklist: ids, references, conditions, bands,
ratings, translations and citations; each problem is (location, message)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from bot import i18n
from bot.checklists.model import (
    CHOICE_TYPES,
    RESERVED_IDS,
    RISK_LEVEL,
    YES_NO_VALUES,
    Band,
    Checklist,
    Cite,
    Condition,
    HasPassage,
    Loc,
    PassageText,
    Question,
    QuestionText,
    Translation,
)

Finding = tuple[Loc, str]
_QUOTED = re.compile(r"“([^“”]+)”|«\s*([^«»]+?)\s*»")  # “English” and « French » quotes
_FOOTNOTE = re.compile(r"\[\^?\d{1,3}\]")


def normalize(text: str) -> str:
    """Text as quotes are compared: footnote markers dropped, typographic quotes and
    apostrophes made plain, runs of white space one space."""
    text = _FOOTNOTE.sub("", text)
    text = text.translate(str.maketrans("’‘“”", "''\"\""))
    return re.sub(r"\s+", " ", text).strip()


def quoted_phrases(text: str) -> list[str]:
    """The phrases of a text written between “typographic quotes” (or « guillemets », in a
    French translation quoting the English guidance)."""
    return [a or b for a, b in _QUOTED.findall(text)]


def _dupes(kind: str, items: Iterable[tuple[Loc, str]]) -> list[Finding]:
    seen: set[str] = set()
    out: list[Finding] = []
    for loc, ident in items:
        if ident in seen:
            out.append((loc, f"duplicate {kind} id '{ident}'"))
        seen.add(ident)
    return out


def _check_condition(
    cond: Condition, loc: Loc, by_id: dict[str, Question], earlier: set[str] | None
) -> list[Finding]:
    """Check one condition; `earlier` (for show_if) is the set of ids it may name."""
    if cond.question is None:
        subs = cond.all_ or cond.any_ or ()
        name = "all" if cond.all_ else "any"
        out = [p for i, c in enumerate(subs) for p in _check_condition(c, (*loc, name, i), by_id,
                                                                        earlier)]
        if cond.not_ is not None:
            out += _check_condition(cond.not_, (*loc, "not"), by_id, earlier)
        return out
    qid = cond.question
    target = by_id.get(qid)
    if target is None:
        return [((*loc, "question"), f"unknown question '{qid}'")]
    if earlier is not None and qid not in earlier:
        return [((*loc, "question"), f"question '{qid}' does not come before this question")]
    test, operand = cond.test
    tloc: Loc = (*loc, test)
    if test == "answered":
        return []
    if test in ("at_least", "below"):
        if target.type != "number":
            return [(tloc, f"'{test}' needs a number question, '{qid}' is {target.type}")]
        if test == "at_least" and target.max is not None and operand > target.max:
            return [(tloc, f"question '{qid}' is at most {target.max:g}, so this is never true")]
        if test == "below" and target.min is not None and operand <= target.min:
            return [(tloc, f"question '{qid}' is at least {target.min:g}, so this is never true")]
        return []
    if test == "includes":
        if target.type != "multi":
            return [(tloc, f"'includes' needs a multi question, '{qid}' is {target.type}")]
        if target.option(operand) is None:
            return [(tloc, f"question '{qid}' has no option '{operand}'")]
        return []
    if target.type == "multi":
        return [(tloc, f"'{test}' cannot test multi question '{qid}': use 'includes'")]
    values = list(enumerate(operand)) if test == "in" else [(None, operand)]
    out = []
    for i, value in values:
        vloc = tloc if i is None else (*tloc, i)
        if target.type == "number" and isinstance(value, str):
            out.append((vloc, f"question '{qid}' takes a number, not '{value}'"))
        elif target.type == "text" and not isinstance(value, str):
            out.append((vloc, f"question '{qid}' takes text, not a number"))
        elif target.type in CHOICE_TYPES and not (isinstance(value, str) and target.option(value)):
            shown = value if isinstance(value, str) else f"{value:g}"
            out.append((vloc, f"question '{qid}' has no option '{shown}'"))
    return out


def _check_question(q: Question, loc: Loc, by_id: dict[str, Question], earlier: set[str],
                    rating_risks: set[str], snapshot: bool) -> list[Finding]:
    out: list[Finding] = []
    if q.id in RESERVED_IDS and not snapshot:
        out.append(((*loc, "id"), f"the id '{q.id}' is reserved (answer files use it for the "
                                  "partner's name)"))
    if q.type in CHOICE_TYPES:
        if len(q.options) < 2:
            out.append(((*loc, "options"), f"a {q.type} question needs at least 2 options"))
        seen: set[str] = set()
        for k, o in enumerate(q.options):
            if o.value in seen:
                out.append(((*loc, "options", k, "value"), f"duplicate option value '{o.value}'"))
            seen.add(o.value)
            if q.type == "yes_no" and o.value not in YES_NO_VALUES:
                out.append(((*loc, "options", k, "value"),
                            f"a yes_no option value must be yes, no or na, not '{o.value}'"))
        if q.type == "yes_no" and len(q.options) >= 2 and not {"yes", "no"} <= seen:
            out.append(((*loc, "options"), "a yes_no question needs both 'yes' and 'no' options"))
        for k, o in enumerate(q.options):
            if o.exclusive and q.type != "multi":
                out.append(((*loc, "options", k, "exclusive"),
                            "only the options of a multi question can be exclusive"))
            elif q.type == "multi" and o.value == "none" and not o.exclusive and not snapshot:
                out.append(((*loc, "options", k, "value"),
                            "the option 'none' of a multi question must be 'exclusive: true'"))
    elif q.options:
        message = "options are only allowed on yes_no, single and multi questions"
        out.append(((*loc, "options"), message))
    if q.type != "number":
        for name in ("min", "max", "unit"):
            if getattr(q, name) is not None:
                out.append(((*loc, name), f"only number questions take '{name}'"))
        if q.integer:
            out.append(((*loc, "integer"), "only number questions take 'integer'"))
    elif q.min is not None and q.max is not None and q.max < q.min:
        out.append(((*loc, "max"), f"'max' ({q.max:g}) is below 'min' ({q.min:g})"))
    if q.weight != 1 and not q.scored:
        out.append(((*loc, "weight"), "weight only applies to questions with scored options"))
    if q.key:
        if not any(o.risk for o in q.options):
            out.append(((*loc, "key"), "a key question needs options with a risk"))
        for k, o in enumerate(q.options):
            if o.risk in ("medium", "high") and o.risk not in rating_risks:
                message = f"no rating has risk '{o.risk}', so this key question cannot raise it"
                out.append(((*loc, "options", k, "risk"), message))
    if not q.cites:
        out.append(((*loc, "cites"), "every question needs at least one citation"))
    out += _check_basis(q.basis, q.applies, loc)
    if q.show_if is not None:
        out += _check_condition(q.show_if, (*loc, "show_if"), by_id, earlier)
    return out


def _check_basis(basis: str, applies: str | None, loc: Loc) -> list[Finding]:
    if basis == "applied" and applies is None:
        return [((*loc, "basis"), "basis 'applied' needs 'applies': what this tool applies, in "
                                  "a sentence shown to users")]
    if basis == "stated" and applies is not None:
        return [((*loc, "applies"), "'applies' goes with 'basis: applied' only")]
    return []


def _check_bands(bands: tuple[Band, ...]) -> list[Finding]:
    out: list[Finding] = []
    order = sorted(range(len(bands)), key=lambda i: (bands[i].from_, bands[i].to))
    prev: Band | None = None
    for i in order:
        b, loc = bands[i], ("scoring", "bands", i)
        if b.from_ >= b.to:
            out.append((loc, f"'from' ({b.from_:g}) must be below 'to' ({b.to:g})"))
            continue
        if prev is None and b.from_ != 0:
            out.append(((*loc, "from"), f"bands must start at 0, this one starts at {b.from_:g}"))
        elif prev is not None and b.from_ > prev.to:
            out.append(((*loc, "from"), f"gap: no band covers {prev.to:g} to {b.from_:g}"))
        elif prev is not None and b.from_ < prev.to:
            out.append(((*loc, "from"), f"overlaps the band {prev.from_:g}-{prev.to:g}"))
        prev = b
    if prev is not None and prev.to != 100:
        last = bands.index(prev)
        out.append((("scoring", "bands", last, "to"),
                    f"bands must end at 100, the last one ends at {prev.to:g}"))
    return out


def _items(checklist: Checklist) -> Iterator[tuple[Loc, str, tuple[Cite, ...], list[
        tuple[Loc, str]]]]:
    """Every traced item: (location, basis, cites, [(location, text) of its wording])."""
    for si, section in enumerate(checklist.sections):
        for qi, q in enumerate(section.questions):
            loc: Loc = ("sections", si, "questions", qi)
            texts = [((*loc, "text"), q.text), ((*loc, "help"), q.help or ""),
                     ((*loc, "applies"), q.applies or "")]
            for k, o in enumerate(q.options):
                texts += [((*loc, "options", k, "rationale"), o.rationale or ""),
                          ((*loc, "options", k, "mitigation"), o.mitigation or "")]
            for language, t in checklist.translations.items():
                given = t.questions.get(q.id)
                if given is not None:
                    texts += _question_wording(("translations", language, "questions", q.id),
                                               given)
            yield loc, q.basis, q.cites, texts
    for i, g in enumerate(checklist.gates):
        loc = ("gates", i)
        texts = [((*loc, "message"), g.message), ((*loc, "applies"), g.applies or "")]
        for language, t in checklist.translations.items():
            gate = t.gates.get(g.id)
            tloc: Loc = ("translations", language, "gates", g.id)
            if isinstance(gate, str):
                texts.append((tloc, gate))
            elif gate is not None:
                texts += [((*tloc, "message"), gate.message),
                          ((*tloc, "applies"), gate.applies or "")]
        yield loc, g.basis, g.cites, texts
    for i, r in enumerate(checklist.ratings):
        for k, a in enumerate(r.actions):
            loc = ("ratings", i, "actions", k)
            texts = [((*loc, "text"), a.text), ((*loc, "applies"), a.applies or "")]
            for language, t in checklist.translations.items():
                rating = t.ratings.get(r.id)
                actions = rating.actions if rating is not None and not isinstance(
                    rating, str) else None
                if actions is not None and k < len(actions):
                    aloc: Loc = ("translations", language, "ratings", r.id, "actions", k)
                    action = actions[k]
                    texts += ([(aloc, action)] if isinstance(action, str) else [
                        ((*aloc, "text"), action.text), ((*aloc, "applies"), action.applies or "")])
            yield loc, a.basis, a.cites, texts


def _question_wording(loc: Loc, t: QuestionText) -> list[tuple[Loc, str]]:
    """The translated wording of a question that may quote the guidance."""
    texts = [((*loc, "text"), t.text), ((*loc, "help"), t.help or ""),
             ((*loc, "applies"), t.applies or "")]
    for value in t.options:
        option = t.option(value)
        if option is not None:
            texts += [((*loc, "options", value, "rationale"), option.rationale or ""),
                      ((*loc, "options", value, "mitigation"), option.mitigation or "")]
    return texts


def _check_translation(checklist: Checklist, language: str, t: Translation) -> list[Finding]:
    """One language's texts: for the supported languages only, naming only items the
    checklist has, giving every required text (docs/checklist-format.md, Translations)."""
    loc: Loc = ("translations", language)
    others = [lang for lang in i18n.LANGUAGES if lang != i18n.SOURCE_LANGUAGE]
    if language not in others:
        return [(loc, f"no translations into '{language}': the bot speaks English (the "
                      f"checklist's own language), and translations are for "
                      f"{', '.join(others)}")]
    out: list[Finding] = []

    def names(kind: str, given: Iterable[str], known: list[str], where: Loc,
              required: bool = True) -> None:
        given = list(given)
        for ident in given:
            if ident not in known:
                out.append(((*where, ident), f"no {kind} '{ident}' in this checklist"))
        if required:
            for ident in known:
                if ident not in given:
                    out.append((where, f"the {kind} '{ident}' is not translated"))

    def extra(field: str, english: object, given: object, where: Loc) -> None:
        if given is not None and not english:
            out.append(((*where, field), f"the English has no {field} to translate"))

    if checklist.description.strip() and t.description is None:
        out.append((loc, "the description is not translated"))
    extra("description", checklist.description.strip(), t.description, loc)
    names("section", t.sections, [s.id for s in checklist.sections], (*loc, "sections"))
    questions = {q.id: q for q in checklist.questions()}
    names("question", t.questions, list(questions), (*loc, "questions"))
    for qid, qt in t.questions.items():
        q = questions.get(qid)
        if q is None:
            continue
        qloc: Loc = (*loc, "questions", qid)
        if q.help and qt.help is None:
            out.append((qloc, "the help is not translated"))
        for field in ("help", "applies", "unit"):
            extra(field, getattr(q, field), getattr(qt, field), qloc)
        names("option", qt.options, [o.value for o in q.options], (*qloc, "options"))
        for value in qt.options:
            english, given = q.option(value), qt.option(value)
            if english is not None and given is not None:
                for field in ("rationale", "mitigation"):
                    extra(field, getattr(english, field), getattr(given, field),
                          (*qloc, "options", value))
    names("gate", t.gates, [g.id for g in checklist.gates], (*loc, "gates"), required=False)
    for gid, gate in t.gates.items():
        english_gate = next((g for g in checklist.gates if g.id == gid), None)
        if english_gate is not None and not isinstance(gate, str):
            extra("applies", english_gate.applies, gate.applies, (*loc, "gates", gid))
    names("rating", t.ratings, [r.id for r in checklist.ratings], (*loc, "ratings"),
          required=False)
    for rid, rating in t.ratings.items():
        english_rating = checklist.rating(rid)
        if english_rating is None or isinstance(rating, str) or rating.actions is None:
            continue
        if len(rating.actions) != len(english_rating.actions):
            out.append(((*loc, "ratings", rid, "actions"),
                        f"{len(rating.actions)} actions, but the rating has "
                        f"{len(english_rating.actions)}: translate each, in the same order"))
        for k, action in enumerate(rating.actions[:len(english_rating.actions)]):
            if not isinstance(action, str):
                extra("applies", english_rating.actions[k].applies, action.applies,
                      (*loc, "ratings", rid, "actions", k))
    return out


def _cite_problems(checklist: Checklist, has_passage: HasPassage | None,
                   passage_text: PassageText | None) -> list[Finding]:
    """Citations that do not resolve; with the passages' text also quotes that are not
    verbatim, and wording in “quotes” that no cited passage holds."""
    out: list[Finding] = []
    for loc, basis, cites, texts in _items(checklist):
        found: list[str] = []
        for k, c in enumerate(cites):
            text = passage_text(c.doc, c.locator) if passage_text is not None else None
            exists = text is not None if passage_text is not None else (
                has_passage is not None and has_passage(c.doc, c.locator))
            if not exists:
                out.append(((*loc, "cites", k), f"no passage '{c.locator}' in document '{c.doc}'"))
                continue
            if text is None:
                continue
            found.append(normalize(text))
            if c.quote is not None and normalize(c.quote) not in normalize(text):
                out.append(((*loc, "cites", k, "quote"),
                            f"not found verbatim in '{c.doc}, {c.locator}': '{c.quote}'"))
        if basis == "stated" and not any(c.quote for c in cites):
            out.append(((*loc, "basis"), "a stated item needs a cite with the 'quote' that states "
                                         "it; or mark it 'basis: applied' with 'applies'"))
        if passage_text is None:
            continue
        for tloc, text in texts:
            for phrase in quoted_phrases(text):
                if not any(normalize(phrase) in passage for passage in found):
                    out.append((tloc, f"“{phrase}” is not in any passage this item cites"))
    return out


def check(checklist: Checklist, has_passage: HasPassage | None = None,
          passage_text: PassageText | None = None, *, snapshot: bool = False) -> list[Finding]:
    """Every semantic problem of a structurally valid checklist, as (location, message).

    Citations are checked when `has_passage` or `passage_text` is given (with the text, the
    quotes too). A `snapshot` (the checklist a stored run started on) is checked without them
    and without the rules added after runs were first stored (a multi option 'none' that is
    not exclusive, the reserved id 'partner'), so that old runs keep loading."""
    questions = [((("sections", si, "questions", qi)), q)
                 for si, s in enumerate(checklist.sections) for qi, q in enumerate(s.questions)]
    by_id: dict[str, Question] = {}
    for _, q in questions:
        by_id.setdefault(q.id, q)
    out = _dupes("section", ((("sections", i, "id"), s.id) for i, s in enumerate(
        checklist.sections)))
    out += _dupes("question", (((*loc, "id"), q.id) for loc, q in questions))
    out += _dupes("rating", ((("ratings", i, "id"), r.id) for i, r in enumerate(checklist.ratings)))
    out += _dupes("gate", ((("gates", i, "id"), g.id) for i, g in enumerate(checklist.gates)))
    rating_ids = {r.id for r in checklist.ratings}
    for i in range(1, len(checklist.ratings)):
        before, after = checklist.ratings[i - 1], checklist.ratings[i]
        if RISK_LEVEL[after.risk] > RISK_LEVEL[before.risk]:
            message = (f"ratings must go from most to least severe: '{after.id}' ({after.risk}) "
                       f"comes after '{before.id}' ({before.risk})")
            out.append((("ratings", i, "risk"), message))
    earlier: set[str] = set()
    risks: set[str] = {r.risk for r in checklist.ratings}
    for loc, q in questions:
        out += _check_question(q, loc, by_id, earlier, risks, snapshot)
        earlier.add(q.id)
    for i, g in enumerate(checklist.gates):
        out += _check_condition(g.when, ("gates", i, "when"), by_id, None)
        if g.outcome not in rating_ids:
            out.append((("gates", i, "outcome"), f"rating '{g.outcome}' is not defined"))
        out += _check_basis(g.basis, g.applies, ("gates", i))
    banded = {b.rating for b in checklist.scoring.bands}
    for i, b in enumerate(checklist.scoring.bands):
        if b.rating not in rating_ids:
            out.append((("scoring", "bands", i, "rating"), f"rating '{b.rating}' is not defined"))
    out += _check_bands(checklist.scoring.bands)
    for i, f in enumerate(checklist.scoring.floors):
        floc: Loc = ("scoring", "floors", i, "rating")
        if f.rating not in rating_ids:
            out.append((floc, f"rating '{f.rating}' is not defined"))
        elif f.rating not in banded:
            out.append((floc, f"rating '{f.rating}' is not used by any band, so a floor cannot "
                              "lead to it"))
    for i, r in enumerate(checklist.ratings):
        for k, a in enumerate(r.actions):
            aloc: Loc = ("ratings", i, "actions", k)
            for name, cond in (("when", a.when), ("unless", a.unless)):
                if cond is not None:
                    out += _check_condition(cond, (*aloc, name), by_id, None)
            out += _check_basis(a.basis, a.applies, aloc)
    for language, translation in checklist.translations.items():
        out += _check_translation(checklist, language, translation)
    if has_passage is not None or passage_text is not None:
        out += _cite_problems(checklist, has_passage, passage_text)
    return out


