"""Semantic checks of a structurally valid checklist: ids, references, conditions, bands,
ratings and citations; each problem is (location, message)."""

from __future__ import annotations

from collections.abc import Iterable

from bot.checklists.model import (
    CHOICE_TYPES,
    RISK_LEVEL,
    YES_NO_VALUES,
    Band,
    Checklist,
    Cite,
    Condition,
    HasPassage,
    Loc,
    Question,
)

Finding = tuple[Loc, str]


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
                    rating_risks: set[str]) -> list[Finding]:
    out: list[Finding] = []
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
    elif q.options:
        message = "options are only allowed on yes_no, single and multi questions"
        out.append(((*loc, "options"), message))
    if q.type != "number":
        for name in ("min", "max", "unit"):
            if getattr(q, name) is not None:
                out.append(((*loc, name), f"only number questions take '{name}'"))
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
    if q.show_if is not None:
        out += _check_condition(q.show_if, (*loc, "show_if"), by_id, earlier)
    return out


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


def _cite_problems(cites: tuple[Cite, ...], loc: Loc, has_passage: HasPassage) -> list[Finding]:
    return [((*loc, "cites", k), f"no passage '{c.locator}' in document '{c.doc}'")
            for k, c in enumerate(cites) if not has_passage(c.doc, c.locator)]


def check(checklist: Checklist, has_passage: HasPassage | None = None) -> list[Finding]:
    """Every semantic problem of a structurally valid checklist, as (location, message)."""
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
        out += _check_question(q, loc, by_id, earlier, risks)
        earlier.add(q.id)
    for i, g in enumerate(checklist.gates):
        out += _check_condition(g.when, ("gates", i, "when"), by_id, None)
        if g.outcome not in rating_ids:
            out.append((("gates", i, "outcome"), f"rating '{g.outcome}' is not defined"))
    for i, b in enumerate(checklist.scoring.bands):
        if b.rating not in rating_ids:
            out.append((("scoring", "bands", i, "rating"), f"rating '{b.rating}' is not defined"))
    out += _check_bands(checklist.scoring.bands)
    if has_passage is not None:
        for loc, q in questions:
            out += _cite_problems(q.cites, loc, has_passage)
        for i, g in enumerate(checklist.gates):
            out += _cite_problems(g.cites, ("gates", i), has_passage)
        for i, r in enumerate(checklist.ratings):
            for k, a in enumerate(r.actions):
                out += _cite_problems(a.cites, ("ratings", i, "actions", k), has_passage)
    return out


