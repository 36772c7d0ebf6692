"""The outbox's pacing of one chat (bot/tg/outbox.py): a burst of CHAT_BURST messages at once,
then one every 1/rate seconds, tokens coming back while the chat is quiet."""

from __future__ import annotations

import time

import pytest

from bot.tg.outbox import CHAT_BURST, CHAT_RATE, _ChatPace


def test_a_burst_then_one_message_per_second(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    pace = _ChatPace()
    assert pace.rate == CHAT_RATE == 1.0
    assert [pace.wait() for _ in range(CHAT_BURST)] == [0.0] * CHAT_BURST
    assert pace.wait() == pytest.approx(1.0)  # the 4th waits a second ...
    assert pace.wait() == pytest.approx(2.0)  # ... the 5th, queued behind it, two
    now[0] += 10  # a quiet chat gets its burst back, never more
    assert [pace.wait() for _ in range(CHAT_BURST)] == [0.0] * CHAT_BURST
    assert pace.wait() > 0


def test_a_faster_rate_waits_less(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(time, "monotonic", lambda: 5.0)
    pace = _ChatPace(rate=50.0)
    for _ in range(CHAT_BURST):
        pace.wait()
    assert pace.wait() == pytest.approx(0.02)
