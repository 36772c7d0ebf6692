"""Runs read back from the session log: one row per answer (`partnerbot runs export`), one row
per run (`partnerbot runs list`, to find a past run by partner or user), and the summary a
trainer sees with `/cohort` (counts by status and rating, the runs with their partners, the
spread of answers)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any, Protocol

from bot.checklists import engine as runs
from bot.checklists.loading import checklist_from_dict
from bot.checklists.model import Checklist
from bot.checklists.reports import answer_label


class RunSource(Protocol):
    def runs(self, *, cohort: str | None = None) -> list[dict[str, Any]]:
        """The runs (of a cohort), oldest first, snapshot and state decoded."""


def restore(run: dict[str, Any]) -> tuple[Checklist, runs.RunState]:
    """A stored run's checklist (the snapshot it started on) and state."""
    checklist = checklist_from_dict(run["snapshot"], source=f"run {run['id']}")
    return checklist, runs.state_from_json(json.dumps(run["state"]))


def _matches(state: runs.RunState, run: dict[str, Any], partner: str | None,
             user_id: int | None) -> bool:
    if user_id is not None and run["user_id"] != user_id:
        return False
    return partner is None or partner.casefold() in (state.partner or "").casefold()


def _matching(store: RunSource, cohort: str | None, partner: str | None,
              user_id: int | None) -> Iterator[tuple[dict[str, Any], Checklist, runs.RunState]]:
    """The runs of the cohort (all when None) that match the filters, restored, oldest first."""
    for run in store.runs(cohort=cohort):
        checklist, state = restore(run)
        if _matches(state, run, partner, user_id):
            yield run, checklist, state


def run_list(store: RunSource, *, cohort: str | None = None, partner: str | None = None,
             user_id: int | None = None) -> list[dict[str, Any]]:
    """One row per run, oldest first; `partner` matches any part of the name, in any case."""
    rows: list[dict[str, Any]] = []
    for run, checklist, state in _matching(store, cohort, partner, user_id):
        rows.append({
            "run_id": run["id"], "user_id": run["user_id"], "partner": state.partner or "",
            "checklist": checklist.id, "version": checklist.version, "cohort": run["cohort"] or "",
            "status": run["status"], "rating": run.get("rating") or "",
            "started": run.get("started_at") or "", "finished": run.get("finished_at") or "",
        })
    return rows


def run_rows(store: RunSource, *, cohort: str | None = None, partner: str | None = None,
             user_id: int | None = None) -> list[dict[str, Any]]:
    """One row per answer of every matching run, with the run's partner, status and rating."""
    rows: list[dict[str, Any]] = []
    for run, checklist, state in _matching(store, cohort, partner, user_id):
        for answer in state.answers:
            question = checklist.question(answer.question_id)
            rows.append({
                "run_id": run["id"], "user_id": run["user_id"], "partner": state.partner or "",
                "cohort": run["cohort"] or "", "checklist": checklist.id,
                "version": checklist.version, "status": run["status"],
                "rating": run.get("rating") or "", "question_id": answer.question_id,
                "question": question.text if question else answer.question_id,
                "answer": answer_label(question, answer), "note": answer.note or "",
                "at": answer.at,
            })
    return rows


def cohort_rows(store: RunSource, cohort: str) -> list[dict[str, Any]]:
    """One row per answer of every run in the cohort, with the run's status and rating."""
    return run_rows(store, cohort=cohort)


def cohort_summary(store: RunSource, cohort: str) -> dict[str, Any]:
    """Runs by status and rating, each run with its partner, and per (checklist, question) how
    often each answer came."""
    found = store.runs(cohort=cohort)
    answers: dict[tuple[str, str], Counter[str]] = {}
    for row in cohort_rows(store, cohort):
        answers.setdefault((row["checklist"], row["question"]), Counter())[row["answer"]] += 1
    return {"runs": len(found),
            "status": dict(Counter(r["status"] for r in found)),
            "ratings": dict(Counter(r["rating"] for r in found if r.get("rating"))),
            "partners": [{"run_id": r["run_id"], "user_id": r["user_id"],
                          "partner": r["partner"], "checklist": r["checklist"],
                          "status": r["status"], "rating": r["rating"]}
                         for r in run_list(store, cohort=cohort)],
            "answers": {key: dict(counts) for key, counts in answers.items()}}
