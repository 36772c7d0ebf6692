"""Log rows the database could not take, kept until it takes them again.

When a write of the session log fails (the database locked past the timeout, read-only, the
disk full, the data directory deleted), the row goes to an append-only JSON-lines file beside
the database, flushed and fsync'd line by line; if even that file cannot be written it is kept
in memory (at most `MEMORY_ROWS`). `replay` writes the rows back in order once the database
works again. An incident starts with the first spooled row and ends when the spool is empty;
admins are told once per incident.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.inputs import clean_text

log = logging.getLogger(__name__)
MEMORY_ROWS = 10_000


def _line(row: dict[str, Any]) -> str:
    return clean_text(json.dumps(row, ensure_ascii=False, default=str)) + "\n"


class Spool:
    """An append-only file of log calls ({"method", "kwargs"} per line) and a memory fallback."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._memory: list[dict[str, Any]] = []
        self.dropped = 0  # rows lost because neither the file nor memory could keep them

    def __len__(self) -> int:
        return self._count_file() + len(self._memory)

    def _count_file(self) -> int:
        try:
            with open(self.path, encoding="utf-8") as handle:
                return sum(1 for line in handle if line.strip())
        except OSError:
            return 0

    @property
    def empty(self) -> bool:
        return not self._memory and not self.path.exists()

    def append(self, method: str, kwargs: dict[str, Any]) -> bool:
        """Keep one call; True when it was the first of an incident (the spool was empty)."""
        row = {"method": method, "kwargs": kwargs}
        with self._lock:
            first = self.empty
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with open(self.path, "a", encoding="utf-8") as handle:
                    handle.write(_line(row))
                    handle.flush()
                    os.fsync(handle.fileno())
            except OSError as exc:
                if len(self._memory) < MEMORY_ROWS:
                    self._memory.append(row)
                else:
                    self.dropped += 1
                log.error("log spool file not writable (%s); %d rows kept in memory", exc,
                          len(self._memory))
            return first

    def replay(self, write: Callable[[str, dict[str, Any]], None]) -> int:
        """Write the kept calls back in order with `write(method, kwargs)`; stop at the first
        that fails (it raises) and keep it and the rest. Returns how many were written."""
        with self._lock:
            rows: list[dict[str, Any]] = []
            try:
                with open(self.path, encoding="utf-8") as handle:
                    rows = [json.loads(line) for line in handle if line.strip()]
            except FileNotFoundError:
                pass
            except (OSError, ValueError) as exc:
                log.error("log spool unreadable, left as it is: %s", exc)
                return 0
            rows += self._memory
            done = 0
            try:
                for row in rows:
                    write(str(row["method"]), dict(row["kwargs"]))
                    done += 1
            finally:
                self._rewrite(rows[done:])
            return done

    def _rewrite(self, rest: list[dict[str, Any]]) -> None:
        """Keep only `rest`: the file replaced atomically (or removed when empty)."""
        self._memory = []
        try:
            if not rest:
                self.path.unlink(missing_ok=True)
                return
            tmp = self.path.with_suffix(".tmp")
            with open(tmp, "w", encoding="utf-8") as handle:
                for row in rest:
                    handle.write(_line(row))
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except OSError as exc:
            log.error("log spool not rewritten (%s); %d rows kept in memory", exc, len(rest))
            self._memory = rest
