"""FakeBotAPI: the server's life cycle, its failure switches, inspection and waiting."""

from __future__ import annotations

import asyncio
import copy
import re
import threading
from collections.abc import Callable, Iterable
from typing import Any, Self

from .faults import Faults, FloodControl, FloodLimits
from .log import RequestLog, ensure_not_in_loop, message_matcher, method_matcher
from .methods import BotMethods
from .model import JSON, REPLY_METHODS, ApiError, Handler, Request, UploadedFile, chat_key
from .server import HttpServer
from .state import BotState
from .updates import UpdateQueue
from .users import UserActions
from .webhook import WebhookSender

_TOKEN_RE = re.compile(r"^\d+:[\w-]+$")
_NOT_FOUND = b'{"ok":false,"error_code":404,"description":"Not Found"}'


class FakeBotAPI(UserActions):
    """In-memory Telegram Bot API served over HTTP on 127.0.0.1, plus a driving API for tests.

    Failing like Telegram: ``fail(method, status=500, times=1)``, ``flood(method, retry_after)``,
    ``unknown(method)`` answer the next calls of a method with an error; ``flood_limits``
    (off by default) answers 429 to a bot that sends faster than Telegram allows.
    """

    def __init__(
        self,
        token: str = "123456:TEST-TOKEN",
        *,
        port: int = 0,
        host: str = "127.0.0.1",
        username: str = "partner_guide_bot",
        first_name: str = "Partner Guide",
        strict_ampersand: bool = True,
        flood_limits: FloodLimits | None = None,
    ) -> None:
        self.token, self.host, self.port = token, host, port
        self._lock = threading.RLock()  # guards everything below
        self._state = BotState(token, username, first_name, strict_ampersand)
        self._updates = UpdateQueue(self._lock)
        self._log = RequestLog(self._lock, lambda: f"pending updates: {len(self._updates)}")
        self._faults = Faults()
        self._flood = FloodControl(flood_limits) if flood_limits is not None else None
        self._methods: dict[str, tuple[str, Handler]] = {}
        self._http: HttpServer | None = None
        self._webhook: WebhookSender | None = None
        for name, handler in BotMethods(self._state, self._updates).table().items():
            self.register_method(name, handler)

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> Self:
        """Listen on host:port (0 = a free port) in a daemon thread."""
        if self._http is not None:
            raise RuntimeError("FakeBotAPI already started")
        self._updates.set_closing(False)
        self._http = HttpServer(self._dispatch, self._serve_file)
        self.port = self._http.start(self.host, self.port)
        return self

    def stop(self) -> None:
        """Stop serving: pending long polls return [], open connections are closed."""
        if self._webhook is not None:
            self._webhook.stop()
            self._webhook = None
        if self._http is None:
            return
        self._updates.set_closing(True)
        self._http.stop()
        self._http = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """For ``ApplicationBuilder().base_url(...)``; PTB appends the token."""
        return f"http://{self.host}:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        """For ``ApplicationBuilder().base_file_url(...)``."""
        return f"http://{self.host}:{self.port}/file/bot"

    def deliver_webhooks(self, target: str, *, connections: int = 4,
                         retry: float = 0.3) -> WebhookSender:
        """Post updates to the webhook once the bot sets one, to `target` (e.g. a loopback
        proxy: the registered URL is HTTPS) with the registered path; see webhook.py."""
        if self._webhook is not None:
            raise RuntimeError("webhook delivery already started")
        self._webhook = WebhookSender(self._lock, self._state, self._updates, target,
                                      connections=connections, retry=retry).start()
        return self._webhook

    # ----------------------------------------------------------------- the bot as Telegram sees it

    @property
    def bot_id(self) -> int:
        return self._state.bot_id

    @property
    def bot_user(self) -> JSON:
        """The bot as the ``from`` of its messages."""
        return self._state.bot_user

    @property
    def me(self) -> JSON:
        """What getMe answers."""
        return self._state.me

    @property
    def webhook(self) -> JSON | None:
        """The setWebhook parameters in force (None: polling)."""
        return self._state.webhook

    @property
    def commands(self) -> dict[tuple[str, str], list[JSON]]:
        """Command menus by (scope as sorted JSON, language code); see ``my_commands``."""
        return self._state.commands

    @property
    def strict_ampersand(self) -> bool:
        """Reject a bare '&' in HTML parse mode, as the Bot API documents."""
        return self._state.strict_ampersand

    @strict_ampersand.setter
    def strict_ampersand(self, value: bool) -> None:
        self._state.strict_ampersand = value

    # ----------------------------------------------------------------- configuration

    def register_method(self, name: str, handler: Handler) -> None:
        """Serve (or override) method ``name`` with ``handler(params, files) -> result``.

        The handler runs under the server lock; raise ApiError for an error answer.
        """
        self._methods[name.lower()] = (name, handler)

    def fail(
        self, method: str, status: int = 500, description: str | None = None, *,
        times: int | None = 1, retry_after: int | None = None,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` (every call when None, until
        ``clear_failures``) with HTTP ``status`` instead of running it. The description
        defaults to Telegram's: "Internal Server Error" for 500, the HTTP phrase otherwise.
        Several fail/flood/unknown for one method apply one after the other."""
        error = ApiError.standard(status, description, retry_after)
        with self._lock:
            self._faults.add(method, error, times)

    def flood(self, method: str, retry_after: int = 1, *, times: int | None = 1) -> None:
        """Answer 429 "Too Many Requests: retry after N" with parameters.retry_after = N."""
        self.fail(method, 429, retry_after=retry_after, times=times)

    def unknown(self, method: str, *, times: int | None = None) -> None:
        """Answer as if ``method`` did not exist: 404 "Not Found" (by default until cleared)."""
        self.fail(method, 404, "Not Found", times=times)

    def clear_failures(self, method: str | None = None) -> None:
        """Forget the failures asked for ``method`` (all methods when None)."""
        with self._lock:
            self._faults.clear(method)

    def fail_next(
        self, method: str, error_code: int = 400, description: str | None = None,
        retry_after: int | None = None, times: int = 1,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` with this error (see ``fail``)."""
        self.fail(method, error_code, description, times=times, retry_after=retry_after)

    # ----------------------------------------------------------------- inspection

    @property
    def requests(self) -> list[Request]:
        """A snapshot of every API call so far, in the order they were answered."""
        return self._log.snapshot()

    @property
    def pending_update_count(self) -> int:
        """Updates queued and not yet confirmed by a getUpdates offset."""
        with self._lock:
            return len(self._updates)

    @property
    def long_polls(self) -> int:
        """getUpdates calls waiting now for an update to arrive."""
        with self._lock:
            return self._updates.waiting_polls

    def calls(self, method: str) -> list[JSON]:
        """Params of every call of ``method`` (successful or not)."""
        return [r.params for r in self.requests if r.method.lower() == method.lower()]

    def mark(self) -> int:
        """Move the mark to "now": wait_for/wait_for_messages only see later calls."""
        with self._lock:
            self._log.mark = len(self._log)
            return self._log.mark

    def messages(self, chat_id: int | str, *, include_user: bool = False) -> list[JSON]:
        """The bot's messages in the chat as they are now (after edits and deletions);
        with ``include_user`` also the users' messages."""
        with self._lock:
            return self._state.messages(chat_id, include_user=include_user)

    def my_commands(self, scope: JSON | None = None, language_code: str = "") -> list[JSON]:
        """The command list set for a scope (default scope when None) and language."""
        with self._lock:
            key = self._state.scope_key(scope, language_code)
            return copy.deepcopy(self._state.commands.get(key, []))

    def update_available_at(self, update_id: int) -> float:
        """``time.monotonic()`` when the update was queued."""
        with self._lock:
            return self._updates.meta(update_id).available_at

    def update_delivered_at(self, update_id: int) -> float | None:
        """``time.monotonic()`` when getUpdates first returned the update (None: not yet)."""
        with self._lock:
            return self._updates.meta(update_id).delivered_at

    def replies_to(
        self, update_id: int, methods: Iterable[str] = REPLY_METHODS
    ) -> list[Request]:
        """Successful REPLY_METHODS calls in the update's chat after it was queued and
        before the next update in that chat was queued."""
        wanted = set(methods)
        with self._lock:
            meta = self._updates.meta(update_id)
            if meta.chat is None:
                return []
            following = self._updates.next_in_chat(update_id)
            end = following.index if following is not None else len(self._log)
            return [r for r in self._log.in_chat(meta.chat, meta.index, end)
                    if r.ok and r.method in wanted]

    def reply_latency(self, update_id: int) -> float | None:
        """Seconds from the update being queued to the first reply (None: no reply)."""
        replies = self.replies_to(update_id)
        return replies[0].at - self.update_available_at(update_id) if replies else None

    # ----------------------------------------------------------------- waiting

    def wait_for(
        self, method: str, predicate: Callable[[JSON], bool] | None = None,
        timeout: float = 10.0, *, since: int | None = None, include_failed: bool = False,
    ) -> JSON:
        """Wait for the next successful call of ``method`` (after the mark, or ``since``) whose
        params satisfy ``predicate``; returns its params and, without ``since``, moves the
        mark past it. Raises AssertionError listing recent calls on timeout."""
        ensure_not_in_loop("wait_for")
        match = method_matcher(method, predicate, include_failed)
        return self._log.wait(match, f"a {method} call", 1, timeout, since)[0].params

    async def wait_for_async(
        self, method: str, predicate: Callable[[JSON], bool] | None = None,
        timeout: float = 10.0, *, since: int | None = None, include_failed: bool = False,
    ) -> JSON:
        """``wait_for`` for coroutines: awaits without blocking the event loop."""
        match = method_matcher(method, predicate, include_failed)
        found = await self._log.wait_async(match, f"a {method} call", 1, timeout, since)
        return found[0].params

    def wait_for_messages(
        self, chat_id: int | str, n: int = 1, timeout: float = 10.0, *, since: int | None = None
    ) -> list[JSON]:
        """Wait for the next ``n`` messages the bot sends (sendMessage/sendDocument/sendPhoto)
        in the chat after the mark (or ``since``); returns the Message dicts as sent and,
        without ``since``, moves the mark past the last one."""
        ensure_not_in_loop("wait_for_messages")
        what = f"{n} bot message(s) in chat {chat_key(chat_id)}"
        found = self._log.wait(message_matcher(chat_id), what, n, timeout, since)
        return [copy.deepcopy(r.result) for r in found]

    async def wait_for_messages_async(
        self, chat_id: int | str, n: int = 1, timeout: float = 10.0, *, since: int | None = None
    ) -> list[JSON]:
        """``wait_for_messages`` for coroutines."""
        what = f"{n} bot message(s) in chat {chat_key(chat_id)}"
        found = await self._log.wait_async(message_matcher(chat_id), what, n, timeout, since)
        return [copy.deepcopy(r.result) for r in found]

    def wait_reply(self, update_id: int, timeout: float = 10.0) -> Request:
        """Wait for the first reply (see REPLY_METHODS) in the update's chat after it was
        queued. Does not move the mark, so concurrent users can each wait for their own."""
        ensure_not_in_loop("wait_reply")
        match, since = self._reply_matcher(update_id)
        return self._log.wait(match, f"a reply to update {update_id}", 1, timeout, since)[0]

    async def wait_reply_async(self, update_id: int, timeout: float = 10.0) -> Request:
        """``wait_reply`` for coroutines."""
        match, since = self._reply_matcher(update_id)
        what = f"a reply to update {update_id}"
        return (await self._log.wait_async(match, what, 1, timeout, since))[0]

    def wait_long_poll(self, timeout: float = 10.0) -> None:
        """Wait until a getUpdates call is blocked waiting for updates (at once if one is):
        the moment a user's update is delivered by the long poll, not by the next one."""
        ensure_not_in_loop("wait_long_poll")
        if not self._updates.wait_for_poll(timeout):
            with self._lock:
                raise AssertionError(self._log.dump(
                    f"timed out after {timeout}s waiting for a long poll",
                    max(0, len(self._log) - 40)))

    async def wait_long_poll_async(self, timeout: float = 10.0) -> None:
        """``wait_long_poll`` for coroutines."""
        await asyncio.to_thread(self.wait_long_poll, timeout)

    def _reply_matcher(self, update_id: int) -> tuple[Callable[[Request], bool], int]:
        with self._lock:
            meta = self._updates.meta(update_id)

        def match(r: Request) -> bool:
            return r.ok and r.method in REPLY_METHODS and r.chat_id == meta.chat
        return match, meta.index

    # ----------------------------------------------------------------- answering (HTTP threads)

    def _dispatch(
        self, token: str, method: str, params: JSON, files: dict[str, UploadedFile], at: float
    ) -> tuple[int, JSON]:
        entry = self._methods.get(method.lower())
        name = entry[0] if entry else method
        req = Request(name, params, files, at, chat_id=chat_key(params.get("chat_id")))
        with self._lock:
            try:
                req.result = self._answer(token, name, entry, params, files)
                status, body = 200, {"ok": True, "result": req.result}
            except ApiError as exc:
                req.ok, req.error_code, req.description = False, exc.code, exc.description
                status, body = exc.code, exc.answer()
            except Exception as exc:  # a handler bug becomes Telegram's 500
                req.ok, req.error_code, req.description = False, 500, repr(exc)
                status, body = 500, {"ok": False, "error_code": 500,
                                     "description": f"Internal Server Error: {exc!r}"}
            self._log.append(req)
            return status, body

    def _answer(self, token: str, name: str, entry: tuple[str, Handler] | None,
                params: JSON, files: dict[str, UploadedFile]) -> Any:
        """The result of a call, or ApiError: token, injected failure, method, flood limit."""
        if token != self.token:
            raise ApiError(401, "Unauthorized") if _TOKEN_RE.match(token) \
                else ApiError(404, "Not Found")
        injected = self._faults.take(name)
        if injected is not None:
            raise injected
        if entry is None:
            raise ApiError(404, "Not Found")
        if self._flood is not None:
            self._flood.check(name, chat_key(params.get("chat_id")))
        return entry[1](params, files)

    def _serve_file(self, token: str, path: str) -> tuple[int, str, bytes]:
        with self._lock:
            file = self._state.file_at(token, path)
        if file is None:
            return 404, "application/json", _NOT_FOUND
        return 200, file.content_type, file.content
