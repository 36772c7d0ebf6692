"""Nothing lost between Telegram and the dialogue: start-up that needs only getMe, getUpdates
errors backed off, replies marked sent only when the Bot API accepted them and sent again after
a restart, and the log under database trouble (locked, read-only, deleted) while answers go out.
The real bot against the fake Bot API server (tests/support/telegram.py)."""

from __future__ import annotations

import os
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from bot import texts
from index.embedders import SentenceTransformerEmbedder
from tests.support.fakebotapi import FakeBotAPI
from tests.support.telegram import (
    ADMIN,
    QUESTION,
    QUESTION2,
    STAFF,
    STAFF2,
    RunningBot,
    db,
    telegram_dialogue,
    texts_of,
    wait_menu,
)


def wait_until(check: Callable[[], object], timeout: float = 20.0, what: str = "") -> object:
    deadline = time.monotonic() + timeout
    while not (value := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        time.sleep(0.05)
    return value


def answers_to(server: FakeBotAPI, chat: int) -> list[str]:
    """The texts of the bot's messages in the chat that carry sources (answers)."""
    return [m["text"] for m in server.messages(chat) if "Sources" in m.get("text", "")]


# ---- start-up -----------------------------------------------------------------------------


@pytest.mark.parametrize("failure", ["500", "unknown method"])
def test_the_bot_serves_when_setmycommands_fails_and_sets_the_menu_later(
        server: FakeBotAPI, real_data_dir: Path, real_embedder: SentenceTransformerEmbedder,
        failure: str) -> None:
    if failure == "500":
        server.fail("setMyCommands", 500, times=None)
    else:
        server.unknown("setMyCommands")
    server.fail("deleteWebhook", 500, times=2)
    bot = RunningBot(server, telegram_dialogue(server, real_data_dir, real_embedder)).start()
    try:
        answer = bot.say(STAFF, QUESTION)
        assert "<b>Sources</b>" in answer[0].params["text"]
        assert [r for r in server.requests if r.method == "setMyCommands" and not r.ok]
        assert server.my_commands() == []
        server.clear_failures("setMyCommands")
        menu = wait_menu(server)  # retried in the background with backoff
        assert [c["command"] for c in menu][:3] == ["start", "help", "cancel"]
        wait_menu(server, {"type": "chat", "chat_id": ADMIN})
        wait_until(lambda: [r for r in server.requests if r.method == "deleteWebhook" and r.ok],
                   what="deleteWebhook retried")
    finally:
        bot.stop()
    assert [r.ok for r in server.requests if r.method == "deleteWebhook"] == [False, False, True]


def test_get_updates_errors_and_flood_limits_are_backed_off(bot: RunningBot) -> None:
    server = bot.server
    server.fail("getUpdates", 500, times=2)
    server.flood("getUpdates", retry_after=1)
    update = server.send_text(STAFF, QUESTION)
    bot.wait_handled(update, timeout=30)
    polls = [r for r in server.requests if r.method == "getUpdates"]
    failed = [r.error_code for r in polls if not r.ok]
    assert failed[-3:] == [500, 500, 429]
    after_flood = next(r for r in polls if r.error_code == 429)
    retried = next(r for r in polls if r.at > after_flood.at)
    assert retried.at - after_flood.at >= 1.0  # retry_after was honoured
    assert len(answers_to(server, STAFF)) == 1


# ---- replies --------------------------------------------------------------------------------


def test_a_reply_refused_with_500_is_retried_and_marked_sent_only_when_accepted(
        bot: RunningBot) -> None:
    bot.server.fail("sendMessage", 500, times=2)
    update, calls = bot.act(lambda: bot.server.send_text(STAFF, QUESTION))
    attempts = [r for r in calls if r.method == "sendMessage"]
    assert [(r.ok, r.error_code) for r in attempts] == [(False, 500), (False, 500), (True, None)]
    assert attempts[2].at - attempts[0].at >= 2.0  # backoff: about 1 s, then 2 s
    row = next(iter(db(bot)["outbox"].rows_where("update_id = ?", [update])))
    assert (row["status"], row["attempts"], row["message_id"]) == (
        "sent", 3, attempts[2].result["message_id"])
    assert row["payload"] is None  # the text is in the session log, not kept twice
    assert len(answers_to(bot.server, STAFF)) == 1


def test_replies_not_accepted_are_sent_after_a_restart(
        server: FakeBotAPI, real_data_dir: Path,
        real_embedder: SentenceTransformerEmbedder) -> None:
    server.fail("sendMessage", 502, times=None)
    first = RunningBot(server, telegram_dialogue(server, real_data_dir, real_embedder)).start()
    try:
        update = server.send_text(STAFF, QUESTION)
        wait_until(lambda: list(db(first)["outbox"].rows_where(
            "update_id = ? AND attempts >= 1", [update])), what="a first send")
        # the update is confirmed to Telegram, but its answer not sent
        wait_until(lambda: server.pending_update_count == 0, what="the update confirmed")
    finally:
        first.stop()
    row = next(iter(db(first)["outbox"].rows_where("update_id = ?", [update])))
    assert row["status"] == "pending"
    assert answers_to(server, STAFF) == []
    server.clear_failures()
    second = RunningBot(server, telegram_dialogue(server, real_data_dir, real_embedder)).start()
    try:
        wait_until(lambda: answers_to(server, STAFF), what="the answer after the restart")
        assert second.say(STAFF2, QUESTION2)  # and it serves new questions
    finally:
        second.stop()
    assert len(answers_to(server, STAFF)) == 1
    row = next(iter(db(second)["outbox"].rows_where("update_id = ?", [update])))
    assert row["status"] == "sent"
    assert db(second)["answers"].count == 2  # the first question was answered once


def test_an_update_stored_but_not_handled_is_handled_at_the_next_start(
        server: FakeBotAPI, real_data_dir: Path,
        real_embedder: SentenceTransformerEmbedder) -> None:
    """What a crash between storing an update and handling it leaves (kill -9 is in
    test_kill.py): the row is found and answered; the update id is never handled twice."""
    dialogue = telegram_dialogue(server, real_data_dir, real_embedder)
    from bot.store import Received

    raw = {"update_id": 500, "message": {
        "message_id": 7, "date": int(time.time()), "text": QUESTION,
        "chat": {"id": STAFF, "type": "private"},
        "from": {"id": STAFF, "is_bot": False, "first_name": "Ana"}}}
    assert dialogue.store.receive([Received(500, raw, STAFF, STAFF)]) == [500]
    assert dialogue.store.receive([Received(500, raw, STAFF, STAFF)]) == []  # seen: not again
    bot = RunningBot(server, dialogue).start()
    try:
        wait_until(lambda: answers_to(server, STAFF), what="the stored update answered")
        assert bot.dialogue.store.next_update_offset() == 501
    finally:
        bot.stop()
    row = next(iter(db(bot)["updates"].rows))
    assert (row["update_id"], row["status"], row["raw"]) == (500, "handled", None)


# ---- the log under database trouble ---------------------------------------------------------


def test_a_database_locked_for_30_seconds_holds_up_no_answer_and_loses_no_log_row(
        bot: RunningBot, errors: Callable[[], list[str]]) -> None:
    server = bot.server
    blocker = sqlite3.connect(bot.dialogue.settings.db_path, isolation_level=None,
                              check_same_thread=False)  # released by a timer thread
    blocker.execute("BEGIN EXCLUSIVE")
    released = threading.Timer(30.0, blocker.rollback)
    released.start()
    latencies: list[float] = []
    asked = 0
    try:
        started = time.monotonic()
        while time.monotonic() - started < 26:  # questions while it is locked
            user = STAFF if asked % 2 == 0 else STAFF2
            update = server.send_text(user, QUESTION if asked % 3 else QUESTION2)
            bot.wait_handled(update, timeout=10)
            latencies.append(server.reply_latency(update) or 99.0)
            asked += 1
            time.sleep(1.0)
    finally:
        released.join()
        blocker.close()
    assert asked >= 20
    assert max(latencies) < 1.5, latencies  # nobody waited for the lock
    alerts = [m for m in server.messages(ADMIN) if "could not be written" in m["text"]]
    assert len(alerts) == 1  # one alert for the incident
    bot.dialogue.store.retry_seconds = 0.0
    after = bot.say(STAFF, "What is the Global Compact?")
    assert any("works again" in r.params["text"] for r in after if r.chat_id == ADMIN)
    rows = db(bot)
    questions = list(rows["messages"].rows_where("direction = 'in' AND kind = 'text'"))
    assert len(questions) == asked + 1  # every question logged once the lock was gone
    assert rows["answers"].count == asked + 1
    assert bot.dialogue.store.spool.empty


def test_a_read_only_database_answers_and_writes_the_log_back(
        bot: RunningBot) -> None:
    path = bot.dialogue.settings.db_path
    bot.say(STAFF, "/start")  # the file exists
    store = bot.dialogue.store
    store.reopen()
    os.chmod(path, 0o444)
    try:
        first = bot.say(STAFF, QUESTION)
        second = bot.say(STAFF2, QUESTION2)
    finally:
        os.chmod(path, 0o644)
    assert "<b>Sources</b>" in texts_of([r for r in first if r.chat_id == STAFF])[0]
    assert [r.chat_id for r in first if r.chat_id == ADMIN]  # told once
    assert not [r for r in second if r.chat_id == ADMIN]
    store.reopen()
    store.retry_seconds = 0.0
    bot.say(STAFF, QUESTION2)
    logged = [r["text"] for r in db(bot)["messages"].rows_where(
        "direction = 'in' AND kind = 'text'", order_by="id")]
    assert logged == [QUESTION, QUESTION2, QUESTION2]


def test_the_data_directory_deleted_under_the_bot_is_reported_and_answers_go_out(
        bot: RunningBot) -> None:
    data = bot.dialogue.settings.data_dir
    bot.say(STAFF, "/start")
    index = data / "index"
    kept = data.parent / "index-kept"
    shutil.move(index, kept)  # keep the index: what is deleted is the session log
    shutil.rmtree(data)
    data.mkdir()
    shutil.move(kept, index)
    replies = bot.say(STAFF, QUESTION)
    answer = [r for r in replies if r.chat_id == STAFF]
    alert = [r for r in replies if r.chat_id == ADMIN]
    assert "<b>Sources</b>" in answer[0].params["text"]
    assert len(alert) == 1 and "was deleted" in alert[0].params["text"]
    assert texts.NOT_SAVED not in [r.params["text"] for r in answer]
