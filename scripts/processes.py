"""Child processes of the benchmarks: stopped the way an operator stops the bot."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Callable


def interrupt(process: subprocess.Popen[bytes] | subprocess.Popen[str],
              timeout: float = 60, *, release: Callable[[], object] | None = None,
              release_after: float = 2.0) -> None:
    """SIGINT (what Ctrl-C sends), then wait; kill it if it has not ended within `timeout`.

    :param release: called when the process is still running `release_after` seconds after
        the signal, to end what it waits for (a bench stops its fake Bot API server, which
        answers the bot's pending long poll at once, instead of waiting up to 25 s for it).
    """
    process.send_signal(signal.SIGINT)
    if release is not None:
        try:
            process.wait(release_after)
            return
        except subprocess.TimeoutExpired:
            release()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
