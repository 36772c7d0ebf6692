"""`partnerbot migrate-store`: a real SQLite session log (a conversation that logged questions,
answers, feedback, checklist runs, training cohorts, updates and replies) copied into the test
PostgreSQL server, checked row for row by the test itself; the copy's ids continue; a target
that holds anything is refused and left as it was."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import psycopg
from click.testing import CliRunner, Result

from bot import texts
from bot.app import build_dialogue
from bot.cli import cli
from bot.dialogue.engine import Dialogue
from bot.settings import Settings
from bot.store import Outgoing, Received, SessionLog
from bot.types import Command, Text
from index.embedders import HashingEmbedder
from tests.support.postgres import PostgresServer
from tests.unit.test_dialogue import (
    ADMIN,
    STAFF,
    STAFF2,
    TRAINER,
    answer_everything,
    begin,
    make,
    press,
    user,
)

NUL_TEXT = "an old row with a NUL \x00 in it"


def invoke(data_dir: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env={"PARTNERBOT_DATA_DIR": str(data_dir)})


def converse(dialogue: Dialogue) -> None:
    """A conversation that writes to every table of the session log."""
    for question in ("Should implementing partners use the UN Partner Portal?",
                     "How are partners screened?", "and for NGOs?"):
        replies = dialogue.handle(user(), Text(question))
    press(dialogue, texts.NOT_HELPFUL, replies)  # feedback, and a pending comment prompt
    answer_everything(dialogue, begin(dialogue, "checklist-implementing-partner-selection"))
    begin(dialogue, "checklist-partnership-design", partner=None)  # a run left in progress
    dialogue.handle(user(TRAINER), Command("training", "implementing-partner-selection tr-1"))
    dialogue.handle(user(STAFF2), Command("start", "training-implementing-partner-selection_tr-1"))
    dialogue.handle(user(ADMIN), Command("allow", f"{STAFF2 + 100} trainer"))
    store = dialogue.store
    store.receive([Received(501, {"update_id": 501, "message": {"text": "hi"}}, STAFF, STAFF),
                   Received(502, {"update_id": 502}, STAFF2, STAFF2)])
    store.finish_update(501, [Outgoing(STAFF, "message", {"text": "hello"}, key="k1"),
                              Outgoing(STAFF, "document", {"filename": "r.csv"},
                                       content=b"\x00\x01binary\xff")])
    assert store.claim_updates(STAFF2, "host:8001", 15.0)
    store.claim_join_attempt(99)  # a join-code attempt counted
    store.reserve_send(1_764_000_000.5, 1 / 30, 30)  # a send slot taken
    assert store.publish_index("20261201-000000-000001", model_id="hashing-256",
                               manifest={"format": 1}, archive=b"a tar\x00\xff", sha256="0",
                               by="test:8001", expected=None) is None
    store.request_access(99, note="please")


def sqlite_rows(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every table of the file, each row as a tuple, sorted (read by the test alone)."""
    conn = sqlite3.connect(path)
    try:
        names = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            " AND name <> '_migrations'")]
        return {n: sorted(conn.execute(f'SELECT * FROM "{n}"').fetchall(), key=repr)
                for n in names}
    finally:
        conn.close()


def postgres_rows(url: str, names: list[str]) -> dict[str, list[tuple[Any, ...]]]:
    with psycopg.connect(url) as conn:
        return {n: sorted((tuple(bytes(v) if isinstance(v, memoryview) else v for v in row)
                           for row in conn.execute(f'SELECT * FROM "{n}"')), key=repr)
                for n in names}


def test_migrate_store_copies_a_real_log_row_for_row(tmp_path: Path, hashed_index: Path,
                                                     knowledge: Path, database_url: str) -> None:
    dialogue = make(tmp_path, hashed_index, knowledge)
    converse(dialogue)
    dialogue.store.close()
    data = tmp_path / "var"
    db_path = data / "partnerbot.db"
    with sqlite3.connect(db_path) as raw:  # a row from before text was cleaned of NUL
        raw.execute("INSERT INTO messages (at, direction, front, kind, text) VALUES"
                    " ('2026-01-01T00:00:00.000000+00:00', 'in', 'telegram', 'text', ?)",
                    [NUL_TEXT])
    raw.close()
    before = sqlite_rows(db_path)
    empty = sorted(n for n, rows in before.items() if not rows)
    assert empty == [], f"the conversation wrote nothing to {empty}"

    result = invoke(data, "migrate-store", "--to", database_url)
    assert result.exit_code == 0, result.output
    for table, rows in before.items():
        assert f"{table}: {len(rows)} rows copied and checked" in result.output
    assert "1 text values held a NUL character" in result.output
    assert "PARTNERBOT_DATABASE_URL" in result.output

    after = postgres_rows(database_url, list(before))
    audit = after["audit"]
    migrated = [r for r in audit if r[3] == "migrate-store"]
    assert len(migrated) == 1 and len(audit) == len(before["audit"]) + 1
    after["audit"] = sorted((r for r in audit if r[3] != "migrate-store"), key=repr)
    expected = {n: sorted((tuple(v.replace("\x00", "\ufffd") if isinstance(v, str) else v
                                 for v in row) for row in rows), key=repr)
                for n, rows in before.items()}
    for table in before:
        assert after[table] == expected[table], table
    assert sqlite_rows(db_path) == before  # the file is left as it was

    # the bot on PostgreSQL goes on from the copy: new ids after the copied ones
    settings = Settings(data_dir=data, knowledge_dir=knowledge, threshold=0.2,
                        admins=str(ADMIN), allowed_users=f"{STAFF},{TRAINER},{STAFF2}",
                        database_url=database_url)
    on_pg = build_dialogue(settings, embedder=HashingEmbedder(), prefetch=False)
    try:
        replies = on_pg.handle(user(), Text("What is the UN Partner Portal?"))
        assert "<b>Sources</b>" in replies[0].html
        press(on_pg, texts.HELPFUL, replies)
        newest = {t: max(r[0] for r in before[t]) for t in ("messages", "answers", "feedback")}
        with psycopg.connect(database_url) as conn:
            for table, old in newest.items():
                new = conn.execute(f"SELECT id FROM {table} WHERE id > %s", [old]).fetchall()
                assert new and min(r[0] for r in new) == old + 1, table
        assert on_pg.store.stats().questions == dialogue.store.stats().questions + 1
    finally:
        on_pg.store.close()

    # a second copy into the same database is refused and changes nothing
    again = invoke(data, "migrate-store", "--to", database_url)
    assert again.exit_code == 1
    assert "is not empty" in again.output and "rows)" in again.output
    assert "Try: copy into a new, empty database" in again.output
    with psycopg.connect(database_url) as conn:
        count = conn.execute("SELECT count(*) FROM answers").fetchone()
    assert count is not None and count[0] == len(before["answers"]) + 1


def test_migrate_store_refuses_a_database_holding_other_tables(
        tmp_path: Path, postgres: PostgresServer) -> None:
    url = postgres.create_database()
    try:
        with SessionLog(tmp_path / "var" / "partnerbot.db") as log:
            log.audit(actor="test", action="made")
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE TABLE invoices (id bigint primary key)")
        result = invoke(tmp_path / "var", "migrate-store", "--to", url)
        assert result.exit_code == 1
        assert "invoices (not a session-log table)" in result.output
        with psycopg.connect(url) as conn:
            tables = [r[0] for r in conn.execute(
                "SELECT table_name FROM information_schema.tables"
                " WHERE table_schema = 'public'")]
        assert tables == ["invoices"]  # no schema was made beside it
    finally:
        postgres.drop_database(url)


def test_migrate_store_says_what_is_wrong_with_its_arguments(tmp_path: Path,
                                                             database_url: str) -> None:
    missing = invoke(tmp_path / "var", "migrate-store", "--to", database_url)
    assert missing.exit_code == 1 and "There is no session log at" in missing.output
    assert "Try: pass --from" in missing.output
    not_url = invoke(tmp_path / "var", "migrate-store", "--to", "/tmp/other.db")
    assert not_url.exit_code == 1 and "must be a PostgreSQL URL" in not_url.output
    with SessionLog(tmp_path / "var" / "partnerbot.db") as log:
        log.audit(actor="test", action="made")
    wrong = database_url.replace("postgres@", "postgres:hunter2@").rsplit("/", 1)[0] + \
        "/no_such_database"
    unreachable = invoke(tmp_path / "var", "migrate-store", "--to", wrong)
    assert unreachable.exit_code == 1 and "Cannot connect to" in unreachable.output
    assert "hunter2" not in unreachable.output and "***" in unreachable.output


def test_backup_copies_the_sqlite_log_while_it_is_open_and_never_overwrites(
        tmp_path: Path, database_url: str) -> None:
    data = tmp_path / "var"
    with SessionLog(data / "partnerbot.db") as log:
        for n in range(50):
            log.audit(actor="test", action=f"row {n}")
        open_reader = sqlite3.connect(data / "partnerbot.db")  # another connection holds it
        open_reader.execute("BEGIN")
        open_reader.execute("SELECT count(*) FROM audit").fetchone()
        result = invoke(data, "backup", "--output", str(tmp_path / "b" / "monday.db"))
        open_reader.close()
    assert result.exit_code == 0, result.output
    assert f"to {tmp_path / 'b' / 'monday.db'}" in result.output
    assert sqlite_rows(tmp_path / "b" / "monday.db") == sqlite_rows(data / "partnerbot.db")
    assert not list((tmp_path / "b").glob("*.partial"))
    again = invoke(data, "backup", "--output", str(tmp_path / "b" / "monday.db"))
    assert again.exit_code == 1 and "never overwrites" in again.output
    on_pg = CliRunner().invoke(cli, ["backup"], env={"PARTNERBOT_DATA_DIR": str(data),
                                                    "PARTNERBOT_DATABASE_URL": database_url})
    assert on_pg.exit_code == 1 and "Try: pg_dump" in on_pg.output
