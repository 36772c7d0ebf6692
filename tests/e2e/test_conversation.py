"""What users type is never lost or misrouted, over HTTP against the fake Bot API server with
the real bot (tests/support/telegram.py): feedback that cannot swallow a question, state that
outlives a restart, checklists in the conversation, groups, menus per role, uploads, and the
crafted inputs of the reliability review."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot import texts
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
    TRAINER,
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

IN_GROUP: dict[str, Any] = {"chat_id": GROUP, "chat_type": "supergroup"}


class Restartable:
    """The real bot, stopped and started again on the same data (a new process as far as
    state goes); always stopped at the end."""

    def __init__(self, server: FakeBotAPI, data: Path,
                 embedder: SentenceTransformerEmbedder) -> None:
        self.server, self.data, self.embedder = server, data, embedder
        self.bot: RunningBot | None = None

    def start(self) -> RunningBot:
        self.bot = RunningBot(self.server, telegram_dialogue(self.server, self.data,
                                                             self.embedder)).start()
        return self.bot

    def restart(self) -> RunningBot:
        self.stop()
        return self.start()

    def stop(self) -> None:
        if self.bot is not None:
            self.bot.stop()
            self.bot = None


@pytest.fixture
def bots(server: FakeBotAPI, real_data_dir: Path,
         real_embedder: SentenceTransformerEmbedder) -> Any:
    holder = Restartable(server, real_data_dir, real_embedder)
    yield holder
    holder.stop()


def message(server: FakeBotAPI, chat: int, message_id: int) -> dict[str, Any]:
    """A bot message as it is now (after edits)."""
    return next(m for m in server.messages(chat) if m["message_id"] == message_id)


def current_question(server: FakeBotAPI, user: int) -> dict[str, Any]:
    for shown in reversed(server.messages(user)):
        if any(data.startswith("c:") for _, data in buttons(shown)):
            return shown
    raise AssertionError("no checklist question on screen")


def start_run(bot: RunningBot, checklist: str, user: int = STAFF) -> dict[str, Any]:
    bot.say(user, f"/start checklist-{checklist}")
    bot.press(user, texts.PARTNER_SKIP)
    return current_question(bot.server, user)


def press_on(bot: RunningBot, user: int, shown: dict[str, Any], label: str) -> list[Request]:
    return bot.press(user, label, message=shown["message_id"])


# ---- feedback --------------------------------------------------------------------------------


def test_a_question_typed_after_thumbs_down_is_answered_not_swallowed(bot: RunningBot) -> None:
    answer = bot.say(STAFF, QUESTION)[0]
    calls = bot.press(STAFF, texts.NOT_HELPFUL)
    marked = [r for r in calls if r.method == "editMessageReplyMarkup" and r.ok]
    assert marked and marked[0].params["message_id"] == answer.result["message_id"]
    labels = [label for label, _ in buttons(message(bot.server, STAFF,
                                                    answer.result["message_id"]))]
    assert texts.VOTED.format(label=texts.NOT_HELPFUL) in labels  # the vote shows
    prompt = sent(calls)[0]
    assert prompt.params["text"] == texts.FEEDBACK_ASK_COMMENT
    markup = prompt.params["reply_markup"]
    assert (json.loads(markup) if isinstance(markup, str) else markup)["force_reply"] is True
    replies = bot.say(STAFF, QUESTION2)  # typed, not a reply to the prompt
    assert "<b>Sources</b>" in replies[0].params["text"]
    assert next(iter(db(bot)["feedback"].rows))["comment"] is None
    saved = bot.say(STAFF, "It did not name the portal", reply_to=prompt.result["message_id"])
    assert texts_of(saved) == [texts.FEEDBACK_COMMENT_SAVED]
    bot.press(STAFF, texts.HELPFUL, message=answer.result["message_id"])  # a later vote
    row = next(iter(db(bot)["feedback"].rows))
    assert (row["value"], row["comment"]) == (1, "It did not name the portal")


def test_a_comment_prompt_outlives_a_restart(bots: Restartable) -> None:
    bot = bots.start()
    bot.say(STAFF, QUESTION)
    prompt = sent(bot.press(STAFF, texts.NOT_HELPFUL))[0]
    again = bots.restart()
    saved = again.say(STAFF, "Too long", reply_to=prompt.result["message_id"])
    assert texts_of(saved) == [texts.FEEDBACK_COMMENT_SAVED]
    assert next(iter(db(again)["feedback"].rows))["comment"] == "Too long"


def test_a_reply_to_an_earlier_answer_is_a_follow_up_of_it(bot: RunningBot) -> None:
    first = bot.say(STAFF, "What training should staff get on implementing partners?")[0]
    bot.say(STAFF, "What is the Global Compact?")
    follow = bot.say(STAFF, "and on fraud?", reply_to=first.result["message_id"])
    assert "Read together with your previous question" in follow[0].params["text"]
    assert "What training should staff get" in follow[0].params["text"]
    query = db(bot).execute("select query from answers order by id desc").fetchone()[0]
    assert query.startswith("What training should staff get")


# ---- checklists ------------------------------------------------------------------------------


def test_cancel_during_a_note_keeps_the_run(bot: RunningBot) -> None:
    shown = start_run(bot, "partnership-design")
    asked = sent(press_on(bot, STAFF, shown, texts.NOTE))
    assert asked[0].params["text"] == texts.NOTE_ASK
    cancelled = bot.say(STAFF, "/cancel")
    assert texts_of(cancelled) == [texts.CANCELLED.format(what=texts.CANCELLED_NOTE)]
    assert next(iter(db(bot)["runs"].rows))["status"] == "in_progress"
    assert texts_of(bot.say(STAFF, "/cancel")) == [texts.NOTHING_TO_CANCEL_RUN]
    assert current_question(bot.server, STAFF)["message_id"] == shown["message_id"]


def test_ticks_of_a_multi_question_outlive_a_restart(bots: Restartable) -> None:
    bot = bots.start()
    shown = start_run(bot, "private-sector-screening")
    first = [label for label, data in buttons(shown) if data.endswith((":a0", ":a1"))]
    press_on(bot, STAFF, shown, first[0])  # the engagement type
    shown = current_question(bot.server, STAFF)
    boxes = [label for label, data in buttons(shown) if ":m" in data]
    assert len(boxes) >= 3, "expected the multi question on contributions"
    press_on(bot, STAFF, shown, boxes[0])
    again = bots.restart()
    shown = message(again.server, STAFF, shown["message_id"])
    second = next(label for label, data in buttons(shown) if data.endswith(":m1"))
    press_on(again, STAFF, shown, second)
    calls = press_on(again, STAFF, message(again.server, STAFF, shown["message_id"]),
                     texts.DONE)
    answered = message(again.server, STAFF, shown["message_id"])
    assert "✔" in answered["text"] and not buttons(answered)  # edited in place
    assert [r for r in sent(calls) if "question 3 of about" in r.params.get("text", "")]
    row = next(iter(db(again)["run_answers"].rows_where("question_id = 'contributions'")))
    assert len(json.loads(row["value"])) == 2  # both ticks, one before the restart


def test_a_double_tap_on_one_option_answers_once(bot: RunningBot) -> None:
    shown = start_run(bot, "implementing-partner-selection")
    data = dict(buttons(shown))["No"]
    first = bot.server.press(STAFF, shown["message_id"], data)
    second = bot.server.press(STAFF, shown["message_id"], data)  # before the first is handled
    bot.wait_handled(first)
    bot.wait_handled(second)
    rows = list(db(bot)["run_answers"].rows)
    assert len(rows) == 1
    answers = [r for r in bot.server.requests if r.method == "answerCallbackQuery"]
    assert answers[-1].params.get("text") == texts.OLD_QUESTION
    questions = [m for m in bot.server.messages(STAFF) if "question 2 of about" in m["text"]]
    assert len(questions) == 1  # the next question was asked once


def test_a_question_typed_during_a_run_is_answered_and_the_run_asks_again(
        bot: RunningBot) -> None:
    shown = start_run(bot, "implementing-partner-selection")
    replies = bot.say(STAFF, "What does the guidance say about capacity assessment?")
    texts_sent = texts_of(replies)
    assert "<b>Sources</b>" in texts_sent[0]
    assert "There is no option" not in " ".join(texts_sent)
    moved = message(bot.server, STAFF, shown["message_id"])
    assert not buttons(moved)  # the old copy lost its keyboard
    assert current_question(bot.server, STAFF)["message_id"] != shown["message_id"]
    typed = bot.say(STAFF, "no")  # a typed label answers it
    assert not [r for r in typed if "There is no option" in r.params.get("text", "")]
    assert len(list(db(bot)["run_answers"].rows)) == 1


def test_a_private_run_never_shows_in_a_group(bot: RunningBot) -> None:
    start_run(bot, "implementing-partner-selection")
    replies = bot.say(STAFF, "@partner_guide_bot What is the Global Compact?", **IN_GROUP)
    assert [r.chat_id for r in replies] == [GROUP]
    assert "<b>Sources</b>" in replies[0].params["text"]
    assert not [label for r in replies for label, data in buttons(r) if data.startswith("c:")]
    assert replies[0].params["reply_parameters"]  # threaded under the question
    checklist = bot.say(STAFF, "/checklist@partner_guide_bot", **IN_GROUP)
    assert "private chat" in checklist[0].params["text"]
    assert "t.me/partner_guide_bot" in checklist[0].params["text"]
    assert len(list(db(bot)["run_answers"].rows)) == 0


# ---- groups, roles, menus --------------------------------------------------------------------


def test_admin_and_trainer_output_stays_private(bot: RunningBot) -> None:
    bot.say(STAFF, QUESTION)
    bot.press(STAFF, texts.NOT_HELPFUL)
    for command in ("stats", "users", "cohort"):
        refused = bot.say(ADMIN, f"/{command}@partner_guide_bot", **IN_GROUP)
        assert [r.chat_id for r in refused] == [GROUP]
        assert "private chat" in refused[0].params["text"], command
        assert "Questions:" not in refused[0].params["text"]
    assert not [r for r in bot.server.requests if r.method == "sendDocument"]


def test_trainers_get_their_menu_and_a_training_link(bot: RunningBot) -> None:
    assert texts_of(bot.say(ADMIN, f"/allow {TRAINER} trainer"))
    bot.say(TRAINER, "/help")  # the trainer's next message brings their menu up to date
    menu = wait_menu(bot.server, {"type": "chat", "chat_id": TRAINER})
    assert {"cohort", "training", "runs"} <= {c["command"] for c in menu}
    link = bot.say(TRAINER, "/training implementing-partner-selection geneva-2026")
    assert ("https://t.me/partner_guide_bot?start="
            "training-implementing-partner-selection_geneva-2026") in link[0].params["text"]
    started = bot.say(STAFF2, "/start training-implementing-partner-selection_geneva-2026")
    assert "Training mode" in started[0].params["text"]
    cohort = bot.say(TRAINER, "/cohort geneva-2026")
    assert "1 runs" in cohort[0].params["text"]


# ---- documents --------------------------------------------------------------------------------


@pytest.fixture
def writable_bot(server: FakeBotAPI, real_data_dir: Path, tmp_path: Path,
                 real_embedder: SentenceTransformerEmbedder) -> Iterator[RunningBot]:
    """The bot over a copy of the knowledge directory, which an upload may change."""
    knowledge = tmp_path / "knowledge"
    shutil.copytree(ROOT / "knowledge", knowledge)
    running = RunningBot(server, telegram_dialogue(server, real_data_dir, real_embedder,
                                                   knowledge)).start()
    yield running
    running.stop()


def handbook(path: Path) -> bytes:
    import docx

    document = docx.Document()
    document.core_properties.title = "Vetting handbook for field partners"
    document.add_heading("Vetting handbook for field partners", 0)
    document.add_heading("I. Vetting", 1)
    document.add_paragraph("1. Every field partner must submit a notarised beneficial "
                           "ownership declaration before the first disbursement.")
    document.add_paragraph("2. Country offices keep the beneficial ownership declaration for "
                           "seven years.")
    document.save(str(path))
    return path.read_bytes()


def test_an_admin_adds_a_docx_and_the_next_question_is_answered_from_it(
        writable_bot: RunningBot, tmp_path: Path) -> None:
    bot, server = writable_bot, writable_bot.server
    content = handbook(tmp_path / "vetting.docx")
    refused = sent(bot.act(lambda: server.send_document(STAFF, "vetting.docx", content))[1])
    assert "only" in refused[0].params["text"].lower() and "admin" in refused[0].params["text"]
    assert not [r for r in server.requests if r.method == "getFile"]  # never downloaded
    preview = sent(bot.act(lambda: server.send_document(ADMIN, "vetting.docx", content))[1])
    assert "Vetting handbook for field partners" in preview[0].params["text"]
    assert [r for r in server.requests if r.method == "getFile" and r.ok]
    calls = bot.press(ADMIN, texts.UPLOAD_ADD)
    progress = sent(calls)
    assert len(progress) == 1  # one message, edited as it goes
    assert edits(calls) and {r.params["message_id"] for r in edits(calls)} == {
        progress[0].result["message_id"]}
    answer = bot.say(STAFF, "What must field partners submit before the first disbursement?")
    text = answer[0].params["text"]
    assert "beneficial ownership declaration" in text and "Vetting handbook" in text
    assert any(r["action"] == "upload_refused" for r in bot.dialogue.store.audit_log())


# ---- crafted inputs ---------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["١٢٣", "²", "12345678901234567890", "-5", "0", "123456"])
def test_odd_user_ids_are_refused_with_a_clear_message(bot: RunningBot, target: str) -> None:
    replies = bot.say(ADMIN, f"/allow {target} admin")
    assert len(replies) == 1 and replies[0].chat_id == ADMIN
    assert "user id" in replies[0].params["text"].lower() or "bot" in replies[0].params["text"]
    assert bot.dialogue.store.role(123) is None and bot.dialogue.store.role(123456) is None


def test_lone_surrogates_odd_commands_and_channel_posts(bot: RunningBot) -> None:
    server = bot.server
    answered = bot.say(STAFF, "What is the Global Compact? \ud800")
    assert "<b>Sources</b>" in answered[0].params["text"]
    welcome = bot.say(STAFF, "/start")[0].result["message_id"]
    _, calls = bot.act(lambda: server.press(STAFF, welcome, "f:\udc00:1"))
    assert callback_answers(calls)[0].ok  # every press answered
    assert bot.say(STAFF, "/stats@someotherbot") == []  # another bot's command: not ours
    for odd in ("/hélp", "/" + "a" * 33):
        unknown = bot.say(STAFF, odd)
        assert "/help" in unknown[0].params["text"], odd
    post = server.send_update({"channel_post": {
        "message_id": 5, "date": 1700000000, "text": "news",
        "chat": {"id": -100777, "type": "channel", "title": "News"}}})
    bot.wait_handled(post)
    rows = db(bot)
    kinds = [r["kind"] for r in rows["messages"].rows_where("direction = 'in'")]
    assert kinds.count("channel_post") == 1
    assert "command_for_another_bot" in kinds
    stored = [r["text"] for r in rows["messages"].rows_where("direction = 'in'")]
    assert all("\ud800" not in (t or "") for t in stored)


def test_a_photo_caption_is_a_question(bot: RunningBot) -> None:
    captioned = sent(bot.act(lambda: bot.server.send_photo(
        STAFF, caption="What is the UN Partner Portal?"))[1])
    assert "<b>Sources</b>" in captioned[0].params["text"]
    bare = sent(bot.act(lambda: bot.server.send_photo(STAFF))[1])
    assert bare[0].params["text"] == texts.UNSUPPORTED.format(kind="photo")
