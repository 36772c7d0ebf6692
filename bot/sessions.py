"""The session log: users and roles, every message in and out, answers with the passages they
used, feedback, checklist runs, and an audit trail of admin actions, in one SQLite file.

One connection in WAL mode (``synchronous=NORMAL``) guarded by a lock, shared by all threads.
Every write is one ``BEGIN IMMEDIATE`` transaction; any sqlite3 error during a write is raised
as :class:`LogWriteError`. Long reads (stats, exports) use their own read-only connection, so
they never hold up the bot's writes. Times are ISO-8601 UTC text. The schema lives in
:mod:`bot.migrations`.
"""

from __future__ import annotations

import csv
import json
import math
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from sqlite_utils import Database

from bot.migrations import applied, migrate

ROLES = ("staff", "trainer", "admin")
IN_PROGRESS = "in_progress"
EXPORT_FORMATS = ("csv", "jsonl")
# The exported tables, and how ``since`` selects their rows.
_SINCE = {
    "users": "last_seen >= :since",
    "access_requests": "requested_at >= :since",
    "messages": "at >= :since",
    "answers": "at >= :since",
    "answer_passages": "answer_id IN (SELECT id FROM answers WHERE at >= :since)",
    "feedback": "at >= :since",
    "runs": "updated_at >= :since",
    "run_answers": "at >= :since",
    "audit": "at >= :since",
}
EXPORT_TABLES = tuple(_SINCE)
_JSON_COLUMNS = {
    "messages": ("raw",),
    "runs": ("snapshot", "state", "fired_rules"),
    "run_answers": ("value",),
    "audit": ("detail",),
}
_BOOL_COLUMNS = {"answers": ("grounded",), "runs": ("training",), "run_answers": ("skipped",)}

Clock = Callable[[], datetime]
Row = dict[str, Any]


class LogWriteError(Exception):
    """The session log could not be written (database locked, disk full, read-only ...)."""

    def __init__(self, table: str, reason: str) -> None:
        super().__init__(f"Could not write to the session log ({table}): {reason}")
        self.table = table
        self.reason = reason


@dataclass(frozen=True)
class Stats:
    """Usage figures for admins, over everything logged since a date (or ever)."""

    since: date | None
    users: int  # distinct users who sent at least one message
    questions: int
    answered: int
    declined: int
    questions_per_day: list[tuple[str, int, int]]  # (YYYY-MM-DD, answered, declined), no gaps
    unanswered: list[tuple[str, int, str]]  # (question, times asked, last asked), most asked first
    # (question, answer, comment, when), newest first
    negative_feedback: list[tuple[str | None, str | None, str | None, str]]
    top_passages: list[tuple[str, int]]  # (chunk_id, citations by answered questions)
    runs: list[tuple[str, str | None, int]]  # (checklist_id, rating, runs); training excluded
    training_runs: int
    messages_in: int
    messages_out: int
    latency_p50_ms: float | None  # of outgoing messages
    latency_p95_ms: float | None


def _iso(moment: datetime) -> str:
    """ISO-8601 UTC text of fixed width, so text order is time order (naive means UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _since(since: date | None) -> str:
    """Lower bound for an ``at >= ?`` filter; '' sorts before every timestamp."""
    if since is None:
        return ""
    return _iso(since) if isinstance(since, datetime) else since.isoformat()


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def _decode(table: str, row: Row) -> Row:
    """Turn a row's JSON text and 0/1 columns back into Python values."""
    for column in _JSON_COLUMNS.get(table, ()):
        if row.get(column) is not None:
            row[column] = json.loads(row[column])
    for column in _BOOL_COLUMNS.get(table, ()):
        if row.get(column) is not None:
            row[column] = bool(row[column])
    return row


def _insert(db: Database, table: str, row: Row) -> int:
    columns = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    cursor = db.execute(f"INSERT INTO {table} ({columns}) VALUES ({marks})", list(row.values()))
    return int(cursor.lastrowid or 0)


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise ValueError(f"Unknown role {role!r}; expected one of {', '.join(ROLES)}")


class SessionLog:
    """The session log in one SQLite file, safe to share between threads."""

    def __init__(self, path: Path | str, *, timeout: float = 5.0, clock: Clock | None = None):
        """Remember where the log lives; the file is opened (and created) on first use.

        :param timeout: seconds a write waits for another connection's lock before failing.
        :param clock: returns the current time; for tests.
        """
        self.path = Path(path)
        self.timeout = timeout
        self._clock: Clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.RLock()
        self._db: Database | None = None

    def __enter__(self) -> SessionLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection; a later call opens it again."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    # -- connection ------------------------------------------------------------------------

    def _open(self) -> Database:
        """The shared connection, opened with the schema up to date. Call with the lock held."""
        if self._db is not None:
            return self._db
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LogWriteError("database", f"cannot create {self.path.parent}: {exc}") from exc
        # A file without write permission is opened read-only, even by root.
        read_only = self.path.exists() and not self.path.stat().st_mode & 0o222
        target = self.path.resolve().as_uri() + "?mode=ro" if read_only else str(self.path)
        conn: sqlite3.Connection | None = None
        try:
            conn = sqlite3.connect(target, uri=read_only, timeout=self.timeout,
                                   isolation_level=None, check_same_thread=False)
            if not read_only:
                conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA secure_delete = ON")  # deleted or blanked text is zeroed
            db = Database(conn)
            migrate(db)
        except sqlite3.Error as exc:
            if conn is not None:
                conn.close()
            raise LogWriteError("_migrations", f"cannot open {self.path}: {exc}") from exc
        self._db = db
        return db

    @contextmanager
    def _write(self, table: str) -> Iterator[Database]:
        """Run the block as one IMMEDIATE transaction; a sqlite3 error becomes LogWriteError."""
        with self._lock:
            db = self._open()
            try:
                db.execute("BEGIN IMMEDIATE")
                yield db
                db.execute("COMMIT")
            except sqlite3.Error as exc:
                raise LogWriteError(table, str(exc)) from exc
            finally:
                if db.conn.in_transaction:
                    try:
                        db.conn.execute("ROLLBACK")
                    except sqlite3.Error:
                        pass  # the original error is the one worth reporting

    def _rows(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[Row]:
        with self._lock:
            return list(self._open().query(sql, params))

    @contextmanager
    def _snapshot(self) -> Iterator[Database]:
        """A separate read-only connection on one consistent snapshot, for long reads."""
        with self._lock:
            self._open()
        conn = sqlite3.connect(self.path.resolve().as_uri() + "?mode=ro", uri=True,
                               timeout=self.timeout, isolation_level=None)
        try:
            db = Database(conn)
            db.execute("BEGIN")
            yield db
        finally:
            conn.close()

    def _checkpoint(self) -> None:
        """Copy the WAL into the file and truncate it, so no old page images remain there."""
        with self._lock:
            self._open().execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def _now(self) -> str:
        return _iso(self._clock())

    @property
    def schema_version(self) -> int:
        """Number of the newest migration applied to the file."""
        with self._lock:
            return max(applied(self._open()), default=0)

    # -- users and roles -------------------------------------------------------------------

    def touch_user(
        self, user_id: int, *, username: str | None, first_name: str | None, language: str | None
    ) -> None:
        """Record that a user was seen; a field given as None keeps its stored value."""
        now = self._now()
        with self._write("users") as db:
            db.execute(
                """INSERT INTO users (id, username, first_name, language, first_seen, last_seen)
                VALUES (:id, :username, :first_name, :language, :now, :now)
                ON CONFLICT (id) DO UPDATE SET
                    username = coalesce(excluded.username, username),
                    first_name = coalesce(excluded.first_name, first_name),
                    language = coalesce(excluded.language, language),
                    first_seen = coalesce(first_seen, excluded.first_seen),
                    last_seen = excluded.last_seen""",
                {"id": user_id, "username": username, "first_name": first_name,
                 "language": language, "now": now},
            )

    def role(self, user_id: int) -> str | None:
        """The user's role, or None if they are not allowed."""
        rows = self._rows("SELECT role FROM users WHERE id = ?", [user_id])
        return rows[0]["role"] if rows else None

    def users(self) -> list[Row]:
        """Every known user, by id."""
        return self._rows("SELECT * FROM users ORDER BY id")

    def _set_role(
        self, db: Database, user_id: int, role: str | None, *, source: str, actor: int | str,
        action: str,
    ) -> None:
        row = db.execute("SELECT role FROM users WHERE id = ?", [user_id]).fetchone()
        db.execute(
            """INSERT INTO users (id, role, role_source) VALUES (?, ?, ?)
            ON CONFLICT (id) DO UPDATE SET role = excluded.role, role_source = excluded.role_source
            """,
            [user_id, role, source],
        )
        detail = {"user_id": user_id, "role": role, "previous": row[0] if row else None}
        self._audit(db, actor, action, detail)

    def set_role(self, user_id: int, role: str, *, by: int | str) -> None:
        """Give a user a role (audited); bootstrap_roles will not downgrade it."""
        _check_role(role)
        with self._write("users") as db:
            self._set_role(db, user_id, role, source="admin", actor=by, action="set_role")

    def revoke(self, user_id: int, *, by: int | str) -> bool:
        """Take a user's access away (audited), also in an open pilot; False if already revoked."""
        with self._write("users") as db:
            row = db.execute("SELECT role, role_source FROM users WHERE id = ?",
                             [user_id]).fetchone()
            if row is not None and row[0] is None and row[1] == "admin":
                return False
            self._set_role(db, user_id, None, source="admin", actor=by, action="revoke")
            return True

    def revoked(self, user_id: int) -> bool:
        """True when an admin took this user's access away (it outlives the settings)."""
        rows = self._rows("SELECT role, role_source FROM users WHERE id = ?", [user_id])
        return bool(rows) and rows[0]["role"] is None and rows[0]["role_source"] == "admin"

    def bootstrap_roles(self, *, admins: Iterable[int], allowed: Iterable[int]) -> None:
        """Apply the roles from settings at start-up; each change is audited by "settings".

        Settings admins become "admin". Other allowed users get "staff" unless an admin set
        or revoked their role in the bot: that decision stands. A role that came from settings
        is removed when the user is no longer listed there.
        """
        admin_ids = set(admins)
        allowed_ids = set(allowed) - admin_ids
        with self._write("users") as db:
            current = {
                r["id"]: (r["role"], r["role_source"])
                for r in db.query("SELECT id, role, role_source FROM users")
            }
            from_settings = {uid for uid, (_, source) in current.items() if source == "settings"}
            for uid in sorted(admin_ids | allowed_ids | from_settings):
                role, source = current.get(uid, (None, None))
                if uid in admin_ids:
                    wanted: str | None = "admin"
                elif source == "admin":
                    continue
                else:
                    wanted = "staff" if uid in allowed_ids else None
                if wanted != role:
                    self._set_role(
                        db, uid, wanted, source="settings", actor="settings", action="bootstrap"
                    )

    def request_access(self, user_id: int, *, note: str | None = None) -> int:
        """Record a request to join and return its id; a pending request is reused."""
        with self._write("access_requests") as db:
            row = db.execute(
                "SELECT id FROM access_requests WHERE user_id = ? AND status = 'pending'",
                [user_id],
            ).fetchone()
            if row is not None:
                if note is not None:
                    db.execute("UPDATE access_requests SET note = ? WHERE id = ?", [note, row[0]])
                return int(row[0])
            return _insert(
                db,
                "access_requests",
                {"user_id": user_id, "note": note, "status": "pending",
                 "requested_at": self._now()},
            )

    def pending_requests(self) -> list[Row]:
        """Open requests, oldest first, with the user's name where known."""
        return self._rows(
            """SELECT r.id, r.user_id, r.note, r.requested_at, u.username, u.first_name
            FROM access_requests r LEFT JOIN users u ON u.id = r.user_id
            WHERE r.status = 'pending' ORDER BY r.id"""
        )

    def resolve_request(
        self, request_id: int, *, approve: bool, by: int | str, role: str = "staff"
    ) -> Row | None:
        """Approve (giving ``role``) or deny a pending request, audited; None if not pending."""
        if approve:
            _check_role(role)
        with self._write("access_requests") as db:
            row = db.execute(
                "SELECT user_id FROM access_requests WHERE id = ? AND status = 'pending'",
                [request_id],
            ).fetchone()
            if row is None:
                return None
            db.execute(
                """UPDATE access_requests SET status = ?, role = ?, resolved_at = ?,
                resolved_by = ? WHERE id = ?""",
                ["approved" if approve else "denied", role if approve else None, self._now(),
                 str(by), request_id],
            )
            if approve:
                self._set_role(db, row[0], role, source="admin", actor=by, action="approve")
            else:
                self._audit(db, by, "deny", {"request_id": request_id, "user_id": row[0]})
            return next(db.query("SELECT * FROM access_requests WHERE id = ?", [request_id]))

    # -- messages, answers, feedback -------------------------------------------------------

    def log_incoming(
        self, *, user_id: int | None, chat_id: int | None, chat_type: str | None, kind: str,
        text: str | None, update_id: int | None = None, raw: dict[str, Any] | None = None,
        front: str = "telegram",
    ) -> int:
        """Store one incoming message of any kind, handled or not; returns its id."""
        row = {
            "at": self._now(), "direction": "in", "front": front, "user_id": user_id,
            "chat_id": chat_id, "chat_type": chat_type, "kind": kind, "text": text,
            "update_id": update_id,
            "raw": None if raw is None else json.dumps(raw, ensure_ascii=False, default=str),
        }
        with self._write("messages") as db:
            return _insert(db, "messages", row)

    def log_outgoing(
        self, *, chat_id: int | None, user_id: int | None, reply_to: int | None, text: str,
        latency_ms: float, front: str = "telegram",
    ) -> int:
        """Store one message the bot sent; ``reply_to`` is the id of the incoming row."""
        row = {
            "at": self._now(), "direction": "out", "front": front, "user_id": user_id,
            "chat_id": chat_id, "kind": "text", "text": text, "reply_to": reply_to,
            "latency_ms": latency_ms,
        }
        with self._write("messages") as db:
            return _insert(db, "messages", row)

    def log_answer(
        self, *, message_id: int | None, user_id: int | None, chat_id: int | None, question: str,
        query: str, answer: str, grounded: bool, index_version: str,
        passages: Sequence[tuple[str, float]], top_score: float,
    ) -> int:
        """Store an answer (or a decline) and its passages in rank order; returns its id."""
        row = {
            "at": self._now(), "message_id": message_id, "user_id": user_id, "chat_id": chat_id,
            "question": question, "query": query, "answer": answer, "grounded": int(grounded),
            "index_version": index_version, "top_score": top_score,
        }
        with self._write("answers") as db:
            answer_id = _insert(db, "answers", row)
            db.conn.executemany(
                "INSERT INTO answer_passages (answer_id, rank, chunk_id, score)"
                " VALUES (?, ?, ?, ?)",
                [(answer_id, rank, chunk, float(score))
                 for rank, (chunk, score) in enumerate(passages, start=1)],
            )
            return answer_id

    def _with_passages(self, db: Database, row: Row) -> Row:
        row["passages"] = [
            (chunk, score)
            for chunk, score in db.execute(
                "SELECT chunk_id, score FROM answer_passages WHERE answer_id = ? ORDER BY rank",
                [row["id"]],
            )
        ]
        return _decode("answers", row)

    def answer(self, answer_id: int) -> Row | None:
        """One answer with ``passages`` as [(chunk_id, score)] in rank order."""
        with self._lock:
            db = self._open()
            rows = list(db.query("SELECT * FROM answers WHERE id = ?", [answer_id]))
            return self._with_passages(db, rows[0]) if rows else None

    def last_answer(
        self, *, chat_id: int, user_id: int, within_seconds: float | None = None
    ) -> Row | None:
        """The user's latest answer in this chat (optionally only if recent), for follow-ups."""
        sql = "SELECT * FROM answers WHERE chat_id = :chat AND user_id = :user"
        params: dict[str, Any] = {"chat": chat_id, "user": user_id}
        if within_seconds is not None:
            sql += " AND at >= :after"
            params["after"] = _iso(self._clock() - timedelta(seconds=within_seconds))
        with self._lock:
            db = self._open()
            rows = list(db.query(sql + " ORDER BY id DESC LIMIT 1", params))
            return self._with_passages(db, rows[0]) if rows else None

    def log_feedback(
        self, *, answer_id: int, user_id: int, value: int, comment: str | None = None
    ) -> int:
        """Store a +1/-1 vote, replacing the user's earlier vote on that answer; returns its id."""
        if value not in (1, -1):
            raise ValueError(f"Feedback value must be 1 or -1, got {value!r}")
        with self._write("feedback") as db:
            db.execute(
                """INSERT INTO feedback (answer_id, user_id, value, comment, at)
                VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (answer_id, user_id) DO UPDATE SET
                    value = excluded.value, comment = excluded.comment, at = excluded.at""",
                [answer_id, user_id, value, comment, self._now()],
            )
            row = db.execute(
                "SELECT id FROM feedback WHERE answer_id = ? AND user_id = ?", [answer_id, user_id]
            ).fetchone()
            return int(row[0])

    def add_feedback_comment(self, *, answer_id: int, user_id: int, comment: str) -> bool:
        """Attach a comment to the user's vote on an answer; False if there is no vote."""
        with self._write("feedback") as db:
            cursor = db.execute(
                "UPDATE feedback SET comment = ? WHERE answer_id = ? AND user_id = ?",
                [comment, answer_id, user_id],
            )
            return cursor.rowcount > 0

    # -- checklist runs --------------------------------------------------------------------

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

    # -- admin -----------------------------------------------------------------------------

    def _audit(
        self, db: Database, actor: int | str, action: str, detail: dict[str, Any] | None
    ) -> None:
        _insert(
            db,
            "audit",
            {"at": self._now(), "actor": str(actor), "action": action,
             "detail": None if detail is None else _json(detail)},
        )

    def audit(self, *, actor: int | str, action: str, detail: dict[str, Any] | None = None) -> None:
        """Record an admin action; ``actor`` is a user id or a name such as "cli"."""
        with self._write("audit") as db:
            self._audit(db, actor, action, detail)

    def audit_log(self, since: date | None = None) -> list[Row]:
        """Audit rows since a date, oldest first, detail decoded."""
        rows = self._rows("SELECT * FROM audit WHERE at >= ? ORDER BY id", [_since(since)])
        return [_decode("audit", row) for row in rows]

    def stats(self, *, since: date | None = None, limit: int = 10) -> Stats:
        """Usage figures since a date; lists hold at most ``limit`` entries."""
        p = {"since": _since(since), "limit": limit}
        with self._snapshot() as db:

            def rows(sql: str) -> list[tuple[Any, ...]]:
                return [tuple(row) for row in db.execute(sql, p)]

            per_day = rows(
                """SELECT substr(at, 1, 10) AS day, sum(grounded), sum(1 - grounded)
                FROM answers WHERE at >= :since GROUP BY day ORDER BY day"""
            )
            directions = dict(rows(
                "SELECT direction, count(*) FROM messages WHERE at >= :since GROUP BY direction"
            ))
            latencies = [value for (value,) in rows(
                """SELECT latency_ms FROM messages WHERE direction = 'out'
                AND latency_ms IS NOT NULL AND at >= :since ORDER BY latency_ms"""
            )]
            return Stats(
                since=since,
                users=rows(
                    """SELECT count(DISTINCT user_id) FROM messages
                    WHERE direction = 'in' AND at >= :since"""
                )[0][0],
                questions=sum(a + d for _, a, d in per_day),
                answered=sum(a for _, a, _ in per_day),
                declined=sum(d for _, _, d in per_day),
                questions_per_day=_fill_days(per_day),
                # The bare question comes from the row with max(at): the latest wording.
                unanswered=rows(
                    """SELECT question, count(*) AS n, max(at) AS last FROM answers
                    WHERE grounded = 0 AND question IS NOT NULL AND at >= :since
                    GROUP BY lower(trim(question)) ORDER BY n DESC, last DESC LIMIT :limit"""
                ),
                negative_feedback=rows(
                    """SELECT a.question, a.answer, f.comment, f.at
                    FROM feedback f JOIN answers a ON a.id = f.answer_id
                    WHERE f.value = -1 AND f.at >= :since ORDER BY f.at DESC LIMIT :limit"""
                ),
                top_passages=rows(
                    """SELECT p.chunk_id, count(*) AS n
                    FROM answer_passages p JOIN answers a ON a.id = p.answer_id
                    WHERE a.grounded = 1 AND a.at >= :since
                    GROUP BY p.chunk_id ORDER BY n DESC, p.chunk_id LIMIT :limit"""
                ),
                runs=rows(
                    """SELECT checklist_id, rating, count(*) FROM runs
                    WHERE training = 0 AND started_at >= :since
                    GROUP BY checklist_id, rating ORDER BY checklist_id, rating"""
                ),
                training_runs=rows(
                    "SELECT count(*) FROM runs WHERE training = 1 AND started_at >= :since"
                )[0][0],
                messages_in=directions.get("in", 0),
                messages_out=directions.get("out", 0),
                latency_p50_ms=_percentile(latencies, 0.50),
                latency_p95_ms=_percentile(latencies, 0.95),
            )

    def export(
        self, out: TextIO, *, fmt: str, since: date | None = None,
        tables: Sequence[str] | None = None,
    ) -> int:
        """Write rows to ``out`` and return how many.

        "jsonl": one object per row with a "table" key, for all tables or those given.
        "csv": exactly one table, header first; use :meth:`export_all` for every table.
        """
        names = list(EXPORT_TABLES if tables is None else tables)
        unknown = [name for name in names if name not in EXPORT_TABLES]
        if unknown:
            raise ValueError(f"Unknown table {unknown[0]!r}; expected one of {EXPORT_TABLES}")
        if fmt not in EXPORT_FORMATS:
            raise ValueError(f"Unknown export format {fmt!r}; expected csv or jsonl")
        if fmt == "csv" and len(names) != 1:
            raise ValueError("A CSV export holds one table: pass tables=[name] or use export_all")
        with self._snapshot() as db:
            return sum(_export_table(db, out, name, fmt, since) for name in names)

    def export_all(
        self, directory: Path | str, *, fmt: str = "csv", since: date | None = None
    ) -> dict[str, int]:
        """Write one file per table (``messages.csv`` ...) from one snapshot; rows per table."""
        if fmt not in EXPORT_FORMATS:
            raise ValueError(f"Unknown export format {fmt!r}; expected csv or jsonl")
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        counts = {}
        with self._snapshot() as db:
            for name in EXPORT_TABLES:
                with open(directory / f"{name}.{fmt}", "w", encoding="utf-8", newline="") as out:
                    counts[name] = _export_table(db, out, name, fmt, since)
        return counts

    def apply_retention(self, days: int, *, now: datetime | None = None) -> int:
        """Blank the text of messages, answers and feedback comments older than ``days``.

        Rows, ids, times and figures stay, so counts and stats are unchanged. Returns the number
        of rows blanked (0 when run again); audited as actor "retention" when non-zero.
        """
        if days < 0:
            raise ValueError(f"Retention days must be 0 or more, got {days}")
        cutoff = _iso((now or self._clock()) - timedelta(days=days))
        with self._write("messages, answers, feedback") as db:
            blanked = sum(
                db.execute(sql, [cutoff]).rowcount
                for sql in (
                    "UPDATE messages SET text = NULL, raw = NULL"
                    " WHERE at < ? AND (text IS NOT NULL OR raw IS NOT NULL)",
                    "UPDATE answers SET question = NULL, query = NULL, answer = NULL WHERE at < ?"
                    " AND (question IS NOT NULL OR query IS NOT NULL OR answer IS NOT NULL)",
                    "UPDATE feedback SET comment = NULL WHERE at < ? AND comment IS NOT NULL",
                )
            )
            if blanked:
                self._audit(
                    db, "retention", "retention", {"days": days, "before": cutoff, "rows": blanked}
                )
        self._checkpoint()
        return blanked

    def forget(self, user_id: int, *, by: int | str) -> dict[str, int]:
        """Delete everything the user said or was told, then audit it; returns rows per table.

        Goes: the user's messages, the bot's replies to them and everything in their private
        chat; their questions and answers with passages and any feedback on those; their own
        feedback; their runs and run answers; access requests; the user row. ``raw`` updates of
        other people that embed this user (a reply quoting them) are blanked too.
        """
        answers = "SELECT id FROM answers WHERE user_id = :user OR chat_id = :user"
        steps = {
            "feedback": f"DELETE FROM feedback WHERE user_id = :user OR answer_id IN ({answers})",
            "answer_passages": f"DELETE FROM answer_passages WHERE answer_id IN ({answers})",
            "answers": "DELETE FROM answers WHERE user_id = :user OR chat_id = :user",
            "run_answers": "DELETE FROM run_answers"
            " WHERE run_id IN (SELECT id FROM runs WHERE user_id = :user)",
            "runs": "DELETE FROM runs WHERE user_id = :user",
            # From a list made first: a DELETE's subquery on its own table sees rows vanish.
            "messages": "DELETE FROM messages WHERE id IN (SELECT value FROM json_each(:mine))"
            " OR reply_to IN (SELECT value FROM json_each(:mine))",
            "raw_blanked": "UPDATE messages SET raw = NULL WHERE json_valid(raw) AND EXISTS"
            " (SELECT 1 FROM json_tree(messages.raw) WHERE key = 'id' AND atom = :user)",
            "access_requests": "DELETE FROM access_requests WHERE user_id = :user",
            "users": "DELETE FROM users WHERE id = :user",
        }
        with self._write("forget") as db:
            mine = db.execute(
                "SELECT json_group_array(id) FROM messages"
                " WHERE user_id = :user OR chat_id = :user",
                {"user": user_id},
            ).fetchone()[0]
            params = {"user": user_id, "mine": mine}
            counts = {name: db.execute(sql, params).rowcount for name, sql in steps.items()}
            self._audit(db, by, "forget", {"user_id": user_id, "rows": counts})
        self._checkpoint()
        return counts


def _fill_days(per_day: list[tuple[Any, ...]]) -> list[tuple[str, int, int]]:
    """Per-day counts with the missing days between first and last filled with zeros."""
    if not per_day:
        return []
    found = {day: (int(answered), int(declined)) for day, answered, declined in per_day}
    first, last = date.fromisoformat(per_day[0][0]), date.fromisoformat(per_day[-1][0])
    days = (first + timedelta(days=n) for n in range((last - first).days + 1))
    return [(d.isoformat(), *found.get(d.isoformat(), (0, 0))) for d in days]


def _percentile(ordered: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile of an ascending list; None for an empty one."""
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)] if ordered else None


def _export_table(db: Database, out: TextIO, table: str, fmt: str, since: date | None) -> int:
    """Stream one table to ``out`` as CSV (with header) or JSON lines; returns rows written."""
    sql = f"SELECT * FROM {table}"
    if since is not None:
        sql += f" WHERE {_SINCE[table]}"
    cursor = db.execute(sql + " ORDER BY rowid", {"since": _since(since)})
    columns = [d[0] for d in cursor.description]
    count = 0
    if fmt == "csv":
        writer = csv.writer(out)
        writer.writerow(columns)
        for row in cursor:
            writer.writerow(row)
            count += 1
    else:
        for row in cursor:
            record = _decode(table, dict(zip(columns, row, strict=True)))
            out.write(json.dumps({"table": table, **record}, ensure_ascii=False) + "\n")
            count += 1
    return count
