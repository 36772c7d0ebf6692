"""The session log's connection: one SQLite file in WAL mode (the default) or a PostgreSQL
database (a `postgresql://` URL, for several workers), every write one transaction, driver
errors raised as `LogWriteError`, long reads on their own read-only connection.

Each thread has its own connection (SQLite: ``synchronous=NORMAL``), so a write waiting for a
busy database holds up only its own thread, for `timeout` seconds at most (SQLite's busy
timeout, PostgreSQL's lock timeout). A SQLite file deleted under a running process (its data
directory removed) is noticed before the next write, which fails with `LogWriteError`; the
write after it opens a new file (one thread makes, migrates and seeds it while the others
wait). A PostgreSQL connection that broke (the server restarted or unreachable) is opened
again at the next use. Times are ISO-8601 UTC text. The schema lives in
:mod:`bot.store.migrations`, what differs between the two databases in :mod:`bot.store.sql`.
This package is the only code that talks to a database.
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Self

from bot.inputs import clean_text
from bot.store.migrations import applied, migrate
from bot.store.spool import Spool
from bot.store.sql import (
    POSTGRESQL,
    SQLITE,
    Connection,
    connect_postgresql,
    connect_sqlite,
    driver_errors,
    is_outage,
    is_url,
)
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


def _reason(exc: Exception) -> str:
    """A driver error in one line (psycopg adds context lines)."""
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


SERVER_HINT = ("check that the PostgreSQL server is running and reachable, and "
               "PARTNERBOT_DATABASE_URL (user, password, database)")


class LogWriteError(Problem):
    """The session log could not be written (database locked, disk full, read-only ...)."""

    def __init__(self, table: str, reason: str, hint: str | None = None) -> None:
        super().__init__(f"Could not write to the session log ({table}): {reason}",
                         hint or "check that the data directory exists, is writable and has "
                         "free space")
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


def _insert(db: Connection, table: str, row: Row) -> int:
    """Insert one row of a table with an `id` column; its id."""
    columns = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    # The last line of defence: text that cannot be encoded as UTF-8 (a lone surrogate) would
    # raise UnicodeEncodeError here and lose the row; it is stored with U+FFFD instead.
    values = [clean_text(v) if isinstance(v, str) else v for v in row.values()]
    cursor = db.execute(f"INSERT INTO {table} ({columns}) VALUES ({marks}) RETURNING id",
                        values)
    return int(cursor.fetchone()[0])


def _marks(values: Sequence[Any]) -> str:
    """`?, ?, ?` for an IN list of these values."""
    return ", ".join("?" for _ in values)


_PASSWORD = re.compile(r"(://[^:/@]*:)[^@]*@")


def redact_url(url: str) -> str:
    """A database URL with its password replaced, for messages and logs."""
    return _PASSWORD.sub(r"\1***@", url)


class Store:
    """The connections and transactions every part of the session log builds on."""

    def __init__(self, target: Path | str, *, timeout: float = 5.0, clock: Clock | None = None,
                 spool: Path | None = None):
        """Remember where the log lives; it is opened (a file created) on first use.

        :param target: the SQLite file, or a `postgresql://` URL.
        :param timeout: seconds a write waits for another connection's lock before failing.
        :param clock: returns the current time; for tests.
        :param spool: the file log rows are kept in while the database fails (default: beside
            the SQLite file; `var/spool/partnerbot.jsonl` for PostgreSQL).
        """
        self.url = str(target) if is_url(target) else None
        self.dialect = POSTGRESQL if self.url else SQLITE
        # the SQLite file (for PostgreSQL a name that is never a file, for the spool default)
        self.path = Path("var/partnerbot.db") if self.url else Path(target)
        self.timeout = timeout
        self._clock: Clock = clock or (lambda: datetime.now(UTC))
        # guards the list of connections and the schema check; held while a SQLite file is opened
        self._lock = threading.RLock()
        self._local = threading.local()
        self._connections: list[Connection] = []
        self._generation = 0  # bumped when every connection must be opened again
        self._migrated = False
        self._errors = driver_errors()
        self.spool = Spool(spool or self.path.parent / "spool" / f"{self.path.stem}.jsonl")
        self._last_try = 0.0
        self.retry_seconds = RETRY_SECONDS
        self._failing = False  # an incident is open: admins were told, not again until it ends
        self._opened_before = False
        self.on_new_file: Callable[[], None] | None = None  # run when the file had to be made anew
        self._down_at: float | None = None  # a write failed then: others fail at once for a while
        self._down_reason = ""
        self._deleted: str | None = None  # the file was made anew: admins are told once

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
                except self._errors:
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
            result = getattr(self, method)(**kwargs)
            deleted, self._deleted = self._deleted, None
            return result, deleted
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

    @property
    def where(self) -> str:
        """The database as it may be shown: the file, or the URL without its password."""
        return redact_url(self.url) if self.url else str(self.path)

    def _open(self) -> Connection:
        """This thread's connection, opened (and the schema brought up to date) if needed."""
        db: Connection | None = getattr(self._local, "db", None)
        if db is not None and getattr(self._local, "generation", -1) == self._generation:
            return db
        if db is not None:  # this thread's connection is from before reopen(): ours to close
            self._drop(db)
        if self.url:
            conn = self._connect()
        else:
            # A SQLite file is made, migrated and seeded by one thread while the others wait:
            # a thread opening a file another is still creating finds it locked, or reads it
            # before the settings' roles are back in it.
            with self._lock:
                conn = self._connect()
        self._local.db, self._local.generation = conn, self._generation
        return conn

    def _connect(self) -> Connection:
        """Open a connection, bring the schema up to date and, when the SQLite file had to
        be made anew, put the settings' roles back (`on_new_file`)."""
        created = False
        conn: Connection | None = None
        try:
            if self.url:
                conn = connect_postgresql(self.url, timeout=self.timeout)
            else:
                created, conn = self._open_file()
            with self._lock:
                if created or not self._migrated:  # a file made anew has no tables yet
                    migrate(conn)
                    self._migrated = True
                self._connections.append(conn)
        except self._errors as exc:
            if conn is not None:
                conn.close()
            raise self._error("_migrations", f"cannot open {self.where}: {_reason(exc)}") \
                from exc
        if created and self._opened_before:
            log.warning("a new, empty session log was created at %s", self.path)
            if not self._failing:  # noticed by a read: the next log row tells admins
                self._deleted = (f"{self.path} was deleted (the data directory was removed "
                                 "while the bot was running); a new, empty one was made")
            if self.on_new_file is not None:
                # the data directory was removed: the settings' roles again, written through
                # this connection (this thread's, from here on)
                self._local.db, self._local.generation = conn, self._generation
                self.on_new_file()
        self._opened_before = True
        return conn

    def _open_file(self) -> tuple[bool, Connection]:
        """Open the SQLite file (made when missing; read-only when it is not writable)."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LogWriteError("database", f"cannot create {self.path.parent}: {exc}") from exc
        # A file without write permission is opened read-only, even by root.
        created = not self.path.exists()
        read_only = not created and not self.path.stat().st_mode & 0o222
        target = self.path.resolve().as_uri() + "?mode=ro" if read_only else str(self.path)
        return created, connect_sqlite(target, read_only=read_only, timeout=self.timeout,
                                       uri=read_only)

    def _error(self, table: str, reason: str) -> LogWriteError:
        return LogWriteError(table, reason, SERVER_HINT if self.url else None)

    def _drop(self, db: Connection) -> None:
        """Close this thread's connection (it is stale or broken); the next use opens one."""
        with self._lock:
            if db in self._connections:
                self._connections.remove(db)
        try:
            db.close()
        except self._errors:
            pass
        self._local.db = None

    def _broken(self, db: Connection) -> None:
        """After an error: a PostgreSQL connection the server closed is opened again."""
        if self.url and (db.conn.closed or db.conn.broken):
            self._drop(db)

    def _check_file(self) -> None:
        """Fail when the database file was deleted under the open connections."""
        if self.url is None and getattr(self._local, "db", None) is not None \
                and not self.path.exists():
            self.reopen()  # the next write opens a new file
            raise LogWriteError("database", f"{self.path} was deleted (the data directory was "
                                            "removed while the bot was running)")

    @contextmanager
    def _write(self, table: str) -> Iterator[Connection]:
        """Run the block as one write transaction (SQLite: IMMEDIATE); a driver error becomes
        LogWriteError."""
        self._check_file()
        if self._down_at is not None and time.monotonic() < self._down_at + self.retry_seconds:
            # nobody waits on a database known to fail
            raise LogWriteError(table, f"{self._down_reason} (not tried again for a few seconds)")
        db = self._open()
        try:
            db.begin()
            yield db
            db.commit()
        except self._errors as exc:
            if is_outage(exc):  # locked, read-only, full, I/O, unreachable
                self._down_at = time.monotonic()
                self._down_reason = _reason(exc)
            self._broken(db)
            raise self._error(table, _reason(exc)) from exc
        else:
            self._down_at = None
            if self._failing and self.spool.empty:
                self._failing = False  # it works again
        finally:
            if getattr(self._local, "db", None) is db:
                try:
                    if db.in_transaction:
                        db.rollback()
                except self._errors:
                    pass  # the original error is the one worth reporting

    def _rows(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[Row]:
        db = self._open()
        try:
            return list(db.query(sql, params))
        except self._errors as exc:
            self._broken(db)
            raise self._error("read", _reason(exc)) from exc

    @contextmanager
    def _snapshot(self) -> Iterator[Connection]:
        """A separate read-only connection on one consistent snapshot, for long reads."""
        self._open()
        if self.url:
            try:
                db: Connection = connect_postgresql(self.url, timeout=self.timeout,
                                                    snapshot=True)
            except self._errors as exc:
                raise self._error("read", _reason(exc)) from exc
            db.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        else:
            db = connect_sqlite(self.path.resolve().as_uri() + "?mode=ro", read_only=True,
                                timeout=self.timeout, uri=True)
            db.execute("BEGIN")
        try:
            yield db
        finally:
            db.close()

    def backup(self, target: Path) -> int:
        """Copy the SQLite log to `target` with SQLite's online backup API: one consistent
        copy while the bot goes on writing (a plain file copy of a database in WAL mode may
        miss what the WAL holds). Returns the pages copied. PostgreSQL is backed up with its
        own tools (pg_dump), and asking for it here is a Problem saying so."""
        if self.url:
            raise Problem(f"The session log is in PostgreSQL ({self.where}); back it up with "
                          "the server's tools.", "pg_dump --format=custom --file "
                          "partnerbot.dump <database URL> (see docs/deployment.md)")
        if target.exists():
            raise Problem(f"{target} exists already; a backup never overwrites a file.",
                          "choose another --output, or move the old backup away")
        source = self._open()
        pages = 0

        def progress(status: int, remaining: int, total: int) -> None:
            nonlocal pages
            pages = total

        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(target.name + ".partial")
            copy = sqlite3.connect(partial)
            try:
                source.conn.backup(copy, pages=1024, progress=progress)
            finally:
                copy.close()
            partial.replace(target)  # a backup file is always a whole one
        except (OSError, sqlite3.Error) as exc:
            raise LogWriteError("backup", f"cannot write {target}: {exc}",
                                "check that the backup's directory is writable and has "
                                "free space") from exc
        return pages

    def _checkpoint(self, tables: Sequence[str] = ()) -> None:
        """After deleting or blanking text: SQLite copies the WAL into the file and truncates
        it (secure_delete has zeroed the old text in the file); PostgreSQL vacuums the tables,
        so the dead row versions are removed from their pages."""
        db = self._open()
        if self.url is None:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            return
        for table in tables:
            db.execute(f"VACUUM {table}")

    def _now(self) -> str:
        return _iso(self._clock())

    @property
    def schema_version(self) -> int:
        """Number of the newest migration applied to the file."""
        return max(applied(self._open()), default=0)

    def _audit(
        self, db: Connection, actor: int | str, action: str, detail: dict[str, Any] | None, *,
        at: str | None = None,
    ) -> None:
        _insert(
            db,
            "audit",
            {"at": at or self._now(), "actor": str(actor), "action": action,
             "detail": None if detail is None else _json(detail)},
        )
