"""Child processes of the benchmarks: stopped the way an operator stops the bot."""

from __future__ import annotations

import signal
import subprocess


def interrupt(process: subprocess.Popen[bytes] | subprocess.Popen[str],
              timeout: float = 60) -> None:
    """SIGINT (what Ctrl-C sends), then wait; kill it if it has not ended within `timeout`."""
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
