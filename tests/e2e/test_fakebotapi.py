"""Tests of the fake Bot API server, driven by the real python-telegram-bot client."""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.parse
from typing import Any

import pytest
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllPrivateChats,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest
from telegram.ext import ApplicationBuilder, CommandHandler, ContextTypes, MessageHandler, filters

from tests.support.fakebotapi import ApiError, FakeBotAPI, parse_html
from tests.support.fakebotapi_calls import (
    TOKEN,
    raw_call,
    with_bot,
)


def test_get_me(server: FakeBotAPI) -> None:
    me = with_bot(server, lambda bot: bot.get_me())
    assert (me.id, me.is_bot, me.username) == (123456, True, "partner_guide_bot")
    assert me.can_join_groups is True and me.supports_inline_queries is False
    assert server.calls("getMe")


def test_send_message_html_ok(server: FakeBotAPI) -> None:
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Yes", callback_data="yes")]])

    async def body(bot: Bot) -> Any:
        first = await bot.send_message(
            7, "<b>Bold</b> &amp; <a href='https://un.org/?a=1&amp;b=2'>link</a> 😀 <i>it</i>",
            parse_mode=ParseMode.HTML, reply_markup=markup)
        second = await bot.send_message(7, "plain", reply_to_message_id=first.message_id)
        return first, second

    first, second = with_bot(server, body)
    assert first.text == "Bold & link 😀 it"
    assert [e.type for e in first.entities] == ["bold", "text_link", "italic"]
    assert first.entities[1].url == "https://un.org/?a=1&b=2"
    assert first.entities[2].offset == 15  # the emoji counts as two UTF-16 units
    assert first.text_html.startswith("<b>Bold</b> &amp; <a href=")
    assert first.reply_markup == markup and first.from_user and first.from_user.is_bot
    assert second.message_id == first.message_id + 1
    assert second.reply_to_message and second.reply_to_message.message_id == first.message_id
    assert [m["text"] for m in server.messages(7)] == ["Bold & link 😀 it", "plain"]
    assert server.calls("sendMessage")[0]["parse_mode"] == "HTML"


@pytest.mark.parametrize("text", [
    "<b>unclosed", "<foo>x</foo>", "a < b", "Tom & Jerry", "<b>x</i>", "x</b>", "a<br>b",
    "<span>x</span>",
])
def test_malformed_html_is_rejected(server: FakeBotAPI, text: str) -> None:
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        with_bot(server, lambda bot: bot.send_message(7, text, parse_mode=ParseMode.HTML))
    assert server.messages(7) == []
    assert not server.requests[-1].ok and server.requests[-1].error_code == 400


def test_html_error_descriptions_follow_telegram() -> None:
    cases = {
        "<b>x": "Can't find end tag corresponding to start tag \"b\"",
        "ab<foo>": 'Unsupported start tag "foo" at byte offset 2',
        "é<b>x</i>": 'Unmatched end tag at byte offset 6, expected "</b>", found "</i>"',
    }
    for text, expected in cases.items():
        with pytest.raises(ApiError, match=expected):
            parse_html(text)
    assert parse_html("Tom & Jerry", strict_ampersand=False) == ("Tom & Jerry", [])
    text, entities = parse_html('<pre><code class="language-py">x = 1</code></pre>')
    assert (text, entities) == ("x = 1", [{"type": "pre", "language": "py", "offset": 0,
                                           "length": 5}])


def test_message_length_limits(server: FakeBotAPI) -> None:
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        with_bot(server, lambda bot: bot.send_message(7, "x" * 4097))
    with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
        with_bot(server, lambda bot: bot.send_message(7, "<b></b>", parse_mode=ParseMode.HTML))
    # the limit applies to the text after entity parsing
    sent = with_bot(server, lambda bot: bot.send_message(7, "<b>" + "x" * 4096 + "</b>",
                                                         parse_mode=ParseMode.HTML))
    assert sent.text == "x" * 4096


def test_get_updates_offset_confirms(server: FakeBotAPI) -> None:
    ids = [server.send_text(11, "/start ref"), server.send_text(11, "hello"),
           server.send_text(11, "bye")]

    async def body(bot: Bot) -> tuple[Any, ...]:
        everything = await bot.get_updates()
        again = await bot.get_updates(offset=ids[1])
        limited = await bot.get_updates(offset=ids[1], limit=1)
        after = await bot.get_updates(offset=ids[2] + 1, timeout=0)
        return everything, again, limited, after

    everything, again, limited, after = with_bot(server, body)
    assert [u.update_id for u in everything] == ids
    command = everything[0].message
    assert command.text == "/start ref"
    assert command.entities[0].type == "bot_command" and command.entities[0].length == 6
    assert [u.update_id for u in again] == ids[1:]
    assert [u.update_id for u in limited] == ids[1:2]
    assert after == () and server.pending_update_count == 0


def test_long_polling_waits_for_an_update(server: FakeBotAPI) -> None:
    async def body(bot: Bot) -> tuple[int, Any, Any]:
        poll = asyncio.create_task(bot.get_updates(timeout=5))
        await server.wait_long_poll_async(timeout=5)  # the poll waits: nothing is queued yet
        assert not poll.done() and server.long_polls == 1
        uid = server.send_text(21, "ping")
        got = await poll
        poll = asyncio.create_task(bot.get_updates(offset=got[0].update_id + 1, timeout=1))
        await server.wait_long_poll_async(timeout=5)  # waits again, then times out empty
        return uid, got, await poll

    uid, got, empty = with_bot(server, body)
    assert [(u.update_id, u.message.text) for u in got] == [(uid, "ping")]
    assert empty == () and server.long_polls == 0
    polls = [r for r in server.requests if r.method == "getUpdates"]
    assert [r.params.get("timeout") for r in polls] == [5, 1]
    assert polls[0].at <= server.update_available_at(uid)  # the update came during the poll
    delivered = server.update_delivered_at(uid)
    assert delivered is not None and delivered >= server.update_available_at(uid)


def test_callback_query_and_edits(server: FakeBotAPI) -> None:
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Yes", callback_data="ans:yes"),
                                    InlineKeyboardButton("No", callback_data="ans:no")]])

    async def body(bot: Bot) -> None:
        sent = await bot.send_message(31, "Continue?", reply_markup=markup)
        server.press_button(31, "No")
        (update,) = await bot.get_updates()
        query = update.callback_query
        assert query is not None and query.data == "ans:no" and query.message is not None
        assert query.message.message_id == sent.message_id
        assert await bot.answer_callback_query(query.id, text="Noted") is True
        with pytest.raises(BadRequest, match=r"(?i)query is too old"):
            await bot.answer_callback_query(query.id)
        with pytest.raises(BadRequest, match=r"(?i)query is too old"):
            await bot.answer_callback_query("nonexistent")
        edited = await bot.edit_message_text("Done", chat_id=31, message_id=sent.message_id)
        assert isinstance(edited, Message) and edited.text == "Done" and edited.reply_markup is None
        with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
            await bot.edit_message_text("Done", chat_id=31, message_id=sent.message_id)
        with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
            await bot.edit_message_text("x", chat_id=31, message_id=999)
        await bot.edit_message_reply_markup(31, sent.message_id, reply_markup=markup)

    with_bot(server, body)
    assert server.calls("answerCallbackQuery")[0]["text"] == "Noted"
    (current,) = server.messages(31)
    assert current["text"] == "Done" and "edit_date" in current
    assert current["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "ans:yes"
    with pytest.raises(AssertionError, match="no inline button 'Maybe'"):
        server.press_button(31, "Maybe")


def test_send_document_with_bytes(server: FakeBotAPI) -> None:
    async def body(bot: Bot) -> tuple[Any, bytes]:
        sent = await bot.send_document(41, b"%PDF-1.4 report", filename="report.pdf",
                                       caption="<b>Your</b> report", parse_mode=ParseMode.HTML)
        assert sent.document is not None
        file = await bot.get_file(sent.document.file_id)
        return sent, bytes(await file.download_as_bytearray())

    sent, downloaded = with_bot(server, body)
    assert sent.document.file_name == "report.pdf" and sent.document.file_size == 15
    assert sent.caption == "Your report" and sent.caption_entities[0].type == "bold"
    assert downloaded == b"%PDF-1.4 report"
    request = next(r for r in server.requests if r.method == "sendDocument")
    assert request.files["document"].filename == "report.pdf"
    assert request.files["document"].content == b"%PDF-1.4 report"
    assert request.params["caption"] == "<b>Your</b> report" and request.chat_id == 41


def test_set_my_commands_per_scope(server: FakeBotAPI) -> None:
    private = BotCommandScopeAllPrivateChats()

    async def body(bot: Bot) -> tuple[Any, Any, Any]:
        await bot.set_my_commands([BotCommand("start", "Start"), BotCommand("help", "Help")])
        await bot.set_my_commands([BotCommand("aide", "Aide")], scope=private, language_code="fr")
        default = await bot.get_my_commands()
        french = await bot.get_my_commands(scope=private, language_code="fr")
        await bot.delete_my_commands()
        with pytest.raises(BadRequest, match=r"(?i)bot_command_invalid"):
            await bot.set_my_commands([BotCommand("Bad-Name", "x")])
        return default, french, await bot.get_my_commands()

    default, french, after_delete = with_bot(server, body)
    assert [c.command for c in default] == ["start", "help"]
    assert [c.command for c in french] == ["aide"]
    assert after_delete == ()
    assert server.my_commands({"type": "all_private_chats"}, "fr") == [
        {"command": "aide", "description": "Aide"}]


def test_raw_http_json_form_and_query(server: FakeBotAPI) -> None:
    markup = {"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]}
    status, answer = raw_call(server, f"/bot{TOKEN}/sendMessage", json.dumps(
        {"chat_id": 61, "text": "json", "reply_markup": markup}).encode())
    assert status == 200 and answer["result"]["reply_markup"] == markup
    form = urllib.parse.urlencode({"chat_id": "61", "text": "123", "reply_markup": json.dumps(
        markup)}).encode()
    status, answer = raw_call(server, f"/bot{TOKEN}/sendMessage", form,
                              "application/x-www-form-urlencoded")
    assert status == 200 and answer["result"]["text"] == "123"
    assert answer["result"]["reply_markup"] == markup
    status, answer = raw_call(server, f"/bot{TOKEN}/sendChatAction?chat_id=61&action=typing")
    assert (status, answer) == (200, {"ok": True, "result": True})
    status, answer = raw_call(server, f"/bot{TOKEN}/sendMessage", json.dumps(
        {"chat_id": 61, "text": "x", "reply_markup": {"inline_keyboard": [[
            {"text": "A", "callback_data": "x" * 65}]]}}).encode())
    assert (status, answer["description"]) == (400, "Bad Request: BUTTON_DATA_INVALID")


def test_webhook_and_polling_conflict(server: FakeBotAPI) -> None:
    async def body(bot: Bot) -> tuple[Any, Any]:
        await bot.set_webhook("https://example.org/hook")
        info = await bot.get_webhook_info()
        with pytest.raises(Exception, match=r"(?i)webhook is active"):
            await bot.get_updates()
        await bot.delete_webhook()
        return info, await bot.get_webhook_info()

    info, after = with_bot(server, body)
    assert info.url == "https://example.org/hook" and after.url == ""


def test_wait_helpers(server: FakeBotAPI) -> None:
    uid = server.send_text(71, "question")
    server.mark()

    async def main() -> list[dict[str, Any]]:
        async with Bot(TOKEN, base_url=server.base_url) as bot:
            waiting = asyncio.create_task(server.wait_for_messages_async(71, timeout=60))
            await asyncio.sleep(0)  # one turn of the loop: the waiter is registered, not done
            assert not waiting.done()
            await bot.send_message(71, "answer")
            # woken by the message, long before its own timeout would end the wait
            return await asyncio.wait_for(waiting, 10)

    (message,) = asyncio.run(main())
    assert message["text"] == "answer"
    reply = server.wait_reply(uid, timeout=1)
    assert reply.result["text"] == "answer" and reply.at >= server.update_available_at(uid)
    assert server.reply_latency(uid) == reply.at - server.update_available_at(uid)
    assert server.wait_for("sendMessage", since=0)["text"] == "answer"
    with pytest.raises(AssertionError, match=r"timed out after 0.1s waiting for a sendMessage"):
        server.wait_for("sendMessage", timeout=0.1)  # the mark moved past the answer

    async def in_loop() -> None:
        with pytest.raises(RuntimeError, match="wait_for_async"):
            server.wait_for("sendMessage", timeout=0.1)

    asyncio.run(in_loop())


def test_user_update_helpers(server: FakeBotAPI) -> None:
    ids = [
        server.send_photo(81, caption="look"),
        server.send_document(81, "notes.txt", b"hello"),
        server.send_voice(81),
        server.send_sticker(81),
        server.send_location(81, 46.2, 6.1),
        server.send_update({"my_chat_member": {"chat": {"id": 81, "type": "private"}}}),
    ]
    ids.append(server.send_text(81, "typo", username="alice"))
    typo = server.messages(81, include_user=True)[-1]
    ids.append(server.edit_text(81, typo["message_id"], "fixed"))

    async def body(bot: Bot) -> tuple[Any, ...]:
        return await bot.get_updates()

    updates = with_bot(server, body)  # Any-typed: the asserts below dereference freely
    assert [u.update_id for u in updates] == ids
    assert updates[0].message.photo and updates[0].message.caption == "look"
    assert updates[1].message.document.file_name == "notes.txt"
    assert updates[4].message.location.latitude == 46.2
    assert updates[6].message.from_user.username == "alice"
    assert updates[7].edited_message.text == "fixed"


def test_application_answers_start(server: FakeBotAPI) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_html(f"<b>Welcome</b>, args={context.args}")

    async def main() -> tuple[list[dict[str, Any]], float | None]:
        app = (ApplicationBuilder().token(TOKEN).base_url(server.base_url)
               .base_file_url(server.base_file_url).build())
        app.add_handler(CommandHandler("start", start))
        async with app:
            await app.start()
            assert app.updater is not None
            await app.updater.start_polling(poll_interval=0, timeout=1)
            uid = server.send_text(91, "/start partner")
            replies = await server.wait_for_messages_async(91, timeout=10)
            await app.updater.stop()
            await app.stop()
        return replies, server.reply_latency(uid)

    replies, latency = asyncio.run(main())
    assert replies[0]["text"] == "Welcome, args=['partner']"
    assert latency is not None  # how long it took is for the benchmarks
    assert server.calls("deleteWebhook") and server.pending_update_count == 0


def test_second_long_poll_conflicts_and_stop_releases_polls() -> None:
    fake = FakeBotAPI(token=TOKEN).start()
    answers: list[tuple[int, Any]] = []

    def long_poll() -> threading.Thread:
        poller = threading.Thread(target=lambda: answers.append(
            raw_call(fake, f"/bot{TOKEN}/getUpdates?timeout=30", timeout=40)))
        poller.start()
        fake.wait_long_poll(timeout=5)
        return poller

    try:
        poller = long_poll()
        assert raw_call(fake, f"/bot{TOKEN}/getUpdates?timeout=0") == (200, {"ok": True,
                                                                              "result": []})
        poller.join(5)
        assert not poller.is_alive()
        assert answers[0][0] == 409
        assert answers[0][1]["description"].startswith("Conflict: terminated")
        poller = long_poll()
    finally:
        fake.stop()
    poller.join(5)
    assert not poller.is_alive()
    assert answers[1] == (200, {"ok": True, "result": []})


def test_concurrent_users_each_get_their_reply(server: FakeBotAPI) -> None:
    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None and update.effective_chat is not None
        await update.effective_chat.send_action("typing")
        await asyncio.sleep(0.01 * (update.effective_chat.id % 3))
        await update.effective_message.reply_text(f"re: {update.effective_message.text}")

    async def user(uid: int) -> list[int]:
        ids = []
        for q in range(3):
            ids.append(server.send_text(uid, f"q{q} from {uid}"))
            reply = await server.wait_reply_async(ids[-1], timeout=10)
            assert reply.result["text"] == f"re: q{q} from {uid}"
        return ids

    async def main() -> list[int]:
        app = (ApplicationBuilder().token(TOKEN).base_url(server.base_url)
               .concurrent_updates(True).build())
        app.add_handler(MessageHandler(filters.TEXT, echo))
        async with app:
            await app.start()
            assert app.updater is not None
            await app.updater.start_polling(poll_interval=0, timeout=1)
            per_user = await asyncio.gather(*(user(500 + i) for i in range(10)))
            await app.updater.stop()
            await app.stop()
        return [uid for ids in per_user for uid in ids]

    update_ids = asyncio.run(main())
    assert len(update_ids) == 30
    for uid in update_ids:
        replies = server.replies_to(uid)
        assert [r.method for r in replies] == ["sendMessage"]
        assert server.reply_latency(uid) == replies[0].at - server.update_available_at(uid)
