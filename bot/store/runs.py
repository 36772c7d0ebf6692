"""Checklist runs and the history of their answers."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from bot.store.db import LogWriteError, Row, Store, _decode, _insert, _iso, _json, _since

IN_PROGRESS = "in_progress"


class Runs(Store):
    """Checklist runs: the state with the checklist snapshot it started on."""

    def create_run(
        self, *, user_id: int, chat_id: int | None, checklist_id: str, version: str,
        snapshot: dict[str, Any], state: dict[str, Any], training: bool, cohort: str | None,
    ) -> int:
        """Start a checklist run (status "in_progress"); returns its id."""
        now = self._now()
        row = {
            "user_id": user_id, "chat_id": chat_id, "checklist_id": checklist_id,
            "version": version, "snapshot": _json(snapshot), "state": _json(state),
            "status": IN_PROGRESS, "training": int(training), "cohort": cohort,
            "started_at": now, "updated_at": now,
        }
        with self._write("runs") as db:
            return _insert(db, "runs", row)

    def save_run(
        self, run_id: int, *, state: dict[str, Any], status: str, rating: str | None = None,
        score: float | None = None, fired_rules: list[Any] | None = None,
    ) -> None:
        """Replace a run's state and result; leaving "in_progress" stamps ``finished_at``."""
        now = self._now()
        with self._write("runs") as db:
            cursor = db.execute(
                """UPDATE runs SET state = ?, status = ?, rating = ?, score = ?, fired_rules = ?,
                updated_at = ?,
                finished_at = CASE WHEN ? = 'in_progress' THEN NULL
                                   ELSE coalesce(finished_at, ?) END
                WHERE id = ?""",
                [_json(state), status, rating, score,
                 None if fired_rules is None else _json(fired_rules), now, status, now, run_id],
            )
            if cursor.rowcount == 0:
                raise LogWriteError("runs", f"there is no run {run_id}")

    def log_run_answer(
        self, run_id: int, *, question_id: str, value: object, note: str | None, skipped: bool,
        at: str,
    ) -> None:
        """Append one answer to a run's history; ``at`` is ISO-8601 (naive means UTC)."""
        row = {
            "run_id": run_id, "question_id": question_id, "value": _json(value), "note": note,
            "skipped": int(skipped), "at": _iso(datetime.fromisoformat(at)),
        }
        with self._write("run_answers") as db:
            _insert(db, "run_answers", row)

    def run(self, run_id: int) -> Row | None:
        """One run with snapshot, state and fired_rules decoded."""
        rows = self._rows("SELECT * FROM runs WHERE id = ?", [run_id])
        return _decode("runs", rows[0]) if rows else None

    def active_run(self, user_id: int) -> Row | None:
        """The user's most recent run still in progress."""
        rows = self._rows(
            "SELECT * FROM runs WHERE user_id = ? AND status = ? ORDER BY id DESC LIMIT 1",
            [user_id, IN_PROGRESS],
        )
        return _decode("runs", rows[0]) if rows else None

    def runs(
        self, *, cohort: str | None = None, checklist_id: str | None = None,
        since: date | None = None,
    ) -> list[Row]:
        """Runs started since a date, filtered by cohort and checklist, oldest first."""
        sql = "SELECT * FROM runs WHERE started_at >= :since"
        if cohort is not None:
            sql += " AND cohort = :cohort"
        if checklist_id is not None:
            sql += " AND checklist_id = :checklist"
        params = {"since": _since(since), "cohort": cohort, "checklist": checklist_id}
        return [_decode("runs", row) for row in self._rows(sql + " ORDER BY id", params)]

    def run_answers(self, run_id: int) -> list[Row]:
        """A run's answer history in the order given, values decoded."""
        rows = self._rows("SELECT * FROM run_answers WHERE run_id = ? ORDER BY id", [run_id])
        return [_decode("run_answers", row) for row in rows]

