"""The real bot in a test: `RunningBot` runs `TelegramBot` (bot/tg/runner.py) over the real
Application from `build_application`, long-polling the fake Bot API server, in a thread with its
own event loop, as `partnerbot run` does; helpers read what the server received.

`act` queues one update and waits until the bot has handled it and every reply it queued is
sent or failed for good (the runner's `settled` callback), then returns every API call made
meanwhile, so a test asserts on exactly what the user saw.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlite_utils

from bot.app import build_dialogue
from bot.dialogue.engine import Dialogue
from bot.settings import load_settings
from bot.tg.app import build_application
from bot.tg.runner import TelegramBot
from index.embedders import Embedder
from tests.conftest import ROOT
from tests.support.fakebotapi import FakeBotAPI, Request

TOKEN = "123456:TEST-TOKEN"
ADMIN, STAFF, STAFF2, TRAINER, STRANGER = 1, 2, 3, 4, 99
GROUP = -1001234567890
QUESTION = "Should implementing partners use the UN Partner Portal?"
QUESTION2 = "Do implementing partners need PSEA training?"
SENDS = frozenset({"sendMessage", "sendDocument"})


def telegram_dialogue(server: FakeBotAPI, data_dir: Path, embedder: Embedder,
                      knowledge_dir: Path = ROOT / "knowledge", **settings: Any) -> Dialogue:
    """The bot's own wiring (bot/app.py), with the session's model instead of the ONNX one."""
    values: dict[str, Any] = {"admins": str(ADMIN), "allowed_users": f"{STAFF},{STAFF2}",
                              "telegram_token": TOKEN, **settings}
    config = load_settings(data_dir=data_dir, knowledge_dir=knowledge_dir,
                           telegram_api_url=server.base_url, **values)
    return build_dialogue(config, front="telegram", embedder=embedder)


TEST_CHAT_RATE = 50.0  # messages a second in one chat: a checklist step is an edit and a message


class RunningBot:
    """The real bot polling the fake server in a background thread with its own loop."""

    def __init__(self, server: FakeBotAPI, dialogue: Dialogue, *, rate_limit: bool = True,
                 token: str = TOKEN, chat_rate: float = TEST_CHAT_RATE):
        """:param chat_rate: the outbox's messages a second in one chat: fast by default, as
        the fake server has no flood limits unless a test sets them (production keeps to
        Telegram's 1/s; `scripts/bench_bot.py` measures it against the limits)."""
        self.server, self.dialogue = server, dialogue
        self.application = build_application(dialogue, token, rate_limit=rate_limit)
        self._settled: set[int] = set()
        self._cond = threading.Condition()
        self.runner = TelegramBot(self.application, dialogue, poll_timeout=1,
                                  settled=self._on_settled, chat_rate=chat_rate)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="bot", daemon=True)
        self._polling: asyncio.Future[None] | None = None

    def _on_settled(self, update_id: int) -> None:
        with self._cond:
            self._settled.add(update_id)
            self._cond.notify_all()

    def start(self) -> RunningBot:
        self._thread.start()

        async def launch() -> None:
            await self.runner.start()
            self._polling = asyncio.ensure_future(self.runner.poll())

        try:
            asyncio.run_coroutine_threadsafe(launch(), self._loop).result(60)
        except BaseException:
            self._close_loop()
            raise
        return self

    def stop(self) -> None:
        async def finish() -> None:
            self.runner.stopping.set()
            if self._polling is not None:
                await self._polling
            await self.runner.stop()

        try:
            asyncio.run_coroutine_threadsafe(finish(), self._loop).result(60)
        finally:
            self._close_loop()
            self.dialogue.store.close()

    def _close_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def wait_handled(self, update_id: int, timeout: float = 30.0) -> None:
        """Wait until the update is handled and its replies are sent (or failed for good)."""
        with self._cond:
            if not self._cond.wait_for(lambda: update_id in self._settled, timeout):
                raise AssertionError(f"update {update_id} was not settled in {timeout}s")

    # ---- acting as users ---------------------------------------------------------------

    def act(self, send: Callable[[], int]) -> tuple[int, list[Request]]:
        """Queue one update, wait until it is settled; (update id, every API call for it)."""
        start = len(self.server.requests)
        update_id = send()
        self.wait_handled(update_id)
        return update_id, [r for r in self.server.requests[start:] if r.method != "getUpdates"]

    def say(self, user_id: int, text: str, **kwargs: Any) -> list[Request]:
        """A user writes `text`; the successful messages the bot sent in reply."""
        _, calls = self.act(lambda: self.server.send_text(user_id, text, **kwargs))
        return sent(calls)

    def press(self, user_id: int, label: str, **kwargs: Any) -> list[Request]:
        """A user taps the newest inline button labelled `label`; every API call for it."""
        return self.act(lambda: self.server.press_button(user_id, label, **kwargs))[1]


def sent(calls: list[Request]) -> list[Request]:
    """The messages and documents the server accepted."""
    return [r for r in calls if r.ok and r.method in SENDS]


def texts_of(calls: list[Request]) -> list[str]:
    """The texts of the messages the server accepted, as sent (HTML)."""
    return [r.params["text"] for r in sent(calls) if r.method == "sendMessage"]


def edits(calls: list[Request]) -> list[Request]:
    return [r for r in calls if r.ok and r.method == "editMessageText"]


def buttons(request: Request | dict[str, Any]) -> list[tuple[str, str]]:
    """(label, callback data) of a sent message (a Request) or a message as it is now."""
    message = request.result if isinstance(request, Request) else request
    markup = (message or {}).get("reply_markup") or {}
    return [(b["text"], b.get("callback_data", "")) for row in markup.get("inline_keyboard", [])
            for b in row]


def callback_answers(calls: list[Request]) -> list[Request]:
    return [r for r in calls if r.method == "answerCallbackQuery"]


def db(bot: RunningBot) -> sqlite_utils.Database:
    return sqlite_utils.Database(bot.dialogue.settings.db_path)


def wait_menu(server: FakeBotAPI, scope: dict[str, Any] | None = None,
              timeout: float = 20.0) -> list[dict[str, Any]]:
    """The command menu of a scope, once the bot has set it (it does so in the background)."""
    deadline = time.monotonic() + timeout
    while not (menu := server.my_commands(scope)):
        if time.monotonic() > deadline:
            raise AssertionError(f"no command menu for {scope} after {timeout} s")
        time.sleep(0.05)
    return menu
