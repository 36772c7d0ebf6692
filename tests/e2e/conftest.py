"""Fixtures of the end-to-end tests: the fake Bot API server, and plain HTTP to it."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support.fakebotapi import FakeBotAPI
from tests.support.fakebotapi_calls import TOKEN


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


