"""The update queue: what users did, waiting for the bot's getUpdates (long polling included)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from .model import JSON, ApiError, chat_key

_NOT_DEFAULT_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
_CONFLICT = "Conflict: terminated by other getUpdates request; make sure that only one bot " \
    "instance is running"


@dataclass
class UpdateMeta:
    """When an update was queued and delivered, and where its replies start in the call log."""

    available_at: float
    index: int  # len(requests) when queued: replies are requests from here on
    chat: int | str | None
    delivered_at: float | None = None


class UpdateQueue:
    """Updates queued and not yet confirmed by an offset; all methods run under ``lock``."""

    def __init__(self, lock: threading.RLock) -> None:
        self._lock = lock
        self._queued = threading.Condition(lock)  # notified when updates queue or polls end
        self._parked = threading.Condition(lock)  # notified when a long poll starts waiting
        self._updates: list[JSON] = []
        self._meta: dict[int, UpdateMeta] = {}
        self._chat_updates: dict[int | str, list[int]] = {}
        self._next_update_id = 1
        self._allowed: set[str] | None = None
        self._generation = 0  # bumped by each getUpdates; an older long poll then answers 409
        self._waiting_polls = 0
        self._closing = False

    def __len__(self) -> int:
        return len(self._updates)

    def push(self, update: JSON, request_index: int) -> int:
        """Queue an update (assigning ``update_id`` when missing); returns its id."""
        payload: Any = next((v for k, v in update.items() if k != "update_id"), {})
        message = payload.get("message", payload) if isinstance(payload, dict) else {}
        chat = chat_key((message.get("chat") or {}).get("id"))
        if "update_id" not in update:
            update["update_id"] = self._next_update_id
        uid = int(update["update_id"])
        self._next_update_id = max(self._next_update_id, uid + 1)
        self._updates.append(update)
        self._updates.sort(key=lambda u: int(u["update_id"]))
        self._meta[uid] = UpdateMeta(time.monotonic(), request_index, chat)
        if chat is not None:
            self._chat_updates.setdefault(chat, []).append(uid)
        self._queued.notify_all()
        return uid

    def meta(self, update_id: int) -> UpdateMeta:
        return self._meta[update_id]

    def next_in_chat(self, update_id: int) -> UpdateMeta | None:
        """The next update queued in the same chat (None: none yet, or no chat)."""
        chat = self._meta[update_id].chat
        later = [u for u in self._chat_updates.get(chat, []) if u > update_id] \
            if chat is not None else []
        return self._meta[later[0]] if later else None

    def queued(self) -> list[JSON]:
        """The updates not confirmed yet, oldest first (the webhook delivers these)."""
        return list(self._updates)

    def confirm(self, update_id: int) -> None:
        """The bot answered the webhook's POST of this update with 200: it is not sent again
        (as an offset confirms it to getUpdates)."""
        self._updates = [u for u in self._updates if u["update_id"] != update_id]
        meta = self._meta.get(update_id)
        if meta is not None and meta.delivered_at is None:
            meta.delivered_at = time.monotonic()

    def wait_queued(self, timeout: float) -> None:
        """Wait (the lock released) until an update is queued, `wake` is called, or timeout."""
        self._queued.wait(timeout)

    def wake(self) -> None:
        self._queued.notify_all()

    def drop_pending(self) -> None:
        self._updates.clear()

    def poll(
        self, offset: int, limit: int, timeout: float, allowed_updates: list[str] | None
    ) -> list[JSON]:
        """getUpdates: confirm updates below ``offset``, then wait up to ``timeout`` seconds
        for some. A newer poll ends this one with 409 Conflict, as on Telegram."""
        if allowed_updates is not None:
            self._allowed = set(allowed_updates) or None
        if offset > 0:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        elif offset < 0:
            self._updates = self._updates[offset:]
        self._generation += 1
        generation = self._generation
        self._queued.notify_all()
        deadline = time.monotonic() + timeout
        while True:
            if generation != self._generation:
                raise ApiError(409, _CONFLICT)
            batch = [u for u in self._updates if self._is_allowed(u)][:limit]
            remaining = deadline - time.monotonic()
            if batch or self._closing or remaining <= 0:
                break
            self._waiting_polls += 1
            self._parked.notify_all()
            try:
                self._queued.wait(remaining)
            finally:
                self._waiting_polls -= 1
        now = time.monotonic()
        for update in batch:
            meta = self._meta.get(update["update_id"])
            if meta is not None and meta.delivered_at is None:
                meta.delivered_at = now
        return batch

    def _is_allowed(self, update: JSON) -> bool:
        kind = next((k for k in update if k != "update_id"), "")
        return kind in self._allowed if self._allowed else kind not in _NOT_DEFAULT_UPDATES

    @property
    def waiting_polls(self) -> int:
        """getUpdates calls blocked now, waiting for an update."""
        return self._waiting_polls

    def wait_for_poll(self, timeout: float) -> bool:
        """Block until a getUpdates call is waiting for updates; False on timeout."""
        with self._lock:
            return self._parked.wait_for(lambda: self._waiting_polls > 0, timeout)

    def set_closing(self, closing: bool) -> None:
        """While closing, long polls answer at once (with what there is)."""
        with self._lock:
            self._closing = closing
            self._queued.notify_all()
