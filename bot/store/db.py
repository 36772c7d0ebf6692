"""The session log's connection: one SQLite file in WAL mode, every write one IMMEDIATE
transaction, sqlite3 errors raised as `LogWriteError`, long reads on their own read-only
connection.

One connection (``synchronous=NORMAL``) guarded by a lock, shared by all threads. Times are
ISO-8601 UTC text. The schema lives in :mod:`bot.store.migrations`. This package is the only
code that talks to a database.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Self

from sqlite_utils import Database

from bot.store.migrations import applied, migrate
from index.errors import Problem

Clock = Callable[[], datetime]
Row = dict[str, Any]
_JSON_COLUMNS = {
    "messages": ("raw",),
    "runs": ("snapshot", "state", "fired_rules"),
    "run_answers": ("value",),
    "audit": ("detail",),
    "pending": ("data",),
}
_BOOL_COLUMNS = {"answers": ("grounded",), "runs": ("training",), "run_answers": ("skipped",)}


class LogWriteError(Problem):
    """The session log could not be written (database locked, disk full, read-only ...)."""

    def __init__(self, table: str, reason: str) -> None:
        super().__init__(f"Could not write to the session log ({table}): {reason}",
                         "check that the data directory exists, is writable and has free space")
        self.table = table
        self.reason = reason


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


class Store:
    """The connection and transactions every part of the session log builds on."""

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

    def __enter__(self) -> Self:
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

    def _audit(
        self, db: Database, actor: int | str, action: str, detail: dict[str, Any] | None
    ) -> None:
        _insert(
            db,
            "audit",
            {"at": self._now(), "actor": str(actor), "action": action,
             "detail": None if detail is None else _json(detail)},
        )
