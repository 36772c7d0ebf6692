"""Fixtures of the end-to-end tests: the fake Bot API server, plain HTTP to it, the real bot."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from index.embedders import SentenceTransformerEmbedder
from tests.support.fakebotapi import FakeBotAPI
from tests.support.fakebotapi_calls import TOKEN
from tests.support.telegram import RunningBot, telegram_dialogue


@pytest.fixture
def server() -> Iterator[FakeBotAPI]:
    with FakeBotAPI(token=TOKEN) as fake:
        yield fake


@pytest.fixture
def api(server: FakeBotAPI) -> Iterator[httpx.Client]:
    """Plain HTTP to the fake's methods: ``api.post("sendMessage", json={...})``."""
    with httpx.Client(base_url=f"{server.base_url}{TOKEN}/", trust_env=False,
                      timeout=5) as client:
        yield client


@pytest.fixture
def bot(server: FakeBotAPI, real_data_dir: Path,
        real_embedder: SentenceTransformerEmbedder) -> Iterator[RunningBot]:
    """The real bot over a copy of the real index, polling `server`."""
    running = RunningBot(server, telegram_dialogue(server, real_data_dir, real_embedder)).start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def errors(caplog: pytest.LogCaptureFixture) -> Callable[[], list[str]]:
    """The ERROR log lines so far."""
    caplog.set_level(logging.INFO)
    return lambda: [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
