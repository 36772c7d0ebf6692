"""The session log under database trouble: locked, read-only, full, deleted (SQLite), locked,
read-only, unreachable (PostgreSQL). Answers go out, the log rows are spooled beside the
database and written back, admins are told once. Each test runs on both backends unless it
says why not."""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from bot import texts
from bot.app import build_dialogue
from bot.dialogue.engine import Dialogue
from bot.settings import Settings
from bot.store.sql import Connection
from bot.types import Command, Press, Reply, Text
from index.embedders import HashingEmbedder
from tests.unit.test_dialogue import ADMIN, STAFF, STAFF2, TRAINER, TRAINER2, buttons, make, user

QUESTIONS = ["How are partners screened?", "What is due diligence?", "Who approves partners?",
             "What training do staff need?", "Is the Partner Portal used?"]


def make_on(backend: str, request: pytest.FixtureRequest, tmp_path: Path, index_dir: Path,
            knowledge: Path) -> Dialogue:
    """test_dialogue's `make`, on SQLite or on a PostgreSQL database of the test's own."""
    if backend == "sqlite":
        return make(tmp_path, index_dir, knowledge)
    data = tmp_path / "var"
    data.mkdir(exist_ok=True)
    (data / "index").symlink_to(index_dir, target_is_directory=True)
    settings = Settings(data_dir=data, knowledge_dir=knowledge, threshold=0.2,
                        admins=str(ADMIN), allowed_users=f"{STAFF},{TRAINER},{STAFF2}",
                        database_url=request.getfixturevalue("database_url"))
    dialogue = build_dialogue(settings, embedder=HashingEmbedder(), prefetch=False)
    dialogue.store.set_role(TRAINER, "trainer", by="test")
    dialogue.store.set_role(TRAINER2, "trainer", by="test")
    return dialogue


@pytest.fixture()
def dialogue(backend: str, request: pytest.FixtureRequest, tmp_path: Path, hashed_index: Path,
             knowledge: Path) -> Iterator[Dialogue]:
    dialogue = make_on(backend, request, tmp_path, hashed_index, knowledge)
    dialogue.store.timeout = 0.2
    dialogue.store.reopen()  # the connections open again with the short timeout
    dialogue.store.retry_seconds = 0.0  # the tests say when the database works again
    dialogue.handle(user(), Text("warm up"))  # creates the file and the schema
    yield dialogue
    dialogue.store.close()


def url(dialogue: Dialogue) -> str | None:
    return dialogue.settings.database()


@contextmanager
def locked(dialogue: Dialogue) -> Iterator[None]:
    """Another connection holds the write lock: SQLite's EXCLUSIVE transaction, or on
    PostgreSQL an EXCLUSIVE lock on every table (reads still go through, as with WAL)."""
    database = url(dialogue)
    if database is None:
        blocker = sqlite3.connect(dialogue.settings.db_path)
        blocker.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            blocker.rollback()
            blocker.close()
        return
    with psycopg.connect(database) as conn:  # one transaction until the block ends
        tables = [row[0] for row in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        conn.execute(f"LOCK TABLE {', '.join(tables)} IN EXCLUSIVE MODE")
        try:
            yield
        finally:
            conn.rollback()


def alerts(replies: list[Reply]) -> list[Reply]:
    return [r for r in replies if r.to == ADMIN]


def logged_questions(dialogue: Dialogue) -> list[str]:
    return [r["text"] for r in dialogue.store._rows(
        "SELECT text FROM messages WHERE direction = 'in' AND kind = 'text' ORDER BY id")]


def ask_all(dialogue: Dialogue) -> list[list[Reply]]:
    return [dialogue.handle(user(), Text(q)) for q in QUESTIONS]


def test_a_locked_database_answers_spools_and_writes_back(dialogue: Dialogue) -> None:
    with locked(dialogue):
        dialogue.store.retry_seconds = 3600.0  # no retry while it is locked
        answered = ask_all(dialogue)
        assert not dialogue.store.spool.empty
    for replies in answered:  # every question was answered (no feedback buttons: no answer row)
        assert "Sources" in replies[0].html or "Closest passages" in replies[0].html
    assert sum(len(alerts(r)) for r in answered) == 1  # one alert for the whole incident
    assert "could not be written" in alerts(answered[0])[0].html
    dialogue.store.retry_seconds = 0.0
    after = dialogue.handle(user(), Text("And now?"))
    assert dialogue.store.spool.empty
    assert logged_questions(dialogue) == ["warm up", *QUESTIONS, "And now?"]
    assert [r.html for r in alerts(after)] == [
        # per question: the user seen, the question, the answer row, the reply
        texts.LOG_RECOVERED_ADMIN.format(reason=str(4 * len(QUESTIONS)))]


@contextmanager
def read_only(dialogue: Dialogue) -> Iterator[None]:
    """The file without write permission, or the database read-only for new sessions."""
    database = url(dialogue)
    dialogue.store.close()
    if database is None:
        path = dialogue.settings.db_path
        os.chmod(path, 0o444)
        try:
            yield
        finally:
            os.chmod(path, 0o644)
        return
    name = database.rsplit("/", 1)[1]
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
        try:
            yield
        finally:
            conn.execute(f'ALTER DATABASE "{name}" RESET default_transaction_read_only')


def test_a_read_only_database_is_written_back_once_writable(dialogue: Dialogue) -> None:
    with read_only(dialogue):
        answered = ask_all(dialogue)
    assert all(r[0].html for r in answered)
    assert sum(len(alerts(r)) for r in answered) == 1
    dialogue.store.reopen()  # opened read-only; the next write opens it writable
    dialogue.handle(user(), Text("back"))
    assert logged_questions(dialogue) == ["warm up", *QUESTIONS, "back"]


# SQLite's own full-database error; a PostgreSQL server out of space fails like the
# unreachable server of test_an_unreachable_server_is_said_truthfully_...
@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_full_database_spools_and_recovers(dialogue: Dialogue) -> None:
    db = sqlite3.connect(dialogue.settings.db_path)
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    db.close()
    original = dialogue.store._open

    def full() -> Connection:  # SQLite's own "database or disk is full" (SQLITE_FULL)
        opened = original()
        opened.execute(f"PRAGMA max_page_count = {pages}")
        return opened

    dialogue.store._open = full  # type: ignore[method-assign]
    filler = "x" * 5000  # fills the last pages fast
    answered = [dialogue.handle(user(), Text(f"{q} {filler}")) for q in QUESTIONS]
    assert not dialogue.store.spool.empty
    assert any("full" in a.html for r in answered for a in alerts(r))
    dialogue.store._open = original  # type: ignore[method-assign]
    dialogue.store.close()
    dialogue.handle(user(), Text("room again"))
    assert dialogue.store.spool.empty
    assert len(logged_questions(dialogue)) == 1 + len(QUESTIONS) + 1


@pytest.mark.parametrize("backend", ["sqlite"])  # PostgreSQL keeps no file in the data dir
def test_a_deleted_data_directory_is_reported_and_logging_goes_on(dialogue: Dialogue) -> None:
    data = dialogue.settings.db_path.parent
    shutil.rmtree(data / "index", ignore_errors=True)  # the index is a link to a shared one
    for path in data.iterdir():
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    data.rmdir()
    first = dialogue.handle(user(), Text("Is anyone there?"))
    assert first[0].html  # answered from the index already loaded
    assert any("was deleted" in a.html for a in alerts(first))
    dialogue.handle(user(), Text("And now?"))
    assert dialogue.settings.db_path.exists()  # a new database, with what came after
    assert logged_questions(dialogue)[-2:] == ["Is anyone there?", "And now?"]


def test_a_run_that_cannot_be_saved_says_so_truthfully(dialogue: Dialogue) -> None:
    asked = dialogue.handle(user(), Command("start", "checklist-partnership-design"))
    skip = next(b for b in buttons(asked) if b.data.endswith(":nopartner"))
    started = dialogue.handle(user(), Press(skip.data))
    with locked(dialogue):
        dialogue.store.retry_seconds = 3600.0
        option = next(b for b in buttons(started) if re.fullmatch(r"c:\d+:\w+:[am]0", b.data))
        replies = dialogue.handle(user(STAFF), Press(option.data))  # an answer, or a tick
    assert replies[0].html == texts.NOT_SAVED
    assert "kept" not in replies[0].html
    (run,) = dialogue.store._rows("SELECT state FROM runs")
    assert run["state"].count('"question_id"') == 0  # nothing was recorded, as it says
    assert dialogue.store._rows("SELECT count(*) AS n FROM pending")[0]["n"] == 0


@pytest.mark.parametrize("backend", ["postgresql"])  # a SQLite file has no server
def test_an_unreachable_server_is_said_truthfully_and_the_log_written_back(
        dialogue: Dialogue) -> None:
    """PostgreSQL only: the server stops taking connections and the store's are cut (a
    restart, a network cut). Unlike a locked database, nothing can be read either (roles,
    pending state), so a question cannot be answered: every message gets a truthful reply at
    once (nothing was recorded), admins are told once, and the log rows come back after."""
    database = url(dialogue)
    assert database is not None
    name = database.rsplit("/", 1)[1]
    admin = database.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                     " WHERE datname = %s AND pid <> pg_backend_pid()", [name])
        try:
            dialogue.store.retry_seconds = 3600.0
            answered = ask_all(dialogue)
            spooled = len(dialogue.store.spool)
        finally:
            conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
    for replies in answered:
        assert replies[0].html in (texts.NOT_SAVED,) or "Sources" in replies[0].html
    assert sum(len(alerts(r)) for r in answered) == 1
    assert "not currently accepting connections" in alerts(answered[0])[0].html
    assert spooled >= 2 * len(QUESTIONS)  # at least each question and its reply
    dialogue.store.retry_seconds = 0.0
    after = dialogue.handle(user(), Text("And now?"))
    assert dialogue.store.spool.empty
    assert logged_questions(dialogue) == ["warm up", *QUESTIONS, "And now?"]
    assert [r.html for r in alerts(after)] == [
        texts.LOG_RECOVERED_ADMIN.format(reason=str(spooled))]
