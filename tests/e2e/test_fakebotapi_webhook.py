"""The fake Bot API's webhook delivery (tests/support/fakebotapi/webhook.py), against a small
HTTP server of the test's own: nothing is posted before setWebhook, every post carries the
secret, a refused post is retried until 2xx, one chat's updates are posted one at a time in
order while other chats go on."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from tests.support.fakebotapi import FakeBotAPI
from tests.support.fakebotapi_calls import TOKEN


class Receiver:
    """Records each POST (path, secret, update id, chat); refuses the first ones it is told."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, str, int, int]] = []
        self.refuse: dict[int, int] = {}  # update id -> how many posts of it get 500
        self.in_flight: dict[int, int] = {}
        self.overlap = False  # two posts of one chat at once
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                update_id = int(body["update_id"])
                chat = int(body["message"]["chat"]["id"])
                with receiver.lock:
                    receiver.overlap |= receiver.in_flight.get(chat, 0) > 0
                    receiver.in_flight[chat] = receiver.in_flight.get(chat, 0) + 1
                    receiver.posts.append((self.path, self.headers.get(
                        "X-Telegram-Bot-Api-Secret-Token", ""), update_id, chat))
                    refused = receiver.refuse.get(update_id, 0) > 0
                    if refused:
                        receiver.refuse[update_id] -= 1
                time.sleep(0.02)
                with receiver.lock:
                    receiver.in_flight[chat] -= 1
                self.send_response(500 if refused else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.http.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http.server_address[1]}"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    found.thread.start()
    try:
        yield found
    finally:
        found.http.shutdown()
        found.http.server_close()


def test_updates_are_posted_in_order_per_chat_and_retried_until_accepted(
        receiver: Receiver) -> None:
    with FakeBotAPI(token=TOKEN) as server:
        sender = server.deliver_webhooks(receiver.url, connections=4, retry=0.05)
        early = server.send_text(1, "before the webhook")
        time.sleep(0.3)
        assert receiver.posts == []  # no webhook set yet: nothing posted
        with httpx.Client(base_url=f"{server.base_url}{TOKEN}/", trust_env=False) as api:
            assert api.post("setWebhook", json={"url": "https://bot.example.org/telegram",
                                                "secret_token": "s3"}).json()["ok"]
        ids = [early]
        receiver.refuse[early] = 2
        for n in range(5):
            ids.append(server.send_text(1, f"one {n}"))
            ids.append(server.send_text(2, f"two {n}"))
        deadline = time.monotonic() + 10
        while server.pending_update_count and time.monotonic() < deadline:
            time.sleep(0.02)
        assert server.pending_update_count == 0
        posts = sender.snapshot()
    accepted = [(u, c) for path, secret, u, c in receiver.posts]
    assert all(path == "/telegram" and secret == "s3" for path, secret, _, _ in receiver.posts)
    assert [u for u, c in accepted].count(early) == 3  # refused twice, then accepted
    assert [p.status for p in posts if p.update_id == early] == [500, 500, 200]
    for chat in (1, 2):
        order = [u for u, c in accepted if c == chat]
        assert order == sorted(order)  # in order, the refused one before the next
        assert sorted(set(order)) == sorted(u for u in ids if u in set(order))
    assert not receiver.overlap  # one chat's updates never posted at once
    assert set(ids) == {u for u, _ in accepted}
    assert not sender.given_up
