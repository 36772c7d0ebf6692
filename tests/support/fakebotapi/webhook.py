"""Webhook delivery, as Telegram does it: once the bot has called setWebhook, each queued
update is POSTed to the webhook with the secret token header; a 2xx answer confirms it, any
other answer (or none: connection refused, reset, timed out) leaves it queued and it is posted
again after `retry` seconds, as Telegram retries.

One chat's updates are posted one at a time, in order (the next only once the one before was
confirmed); updates of different chats go out in parallel, up to `connections` at a time
(Telegram's max_connections). The URL the bot registered must be HTTPS, so the POSTs go to
`target` (a loopback reverse proxy in tests) with the registered URL's path.
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from .model import JSON
from .state import BotState
from .updates import UpdateQueue

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


@dataclass(frozen=True)
class Post:
    """One POST of an update: its HTTP status (None: no answer) and when it ended."""

    update_id: int
    status: int | None
    at: float
    error: str = ""


class WebhookSender:
    """Posts queued updates to the webhook on threads of its own; thread-safe inspection."""

    def __init__(self, lock: threading.RLock, state: BotState, updates: UpdateQueue,
                 target: str, *, connections: int = 4, retry: float = 0.3,
                 max_attempts: int = 300, timeout: float = 10.0) -> None:
        self._lock, self._state, self._updates = lock, state, updates
        self.target = target.rstrip("/")
        self.connections, self.retry = connections, retry
        self.max_attempts, self.timeout = max_attempts, timeout
        self.posts: list[Post] = []
        self.given_up: list[int] = []  # updates dropped after max_attempts failed posts
        self._in_flight: dict[int, object] = {}  # update id -> its chat key
        self._due: dict[int, float] = {}
        self._failures: dict[int, int] = {}
        self._stopping = False
        self._client = httpx.Client(trust_env=False, timeout=timeout,
                                    limits=httpx.Limits(max_connections=connections))
        self._pool = ThreadPoolExecutor(max_workers=connections, thread_name_prefix="webhook")
        self._thread = threading.Thread(target=self._run, name="webhook sender", daemon=True)

    def start(self) -> WebhookSender:
        self._thread.start()
        return self

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
            self._updates.wake()
        self._thread.join(10)
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._client.close()

    def snapshot(self) -> list[Post]:
        with self._lock:
            return list(self.posts)

    def _run(self) -> None:
        with self._lock:
            while not self._stopping:
                webhook = self._state.webhook
                if webhook is not None:
                    self._start_due(webhook)
                self._updates.wait_queued(0.05)

    def _start_due(self, webhook: JSON) -> None:
        """Post the first queued update of each chat not being posted now, when it is due."""
        now = time.monotonic()
        busy = set(self._in_flight.values())
        seen: set[object] = set()
        for update in self._updates.queued():
            if len(self._in_flight) >= self.connections:
                return
            update_id = int(update["update_id"])
            chat = self._updates.meta(update_id).chat
            key: object = chat if chat is not None else ("update", update_id)
            if key in seen:
                continue  # a later update of a chat waits for the one before it
            seen.add(key)
            if update_id in self._in_flight or key in busy or self._due.get(update_id, 0) > now:
                continue
            self._in_flight[update_id] = key
            url = self.target + (urlsplit(str(webhook["url"])).path or "/")
            secret = webhook.get("secret_token")
            self._pool.submit(self._post, update_id, json.dumps(update), url,
                              str(secret) if secret else None)

    def _post(self, update_id: int, body: str, url: str, secret: str | None) -> None:
        headers = {"Content-Type": "application/json"}
        if secret:
            headers[SECRET_HEADER] = secret
        status: int | None = None
        error = ""
        try:
            status = self._client.post(url, content=body, headers=headers).status_code
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        with self._lock:
            self.posts.append(Post(update_id, status, time.monotonic(), error))
            self._in_flight.pop(update_id, None)
            if status is not None and 200 <= status < 300:
                self._updates.confirm(update_id)
                self._due.pop(update_id, None)
            else:
                self._failures[update_id] = self._failures.get(update_id, 0) + 1
                if self._failures[update_id] >= self.max_attempts:
                    self.given_up.append(update_id)
                    self._updates.confirm(update_id)
                else:
                    self._due[update_id] = time.monotonic() + self.retry
            self._updates.wake()
