"""Running a checklist from a file of answers (case studies, tests): `partnerbot checklist run`.

An answer file is a YAML or JSON map of question id to answer, read strictly: a choice is its
option value (never its position), a multi choice a list of values, a number a number (a whole
one where the question counts), text is text. `partner:` at the top names the partner the run
is about. Every problem is reported as `file: question_id: message`, all of them at once.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from bot.checklists import engine as runs
from bot.checklists.model import Checklist
from index.errors import Problem


class AnswerFileError(Problem):
    """An answer file that cannot be run; `problems` holds `file: question_id: message` lines."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems), "fix the file and run it again")
        self.problems = problems


def read_answers(checklist: Checklist, answers: dict[Any, Any], *,
                 source: str = "answers") -> tuple[dict[str, runs.AnswerValue], str | None]:
    """Check every entry of an answer file against its question; return the parsed answers and
    the partner. Raise AnswerFileError listing every problem."""
    problems: list[str] = []
    parsed: dict[str, runs.AnswerValue] = {}
    partner: str | None = None
    for key, raw in answers.items():
        name = str(key)
        if name == "partner":
            if raw is not None and not isinstance(raw, str):
                problems.append(f"{source}: partner: expected the partner's name or reference "
                                f"as text, got {runs.describe_value(raw)}")
                continue
            try:
                partner = runs.clean_partner(raw)
            except runs.InvalidAnswer as exc:
                problems.append(f"{source}: partner: {exc}")
            continue
        question = checklist.question(name) if isinstance(key, str) else None
        if question is None:
            problems.append(f"{source}: {name}: there is no question '{name}' in the checklist "
                            f"'{checklist.id}' (see: partnerbot checklist show {checklist.id})")
            continue
        try:
            parsed[name] = runs.parse_answer(question, raw, strict=True)
        except runs.InvalidAnswer as exc:
            problems.append(f"{source}: {name}: {exc}")
    if problems:
        raise AnswerFileError(problems)
    return parsed, partner


def run_from_answers(checklist: Checklist, answers: dict[Any, Any], *, source: str = "answers",
                     partner: str | None = None) -> dict[str, Any]:
    """Walk the checklist answering from `answers`; skippable questions without one are skipped.

    `partner` (e.g. from --partner) overrides the file's `partner:`. Raises AnswerFileError
    naming the file and question for every answer that is not accepted or is missing.
    """
    values, named = read_answers(checklist, answers, source=source)
    at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    state = runs.start(checklist, partner=partner if partner is not None else named)
    while (question := runs.current_question(checklist, state)) is not None:
        if question.id in values:
            state = runs.answer(checklist, state, values[question.id], at=at)
        elif question.skippable:
            state = runs.skip(checklist, state, at=at)
        else:
            raise AnswerFileError([f"{source}: {question.id}: no answer for this question, which "
                                   f"is asked here (\"{question.text}\"). Add it to the file."])
    outcome = runs.outcome(checklist, state)
    asked = list(outcome.asked)
    return {
        "checklist": checklist.id, "version": checklist.version, "partner": outcome.partner,
        "status": outcome.status, "rating": outcome.rating_id,
        "rating_label": outcome.rating_label, "risk": outcome.risk,
        "percent": None if outcome.gate_id else round(outcome.percent, 1),
        "gate": outcome.gate_id,
        "fired_rules": [{"kind": r.kind, "ref": r.ref, "message": r.message,
                         "cites": [f"{c.doc}, {c.locator}" for c in r.cites],
                         "applies": r.applies}
                        for r in outcome.fired],
        "actions": [{"text": a.text, "cites": [f"{c.doc}, {c.locator}" for c in a.cites],
                     "source": a.source, "applies": a.applies} for a in outcome.actions],
        "asked": asked, "skipped": list(outcome.skipped),
        "ignored": [q for q in values if q not in asked and q not in outcome.skipped],
    }
