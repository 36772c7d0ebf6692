"""Telegram's overall rate shared by every worker (`SessionLog.reserve_send`, GCRA in the
`send_rate` row), on both backends: a burst at once, then one slot per interval, over all
the workers' connections; time passing gives the burst back."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bot.store import SessionLog

INTERVAL, BURST = 1 / 30, 30


def test_a_burst_then_one_slot_per_interval(store_target: str | Path) -> None:
    with SessionLog(store_target) as log:
        waits = [log.reserve_send(1000.0, INTERVAL, BURST) for _ in range(40)]
        assert waits[:BURST] == [0.0] * BURST
        assert waits[BURST:] == pytest.approx([INTERVAL * n for n in range(1, 11)])
        later = 1000.0 + 40 * INTERVAL + 5.0  # idle long enough: the whole burst again
        assert [log.reserve_send(later, INTERVAL, BURST) for _ in range(BURST)] == \
            [0.0] * BURST
        assert log.reserve_send(later, INTERVAL, BURST) == pytest.approx(INTERVAL)


def test_workers_reserving_at_once_share_the_one_rate(store_target: str | Path) -> None:
    logs = [SessionLog(store_target) for _ in range(4)]  # four workers' connections
    try:
        logs[0].reserve_send(0.0, INTERVAL, BURST)  # the schema and the row exist first
        with ThreadPoolExecutor(max_workers=4) as pool:
            waits = list(pool.map(lambda n: logs[n % 4].reserve_send(2000.0, INTERVAL, BURST),
                                  range(120)))
        slots = sorted(round(w / INTERVAL) for w in waits)
        assert slots == [0] * BURST + list(range(1, 121 - BURST))  # each slot taken once
    finally:
        for log in logs:
            log.close()
