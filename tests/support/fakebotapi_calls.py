"""Calling the fake Bot API server in its own tests: a real PTB Bot, plain HTTP, the JSON
answers Telegram gives for failures, and a clock for the flood limits."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import httpx
from telegram import Bot

from tests.support.fakebotapi import FakeBotAPI, FloodLimits

TOKEN = "123456:TEST-TOKEN"
T = TypeVar("T")
INTERNAL_ERROR = {"ok": False, "error_code": 500, "description": "Internal Server Error"}
NOT_FOUND = {"ok": False, "error_code": 404, "description": "Not Found"}


def too_many_requests(retry_after: int) -> dict[str, Any]:
    return {"ok": False, "error_code": 429,
            "description": f"Too Many Requests: retry after {retry_after}",
            "parameters": {"retry_after": retry_after}}


def with_bot(server: FakeBotAPI, body: Callable[[Bot], Awaitable[T]], token: str = TOKEN) -> T:
    """Run ``body(bot)`` with an initialised real PTB Bot pointed at the fake."""

    async def main() -> T:
        async with Bot(token, base_url=server.base_url, base_file_url=server.base_file_url) as bot:
            return await body(bot)

    return asyncio.run(main())


def raw_call(server: FakeBotAPI, path: str, data: bytes | None = None,
             ctype: str = "application/json", timeout: float = 5) -> tuple[int, Any]:
    """POST (or GET without data) to the fake over loopback; returns (status, JSON body)."""
    url = server.base_url.removesuffix("/bot") + path
    with httpx.Client(trust_env=False, timeout=timeout) as client:  # no proxy for loopback
        if data is None:
            response = client.get(url)
        else:
            response = client.post(url, content=data, headers={"Content-Type": ctype})
    return response.status_code, response.json()


def outcome(response: httpx.Response) -> tuple[int, Any]:
    return response.status_code, response.json()


@contextlib.contextmanager
def flood_limited(limits: FloodLimits) -> Iterator[tuple[FakeBotAPI, httpx.Client]]:
    """A fake with flood limits, and plain HTTP to its methods."""
    with FakeBotAPI(token=TOKEN, flood_limits=limits) as server, httpx.Client(
            base_url=f"{server.base_url}{TOKEN}/", trust_env=False, timeout=5) as client:
        yield server, client


class Clock:
    """A clock for FloodLimits that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


