"""The call log: every API call the fake answered, and waiting for calls to arrive."""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from .model import JSON, SEND_METHODS, Request, chat_key

Match = Callable[[Request], bool]


@dataclass(eq=False)
class _Waiter:
    """A blocked wait: ``wake`` is called once ``n`` requests matched."""

    match: Match
    n: int
    start: int
    since: int | None
    wake: Callable[[], None]
    found: list[int] = field(default_factory=list)  # indices into the log

    def matches(self, request: Request) -> bool:
        try:
            return self.match(request)
        except Exception:  # a predicate that cannot judge this call does not match it
            return False


class RequestLog:
    """Calls in the order they were answered, indexed by chat, with a mark and waiters.

    Shares the fake's lock; ``footer`` adds a line about the rest of the state to timeouts.
    """

    def __init__(self, lock: threading.RLock, footer: Callable[[], str]) -> None:
        self._lock, self._footer = lock, footer
        self._requests: list[Request] = []
        self._by_chat: dict[int | str, list[int]] = {}  # chat -> indices into _requests
        self._waiters: list[_Waiter] = []
        self.mark = 0  # wait_* without ``since`` look from here on

    def __len__(self) -> int:
        return len(self._requests)

    def __getitem__(self, index: int) -> Request:
        return self._requests[index]

    def snapshot(self) -> list[Request]:
        with self._lock:
            return list(self._requests)

    def append(self, request: Request) -> None:
        """Log an answered call and wake the waiters it completes (under the lock)."""
        self._requests.append(request)
        index = len(self._requests) - 1
        if request.chat_id is not None:
            self._by_chat.setdefault(request.chat_id, []).append(index)
        for waiter in self._waiters:
            if len(waiter.found) < waiter.n and waiter.matches(request):
                waiter.found.append(index)
                if len(waiter.found) == waiter.n:
                    waiter.wake()

    def in_chat(self, chat: int | str, start: int, end: int) -> list[Request]:
        """Calls in ``chat`` with log index in [start, end)."""
        indices = self._by_chat.get(chat, [])
        return [self._requests[i] for i in indices[bisect.bisect_left(indices, start):]
                if i < end]

    # ----------------------------------------------------------------- waiting

    def wait(self, match: Match, what: str, n: int, timeout: float,
             since: int | None) -> list[Request]:
        """The first ``n`` calls matching from the mark (or ``since``), waiting up to
        ``timeout``; without ``since`` the mark moves past them. AssertionError on timeout."""
        event = threading.Event()
        waiter = self._begin(match, n, since, event.set)
        if len(waiter.found) < n:
            event.wait(timeout)
        return self._end(waiter, what, timeout)

    async def wait_async(self, match: Match, what: str, n: int, timeout: float,
                         since: int | None) -> list[Request]:
        """``wait`` for coroutines: awaits without blocking the event loop."""
        loop = asyncio.get_running_loop()
        done = asyncio.Event()

        def wake() -> None:  # called from an HTTP thread
            with contextlib.suppress(RuntimeError):  # the loop may be closed by now
                loop.call_soon_threadsafe(done.set)

        waiter = self._begin(match, n, since, wake)
        if len(waiter.found) < n:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), timeout)
        return self._end(waiter, what, timeout)

    def _begin(self, match: Match, n: int, since: int | None,
               wake: Callable[[], None]) -> _Waiter:
        with self._lock:
            waiter = _Waiter(match, n, self.mark if since is None else since, since, wake)
            for i in range(waiter.start, len(self._requests)):
                if len(waiter.found) >= n:
                    break
                if waiter.matches(self._requests[i]):
                    waiter.found.append(i)
            if len(waiter.found) < n:
                self._waiters.append(waiter)
            return waiter

    def _end(self, waiter: _Waiter, what: str, timeout: float) -> list[Request]:
        with self._lock:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
            if len(waiter.found) < waiter.n:
                raise AssertionError(self.dump(f"timed out after {timeout}s waiting for {what} "
                                               f"(found {len(waiter.found)})", waiter.start))
            indices = waiter.found[: waiter.n]
            if waiter.since is None:
                self.mark = max(self.mark, indices[-1] + 1)
            return [self._requests[i] for i in indices]

    def dump(self, headline: str, start: int) -> str:
        """``headline`` and the last 40 calls since ``start``, for assertion messages."""
        lines = [headline, f"calls since #{start} (empty getUpdates omitted):"]
        for i, r in enumerate(self._requests[start:], start):
            if r.method == "getUpdates" and r.ok and not r.result:
                continue
            status = "ok" if r.ok else f"ERROR {r.error_code} {r.description}"
            params = json.dumps(r.params, ensure_ascii=False, default=str)
            lines.append(f"  #{i} {r.method} chat={r.chat_id} {status} {params[:300]}")
        lines.append(self._footer())
        return "\n".join(lines[:2] + lines[2:][-40:])


# --------------------------------------------------------------------------- what to wait for

def method_matcher(method: str, predicate: Callable[[JSON], bool] | None,
                   include_failed: bool) -> Match:
    def match(r: Request) -> bool:
        return r.method.lower() == method.lower() and (r.ok or include_failed) \
            and (predicate is None or predicate(r.params))
    return match


def message_matcher(chat_id: int | str) -> Match:
    key = chat_key(chat_id)

    def match(r: Request) -> bool:
        return r.ok and r.method in SEND_METHODS and r.chat_id == key
    return match


def ensure_not_in_loop(name: str) -> None:
    """Refuse a blocking wait inside a coroutine: it would freeze the bot's event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise RuntimeError(
        f"FakeBotAPI.{name}() blocks its thread; inside a coroutine use "
        f"`await server.{name}_async(...)` so the bot's event loop keeps running"
    )
