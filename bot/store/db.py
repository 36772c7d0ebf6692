"""The session log's connection: one SQLite file in WAL mode, every write one IMMEDIATE
transaction, sqlite3 errors raised as `LogWriteError`, long reads on their own read-only
connection.

Each thread has its own connection (``synchronous=NORMAL``), so a write waiting for a busy
database holds up only its own thread, for `timeout` seconds at most. A database file deleted
under a running process (its data directory removed) is noticed before the next write, which
fails with `LogWriteError`; the write after it opens a new file. Times are ISO-8601 UTC text.
The schema lives in :mod:`bot.store.migrations`. This package is the only code that talks to
a database.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Self

from sqlite_utils import Database

from bot.inputs import clean_text
from bot.store.migrations import applied, migrate
from bot.store.spool import Spool
from index.errors import Problem

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]
# The log rows a failed write is spooled for (they take an `at` and return an id or nothing);
# state the conversation reads back (runs, pending, roles) is never spooled.
SPOOLED = frozenset({"touch_user", "log_incoming", "log_outgoing", "log_answer", "log_feedback",
                     "add_feedback_comment", "log_run_answer", "audit"})
RETRY_SECONDS = 5.0  # during an incident, the database is tried again at most this often
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
    return clean_text(json.dumps(value, ensure_ascii=False))


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
    # The last line of defence: text that cannot be encoded as UTF-8 (a lone surrogate) would
    # raise UnicodeEncodeError here and lose the row; it is stored with U+FFFD instead.
    values = [clean_text(v) if isinstance(v, str) else v for v in row.values()]
    cursor = db.execute(f"INSERT INTO {table} ({columns}) VALUES ({marks})", values)
    return int(cursor.lastrowid or 0)


class Store:
    """The connections and transactions every part of the session log builds on."""

    def __init__(self, path: Path | str, *, timeout: float = 5.0, clock: Clock | None = None):
        """Remember where the log lives; the file is opened (and created) on first use.

        :param timeout: seconds a write waits for another connection's lock before failing.
        :param clock: returns the current time; for tests.
        """
        self.path = Path(path)
        self.timeout = timeout
        self._clock: Clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()  # guards the list of connections and the schema check
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._generation = 0  # bumped when every connection must be opened again
        self._migrated = False
        self.spool = Spool(self.path.parent / "spool" / f"{self.path.stem}.jsonl")
        self._last_try = 0.0
        self.retry_seconds = RETRY_SECONDS
        self._failing = False  # an incident is open: admins were told, not again until it ends
        self._opened_before = False
        self.on_new_file: Callable[[], None] | None = None  # run when the file had to be made anew
        self._down_at: float | None = None  # a write failed then: others fail at once for a while
        self._down_reason = ""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close every connection (when no other thread uses the log: at the end); a later
        call opens them again."""
        with self._lock:
            for conn in self._connections:
                try:
                    conn.close()
                except sqlite3.Error:
                    pass
            self._connections = []
            self._generation += 1
            self._migrated = False

    def reopen(self) -> None:
        """Have every thread open its connection again at its next use (a new timeout, a
        file now writable or made anew). Safe while other threads use the log: each closes
        its own old connection; closing another thread's connection under it could crash."""
        with self._lock:
            self._generation += 1
            self._migrated = False

    # -- log rows that must not be lost -------------------------------------------------------

    def keep(self, method: str, **kwargs: Any) -> tuple[Any, str | None]:
        """Write a log row (`method` of SPOOLED), or spool it when the database fails.

        Returns (what the method returned, or None when spooled; the problem's message when
        this failure opened an incident, else None). During an incident the database is
        tried again every RETRY_SECONDS at most, so a locked database holds up no one.
        """
        if method not in SPOOLED:
            raise ValueError(f"{method} is not a log row that can be spooled")
        if "at" not in kwargs and method not in ("add_feedback_comment", "log_run_answer"):
            kwargs["at"] = self._now()
        if not self.spool.empty:
            self.recover()
            if not self.spool.empty:
                self.spool.append(method, kwargs)
                return None, None
        try:
            return getattr(self, method)(**kwargs), None
        except LogWriteError as exc:
            log.error("session log write failed, spooled: %s", exc)
            self._last_try = time.monotonic()
            self.spool.append(method, kwargs)
            return None, exc.message if self.incident_opened() else None

    def incident_opened(self) -> bool:
        """After a failed write: True the first time since the log last worked (tell admins)."""
        opened = not self._failing
        self._failing = True
        return opened

    def recover(self) -> int | None:
        """Write spooled rows back when the database works again; how many, when the spool
        was emptied (the incident is over), else None."""
        if self.spool.empty or time.monotonic() - self._last_try < self.retry_seconds:
            return None
        self._last_try = time.monotonic()
        try:
            written = self.spool.replay(lambda method, kwargs: getattr(self, method)(**kwargs))
        except LogWriteError as exc:
            log.warning("session log still unavailable: %s", exc)
            return None
        if not self.spool.empty:
            return None
        self._failing = False
        return written

    # -- connection ------------------------------------------------------------------------

    def _open(self) -> Database:
        """This thread's connection, opened (and the schema brought up to date) if needed."""
        db: Database | None = getattr(self._local, "db", None)
        if db is not None and getattr(self._local, "generation", -1) == self._generation:
            return db
        if db is not None:  # this thread's connection is from before reopen(): ours to close
            with self._lock:
                if db.conn in self._connections:
                    self._connections.remove(db.conn)
            try:
                db.conn.close()
            except sqlite3.Error:
                pass
            self._local.db = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LogWriteError("database", f"cannot create {self.path.parent}: {exc}") from exc
        # A file without write permission is opened read-only, even by root.
        created = not self.path.exists()
        read_only = not created and not self.path.stat().st_mode & 0o222
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
            with self._lock:
                if not self._migrated:
                    migrate(db)
                    self._migrated = True
                self._connections.append(conn)
        except sqlite3.Error as exc:
            if conn is not None:
                conn.close()
            raise LogWriteError("_migrations", f"cannot open {self.path}: {exc}") from exc
        self._local.db, self._local.generation = db, self._generation
        if created and self._opened_before and self.on_new_file is not None:
            log.warning("a new, empty session log was created at %s", self.path)
            self.on_new_file()  # the data directory was removed: the settings' roles again
        self._opened_before = True
        return db

    def _check_file(self) -> None:
        """Fail when the database file was deleted under the open connections."""
        if getattr(self._local, "db", None) is not None and not self.path.exists():
            self.reopen()  # the next write opens a new file
            raise LogWriteError("database", f"{self.path} was deleted (the data directory was "
                                            "removed while the bot was running)")

    @contextmanager
    def _write(self, table: str) -> Iterator[Database]:
        """Run the block as one IMMEDIATE transaction; a sqlite3 error becomes LogWriteError."""
        self._check_file()
        if self._down_at is not None and time.monotonic() < self._down_at + self.retry_seconds:
            # nobody waits on a database known to fail
            raise LogWriteError(table, f"{self._down_reason} (not tried again for a few seconds)")
        db = self._open()
        try:
            db.execute("BEGIN IMMEDIATE")
            yield db
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            if isinstance(exc, sqlite3.OperationalError):  # locked, read-only, full, I/O
                self._down_at = time.monotonic()
                self._down_reason = str(exc)
            raise LogWriteError(table, str(exc)) from exc
        else:
            self._down_at = None
            if self._failing and self.spool.empty:
                self._failing = False  # it works again
        finally:
            if db.conn.in_transaction:
                try:
                    db.conn.execute("ROLLBACK")
                except sqlite3.Error:
                    pass  # the original error is the one worth reporting

    def _rows(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[Row]:
        try:
            return list(self._open().query(sql, params))
        except sqlite3.Error as exc:
            raise LogWriteError("read", str(exc)) from exc

    @contextmanager
    def _snapshot(self) -> Iterator[Database]:
        """A separate read-only connection on one consistent snapshot, for long reads."""
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
        self._open().execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def _now(self) -> str:
        return _iso(self._clock())

    @property
    def schema_version(self) -> int:
        """Number of the newest migration applied to the file."""
        return max(applied(self._open()), default=0)

    def _audit(
        self, db: Database, actor: int | str, action: str, detail: dict[str, Any] | None, *,
        at: str | None = None,
    ) -> None:
        _insert(
            db,
            "audit",
            {"at": at or self._now(), "actor": str(actor), "action": action,
             "detail": None if detail is None else _json(detail)},
        )
