"""The checklist run engine: pure functions over a small, JSON-serialisable RunState.

A run moves through the statuses "in_progress" -> "completed" (every visible question answered
or skipped, or a gate fired) or "abandoned". `back` reopens a completed run. No clock is read
here: callers pass ISO time strings as `at`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

from bot import texts  # user-facing messages live in bot/texts.py, read at each use
from bot.checklists.model import (
    RISK_LEVEL,
    Action,
    Checklist,
    Cite,
    Condition,
    Gate,
    Option,
    Question,
    Rating,
)
from bot.checklists.parsing import AnswerValue, InvalidAnswer, describe_value, parse_answer

__all__ = ["AnswerValue", "InvalidAnswer", "describe_value", "parse_answer"]  # re-exported
Status = Literal["in_progress", "completed", "abandoned"]
STATUSES: tuple[Status, ...] = ("in_progress", "completed", "abandoned")
PARTNER_MAX = 200  # characters of a partner's name or reference


@dataclass(frozen=True)
class Note:
    text: str
    at: str


@dataclass(frozen=True)
class Answer:
    """One entry of the history: a value, or a skip (value None)."""

    question_id: str
    value: AnswerValue
    at: str
    skipped: bool = False
    notes: tuple[Note, ...] = ()

    @property
    def note(self) -> str | None:
        """All note texts joined by newlines (None without notes), for a single note column."""
        return "\n".join(n.text for n in self.notes) or None


@dataclass(frozen=True)
class RunState:
    """A run of one pinned checklist version; `pending_notes` wait for the current question;
    `partner` names the partner the run is about (optional)."""

    checklist_id: str
    version: str
    answers: tuple[Answer, ...] = ()
    status: Status = "in_progress"
    training: bool = False
    cohort: str | None = None
    pending_notes: tuple[Note, ...] = ()
    partner: str | None = None


@dataclass(frozen=True)
class FiredRule:
    """Why the rating is what it is: kind "gate", "band", "key_question" or "floor";
    `applies` says what this tool applies when the rule is not stated by its source."""

    kind: Literal["gate", "band", "key_question", "floor"]
    ref: str
    message: str
    cites: tuple[Cite, ...] = ()
    applies: str | None = None


@dataclass(frozen=True)
class RequiredAction:
    """An action with its citations; `source` is "rating:<id>" or "question:<id>";
    `applies` says what this tool applies when the action is its own rule."""

    text: str
    cites: tuple[Cite, ...]
    source: str
    applies: str | None = None


@dataclass(frozen=True)
class Outcome:
    """The result of a run so far: rating, score, why, what to do, and which questions counted."""

    status: Status
    rating_id: str
    rating_label: str
    risk: str
    percent: float
    points: float
    max_points: float
    fired: tuple[FiredRule, ...]
    actions: tuple[RequiredAction, ...]
    asked: tuple[str, ...]
    skipped: tuple[str, ...]
    hidden: tuple[str, ...]
    answers: tuple[Answer, ...]
    gate_id: str | None
    partner: str | None = None


@dataclass(frozen=True)
class _View:
    entries: dict[str, Answer]
    values: dict[str, AnswerValue]
    current: Question | None
    pending: frozenset[str]


# --- conditions and the walk ------------------------------------------------------------------


def _combine(results: list[bool | None], all_: bool) -> bool | None:
    decisive = not all_
    if any(r is decisive for r in results):
        return decisive
    return None if any(r is None for r in results) else not decisive


def _eval(cond: Condition, values: dict[str, AnswerValue], pending: frozenset[str]) -> bool | None:
    """Three-valued: None while the condition depends on questions not yet reached."""
    if cond.question is None:
        if cond.not_ is not None:
            inner = _eval(cond.not_, values, pending)
            return None if inner is None else not inner
        all_ = cond.all_ is not None
        subs = cond.all_ if cond.all_ is not None else cond.any_ or ()
        return _combine([_eval(c, values, pending) for c in subs], all_)
    if cond.question not in values:
        return None if cond.question in pending else False
    value = values[cond.question]
    test, operand = cond.test
    if test in ("at_least", "below"):
        if not isinstance(value, int | float):
            return False
        return bool(value >= operand if test == "at_least" else value < operand)
    if test == "includes":
        return isinstance(value, tuple) and operand in value
    if test == "in":
        return bool(value in operand)
    return bool({"is": value == operand, "is_not": value != operand, "answered": True}[test])


def _view(checklist: Checklist, answers: tuple[Answer, ...]) -> _View:
    """Effective answers (visible questions only) and the next question to ask."""
    latest = {a.question_id: a for a in answers}
    entries: dict[str, Answer] = {}
    values: dict[str, AnswerValue] = {}
    questions = checklist.questions()
    for i, q in enumerate(questions):
        if q.show_if is not None and not _eval(q.show_if, values, frozenset()):
            continue
        entry = latest.get(q.id)
        if entry is None:
            return _View(entries, values, q, frozenset(x.id for x in questions[i:]))
        entries[q.id] = entry
        if not entry.skipped:
            values[q.id] = entry.value
    return _View(entries, values, None, frozenset())


def _gate(checklist: Checklist, view: _View) -> Gate | None:
    return next((g for g in checklist.gates if _eval(g.when, view.values, view.pending)), None)


def _visibility(q: Question, view: _View) -> bool | None:
    return True if q.show_if is None else _eval(q.show_if, view.values, view.pending)


def _matching(checklist: Checklist, state: RunState) -> None:
    if (state.checklist_id, state.version) != (checklist.id, checklist.version):
        raise ValueError(f"the run uses {state.checklist_id} {state.version}, "
                         f"not {checklist.id} {checklist.version}")


# --- parsing answers --------------------------------------------------------------------------


def clean_partner(partner: str | None) -> str | None:
    """The partner's name or reference as stored: trimmed, one line; empty is None."""
    if partner is None:
        return None
    text = " ".join(partner.split())
    if len(text) > PARTNER_MAX:
        raise InvalidAnswer(texts.PARTNER_TOO_LONG.format(limit=PARTNER_MAX))
    return text or None


# --- moving through a run ---------------------------------------------------------------------


def start(checklist: Checklist, *, training: bool = False, cohort: str | None = None,
          partner: str | None = None) -> RunState:
    """A new run pinned to this checklist's id and version, about `partner` if named."""
    return RunState(checklist.id, checklist.version, training=training, cohort=cohort,
                    partner=clean_partner(partner))


def set_partner(state: RunState, partner: str | None) -> RunState:
    """Name (or, with None or an empty text, un-name) the partner the run is about."""
    if state.status == "abandoned":
        raise InvalidAnswer(texts.RUN_ABANDONED)
    return replace(state, partner=clean_partner(partner))


def current_question(checklist: Checklist, state: RunState) -> Question | None:
    """The next visible unanswered question, or None when the run is not in progress."""
    _matching(checklist, state)
    return _view(checklist, state.answers).current if state.status == "in_progress" else None


def _current(checklist: Checklist, state: RunState) -> Question:
    _matching(checklist, state)
    if state.status == "abandoned":
        raise InvalidAnswer(texts.RUN_ABANDONED)
    question = current_question(checklist, state)
    if question is None:
        raise InvalidAnswer(texts.RUN_FINISHED)
    return question


def _record(checklist: Checklist, state: RunState, entry: Answer) -> RunState:
    new = replace(state, answers=(*state.answers, entry), pending_notes=())
    view = _view(checklist, new.answers)
    if view.current is None or _gate(checklist, view) is not None:
        new = replace(new, status="completed")
    return new


def answer(checklist: Checklist, state: RunState, raw_value: object, *, at: str) -> RunState:
    """Answer the current question; a firing gate or the last question completes the run."""
    q = _current(checklist, state)
    value = parse_answer(q, raw_value)
    return _record(checklist, state, Answer(q.id, value, at, False, state.pending_notes))


def skip(checklist: Checklist, state: RunState, *, at: str) -> RunState:
    """Skip the current question (only if skippable); it is left out of the score."""
    q = _current(checklist, state)
    if not q.skippable:
        raise InvalidAnswer(texts.NOT_SKIPPABLE)
    return _record(checklist, state, Answer(q.id, None, at, True, state.pending_notes))


def back(checklist: Checklist, state: RunState) -> RunState:
    """Undo the last answer or skip (its notes wait for the re-answer); reopens a finished run."""
    _matching(checklist, state)
    if state.status == "abandoned":
        raise InvalidAnswer(texts.RUN_ABANDONED)
    if not state.answers:
        raise InvalidAnswer(texts.NOTHING_TO_UNDO)
    last = state.answers[-1]
    return replace(state, answers=state.answers[:-1], status="in_progress",
                   pending_notes=last.notes + state.pending_notes)


def add_note(checklist: Checklist, state: RunState, text: str, *, at: str) -> RunState:
    """Note the current question (kept until it is answered), or else the last answered one."""
    _matching(checklist, state)
    if state.status == "abandoned":
        raise InvalidAnswer(texts.RUN_ABANDONED)
    if not text.strip():
        raise InvalidAnswer(texts.EMPTY_NOTE)
    note = Note(text.strip(), at)
    if current_question(checklist, state) is not None:
        return replace(state, pending_notes=(*state.pending_notes, note))
    if not state.answers:
        raise InvalidAnswer(texts.NOTHING_TO_NOTE)
    last = state.answers[-1]
    return replace(state, answers=(*state.answers[:-1], replace(last, notes=(*last.notes, note))))


def abandon(state: RunState) -> RunState:
    """Mark an in-progress run abandoned; a completed or abandoned run is returned unchanged."""
    return replace(state, status="abandoned") if state.status == "in_progress" else state


def progress(checklist: Checklist, state: RunState) -> tuple[int, int]:
    """(questions answered or skipped, estimated total of visible questions)."""
    _matching(checklist, state)
    view = _view(checklist, state.answers)
    done = len(view.entries)
    if state.status != "in_progress":
        return done, done
    maybe = [q for q in checklist.questions() if q.id in view.pending and _visibility(q, view)
             is not False]
    return done, done + len(maybe)


# --- scoring ----------------------------------------------------------------------------------


def _chosen(q: Question, value: AnswerValue) -> list[Option]:
    picked = value if isinstance(value, tuple) else (value,)
    return [o for o in q.options if o.value in picked]


def _pct(percent: float) -> str:
    return f"{percent:.1f}".rstrip("0").rstrip(".")


def _escalate(checklist: Checklist, risk: str) -> Rating | None:
    """The first rating with this risk among those the bands use (else the first of all)."""
    banded = {b.rating for b in checklist.scoring.bands}
    candidates = [r for r in checklist.ratings if r.risk == risk]
    return next((r for r in candidates if r.id in banded), candidates[0] if candidates else None)


@dataclass(frozen=True)
class _Tally:
    points: float
    maximum: float
    mitigations: list[RequiredAction]
    worst_key: tuple[Question, Option] | None
    at_risk: dict[str, int]  # "medium"/"high" -> scored answers at that risk or above


def _score(checklist: Checklist, view: _View) -> _Tally:
    """Points, maximum, mitigations of medium/high answers, the riskiest key answer, and how
    many answers of scored questions carry each risk."""
    by_id = {q.id: q for q in checklist.questions()}
    points = maximum = 0.0
    mitigations: list[RequiredAction] = []
    worst: tuple[Question, Option] | None = None
    at_risk = {"medium": 0, "high": 0}
    for entry in view.entries.values():
        q = by_id[entry.question_id]
        chosen = [] if entry.skipped else _chosen(q, entry.value)
        scores = [o.score for o in chosen if o.score is not None]
        if scores:
            points += sum(scores) * q.weight
            maximum += q.max_points()
        for o in chosen:
            if o.risk in ("medium", "high") and o.mitigation:
                mitigations.append(RequiredAction(o.mitigation, q.cites, f"question:{q.id}",
                                                  q.applies))
            level = RISK_LEVEL[o.risk] if o.risk else -1
            if q.key and level > (RISK_LEVEL[worst[1].risk or "low"] if worst else 0):
                worst = (q, o)
        level = max((RISK_LEVEL[o.risk] for o in chosen if o.risk), default=0)
        if q.scored and not entry.skipped:
            for risk in at_risk:
                at_risk[risk] += level >= RISK_LEVEL[risk]
    return _Tally(points, maximum, mitigations, worst, at_risk)


def _rate(checklist: Checklist, percent: float, tally: _Tally) -> tuple[Rating, list[FiredRule]]:
    """The band's rating, raised by the riskiest key answer if that is more severe, then by
    the most severe floor that holds."""
    exact = round(percent, 9)
    bands = checklist.scoring.bands
    band = next((b for b in bands if b.from_ <= exact < b.to or exact == b.to == 100), bands[-1])
    rating = checklist.rating(band.rating)
    assert rating is not None, "validated checklists define every band rating"
    fired = [FiredRule("band", f"{band.from_:g}-{band.to:g}", texts.RULE_BAND.format(
        percent=_pct(percent), low=f"{band.from_:g}", high=f"{band.to:g}", label=rating.label))]
    worst = tally.worst_key
    if worst is not None and RISK_LEVEL[worst[1].risk or "low"] > RISK_LEVEL[rating.risk]:
        question, option = worst
        target = _escalate(checklist, option.risk or "low")
        if target is not None:
            fired.append(FiredRule("key_question", question.id, texts.RULE_KEY.format(
                question=question.text, answer=option.label,
                risk=texts.RISK_NAMES.get(option.risk or "", option.risk),
                before=rating.label, after=target.label), question.cites))
            rating = target
    holding = [f for f in checklist.scoring.floors if tally.at_risk[f.risk] >= f.at_least]
    if holding:
        floor = min(holding, key=lambda f: checklist.severity(f.rating))
        target = checklist.rating(floor.rating)
        if target is not None and checklist.severity(target.id) < checklist.severity(rating.id):
            message = texts.RULE_FLOOR.format(
                count=tally.at_risk[floor.risk], risk=texts.RISK_NAMES.get(floor.risk, floor.risk),
                at_least=floor.at_least, before=rating.label, after=target.label)
            fired.append(FiredRule("floor", f"{floor.risk}>={floor.at_least}", message))
            rating = target
    return rating, fired


def _applies(action: Action, values: dict[str, AnswerValue]) -> bool:
    """An action counts unless its `when` is false or its `unless` is true."""
    empty: frozenset[str] = frozenset()
    return (action.when is None or bool(_eval(action.when, values, empty))) and (
        action.unless is None or not _eval(action.unless, values, empty))


def _action_key(text: str) -> str:
    return " ".join(text.casefold().split()).rstrip(".")


def _dedupe(actions: list[RequiredAction]) -> list[RequiredAction]:
    """One action per wording (case, spacing and a final full stop aside); the citations of
    the repeats join the first."""
    kept: dict[str, RequiredAction] = {}
    for action in actions:
        key = _action_key(action.text)
        first = kept.get(key)
        if first is None:
            kept[key] = action
        else:
            cites = first.cites + tuple(c for c in action.cites if c not in first.cites)
            kept[key] = replace(first, cites=cites, applies=first.applies or action.applies)
    return list(kept.values())


def outcome(checklist: Checklist, state: RunState) -> Outcome:
    """Score, rating, fired rules and required actions for the answers so far."""
    _matching(checklist, state)
    view = _view(checklist, state.answers)
    tally = _score(checklist, view)
    points, maximum = tally.points, tally.maximum
    percent = 100.0 if maximum <= 0 else min(100.0, max(0.0, 100.0 * points / maximum))
    gate = _gate(checklist, view)
    gate_rating = checklist.rating(gate.outcome) if gate is not None else None
    if gate is not None and gate_rating is not None:
        rating = gate_rating
        fired = [FiredRule("gate", gate.id, gate.message, gate.cites, gate.applies)]
    else:
        rating, fired = _rate(checklist, percent, tally)
    actions = [RequiredAction(a.text, a.cites, f"rating:{rating.id}", a.applies)
               for a in rating.actions if _applies(a, view.values)]
    mitigations = [] if gate is not None else tally.mitigations
    effective = tuple(a for a in state.answers if view.entries.get(a.question_id) is a)
    return Outcome(
        status=state.status, rating_id=rating.id, rating_label=rating.label, risk=rating.risk,
        percent=percent, points=points, max_points=maximum, fired=tuple(fired),
        actions=tuple(_dedupe(actions + mitigations)),
        asked=tuple(a.question_id for a in effective if not a.skipped),
        skipped=tuple(a.question_id for a in effective if a.skipped),
        hidden=tuple(q.id for q in checklist.questions()
                     if q.id not in view.entries and _visibility(q, view) is False),
        answers=effective, gate_id=gate.id if gate is not None else None,
        partner=state.partner)


# --- persistence ------------------------------------------------------------------------------


def outcome_to_dict(result: Outcome) -> dict[str, Any]:
    """The outcome as JSON-serialisable data (tuples as lists, cites as {doc, locator})."""
    data: dict[str, Any] = json.loads(json.dumps(asdict(result), default=lambda o: o.model_dump()))
    return data


def state_to_json(state: RunState) -> str:
    """The state as a JSON string (multi answers become lists)."""
    return json.dumps(asdict(state), ensure_ascii=False, sort_keys=True)


def _value_from_json(value: Any) -> AnswerValue:
    if isinstance(value, list):
        if not all(isinstance(v, str) for v in value):
            raise ValueError("a multi answer must be a list of strings")
        return tuple(value)
    if value is None or (isinstance(value, str | int | float) and not isinstance(value, bool)):
        return value
    raise ValueError(f"unexpected answer value {value!r}")


def _notes(items: list[dict[str, Any]]) -> tuple[Note, ...]:
    return tuple(Note(str(n["text"]), str(n["at"])) for n in items)


def state_from_json(text: str) -> RunState:
    """Rebuild a RunState written by state_to_json; raise ValueError if it is malformed."""
    try:
        data = json.loads(text)
        answers = tuple(
            Answer(str(a["question_id"]), _value_from_json(a["value"]), str(a["at"]),
                   bool(a["skipped"]), _notes(a["notes"]))
            for a in data["answers"])
        if data["status"] not in STATUSES:
            raise ValueError(f"unknown status {data['status']!r}")
        partner = data.get("partner")  # states stored before partners were named lack it
        return RunState(str(data["checklist_id"]), str(data["version"]), answers,
                        data["status"], bool(data["training"]),
                        None if data["cohort"] is None else str(data["cohort"]),
                        _notes(data["pending_notes"]),
                        None if partner is None else str(partner))
    except (KeyError, TypeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not a run state: {exc}") from exc
