"""The Telegram bot end to end over HTTP: the real bot (`TelegramBot` over the Application of
`build_application`), the real model and index, and the fake Bot API server playing the users
(tests/support/telegram.py has the harness).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bot import render, texts
from bot.cli import cli
from index.build import build_index
from index.embedders import SentenceTransformerEmbedder
from tests.conftest import ROOT
from tests.support.fakebotapi import FakeBotAPI, Request
from tests.support.telegram import (
    ADMIN,
    GROUP,
    QUESTION,
    QUESTION2,
    STAFF,
    STAFF2,
    STRANGER,
    RunningBot,
    buttons,
    callback_answers,
    db,
    edits,
    sent,
    telegram_dialogue,
    texts_of,
    wait_menu,
)

# ---- start, menus, questions ----------------------------------------------------------------


def test_start_sets_command_menus_and_welcomes(bot: RunningBot, server: FakeBotAPI) -> None:
    staff = [name for name, _ in bot.dialogue.commands.menu("staff")]
    admin = [name for name, _ in bot.dialogue.commands.menu("admin")]
    assert staff == ["start", "help", "cancel", "language", "checklist", "runs", "sources"]
    wait_menu(server, {"type": "chat", "chat_id": ADMIN})  # menus are set in the background
    assert [c["command"] for c in server.my_commands()] == staff
    assert [c["command"] for c in server.my_commands({"type": "chat", "chat_id": ADMIN})] == admin
    assert {"stats", "reindex", "users", "allow", "revoke", "cohort"} <= set(admin) - set(staff)
    assert "join" not in admin and not server.my_commands({"type": "chat", "chat_id": STAFF})
    replies = bot.say(STAFF, "/start")
    assert [r.params["text"] for r in replies] == [texts.WELCOME]
    assert replies[0].params["parse_mode"] == "HTML"
    assert replies[0].result["text"].startswith("Partner Guide answers questions")


def test_question_is_answered_with_citations_buttons_and_rows(bot: RunningBot) -> None:
    _, calls = bot.act(lambda: bot.server.send_text(STAFF, QUESTION))
    replies = [r for r in calls if r.ok and r.method in ("sendChatAction", "sendMessage")]
    assert [r.method for r in replies] == ["sendMessage"]  # fast: no "typing" needed
    answer = replies[0]
    assert answer.params["parse_mode"] == "HTML" and "<b>Sources</b>" in answer.params["text"]
    assert "A/77/257" in answer.result["text"]
    labels = [label for label, _ in buttons(answer)]
    passages = [label for label in labels if label.startswith("Show passage")]
    assert passages[0] == "Show passage 1" and labels[-2:] == [texts.HELPFUL, texts.NOT_HELPFUL]
    rows = db(bot)
    messages = list(rows["messages"].rows_where("chat_id = ?", [STAFF], order_by="id"))
    assert [(m["direction"], m["kind"]) for m in messages] == [("in", "text"), ("out", "text")]
    assert messages[0]["text"] == QUESTION and messages[1]["text"] == answer.params["text"]
    assert messages[1]["reply_to"] == messages[0]["id"]
    row = next(iter(rows["answers"].rows))
    live = (bot.dialogue.settings.index_dir / "CURRENT").read_text().strip()
    assert (row["grounded"], row["question"], row["message_id"]) == (1, QUESTION, messages[0]["id"])
    assert row["index_version"] == live
    chunk_ids = [data[2:] for label, data in buttons(answer) if label.startswith("Show passage")]
    stored = [p["chunk_id"] for p in rows["answer_passages"].rows_where(order_by="rank")]
    assert stored == chunk_ids


def test_passage_and_feedback_buttons(bot: RunningBot) -> None:
    answer = bot.say(STAFF, QUESTION)[0]
    chunk_id = dict(buttons(answer))["Show passage 1"][2:]
    calls = bot.press(STAFF, "Show passage 1")
    assert [r.method for r in calls if r.ok] == ["answerCallbackQuery", "sendMessage"]
    chunk = bot.dialogue.searcher.current().by_id(chunk_id)
    assert chunk is not None
    assert sent(calls)[0].params["text"] == render.passage_message(chunk)
    assert chunk.text in sent(calls)[0].result["text"]  # in full, unescaped by Telegram

    thanks = bot.press(STAFF, texts.HELPFUL)
    assert [r.method for r in thanks if r.ok] == ["answerCallbackQuery",
                                                  "editMessageReplyMarkup"]  # shows the vote
    assert callback_answers(thanks)[0].params["text"] == texts.FEEDBACK_THANKS
    ask = bot.press(STAFF, texts.NOT_HELPFUL)
    assert callback_answers(ask)[0].params["text"] == texts.FEEDBACK_THANKS
    assert [r.params["text"] for r in sent(ask)] == [texts.FEEDBACK_ASK_COMMENT]
    saved = bot.say(STAFF, "It did not say which <portal> & when",
                    reply_to=sent(ask)[0].result["message_id"])
    assert [r.params["text"] for r in saved] == [texts.FEEDBACK_COMMENT_SAVED]
    rows = list(db(bot)["feedback"].rows)
    assert [(r["value"], r["comment"]) for r in rows] == [
        (-1, "It did not say which <portal> & when")]
    assert all(r.ok for r in bot.server.requests if r.method == "answerCallbackQuery")


# ---- what the bot cannot read, groups ---------------------------------------------------------


def test_non_text_messages_are_answered_politely_and_logged(bot: RunningBot) -> None:
    server = bot.server
    question = bot.say(STAFF, "How are partners screened?")
    assert question
    own = [m for m in server.messages(STAFF, include_user=True) if m["from"]["id"] == STAFF]
    sends = {
        "photo": lambda: server.send_photo(STAFF),
        "sticker": lambda: server.send_sticker(STAFF),
        "voice": lambda: server.send_voice(STAFF),
        "location": lambda: server.send_location(STAFF, 46.22, 6.14),
        "edited_message": lambda: server.edit_text(STAFF, own[0]["message_id"], "edited"),
    }
    for kind, send in sends.items():
        replies = sent(bot.act(send)[1])
        expected = texts.EDITED if kind == "edited_message" else texts.UNSUPPORTED.format(
            kind=texts.MESSAGE_KINDS[kind])
        assert [r.params["text"] for r in replies] == [expected], kind
    kinds = [r["kind"] for r in db(bot)["messages"].rows_where("direction = 'in'", order_by="id")]
    assert kinds == ["text", *sends]
    raw = next(db(bot)["messages"].rows_where("kind = 'location'"))["raw"]
    assert '"latitude": 46.22' in raw


def test_group_chat_answers_only_when_addressed(bot: RunningBot) -> None:
    group = {"chat_id": GROUP, "chat_type": "supergroup"}
    assert bot.say(STAFF, "How are partners screened in general?", **group) == []
    assert bot.say(STAFF, "/help@some_other_bot", **group) == []
    answered = bot.say(STAFF, f"@partner_guide_bot {QUESTION}", **group)
    assert [r.chat_id for r in answered] == [GROUP]
    assert "<b>Sources</b>" in answered[0].params["text"]
    helped = bot.say(STAFF, "/help@partner_guide_bot", **group)
    expected = render.help_message(bot.dialogue.commands.by_role(), "staff")
    assert [r.params["text"] for r in helped] == [expected]
    assert expected.startswith(texts.HELP) and "/checklist – " in expected
    assert "/stats" not in expected  # a staff member sees the staff commands only
    assert bot.server.messages(STAFF) == []  # nothing went to the private chat
    rows = db(bot)
    logged = [r["kind"] for r in rows["messages"].rows_where(
        "direction = 'in' and chat_id = ?", [GROUP], order_by="id")]
    assert logged[0] == "group_text" and logged.count("command") == 1
    assert next(iter(rows["answers"].rows))["question"] == QUESTION


# ---- long messages ----------------------------------------------------------------------------

HUGE_DOC = """---
title: Field guide on warehouse inspections
organization: Test Organization
date: 2024-01-01
kind: guideline
source: huge.txt
---

# Field guide on warehouse inspections

## I. Inspections

1. Warehouse inspections of implementing partners cover stock, fuel & seeds <stored> apart.
{items}
"""


def test_a_passage_longer_than_a_message_is_split_on_line_boundaries(
        server: FakeBotAPI, tmp_path: Path, real_embedder: SentenceTransformerEmbedder) -> None:
    items = "\n".join(
        f"({chr(97 + n % 26)}{n // 26 or ''}) Inspection step {n}: the inspector checks that "
        f"bags & drums of lot <{n}> are counted, sealed and recorded in the register, and that "
        f"the warehouse keeper signs the sheet." for n in range(60))
    knowledge = tmp_path / "knowledge"
    (knowledge / "docs").mkdir(parents=True)
    (knowledge / "docs" / "warehouse-inspections.md").write_text(
        HUGE_DOC.format(items=items), encoding="utf-8")
    data = tmp_path / "var"
    build_index(knowledge / "docs", data / "index", real_embedder)
    running = RunningBot(server, telegram_dialogue(server, data, real_embedder, knowledge))
    running.start()
    try:
        assert running.say(STAFF, "How are warehouse inspections of partners done?")
        calls = running.press(STAFF, "Show passage 1")
    finally:
        running.stop()
    pieces = sent(calls)
    assert len(pieces) >= 3
    assert all(r.params["parse_mode"] == "HTML" for r in pieces)  # no plain-text fallback
    assert not [r for r in calls if not r.ok and r.method == "sendMessage"]
    assert all(len(r.params["text"]) <= 4096 and len(r.result["text"]) <= 4096 for r in pieces)
    shown = [r.result["text"] for r in pieces]
    assert shown[0].startswith("Field guide on warehouse inspections\npara 1\n\n")
    lines = "\n".join(shown).splitlines()
    assert all(line.startswith(("(", "1. ", "Field guide", "para 1")) or not line
               for line in lines), "a message was cut inside a line"
    assert sum(line.startswith("(") for line in lines) == 60
    assert "bags & drums of lot <59> are counted" in shown[-1]


# ---- access and admin -------------------------------------------------------------------------


def test_access_control_and_admin_commands(bot: RunningBot) -> None:
    stranger = bot.say(STRANGER, "Hello, who are you?")
    assert [r.params["text"] for r in stranger] == [texts.NOT_ALLOWED.format(user_id=STRANGER)]
    assert f"<code>{STRANGER}</code>" in stranger[0].params["text"]
    for command in ("stats", "reindex", "allow 5 admin"):
        refused = bot.say(STAFF, f"/{command}")
        name = command.split()[0]
        assert [r.params["text"] for r in refused] == [texts.ADMIN_ONLY.format(command=name)]
    assert bot.dialogue.store.role(5) is None
    stats = bot.say(ADMIN, "/stats")
    assert [r.method for r in stats] == ["sendMessage", "sendDocument"]
    assert stats[0].params["text"].startswith("<pre>")
    document = stats[1].files["document"]
    assert document.filename == "questions-per-day.png"
    assert document.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert stats[1].params["caption"] == texts.CHART_CAPTION
    _, reindex = bot.act(lambda: bot.server.send_text(ADMIN, "/reindex"))
    assert texts_of(reindex) == [texts.REINDEX_STARTED]  # one message, edited in place
    progress = sent(reindex)[0].result["message_id"]
    assert edits(reindex) and {r.params["message_id"] for r in edits(reindex)} == {progress}
    final = next(m for m in bot.server.messages(ADMIN) if m["message_id"] == progress)
    assert final["text"].startswith("Re-index finished (nothing changed)")
    allowed = bot.say(ADMIN, "/allow 5")
    assert sorted((r.chat_id, r.params["text"]) for r in allowed) == [  # two chats at once
        (ADMIN, texts.ALLOWED.format(user_id=5, role="staff")),
        (5, texts.YOU_ARE_ALLOWED.format(role="staff"))]
    assert "<b>Sources</b>" in bot.say(5, QUESTION)[0].params["text"]


def test_revoke_takes_access_away_from_a_listed_user(bot: RunningBot) -> None:
    revoked = bot.say(ADMIN, f"/revoke {STAFF2}")
    assert revoked[0].params["text"] == texts.REVOKED.format(user_id=STAFF2)
    refused = bot.say(STAFF2, QUESTION)
    assert [r.params["text"] for r in refused] == [texts.NOT_ALLOWED.format(user_id=STAFF2)]


def test_forged_callback_data_is_answered_without_a_crash(
        bot: RunningBot, errors: Callable[[], list[str]]) -> None:
    welcome = bot.say(STAFF, "/start")[0].result["message_id"]
    for data in ("c:999:x:a0", "garbage", "f:1:1", "p:" + "0" * 20):
        _, calls = bot.act(functools.partial(bot.server.press, STAFF, welcome, data))
        assert callback_answers(calls)[0].ok, data
        assert callback_answers(calls)[0].params.get("text") == texts.STALE_BUTTON, data
        assert [r.params["text"] for r in sent(calls)] == [texts.STALE_BUTTON], data
    assert errors() == []
    assert bot.say(STAFF, QUESTION)[0].params["text"].count("<b>Sources</b>") == 1


def test_a_locked_session_log_still_answers_and_alerts_the_admin(
        bot: RunningBot, errors: Callable[[], list[str]]) -> None:
    sessions = bot.dialogue.store
    sessions.timeout = 0.1
    sessions.reopen()  # reopened with the short timeout
    blocker = sqlite3.connect(bot.dialogue.settings.db_path)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        _, calls = bot.act(lambda: bot.server.send_text(
            STAFF, "just chatting here", chat_id=GROUP, chat_type="supergroup"))
        chatter = [r for r in sent(calls) if r.chat_id == GROUP]
        chatter_alert = [r for r in sent(calls) if r.chat_id != GROUP]
        replies = bot.say(STAFF, QUESTION)
    finally:
        blocker.rollback()
        blocker.close()
    assert chatter == []  # the group is not told about the bot's log
    assert any("updates not stored, handled from memory" in line for line in errors())
    assert [r.chat_id for r in chatter_alert] == [ADMIN]  # one alert for the incident
    assert "could not be written" in chatter_alert[0].params["text"]
    assert [r.chat_id for r in replies] == [STAFF]
    assert "<b>Sources</b>" in replies[0].params["text"]
    sessions.retry_seconds = 0  # the log works again: the next message writes the spool back
    recovered = bot.say(STAFF, QUESTION2)
    by_chat = {r.chat_id: r.params["text"] for r in recovered}
    assert set(by_chat) == {ADMIN, STAFF} and "works again" in by_chat[ADMIN]
    logged = [r["text"] for r in db(bot)["messages"].rows_where("direction = 'in'", order_by="id")]
    assert logged == [None, QUESTION, QUESTION2]  # the group chatter is logged without text


# ---- Bot API failures -------------------------------------------------------------------------


def test_a_bot_api_error_is_logged_and_the_next_question_answered(
        bot: RunningBot, errors: Callable[[], list[str]]) -> None:
    bot.server.fail_next("sendMessage", 400, "Bad Request: chat not found")
    _, calls = bot.act(lambda: bot.server.send_text(STAFF, QUESTION))
    failed = [r for r in calls if r.method == "sendMessage"]
    assert [(r.ok, r.error_code) for r in failed] == [(False, 400)]
    assert any(f"to chat {STAFF} refused for good" in line and "chat not found" in line.lower()
               for line in errors())
    assert [r["status"] for r in db(bot)["outbox"].rows] == ["failed"]
    answered = bot.say(STAFF, QUESTION2)
    assert len(answered) == 1 and "<b>Sources</b>" in answered[0].params["text"]
    assert db(bot)["answers"].count == 2  # the first answer was kept in the log


def test_retry_after_is_waited_out_and_the_message_delivered(bot: RunningBot) -> None:
    bot.server.fail_next("sendMessage", 429, retry_after=1)
    _, calls = bot.act(lambda: bot.server.send_text(STAFF, QUESTION))
    attempts = [r for r in calls if r.method == "sendMessage"]
    assert [(r.ok, r.error_code) for r in attempts] == [(False, 429), (True, None)]
    assert attempts[1].at - attempts[0].at >= 1.0
    assert attempts[1].params["text"] == attempts[0].params["text"]


def test_two_users_at_once(bot: RunningBot) -> None:
    server = bot.server
    first = server.send_text(STAFF, QUESTION)
    second = server.send_text(STAFF2, QUESTION2)
    bot.wait_handled(first)
    bot.wait_handled(second)
    for update, user in ((first, STAFF), (second, STAFF2)):
        replies = [r for r in server.replies_to(update) if r.method == "sendMessage"]
        assert len(replies) == 1 and replies[0].chat_id == user
        assert "<b>Sources</b>" in replies[0].params["text"]
    rows = {r["user_id"]: (r["chat_id"], r["question"]) for r in db(bot)["answers"].rows}
    assert rows == {STAFF: (STAFF, QUESTION), STAFF2: (STAFF2, QUESTION2)}


# ---- checklists -------------------------------------------------------------------------------


def current_question(server: FakeBotAPI, user: int) -> dict[str, Any]:
    """The newest bot message carrying checklist buttons, as it is now (after edits)."""
    for message in reversed(server.messages(user)):
        data = [b.get("callback_data", "") for row in message.get("reply_markup", {}).get(
            "inline_keyboard", []) for b in row]
        if any(d.startswith("c:") for d in data):
            return message
    raise AssertionError("no checklist question on screen")


def answer_one(bot: RunningBot, user: int) -> list[Request]:
    """Answer the question on screen: first option (second if it rules out), numbers, notes."""
    question = current_question(bot.server, user)
    labels = [(b["text"], b["callback_data"]) for row in question["reply_markup"][
        "inline_keyboard"] for b in row]
    options = [(label, data) for label, data in labels
               if data.rsplit(":", 1)[1][:1] in "am" and data.rsplit(":", 1)[1][1:].isdigit()]
    if options and options[0][1].endswith(":m0"):
        toggled = bot.press(user, options[0][0], message=question["message_id"])
        assert [r.method for r in toggled if r.ok] == ["answerCallbackQuery", "editMessageText"]
        edited = next(m for m in bot.server.messages(user)
                      if m["message_id"] == question["message_id"])
        assert edited["reply_markup"]["inline_keyboard"][0][0]["text"].startswith("✅")
        return bot.press(user, texts.DONE, message=question["message_id"])
    if options:
        pick = options[1] if "ruled out" in options[0][0] else options[0]
        return bot.press(user, pick[0], message=question["message_id"])
    if "Type a number" in question["text"]:
        return bot.act(lambda: bot.server.send_text(user, "10"))[1]
    return bot.act(lambda: bot.server.send_text(user, "A free-text note for the file."))[1]


def finish(bot: RunningBot, user: int, limit: int = 40) -> list[Request]:
    for _ in range(limit):
        calls = answer_one(bot, user)
        if any("Result:" in r.params.get("text", "") for r in sent(calls)):
            return calls
    raise AssertionError("the checklist did not finish")


def test_checklist_through_buttons_survives_a_restart(
        server: FakeBotAPI, real_data_dir: Path,
        real_embedder: SentenceTransformerEmbedder) -> None:
    first = RunningBot(server, telegram_dialogue(server, real_data_dir, real_embedder)).start()
    try:
        menu = first.say(STAFF, "/checklist")
        assert menu[0].params["text"] == texts.CHECKLIST_MENU
        asked = sent(first.press(STAFF, "Selecting an implementing partner"))
        assert asked[-1].params["text"] == texts.PARTNER_ASK
        started = first.say(STAFF, "Acme Relief")
        assert "question 1 of about" in started[-1].params["text"]
        for _ in range(3):
            answer_one(first, STAFF)
        asked = current_question(server, STAFF)["text"]
        assert "question 4 of about" in asked
    finally:
        first.stop()

    second = RunningBot(server, telegram_dialogue(server, real_data_dir, real_embedder)).start()
    try:
        menu = second.say(STAFF, "/checklist")
        assert "in progress" in menu[0].result["text"]
        assert buttons(menu[0])[0][0] == texts.RESUME
        resumed = sent(second.press(STAFF, texts.RESUME))
        assert [r.result["text"] for r in resumed] == [asked]
        assert current_question(server, STAFF)["message_id"] == resumed[0].result["message_id"]
        final = finish(second, STAFF)
        rows = db(second)
    finally:
        second.stop()
    result = next(r for r in sent(final) if "Result:" in r.params.get("text", ""))
    assert "Required actions" in result.result["text"]
    documents = [r for r in sent(final) if r.method == "sendDocument"]
    names = [r.files["document"].filename for r in documents]
    assert names == ["implementing-partner-selection-run-1.md",
                     "implementing-partner-selection-run-1.csv"]
    assert documents[0].files["document"].content.startswith(b"#")
    assert documents[0].params["caption"] == texts.REPORT_CAPTION
    run = next(iter(rows["runs"].rows))
    assert (run["status"], run["training"], run["cohort"]) == ("completed", 0, None)
    assert rows["run_answers"].count >= 10


def test_training_deep_link_opens_training_mode_and_tags_the_cohort(bot: RunningBot) -> None:
    started = bot.say(STAFF2, "/start training-implementing-partner-selection_cohort1")
    assert "Training mode" in started[0].params["text"]
    first = sent(bot.press(STAFF2, texts.PARTNER_SKIP))
    assert "question 1 of about" in first[-1].params["text"]
    after = sent(bot.press(STAFF2, "No"))
    assert after[0].params["text"].startswith("🎓") and "Source:" in after[0].params["text"]
    run = next(iter(db(bot)["runs"].rows))
    assert (run["user_id"], run["training"], run["cohort"], run["status"]) == (
        STAFF2, 1, "cohort1", "in_progress")


# ---- partnerbot run with a wrong token --------------------------------------------------------


def test_run_with_a_wrong_token_exits_with_a_clear_message(
        server: FakeBotAPI, tmp_path: Path, real_index_dir: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    wrong = "987654:WRONG-secret-token-value"
    data = tmp_path / "var"
    shutil.copytree(real_index_dir, data / "index")
    caplog.set_level(logging.DEBUG)
    root = logging.getLogger()
    level = root.level
    env = {"PARTNERBOT_TELEGRAM_TOKEN": wrong, "PARTNERBOT_TELEGRAM_API_URL": server.base_url,
           "PARTNERBOT_DATA_DIR": str(data), "PARTNERBOT_KNOWLEDGE_DIR": str(ROOT / "knowledge")}
    try:
        result = CliRunner().invoke(cli, ["run"], env=env)
    finally:
        root.setLevel(level)
        asyncio.set_event_loop(None)  # run_polling closed the loop it used
    assert result.exit_code == 1, result.output
    assert "Telegram rejected the bot token" in result.output
    assert wrong not in result.output and wrong.split(":")[1] not in result.output
    assert wrong not in caplog.text and wrong.split(":")[1] not in caplog.text
    assert [r for r in server.requests if r.method == "getMe" and r.error_code == 401]


def test_a_failed_typing_action_does_not_lose_the_question(
        bot: RunningBot, errors: Callable[[], list[str]]) -> None:
    bot.server.fail_next("sendChatAction", 500, "Internal Server Error")
    replies = bot.say(STAFF, QUESTION)
    assert len(replies) == 1 and "<b>Sources</b>" in replies[0].params["text"]
    assert db(bot)["answers"].count == 1
    assert errors() == []
