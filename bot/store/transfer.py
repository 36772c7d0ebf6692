"""Copying a SQLite session log into an empty PostgreSQL database (`partnerbot migrate-store`),
checked row for row.

`copy_to_postgresql(source, url)`:

1. brings the SQLite file up to the current schema (what the bot does when it starts) and
   refuses a target that holds anything: a table of ours with rows, or any table that is not
   ours (the message says what it found and what to do);
2. creates the schema in the target with the same migrations (bot/store/migrations.py);
3. copies every table (parents before the tables whose foreign keys point at them) inside one
   PostgreSQL transaction, from one consistent read of the SQLite file;
4. sets each identity column's sequence past the copied ids, so new rows never collide;
5. checks, inside the same transaction, that every table holds as many rows as the file and
   that every row is equal, column by column, read back in primary-key order on both sides
   (text keys compared in byte order: SQLite's BINARY, PostgreSQL's "C" collation);
6. commits only then: a copy that failed or differed leaves the target as empty as it was
   (the schema at most), and the SQLite file is never changed beyond its migrations.

What PostgreSQL cannot store is stored as the store stores it there (a NUL in text becomes
U+FFFD, bot/store/sql.py); the check compares with that in mind and reports how many values
were changed so. The bot must be stopped while it runs (rows written to the file after the
read began would not be copied).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import zip_longest
from pathlib import Path
from typing import Any

from bot.store.db import SERVER_HINT, Store, redact_url
from bot.store.migrations import migrate
from bot.store.sql import (
    Connection,
    PgConnection,
    connect_postgresql,
    connect_sqlite,
    driver_errors,
)
from index.errors import Problem

BATCH = 500  # rows per INSERT batch and per fetch of the check
NOT_COPIED = frozenset({"_migrations"})  # the target's own migrations record its schema


class CopyProblem(Problem):
    """The session log could not be copied (nothing was kept in the target)."""


@dataclass(frozen=True)
class Table:
    """A table of the session log as the copy needs it."""

    name: str
    columns: tuple[str, ...]
    key: tuple[str, ...]  # its primary key, the order rows are copied and checked in
    parents: frozenset[str]  # tables its foreign keys point at


@dataclass
class Copied:
    """What was copied: rows per table (all checked), the next id of each identity column,
    and how many text values had a NUL replaced."""

    rows: dict[str, int] = field(default_factory=dict)
    next_ids: dict[str, int] = field(default_factory=dict)
    nul_replaced: int = 0

    @property
    def total(self) -> int:
        return sum(self.rows.values())


def _tables(db: Connection) -> list[Table]:
    """The session log's tables in the SQLite file, parents first."""
    names = [r["name"] for r in db.query(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        " ORDER BY name")]
    found: dict[str, Table] = {}
    for name in names:
        if name in NOT_COPIED:
            continue
        info = list(db.query(f'PRAGMA table_info("{name}")'))
        key = tuple(r["name"] for r in sorted((r for r in info if r["pk"]),
                                              key=lambda r: r["pk"]))
        if not key:
            raise CopyProblem(f"Table {name} of the SQLite log has no primary key; the copy "
                              "cannot check it row for row.",
                              "this table is not one of the session log's: remove it from "
                              "the file, or copy it by hand")
        parents = frozenset(r["table"] for r in db.query(f'PRAGMA foreign_key_list("{name}")')
                            if r["table"] != name)
        found[name] = Table(name, tuple(r["name"] for r in info), key, parents)
    ordered: list[Table] = []
    while found:  # parents before children (a foreign-key cycle would be a schema bug)
        ready = sorted(n for n, t in found.items() if not t.parents & found.keys())
        if not ready:
            raise CopyProblem(f"The tables {sorted(found)} refer to each other in a cycle.",
                              "report this as a bug of the session log's schema")
        ordered += [found.pop(n) for n in ready]
    return ordered


def _target_tables(db: Connection) -> dict[str, int]:
    """Tables in the target's schema with their row counts."""
    names = [r["table_name"] for r in db.query(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        " AND table_type = 'BASE TABLE' ORDER BY table_name")]
    return {n: int(db.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0]) for n in names}


def _refuse_unless_empty(db: Connection, ours: set[str], where: str) -> None:
    """Raise CopyProblem when the target holds rows of ours or tables of something else."""
    present = _target_tables(db)
    foreign = sorted(set(present) - ours - NOT_COPIED)
    filled = {n: c for n, c in present.items() if n in ours and c}
    if not foreign and not filled:
        return
    found = [f"{n} ({c} rows)" for n, c in filled.items()][:6] + \
        [f"{n} (not a session-log table)" for n in foreign][:6]
    raise CopyProblem(
        f"The target database {where} is not empty: it holds {', '.join(found)}. "
        "Nothing was copied.",
        "copy into a new, empty database (createdb -O <owner> <name>, then "
        "--to postgresql://.../<name>); to replace what it holds, back it up (pg_dump) and "
        "drop and create it again first")


def _pg_columns(db: Connection, table: str) -> dict[str, str]:
    """Column -> data type of a table in the target."""
    return {r["column_name"]: r["data_type"] for r in db.query(
        "SELECT column_name, data_type FROM information_schema.columns"
        " WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position",
        [table])}


def _identities(db: Connection) -> list[tuple[str, str]]:
    return [(r["table_name"], r["column_name"]) for r in db.query(
        "SELECT table_name, column_name FROM information_schema.columns"
        " WHERE table_schema = current_schema() AND is_identity = 'YES'"
        " ORDER BY table_name")]


def _stored(value: Any) -> Any:
    """A SQLite value as PostgreSQL keeps it (bytea for blobs, no NUL in text)."""
    if isinstance(value, memoryview):
        return bytes(value)
    if isinstance(value, str) and "\x00" in value:
        return value.replace("\x00", "\ufffd")
    return value


def _read_back(value: Any) -> Any:
    return bytes(value) if isinstance(value, memoryview) else value


def _source_rows(db: Connection, table: Table) -> Iterator[tuple[Any, ...]]:
    columns = ", ".join(f'"{c}"' for c in table.columns)
    order = ", ".join(f'"{c}"' for c in table.key)
    cursor = db.execute(f'SELECT {columns} FROM "{table.name}" ORDER BY {order}')
    while batch := cursor.fetchmany(BATCH):
        yield from batch


def _target_rows(db: PgConnection, table: Table, types: dict[str, str]
                 ) -> Iterator[tuple[Any, ...]]:
    """The target's rows in the SQLite order (text keys in byte order), from a server-side
    cursor, so a large table is never all in memory."""
    columns = ", ".join(f'"{c}"' for c in table.columns)
    order = ", ".join(f'"{c}" COLLATE "C"' if types.get(c) == "text" else f'"{c}"'
                      for c in table.key)
    with db.conn.cursor(name=f"check_{table.name}") as cursor:
        cursor.itersize = BATCH
        cursor.execute(f'SELECT {columns} FROM "{table.name}" ORDER BY {order}')
        for row in cursor:
            yield tuple(row)


def _compare(table: Table, source: Iterator[tuple[Any, ...]],
             target: Iterator[tuple[Any, ...]]) -> None:
    """Raise CopyProblem at the first row that differs."""
    for n, (mine, theirs) in enumerate(zip_longest(source, target), start=1):
        if mine is None or theirs is None:
            raise CopyProblem(f"The copy of {table.name} has a different number of rows "
                              f"(from row {n} on); nothing was kept in the target.",
                              "stop the bot while the copy runs, then copy again")
        expected = tuple(_stored(v) for v in mine)
        got = tuple(_read_back(v) for v in theirs)
        if expected != got:
            key = {c: mine[table.columns.index(c)] for c in table.key}
            column = next(c for c, a, b in zip(table.columns, expected, got, strict=True)
                          if a != b)
            raise CopyProblem(
                f"The copy of {table.name} differs at the row {key}: {column} is "
                f"{got[table.columns.index(column)]!r} in PostgreSQL, "
                f"{expected[table.columns.index(column)]!r} in the SQLite log; nothing was kept "
                "in the target.", "report this as a bug, with the row")


def copy_to_postgresql(source: Path, url: str, *, timeout: float = 30.0) -> Copied:
    """Copy the SQLite session log at `source` into the empty PostgreSQL database at `url`,
    checked row for row (see the module's docstring). Raises CopyProblem (or the store's
    LogWriteError) with what to do; the target then holds no rows."""
    if not source.is_file():
        raise CopyProblem(f"There is no session log at {source}.",
                          "pass --from with the path of partnerbot.db, or set "
                          "PARTNERBOT_DATA_DIR to the data directory that holds it")
    where = redact_url(url)
    with Store(source, timeout=timeout) as up_to_date:  # the file's migrations, as at a start
        version = up_to_date.schema_version
    errors = driver_errors()
    reader = connect_sqlite(source.resolve().as_uri() + "?mode=ro", read_only=True,
                            timeout=timeout, uri=True)
    target: PgConnection | None = None
    try:
        reader.execute("BEGIN")  # one consistent read of the whole file
        tables = _tables(reader)
        try:
            target = connect_postgresql(url, timeout=timeout)
        except errors as exc:
            raise CopyProblem(f"Cannot connect to {where}: {str(exc).strip().splitlines()[0]}",
                              SERVER_HINT) from exc
        ours = {t.name for t in tables}
        _refuse_unless_empty(target, ours, where)
        migrate(target)
        if max((int(r["id"]) for r in target.query("SELECT id FROM _migrations")),
               default=0) != version:
            raise CopyProblem(f"The schema of {where} is not the SQLite log's (version "
                              f"{version}).", "copy with the partnerbot version the target "
                              "was made with, or into a new, empty database")
        copied = _copy(reader, target, tables, where)
    except errors as exc:
        raise CopyProblem(f"The copy into {where} failed: {str(exc).strip().splitlines()[0]}."
                          " Nothing was kept in the target.", SERVER_HINT) from exc
    finally:
        reader.close()
        if target is not None:
            target.close()
    return copied


def _copy(reader: Connection, target: PgConnection, tables: list[Table], where: str
          ) -> Copied:
    """Copy, set the identities, check; in one transaction of the target."""
    copied = Copied()
    target.begin()
    try:
        target.lock("migrate-store")  # two copies at once: the second finds rows and stops
        _refuse_unless_empty(target, {t.name for t in tables}, where)
        types: dict[str, dict[str, str]] = {}
        for table in tables:
            types[table.name] = _pg_columns(target, table.name)
            if set(types[table.name]) != set(table.columns):
                raise CopyProblem(
                    f"Table {table.name} has the columns {sorted(table.columns)} in the SQLite "
                    f"log but {sorted(types[table.name])} in {where}.",
                    "copy with the partnerbot version both were made with")
            columns = ", ".join(f'"{c}"' for c in table.columns)
            marks = ", ".join("?" for _ in table.columns)
            insert = f'INSERT INTO "{table.name}" ({columns}) VALUES ({marks})'
            count = 0
            batch: list[tuple[Any, ...]] = []
            for row in _source_rows(reader, table):
                copied.nul_replaced += sum(isinstance(v, str) and "\x00" in v for v in row)
                batch.append(row)
                if len(batch) == BATCH:
                    target.executemany(insert, batch)
                    count, batch = count + len(batch), []
            if batch:
                target.executemany(insert, batch)
                count += len(batch)
            copied.rows[table.name] = count
        for table_name, column in _identities(target):
            if table_name in NOT_COPIED:
                continue
            next_id = int(target.execute(
                f'SELECT setval(pg_get_serial_sequence(?, ?), greatest(coalesce(max("{column}"),'
                f' 0) + 1, 1), false) FROM "{table_name}"', [table_name, column]).fetchone()[0])
            copied.next_ids[table_name] = next_id
        for table in tables:
            counted = int(target.execute(f'SELECT count(*) FROM "{table.name}"').fetchone()[0])
            if counted != copied.rows[table.name]:
                raise CopyProblem(f"{table.name}: {copied.rows[table.name]} rows copied but "
                                  f"{counted} in {where}; nothing was kept in the target.",
                                  "stop the bot while the copy runs, then copy again")
            _compare(table, _source_rows(reader, table),
                     _target_rows(target, table, types[table.name]))
        target.commit()
    finally:
        if target.in_transaction:
            target.rollback()
    return copied
