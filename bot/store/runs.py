"""Checklist runs and the history of their answers."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from bot.store.db import LogWriteError, Row, Store, _decode, _insert, _iso, _json, _since
from index.errors import Problem

IN_PROGRESS = "in_progress"


class RunChanged(Problem):
    """The run was saved by someone else (another tap, another worker) since it was read."""

    def __init__(self, run_id: int) -> None:
        super().__init__(f"Run {run_id} changed since it was read.",
                         "look at the question now on screen")
        self.run_id = run_id


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
        revision: int | None = None,
    ) -> int:
        """Replace a run's state and result; leaving "in_progress" stamps ``finished_at``.

        With `revision` (the one read), raise `RunChanged` when the run was saved since;
        returns the new revision.
        """
        now = self._now()
        sql = """UPDATE runs SET state = ?, status = ?, rating = ?, score = ?, fired_rules = ?,
                updated_at = ?, revision = revision + 1,
                finished_at = CASE WHEN ? = 'in_progress' THEN NULL
                                   ELSE coalesce(finished_at, ?) END
                WHERE id = ?"""
        params = [_json(state), status, rating, score,
                  None if fired_rules is None else _json(fired_rules), now, status, now, run_id]
        if revision is not None:
            sql += " AND revision = ?"
            params.append(revision)
        with self._write("runs") as db:
            cursor = db.execute(sql, params)
            if cursor.rowcount == 0:
                if db.execute("SELECT 1 FROM runs WHERE id = ?", [run_id]).fetchone():
                    raise RunChanged(run_id)
                raise LogWriteError("runs", f"there is no run {run_id}")
            return int(db.execute("SELECT revision FROM runs WHERE id = ?",
                                  [run_id]).fetchone()[0])

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

    def active_run(self, user_id: int, chat_id: int | None = None) -> Row | None:
        """The user's most recent run still in progress (in this chat, when given)."""
        sql = "SELECT * FROM runs WHERE user_id = ? AND status = ?"
        params: list[Any] = [user_id, IN_PROGRESS]
        if chat_id is not None:
            sql += " AND chat_id = ?"
            params.append(chat_id)
        rows = self._rows(sql + " ORDER BY id DESC LIMIT 1", params)
        return _decode("runs", rows[0]) if rows else None

    def user_runs(self, user_id: int, *, limit: int = 10) -> list[Row]:
        """The user's newest runs, newest first (snapshot and state decoded)."""
        rows = self._rows("SELECT * FROM runs WHERE user_id = ? ORDER BY id DESC LIMIT ?",
                          [user_id, limit])
        return [_decode("runs", row) for row in rows]

    # -- training cohorts --------------------------------------------------------------------

    def create_cohort(self, tag: str, *, created_by: int, checklist_id: str | None) -> bool:
        """Register a cohort for its trainer; False when the tag is someone else's."""
        with self._write("cohorts") as db:
            db.execute("INSERT INTO cohorts (tag, created_by, checklist_id, created_at)"
                       " VALUES (?, ?, ?, ?) ON CONFLICT (tag) DO NOTHING",
                       [tag, created_by, checklist_id, self._now()])
            owner = db.execute("SELECT created_by FROM cohorts WHERE tag = ?", [tag]).fetchone()
            return bool(owner and owner[0] == created_by)

    def cohort(self, tag: str) -> Row | None:
        """The cohort with this tag (who created it, when), if registered."""
        rows = self._rows("SELECT * FROM cohorts WHERE tag = ?", [tag])
        return rows[0] if rows else None

    def cohorts(self, *, created_by: int | None = None) -> list[Row]:
        """Registered cohorts (of one trainer), newest first, with their run counts."""
        sql = ("SELECT c.*, (SELECT count(*) FROM runs r WHERE r.cohort = c.tag) AS runs"
               " FROM cohorts c")
        params: list[Any] = []
        if created_by is not None:
            sql += " WHERE c.created_by = ?"
            params.append(created_by)
        return self._rows(sql + " ORDER BY c.created_at DESC", params)

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

