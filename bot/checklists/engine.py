"""The checklist run engine: pure functions over a small, JSON-serialisable RunState.

A run moves through the statuses "in_progress" -> "completed" (every visible question answered
or skipped, or a gate fired) or "abandoned". `back` reopens a completed run. No clock is read
here: callers pass ISO time strings as `at`.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

from bot.checklists.model import (
    RISK_LEVEL,
    Checklist,
    Cite,
    Condition,
    Gate,
    Option,
    Question,
    Rating,
)
from bot.texts import (  # user-facing messages live in bot/texts.py
    CHOOSE_ONE,
    CHOOSE_SOME,
    EMPTY_NOTE,
    EMPTY_TEXT,
    NO_OPTION_NUMBER,
    NO_SUCH_OPTION,
    NOT_A_NUMBER,
    NOT_SKIPPABLE,
    NOTHING_TO_NOTE,
    NOTHING_TO_UNDO,
    RULE_BAND,
    RULE_KEY,
    RUN_ABANDONED,
    RUN_FINISHED,
    TOO_LARGE,
    TOO_SMALL,
)
from index.errors import Problem

Status = Literal["in_progress", "completed", "abandoned"]
STATUSES: tuple[Status, ...] = ("in_progress", "completed", "abandoned")
AnswerValue = str | int | float | tuple[str, ...] | None
_NUMBER = re.compile(r"[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?")


class InvalidAnswer(Problem):
    """The user's input was not accepted; the message says what to send instead."""


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
    """A run of one pinned checklist version; `pending_notes` wait for the current question."""

    checklist_id: str
    version: str
    answers: tuple[Answer, ...] = ()
    status: Status = "in_progress"
    training: bool = False
    cohort: str | None = None
    pending_notes: tuple[Note, ...] = ()


@dataclass(frozen=True)
class FiredRule:
    """Why the rating is what it is: kind "gate", "band" or "key_question"."""

    kind: Literal["gate", "band", "key_question"]
    ref: str
    message: str
    cites: tuple[Cite, ...] = ()


@dataclass(frozen=True)
class RequiredAction:
    """An action with its citations; `source` is "rating:<id>" or "question:<id>"."""

    text: str
    cites: tuple[Cite, ...]
    source: str


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


def _fmt(number: float) -> str:
    return f"{int(number):,}" if float(number).is_integer() else f"{number:,}"


def _option_value(q: Question, token: str, template: str) -> str:
    token = token.strip()
    folded = token.casefold()
    for exact, field in ((True, "value"), (False, "value"), (False, "label")):
        for o in q.options:
            text: str = getattr(o, field)
            if (text == token) if exact else (text.casefold() == folded):
                return o.value
    if token.isdigit():
        if 1 <= int(token) <= len(q.options):
            return q.options[int(token) - 1].value
        raise InvalidAnswer(NO_OPTION_NUMBER.format(number=int(token), count=len(q.options)))
    options = ", ".join(o.value for o in q.options)
    if not token:
        raise InvalidAnswer(template.format(options=options))
    raise InvalidAnswer(NO_SUCH_OPTION.format(token=token, options=options))


def _parse_number(q: Question, raw: object) -> int | float:
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        number = float(raw)
    elif isinstance(raw, str):
        text = re.sub(r"[\s_]", "", raw)
        unit = re.sub(r"\s", "", q.unit or "").casefold()
        if unit and text.casefold().endswith(unit):
            text = text[: -len(unit)]
        elif unit and text.casefold().startswith(unit):
            text = text[len(unit):]
        if not _NUMBER.fullmatch(text) or not any(c.isdigit() for c in text):
            raise InvalidAnswer(NOT_A_NUMBER)
        number = float(text.replace(",", ""))
    else:
        raise InvalidAnswer(NOT_A_NUMBER)
    if not math.isfinite(number):
        raise InvalidAnswer(NOT_A_NUMBER)
    if q.min is not None and number < q.min:
        raise InvalidAnswer(TOO_SMALL.format(min=_fmt(q.min)))
    if q.max is not None and number > q.max:
        raise InvalidAnswer(TOO_LARGE.format(max=_fmt(q.max)))
    return int(number) if number.is_integer() and abs(number) < 2**53 else number


def parse_answer(question: Question, raw_value: object) -> AnswerValue:
    """Validate raw input for `question` and return the value to store; raise InvalidAnswer."""
    q, raw = question, raw_value
    if q.type == "number":
        return _parse_number(q, raw)
    if q.type == "text":
        if not isinstance(raw, str) or not raw.strip():
            raise InvalidAnswer(EMPTY_TEXT)
        return raw.strip()
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)
    if q.type != "multi":
        if not isinstance(raw, str):
            raise InvalidAnswer(CHOOSE_ONE.format(options=", ".join(o.value for o in q.options)))
        return _option_value(q, raw, CHOOSE_ONE)
    if isinstance(raw, str):
        whole = [o.value for o in q.options if o.value == raw.strip()]
        tokens: list[Any] = whole or [t for t in raw.split(",") if t.strip()]
    elif isinstance(raw, list | tuple):
        tokens = list(raw)
    else:
        tokens = []
    chosen = {_option_value(q, str(t), CHOOSE_SOME) for t in tokens}
    if not chosen:
        raise InvalidAnswer(CHOOSE_SOME.format(options=", ".join(o.value for o in q.options)))
    return tuple(o.value for o in q.options if o.value in chosen)


# --- moving through a run ---------------------------------------------------------------------


def start(checklist: Checklist, *, training: bool = False, cohort: str | None = None) -> RunState:
    """A new run pinned to this checklist's id and version."""
    return RunState(checklist.id, checklist.version, training=training, cohort=cohort)


def current_question(checklist: Checklist, state: RunState) -> Question | None:
    """The next visible unanswered question, or None when the run is not in progress."""
    _matching(checklist, state)
    return _view(checklist, state.answers).current if state.status == "in_progress" else None


def _current(checklist: Checklist, state: RunState) -> Question:
    _matching(checklist, state)
    if state.status == "abandoned":
        raise InvalidAnswer(RUN_ABANDONED)
    question = current_question(checklist, state)
    if question is None:
        raise InvalidAnswer(RUN_FINISHED)
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
        raise InvalidAnswer(NOT_SKIPPABLE)
    return _record(checklist, state, Answer(q.id, None, at, True, state.pending_notes))


def back(checklist: Checklist, state: RunState) -> RunState:
    """Undo the last answer or skip (its notes wait for the re-answer); reopens a finished run."""
    _matching(checklist, state)
    if state.status == "abandoned":
        raise InvalidAnswer(RUN_ABANDONED)
    if not state.answers:
        raise InvalidAnswer(NOTHING_TO_UNDO)
    last = state.answers[-1]
    return replace(state, answers=state.answers[:-1], status="in_progress",
                   pending_notes=last.notes + state.pending_notes)


def add_note(checklist: Checklist, state: RunState, text: str, *, at: str) -> RunState:
    """Note the current question (kept until it is answered), or else the last answered one."""
    _matching(checklist, state)
    if state.status == "abandoned":
        raise InvalidAnswer(RUN_ABANDONED)
    if not text.strip():
        raise InvalidAnswer(EMPTY_NOTE)
    note = Note(text.strip(), at)
    if current_question(checklist, state) is not None:
        return replace(state, pending_notes=(*state.pending_notes, note))
    if not state.answers:
        raise InvalidAnswer(NOTHING_TO_NOTE)
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
    banded = {b.rating for b in checklist.scoring.bands}
    candidates = [r for r in checklist.ratings if r.risk == risk]
    return next((r for r in candidates if r.id in banded), candidates[0] if candidates else None)


def _score(checklist: Checklist, view: _View) -> tuple[float, float, list[RequiredAction],
                                                      tuple[Question, Option] | None]:
    """Points, maximum, mitigations of medium/high answers, and the riskiest key answer."""
    by_id = {q.id: q for q in checklist.questions()}
    points = maximum = 0.0
    mitigations: list[RequiredAction] = []
    worst: tuple[Question, Option] | None = None
    for entry in view.entries.values():
        q = by_id[entry.question_id]
        chosen = [] if entry.skipped else _chosen(q, entry.value)
        scores = [o.score for o in chosen if o.score is not None]
        if scores:
            points += sum(scores) * q.weight
            maximum += q.max_points()
        for o in chosen:
            if o.risk in ("medium", "high") and o.mitigation:
                mitigations.append(RequiredAction(o.mitigation, q.cites, f"question:{q.id}"))
            level = RISK_LEVEL[o.risk] if o.risk else -1
            if q.key and level > (RISK_LEVEL[worst[1].risk or "low"] if worst else 0):
                worst = (q, o)
    return points, maximum, mitigations, worst


def _rate(checklist: Checklist, percent: float, worst: tuple[Question, Option] | None
          ) -> tuple[Rating, list[FiredRule]]:
    """The band's rating, raised by the riskiest key answer if that is more severe."""
    exact = round(percent, 9)
    bands = checklist.scoring.bands
    band = next((b for b in bands if b.from_ <= exact < b.to or exact == b.to == 100), bands[-1])
    rating = checklist.rating(band.rating)
    assert rating is not None, "validated checklists define every band rating"
    fired = [FiredRule("band", f"{band.from_:g}-{band.to:g}", RULE_BAND.format(
        percent=_pct(percent), low=f"{band.from_:g}", high=f"{band.to:g}", label=rating.label))]
    if worst is not None and RISK_LEVEL[worst[1].risk or "low"] > RISK_LEVEL[rating.risk]:
        question, option = worst
        target = _escalate(checklist, option.risk or "low")
        if target is not None:
            fired.append(FiredRule("key_question", question.id, RULE_KEY.format(
                question=question.text, answer=option.label, risk=option.risk,
                before=rating.label, after=target.label), question.cites))
            rating = target
    return rating, fired


def outcome(checklist: Checklist, state: RunState) -> Outcome:
    """Score, rating, fired rules and required actions for the answers so far."""
    _matching(checklist, state)
    view = _view(checklist, state.answers)
    points, maximum, mitigations, worst = _score(checklist, view)
    percent = 100.0 if maximum <= 0 else min(100.0, max(0.0, 100.0 * points / maximum))
    gate = _gate(checklist, view)
    gate_rating = checklist.rating(gate.outcome) if gate is not None else None
    if gate is not None and gate_rating is not None:
        rating, fired = gate_rating, [FiredRule("gate", gate.id, gate.message, gate.cites)]
    else:
        rating, fired = _rate(checklist, percent, worst)
    actions = [RequiredAction(a.text, a.cites, f"rating:{rating.id}") for a in rating.actions]
    actions += [m for i, m in enumerate(mitigations)
                if m.text not in {a.text for a in actions + mitigations[:i]}]
    effective = tuple(a for a in state.answers if view.entries.get(a.question_id) is a)
    return Outcome(
        status=state.status, rating_id=rating.id, rating_label=rating.label, risk=rating.risk,
        percent=percent, points=points, max_points=maximum, fired=tuple(fired),
        actions=tuple(actions),
        asked=tuple(a.question_id for a in effective if not a.skipped),
        skipped=tuple(a.question_id for a in effective if a.skipped),
        hidden=tuple(q.id for q in checklist.questions()
                     if q.id not in view.entries and _visibility(q, view) is False),
        answers=effective, gate_id=gate.id if gate is not None else None)


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
        return RunState(str(data["checklist_id"]), str(data["version"]), answers,
                        data["status"], bool(data["training"]),
                        None if data["cohort"] is None else str(data["cohort"]),
                        _notes(data["pending_notes"]))
    except (KeyError, TypeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not a run state: {exc}") from exc
