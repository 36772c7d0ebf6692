"""The fake Bot API server fails the way Telegram does: 500 and 429 on demand, unknown
methods, and flood limits - so the bot's tests can make each call fail."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from telegram import Bot
from telegram.error import EndPointNotFound, InvalidToken, NetworkError, RetryAfter

from tests.support.fakebotapi import FakeBotAPI, FloodLimits
from tests.support.fakebotapi_calls import (
    INTERNAL_ERROR,
    NOT_FOUND,
    TOKEN,
    Clock,
    flood_limited,
    outcome,
    raw_call,
    too_many_requests,
    with_bot,
)


def test_wrong_token_is_unauthorized(server: FakeBotAPI) -> None:
    with pytest.raises(InvalidToken):
        with_bot(server, lambda bot: bot.get_me(), token="999999:WRONG-TOKEN")
    status, body = raw_call(server, "/bot999999:WRONG-TOKEN/getMe")
    assert (status, body) == (401, {"ok": False, "error_code": 401, "description": "Unauthorized"})


def test_fail_next_429_raises_retry_after(server: FakeBotAPI) -> None:
    server.fail_next("sendMessage", 429, retry_after=7, times=2)

    async def body(bot: Bot) -> Any:
        for _ in range(2):
            with pytest.raises(RetryAfter, match="Retry in 7"):
                await bot.send_message(51, "hi")
        return await bot.send_message(51, "hi")

    assert with_bot(server, body).text == "hi"
    failed = [r for r in server.requests if r.method == "sendMessage" and not r.ok]
    assert [r.description for r in failed] == ["Too Many Requests: retry after 7"] * 2
    server.fail_next("getMe", 429, "Too Many Requests: retry after 3", retry_after=3)
    status, answer = raw_call(server, f"/bot{TOKEN}/getMe")
    assert status == 429 and answer["parameters"] == {"retry_after": 3}


def test_fail_answers_500_for_n_calls_then_runs_the_method(
        server: FakeBotAPI, api: httpx.Client) -> None:
    server.fail("sendMessage", times=2)
    message = {"chat_id": 7, "text": "hi"}
    assert [outcome(api.post("sendMessage", json=message)) for _ in range(2)] == [
        (500, INTERNAL_ERROR)] * 2
    assert outcome(api.post("getMe"))[0] == 200  # other methods are unaffected
    status, body = outcome(api.post("sendMessage", json=message))
    assert (status, body["result"]["text"]) == (200, "hi")
    assert [m["text"] for m in server.messages(7)] == ["hi"]  # the failed calls sent nothing
    assert [(r.method, r.error_code) for r in server.requests] == [
        ("sendMessage", 500), ("sendMessage", 500), ("getMe", None), ("sendMessage", None)]


def test_fail_always_until_cleared(server: FakeBotAPI, api: httpx.Client) -> None:
    commands = {"commands": [{"command": "start", "description": "Start"}]}
    server.fail("setMyCommands", times=None)
    for _ in range(5):
        assert outcome(api.post("setMyCommands", json=commands)) == (500, INTERNAL_ERROR)
    assert server.my_commands() == []
    server.clear_failures("setMyCommands")
    assert outcome(api.post("setMyCommands", json=commands)) == (200, {"ok": True, "result": True})
    assert server.my_commands() == commands["commands"]


def test_failures_for_one_method_apply_in_turn(server: FakeBotAPI, api: httpx.Client) -> None:
    server.fail("sendChatAction", 502, "Bad Gateway")
    server.flood("sendChatAction", retry_after=4)
    server.fail_next("sendChatAction", 400, "Bad Request: chat not found")
    action = {"chat_id": 7, "action": "typing"}
    assert [outcome(api.post("sendChatAction", json=action)) for _ in range(4)] == [
        (502, {"ok": False, "error_code": 502, "description": "Bad Gateway"}),
        (429, too_many_requests(4)),
        (400, {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"}),
        (200, {"ok": True, "result": True}),
    ]


def test_flood_answers_429_with_retry_after(server: FakeBotAPI, api: httpx.Client) -> None:
    server.flood("getUpdates", retry_after=3, times=2)
    assert [outcome(api.post("getUpdates", json={"timeout": 0})) for _ in range(3)] == [
        (429, too_many_requests(3)), (429, too_many_requests(3)), (200, {"ok": True,
                                                                         "result": []})]
    sent = with_bot(server, lambda bot: bot.send_message(7, "markup"))
    server.flood("editMessageText", retry_after=2)

    async def edit(bot: Bot) -> Any:
        with pytest.raises(RetryAfter, match="Retry in 2"):
            await bot.edit_message_text("edited", chat_id=7, message_id=sent.message_id)
        return await bot.edit_message_text("edited", chat_id=7, message_id=sent.message_id)

    assert with_bot(server, edit).text == "edited"


def test_unknown_answers_404_until_cleared(server: FakeBotAPI, api: httpx.Client) -> None:
    server.unknown("deleteWebhook")
    for _ in range(3):
        assert outcome(api.post("deleteWebhook")) == (404, NOT_FOUND)
    with pytest.raises(InvalidToken, match="Not Found"):  # how PTB reads a 404
        with_bot(server, lambda bot: bot.delete_webhook())
    assert outcome(api.post("getWebhookInfo"))[0] == 200
    server.clear_failures()
    assert outcome(api.post("deleteWebhook")) == (200, {"ok": True, "result": True})


def test_injected_500_reaches_ptb_as_a_network_error(server: FakeBotAPI) -> None:
    server.fail("answerCallbackQuery")
    with pytest.raises(NetworkError, match="Internal Server Error"):
        with_bot(server, lambda bot: bot.answer_callback_query("1"))
    assert server.requests[-1].error_code == 500


@pytest.mark.parametrize("kwargs", [{"times": 0}, {"status": 200}])
def test_fail_refuses_what_is_no_failure(server: FakeBotAPI, kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"times|status"):
        server.fail("sendMessage", **kwargs)


def test_no_flood_limits_by_default(server: FakeBotAPI, api: httpx.Client) -> None:
    for n in range(40):
        assert api.post("sendMessage", json={"chat_id": 7, "text": f"m{n}"}).status_code == 200
    assert len(server.messages(7)) == 40


def test_flood_limit_per_chat_then_accepts_after_retry_after() -> None:
    clock = Clock()
    limits = FloodLimits(chat_rate=1, chat_burst=3, clock=clock)
    with flood_limited(limits) as (server, api):
        def send(chat: int) -> tuple[int, Any]:
            return outcome(api.post("sendMessage", json={"chat_id": chat, "text": "x"}))

        assert [send(7)[0] for _ in range(3)] == [200] * 3  # the burst
        assert send(7) == (429, too_many_requests(1))
        action = {"chat_id": 7, "action": "typing"}  # chat actions count too
        assert outcome(api.post("sendChatAction", json=action)) == (429, too_many_requests(1))
        assert send(8)[0] == 200  # another chat has its own allowance
        no_chat = [outcome(api.post("sendMessage", json={"text": "x"})) for _ in range(4)]
        assert [o[1]["description"] for o in no_chat] == ["Bad Request: chat_id is empty"] * 4
        assert outcome(api.post("getMe"))[0] == 200  # not a message: not counted
        clock.advance(1)
        assert send(7)[0] == 200
        assert send(7) == (429, too_many_requests(1))
        assert len(server.messages(7)) == 4


def test_flood_limit_counts_down_retry_after() -> None:
    clock = Clock()
    limits = FloodLimits(chat_rate=0.25, chat_burst=1, clock=clock)  # one message per 4 s
    with flood_limited(limits) as (server, api):
        def send() -> tuple[int, Any]:
            return outcome(api.post("sendMessage", json={"chat_id": 7, "text": "x"}))

        assert send()[0] == 200
        assert send() == (429, too_many_requests(4))
        clock.advance(2.5)
        assert send() == (429, too_many_requests(2))
        clock.advance(1.5)
        assert send()[0] == 200
        assert [m["text"] for m in server.messages(7)] == ["x", "x"]


def test_global_flood_limit_over_all_chats() -> None:
    clock = Clock()
    limits = FloodLimits(global_rate=30, global_burst=30, chat_rate=None, clock=clock)
    with flood_limited(limits) as (server, api):
        def send(chat: int) -> int:
            return api.post("sendMessage", json={"chat_id": chat, "text": "x"}).status_code

        assert [send(100 + n) for n in range(30)] == [200] * 30
        status, body = outcome(api.post("sendMessage", json={"chat_id": 200, "text": "x"}))
        assert (status, body) == (429, too_many_requests(1))
        clock.advance(1 / 30)  # room for one more
        assert [send(300), send(301)] == [200, 429]
        clock.advance(1)
        assert [send(400 + n) for n in range(30)] == [200] * 30
        assert server.messages(200) == []


def test_unknown_method_is_404(server: FakeBotAPI) -> None:
    with pytest.raises(EndPointNotFound):
        with_bot(server, lambda bot: bot.do_api_request("sendTelepathy", api_kwargs={"x": 1}))
    status, body = raw_call(server, f"/bot{TOKEN}/sendTelepathy", b"{}")
    assert (status, body) == (404, {"ok": False, "error_code": 404, "description": "Not Found"})


