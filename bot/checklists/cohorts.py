"""A training cohort's runs: one row per answer (`partnerbot runs export`), and the summary a
trainer sees with `/cohort` (counts by status and rating, the spread of answers)."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any, Protocol

from bot.checklists import engine as runs
from bot.checklists.loading import checklist_from_dict
from bot.checklists.reports import answer_label


class RunSource(Protocol):
    def runs(self, *, cohort: str | None = None) -> list[dict[str, Any]]:
        """The runs of a cohort, oldest first, snapshot and state decoded."""


def cohort_rows(store: RunSource, cohort: str) -> list[dict[str, Any]]:
    """One row per answer of every run in the cohort, with the run's status and rating."""
    rows: list[dict[str, Any]] = []
    for run in store.runs(cohort=cohort):
        checklist = checklist_from_dict(run["snapshot"], source=f"run {run['id']}")
        state = runs.state_from_json(json.dumps(run["state"]))
        for answer in state.answers:
            question = checklist.question(answer.question_id)
            rows.append({
                "run_id": run["id"], "user_id": run["user_id"], "cohort": cohort,
                "checklist": checklist.id, "version": checklist.version,
                "status": run["status"], "rating": run.get("rating") or "",
                "question_id": answer.question_id,
                "question": question.text if question else answer.question_id,
                "answer": answer_label(question, answer), "note": answer.note or "",
                "at": answer.at,
            })
    return rows


def cohort_summary(store: RunSource, cohort: str) -> dict[str, Any]:
    """Runs by status and rating, and per (checklist, question) how often each answer came."""
    found = store.runs(cohort=cohort)
    answers: dict[tuple[str, str], Counter[str]] = {}
    for row in cohort_rows(store, cohort):
        answers.setdefault((row["checklist"], row["question"]), Counter())[row["answer"]] += 1
    return {"runs": len(found),
            "status": dict(Counter(r["status"] for r in found)),
            "ratings": dict(Counter(r["rating"] for r in found if r.get("rating"))),
            "answers": {key: dict(counts) for key, counts in answers.items()}}
