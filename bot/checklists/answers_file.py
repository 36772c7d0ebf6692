"""Running a checklist from a map of answers (case studies, tests) and cohort exports."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from bot import runs
from bot.checklists import Checklist, checklist_from_dict
from bot.reports import answer_label
from bot.sessions import SessionLog


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


def cohort_rows(sessions: SessionLog, cohort: str) -> list[dict[str, Any]]:
    """One row per answer of every run in the cohort, with the run's rating."""
    rows: list[dict[str, Any]] = []
    for run in sessions.runs(cohort=cohort):
        checklist = checklist_from_dict(run["snapshot"])
        state = runs.state_from_json(json.dumps(run["state"]))
        for answer in state.answers:
            question = checklist.question(answer.question_id)
            rows.append({
                "run_id": run["id"], "user_id": run["user_id"], "cohort": cohort,
                "checklist": checklist.id, "version": checklist.version,
                "status": run["status"], "rating": run.get("rating") or "",
                "question_id": answer.question_id,
                "question": question.text if question else "",
                "answer": answer_label(question, answer), "note": answer.note or "",
                "at": answer.at,
            })
    return rows
