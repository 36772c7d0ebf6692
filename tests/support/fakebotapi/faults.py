"""Failing the way Telegram does: injected errors per method, and flood limits.

``Faults`` holds the errors a test asked for (``FakeBotAPI.fail``/``flood``/``unknown``);
``FloodControl`` answers 429 when the bot sends faster than ``FloodLimits`` allow, like
Telegram's "about 30 messages per second overall, 1 per second in a chat, short bursts allowed"
(https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .model import ApiError

#: Calls counted by the flood limits: everything that posts or changes a message in a chat.
FLOOD_METHODS = frozenset({
    "sendMessage", "sendDocument", "sendPhoto", "sendAudio", "sendVideo", "sendAnimation",
    "sendVoice", "sendVideoNote", "sendSticker", "sendLocation", "sendVenue", "sendContact",
    "sendPoll", "sendDice", "sendMediaGroup", "sendChatAction", "copyMessage", "forwardMessage",
    "editMessageText", "editMessageCaption", "editMessageMedia", "editMessageReplyMarkup",
})


@dataclass
class _Fault:
    error: ApiError
    times: int | None  # calls left to fail; None: every call until cleared


class Faults:
    """Errors to answer instead of running a method, in the order they were asked for."""

    def __init__(self) -> None:
        self._by_method: dict[str, list[_Fault]] = {}

    def add(self, method: str, error: ApiError, times: int | None) -> None:
        if times is not None and times < 1:
            raise ValueError(f"times must be at least 1 or None (always), not {times}")
        if error.code < 400:
            raise ValueError(f"an error answer needs an HTTP error status, not {error.code}")
        self._by_method.setdefault(method.lower(), []).append(_Fault(error, times))

    def clear(self, method: str | None = None) -> None:
        if method is None:
            self._by_method.clear()
        else:
            self._by_method.pop(method.lower(), None)

    def take(self, method: str) -> ApiError | None:
        """The error for this call of ``method`` (None: run it), counting the call."""
        queue = self._by_method.get(method.lower())
        if not queue:
            return None
        fault = queue[0]
        if fault.times is not None:
            fault.times -= 1
            if fault.times == 0:
                queue.pop(0)
        return fault.error


@dataclass(frozen=True)
class FloodLimits:
    """Telegram's flood limits, for ``FakeBotAPI(flood_limits=FloodLimits())``.

    Each limit is a token bucket: ``burst`` calls at once, refilled at ``rate`` per second; a
    rate of None switches that limit off. ``clock`` is for tests that do not want to wait.
    """

    global_rate: float | None = 30.0  # calls per second over all chats
    global_burst: int = 30
    chat_rate: float | None = 1.0  # calls per second in one chat
    chat_burst: int = 3
    methods: frozenset[str] = FLOOD_METHODS
    clock: Callable[[], float] = field(default=time.monotonic, compare=False)

    def __post_init__(self) -> None:
        for rate, burst in ((self.global_rate, self.global_burst),
                            (self.chat_rate, self.chat_burst)):
            if (rate is not None and rate <= 0) or burst < 1:
                raise ValueError("flood limit rates must be positive and bursts at least 1")


@dataclass
class _Bucket:
    rate: float
    capacity: float
    tokens: float
    at: float

    def refill(self, now: float) -> None:
        self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.rate)
        self.at = now

    def wait(self) -> float:
        """Seconds until the next call is allowed (0: now)."""
        missing = 1 - self.tokens
        return 0.0 if missing <= 1e-9 else missing / self.rate


class FloodControl:
    """Counts calls of ``limits.methods`` and refuses those beyond the limits with a 429."""

    def __init__(self, limits: FloodLimits) -> None:
        self.limits = limits
        self._global: _Bucket | None = None
        self._chats: dict[int | str, _Bucket] = {}

    def check(self, method: str, chat: int | str | None) -> None:
        """Count a call of ``method`` in ``chat``, or raise ApiError 429 with retry_after."""
        limits = self.limits
        if method not in limits.methods:
            return
        now = limits.clock()
        buckets = []
        if limits.global_rate is not None:
            if self._global is None:
                self._global = _Bucket(limits.global_rate, limits.global_burst,
                                       limits.global_burst, now)
            buckets.append(self._global)
        if limits.chat_rate is not None and chat is not None:
            if chat not in self._chats:
                self._chats[chat] = _Bucket(limits.chat_rate, limits.chat_burst,
                                            limits.chat_burst, now)
            buckets.append(self._chats[chat])
        for bucket in buckets:
            bucket.refill(now)
        wait = max((bucket.wait() for bucket in buckets), default=0.0)
        if wait > 0:
            raise ApiError.standard(429, retry_after=max(1, math.ceil(wait - 1e-9)))
        for bucket in buckets:
            bucket.tokens -= 1
