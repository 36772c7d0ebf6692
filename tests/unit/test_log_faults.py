"""The session log under database trouble: locked, read-only, full, deleted. Answers go out,
the log rows are spooled beside the database and written back, admins are told once."""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
from pathlib import Path

import pytest
import sqlite_utils

from bot import texts
from bot.dialogue.engine import Dialogue
from bot.types import Command, Press, Reply, Text
from tests.unit.test_dialogue import ADMIN, STAFF, buttons, make, user

QUESTIONS = ["How are partners screened?", "What is due diligence?", "Who approves partners?",
             "What training do staff need?", "Is the Partner Portal used?"]


@pytest.fixture()
def dialogue(tmp_path: Path, hashed_index: Path, knowledge: Path) -> Dialogue:
    dialogue = make(tmp_path, hashed_index, knowledge)
    dialogue.store.timeout = 0.2
    dialogue.store.reopen()  # the connections open again with the short timeout
    dialogue.store.retry_seconds = 0.0  # the tests say when the database works again
    dialogue.handle(user(), Text("warm up"))  # creates the file and the schema
    return dialogue


def alerts(replies: list[Reply]) -> list[Reply]:
    return [r for r in replies if r.to == ADMIN]


def logged_questions(dialogue: Dialogue) -> list[str]:
    db = sqlite_utils.Database(dialogue.settings.db_path)
    return [r["text"] for r in db.query(
        "SELECT text FROM messages WHERE direction = 'in' AND kind = 'text' ORDER BY id")]


def ask_all(dialogue: Dialogue) -> list[list[Reply]]:
    return [dialogue.handle(user(), Text(q)) for q in QUESTIONS]


def test_a_locked_database_answers_spools_and_writes_back(dialogue: Dialogue) -> None:
    blocker = sqlite3.connect(dialogue.settings.db_path)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        dialogue.store.retry_seconds = 3600.0  # no retry while it is locked
        answered = ask_all(dialogue)
        assert not dialogue.store.spool.empty
    finally:
        blocker.rollback()
        blocker.close()
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


def test_a_read_only_database_is_written_back_once_writable(dialogue: Dialogue) -> None:
    path = dialogue.settings.db_path
    dialogue.store.close()
    os.chmod(path, 0o444)
    try:
        answered = ask_all(dialogue)
    finally:
        os.chmod(path, 0o644)
    assert all(r[0].html for r in answered)
    assert sum(len(alerts(r)) for r in answered) == 1
    dialogue.store.reopen()  # opened read-only; the next write opens it writable
    dialogue.handle(user(), Text("back"))
    assert logged_questions(dialogue) == ["warm up", *QUESTIONS, "back"]


def test_a_full_database_spools_and_recovers(dialogue: Dialogue) -> None:
    db = sqlite3.connect(dialogue.settings.db_path)
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    db.close()
    original = dialogue.store._open

    def full() -> sqlite_utils.Database:  # SQLite's own "database or disk is full" (SQLITE_FULL)
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
    blocker = sqlite3.connect(dialogue.settings.db_path)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        dialogue.store.retry_seconds = 3600.0
        option = next(b for b in buttons(started) if re.fullmatch(r"c:\d+:\w+:[am]0", b.data))
        replies = dialogue.handle(user(STAFF), Press(option.data))  # an answer, or a tick
    finally:
        blocker.rollback()
        blocker.close()
    assert replies[0].html == texts.NOT_SAVED
    assert "kept" not in replies[0].html
    db = sqlite_utils.Database(dialogue.settings.db_path)
    run = next(iter(db["runs"].rows))
    assert run["state"].count('"question_id"') == 0  # nothing was recorded, as it says
    assert db["pending"].count == 0
