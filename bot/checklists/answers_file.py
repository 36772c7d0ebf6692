"""Running a checklist from a file of answers (case studies, tests): `partnerbot checklist run`."""

from __future__ import annotations

import datetime as dt
from typing import Any

from bot.checklists import engine as runs
from bot.checklists.model import Checklist


def run_from_answers(checklist: Checklist, answers: dict[str, Any], *,
                     source: str = "answers") -> dict[str, Any]:
    """Walk the checklist answering from `answers`; skippable questions without one are skipped.

    Raises ValueError naming the question when an answer is missing or not accepted.
    """
    at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    state = runs.start(checklist)
    while (question := runs.current_question(checklist, state)) is not None:
        if question.id in answers:
            try:
                state = runs.answer(checklist, state, answers[question.id], at=at)
            except runs.InvalidAnswer as exc:
                raise ValueError(f"{source}: {question.id}: {exc}") from exc
        elif question.skippable:
            state = runs.skip(checklist, state, at=at)
        else:
            raise ValueError(f"{source}: {question.id}: no answer for this question, which is "
                             f"asked here (\"{question.text}\"). Add it to the file.")
    outcome = runs.outcome(checklist, state)
    asked = list(outcome.asked)
    return {
        "checklist": checklist.id, "version": checklist.version, "status": outcome.status,
        "rating": outcome.rating_id, "rating_label": outcome.rating_label, "risk": outcome.risk,
        "percent": None if outcome.gate_id else round(outcome.percent, 1),
        "gate": outcome.gate_id,
        "fired_rules": [{"kind": r.kind, "ref": r.ref, "message": r.message,
                         "cites": [f"{c.doc}, {c.locator}" for c in r.cites]}
                        for r in outcome.fired],
        "actions": [{"text": a.text, "cites": [f"{c.doc}, {c.locator}" for c in a.cites],
                     "source": a.source} for a in outcome.actions],
        "asked": asked, "skipped": list(outcome.skipped),
        "ignored": [q for q in answers if q not in asked and q not in outcome.skipped],
    }
