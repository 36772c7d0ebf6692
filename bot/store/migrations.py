"""Schema of the session log, as numbered migrations applied once each, on SQLite and
PostgreSQL alike.

A migration is a function ``mNNN_what(db)``; its number is its schema version. ``migrate`` applies
the ones not yet recorded in ``_migrations``, each in its own transaction together with its
record (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: transactional DDL under an advisory lock), so a
failed migration leaves no trace and two processes opening the same database cannot both apply
it. DDL is written in SQLite's words and run through ``db.script`` (bot/store/sql.py gives
PostgreSQL its types: 64-bit integers, identity keys, double precision, bytea). Never edit a
released migration: add the next one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from bot.store.sql import Connection, as_connection

Migration = Callable[[Connection], None]


def _run(db: Connection, sql: str) -> None:
    db.script(sql)


def m001_create_core(db: Connection) -> None:
    """Users and roles, every message in and out, answers with their passages, feedback, audit."""
    _run(
        db,
        """
        CREATE TABLE users (
            id INTEGER PRIMARY KEY,
            username TEXT,
            first_name TEXT,
            language TEXT,
            role TEXT CHECK (role IN ('staff', 'trainer', 'admin')),
            role_source TEXT CHECK (role_source IN ('settings', 'admin')),
            first_seen TEXT,
            last_seen TEXT
        );
        CREATE TABLE messages (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
            front TEXT NOT NULL,
            user_id INTEGER,
            chat_id INTEGER,
            chat_type TEXT,
            kind TEXT NOT NULL,
            text TEXT,
            update_id INTEGER,
            raw TEXT,
            reply_to INTEGER,
            latency_ms REAL
        );
        CREATE INDEX messages_at ON messages (at);
        CREATE INDEX messages_user ON messages (user_id);
        CREATE INDEX messages_chat ON messages (chat_id);
        CREATE TABLE answers (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            message_id INTEGER,
            user_id INTEGER,
            chat_id INTEGER,
            question TEXT,
            query TEXT,
            answer TEXT,
            grounded INTEGER NOT NULL,
            index_version TEXT NOT NULL,
            top_score REAL
        );
        CREATE INDEX answers_at ON answers (at);
        CREATE INDEX answers_chat_user ON answers (chat_id, user_id);
        CREATE INDEX answers_user ON answers (user_id);
        CREATE TABLE answer_passages (
            answer_id INTEGER NOT NULL REFERENCES answers (id) ON DELETE CASCADE,
            rank INTEGER NOT NULL,
            chunk_id TEXT NOT NULL,
            score REAL NOT NULL,
            PRIMARY KEY (answer_id, rank)
        );
        CREATE TABLE feedback (
            id INTEGER PRIMARY KEY,
            answer_id INTEGER NOT NULL REFERENCES answers (id) ON DELETE CASCADE,
            user_id INTEGER NOT NULL,
            value INTEGER NOT NULL CHECK (value IN (-1, 1)),
            comment TEXT,
            at TEXT NOT NULL,
            UNIQUE (answer_id, user_id)
        );
        CREATE INDEX feedback_user ON feedback (user_id);
        CREATE INDEX feedback_at ON feedback (at);
        CREATE TABLE audit (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            detail TEXT
        );
        CREATE INDEX audit_at ON audit (at)
        """,
    )


def m002_add_checklist_runs(db: Connection) -> None:
    """Checklist runs (snapshot and state as JSON) and the append-only history of their answers."""
    _run(
        db,
        """
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY,
            user_id INTEGER NOT NULL,
            chat_id INTEGER,
            checklist_id TEXT NOT NULL,
            version TEXT NOT NULL,
            snapshot TEXT NOT NULL,
            state TEXT NOT NULL,
            status TEXT NOT NULL,
            training INTEGER NOT NULL,
            cohort TEXT,
            rating TEXT,
            score REAL,
            fired_rules TEXT,
            started_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            finished_at TEXT
        );
        CREATE INDEX runs_user_status ON runs (user_id, status);
        CREATE INDEX runs_started ON runs (started_at);
        CREATE INDEX runs_checklist ON runs (checklist_id);
        CREATE INDEX runs_cohort ON runs (cohort);
        CREATE TABLE run_answers (
            id INTEGER PRIMARY KEY,
            run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
            question_id TEXT NOT NULL,
            value TEXT,
            note TEXT,
            skipped INTEGER NOT NULL,
            at TEXT NOT NULL
        );
        CREATE INDEX run_answers_run ON run_answers (run_id);
        CREATE INDEX run_answers_at ON run_answers (at)
        """,
    )


def m003_add_access_requests(db: Connection) -> None:
    """Requests to join (the join-code flow), resolved by an admin."""
    _run(
        db,
        """
        CREATE TABLE access_requests (
            id INTEGER PRIMARY KEY,
            user_id INTEGER NOT NULL,
            note TEXT,
            status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'denied')),
            role TEXT,
            requested_at TEXT NOT NULL,
            resolved_at TEXT,
            resolved_by TEXT
        );
        CREATE INDEX access_requests_status ON access_requests (status);
        CREATE INDEX access_requests_user ON access_requests (user_id)
        """,
    )


def m004_add_pending(db: Connection) -> None:
    """What the bot waits for from a user in a chat (a comment, a note, ticked options, a
    confirmation), with an expiry, so that it outlives a restart."""
    _run(
        db,
        """
        CREATE TABLE pending (
            user_id INTEGER NOT NULL,
            chat_id INTEGER NOT NULL,
            kind TEXT NOT NULL,
            data TEXT,
            message_id INTEGER,
            created_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            PRIMARY KEY (user_id, chat_id, kind)
        );
        CREATE INDEX pending_expires ON pending (expires_at)
        """,
    )


# "/join CODE" (also "/JOIN@SomeBot CODE") as logged before codes were hidden.
_JOIN_WITH_CODE = re.compile(r"(\s*/join(?:@\w+)?)\s+\S.*", re.IGNORECASE | re.DOTALL)
HIDDEN = "‹hidden›"  # what the log keeps of a secret command's arguments


def _hide_join_code(text: str) -> str:
    match = _JOIN_WITH_CODE.fullmatch(text)
    return text if match is None else f"{match.group(1)} {HIDDEN}"


def hide_join_codes(value: Any) -> Any:
    """`value` (text, or JSON of lists and objects) with the code of every /join hidden."""
    if isinstance(value, str):
        return _hide_join_code(value)
    if isinstance(value, list):
        return [hide_join_codes(item) for item in value]
    if isinstance(value, dict):
        return {key: hide_join_codes(item) for key, item in value.items()}
    return value


def m005_add_join_limits_and_hide_join_codes(db: Connection) -> None:
    """Failed join-code attempts per user (a lockout that outlives restarts; no code kept), and
    the codes of `/join CODE` commands logged before, hidden in `messages` text and raw JSON."""
    _run(
        db,
        """
        CREATE TABLE join_limits (
            user_id INTEGER PRIMARY KEY,
            window_start TEXT NOT NULL,
            failures INTEGER NOT NULL,
            locked_until TEXT
        )
        """,
    )
    found = db.execute(
        "SELECT id, text, raw FROM messages WHERE text LIKE '%/join%' OR raw LIKE '%/join%'"
    ).fetchall()
    for row_id, text, raw in found:
        new_text = None if text is None else _hide_join_code(text)
        new_raw = raw
        if raw is not None:
            try:
                decoded = json.loads(raw)
            except ValueError:  # not JSON: blank it rather than keep a code
                new_raw = None
            else:
                hidden = hide_join_codes(decoded)
                if hidden != decoded:
                    new_raw = json.dumps(hidden, ensure_ascii=False)
        if (new_text, new_raw) != (text, raw):
            db.execute("UPDATE messages SET text = ?, raw = ? WHERE id = ?",
                       [new_text, new_raw, row_id])


def m006_add_delivery(db: Connection) -> None:
    """The inbox of updates (each handled once, none lost between Telegram and us) and the
    outbox of replies (kept until the Bot API accepted them); see bot/store/delivery.py."""
    _run(
        db,
        """
        CREATE TABLE updates (
            update_id INTEGER PRIMARY KEY,
            received_at TEXT NOT NULL,
            user_id INTEGER,
            chat_id INTEGER,
            raw TEXT,
            status TEXT NOT NULL CHECK (status IN ('received', 'handled')),
            handled_at TEXT
        );
        CREATE INDEX updates_status ON updates (status);
        CREATE TABLE outbox (
            id INTEGER PRIMARY KEY,
            update_id INTEGER,
            chat_id INTEGER NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('message', 'edit', 'document')),
            payload TEXT,
            content BLOB,
            key TEXT,
            status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
            attempts INTEGER NOT NULL DEFAULT 0,
            next_at TEXT NOT NULL,
            created_at TEXT NOT NULL,
            sent_at TEXT,
            message_id INTEGER,
            error TEXT
        );
        CREATE INDEX outbox_pending ON outbox (status, id);
        CREATE INDEX outbox_update ON outbox (update_id);
        CREATE INDEX outbox_message ON outbox (chat_id, message_id);
        CREATE INDEX outbox_key ON outbox (chat_id, key)
        """,
    )


def m007_add_run_revision_and_cohorts(db: Connection) -> None:
    """A run's revision (a save checks the one it read, so a double tap answers once) and the
    training cohorts with who created them (a trainer sees their own)."""
    _run(
        db,
        """
        ALTER TABLE runs ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
        CREATE TABLE cohorts (
            tag TEXT PRIMARY KEY,
            created_by INTEGER NOT NULL,
            checklist_id TEXT,
            created_at TEXT NOT NULL
        );
        CREATE INDEX cohorts_created_by ON cohorts (created_by)
        """,
    )


def m008_add_user_language(db: Connection) -> None:
    """The language a user chose with /language (en, fr, es; NULL: automatic, from Telegram's
    language_code and the language of each question)."""
    _run(db, "ALTER TABLE users ADD COLUMN chosen_language TEXT")


def m009_add_claims(db: Connection) -> None:
    """Claims with leases, so that several workers share one inbox and one outbox: a user's
    updates are handled by the one worker holding that user's claim (`update_claims`, key as
    in bot/store/delivery.py), a reply is sent by the one worker that claimed it; a claim not
    renewed by its worker expires and another takes over (bot/store/delivery.py)."""
    _run(
        db,
        """
        CREATE TABLE update_claims (
            key INTEGER PRIMARY KEY,
            worker TEXT NOT NULL,
            until TEXT NOT NULL
        );
        ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
        ALTER TABLE outbox ADD COLUMN claimed_until TEXT;
        CREATE INDEX outbox_chat_pending ON outbox (chat_id, status, id)
        """,
    )


def m010_add_index_versions(db: Connection) -> None:
    """Index versions published through the database, so that every worker serves the same
    one from a local copy (bot/index_replica.py): each version's files as one archive with
    its manifest, and the one row naming the live version (with a serial bumped at each
    publication)."""
    _run(
        db,
        """
        CREATE TABLE index_versions (
            name TEXT PRIMARY KEY,
            model_id TEXT NOT NULL,
            manifest TEXT NOT NULL,
            archive BLOB NOT NULL,
            sha256 TEXT NOT NULL,
            size INTEGER NOT NULL,
            published_at TEXT NOT NULL,
            published_by TEXT NOT NULL
        );
        CREATE TABLE index_live (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            name TEXT NOT NULL REFERENCES index_versions (name),
            serial INTEGER NOT NULL,
            published_at TEXT NOT NULL,
            published_by TEXT NOT NULL
        )
        """,
    )


def m011_add_send_rate(db: Connection) -> None:
    """Telegram's overall message rate shared by every worker: the one row of `send_rate`
    holds the theoretical arrival time of the next send (GCRA, seconds since the epoch), so
    several workers together keep to the limit one bot has (bot/store/delivery.py)."""
    _run(db, "CREATE TABLE send_rate (id INTEGER PRIMARY KEY CHECK (id = 1), tat REAL NOT NULL)")


MIGRATIONS: list[Migration] = [m001_create_core, m002_add_checklist_runs, m003_add_access_requests,
                               m004_add_pending, m005_add_join_limits_and_hide_join_codes,
                               m006_add_delivery,
                               m007_add_run_revision_and_cohorts, m008_add_user_language,
                               m009_add_claims, m010_add_index_versions, m011_add_send_rate]


def number(migration: Migration) -> int:
    """The schema version a migration brings the database to: 3 for ``m003_...``."""
    name = migration.__name__
    if not (name[0] == "m" and name[1:4].isdigit() and name[4] == "_"):
        raise ValueError(f"Migration names look like m001_what, got {name!r}")
    return int(name[1:4])


def applied(db: Connection | Any) -> dict[int, str]:
    """Version -> name of every migration recorded in ``_migrations`` (empty for a new file)."""
    db = as_connection(db)
    if not db.has_table("_migrations"):
        return {}
    return {row["id"]: row["name"] for row in db.query("SELECT id, name FROM _migrations")}


def migrate(db: Connection | Any, migrations: Sequence[Migration] = MIGRATIONS) -> list[str]:
    """Apply the pending migrations in order and return their names.

    `db` is the store's connection (or a sqlite3 connection, a sqlite-utils Database); it
    must not be inside a transaction.
    """
    db = as_connection(db)
    done = applied(db)
    pending = [m for m in migrations if number(m) not in done]
    if not pending:
        return []
    db.begin()
    try:
        db.lock("schema")
        db.script("CREATE TABLE IF NOT EXISTS _migrations"
                  " (id INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)")
        db.commit()
    except BaseException:
        if db.in_transaction:
            db.rollback()
        raise
    names = []
    for migration in pending:
        db.begin()
        try:
            db.lock("schema")
            # Checked again inside the transaction: another process may have just applied it.
            if not db.execute(
                "SELECT 1 FROM _migrations WHERE id = ?", [number(migration)]
            ).fetchone():
                migration(db)
                db.execute(
                    "INSERT INTO _migrations (id, name, applied_at) VALUES (?, ?, ?)",
                    [
                        number(migration),
                        migration.__name__,
                        datetime.now(UTC).isoformat(timespec="microseconds"),
                    ],
                )
                names.append(migration.__name__)
            db.commit()
        except BaseException:
            if db.in_transaction:
                db.rollback()
            raise
    return names
