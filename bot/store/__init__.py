"""The session log: the one package that talks to the database.

`SessionLog` is one object made of the parts of the log, each in its own module: the
connection (`db`), users, roles and the audit trail (`access`), messages, answers and
feedback (`messages`), checklist runs (`runs`), what the bot waits for (`pending`), updates
in and replies out (`delivery`), index versions published to every worker
(`index_versions`), and what admins read from it (`reports`: stats, exports,
retention, forgetting a user). `open_log` opens the one the settings name.
"""

from __future__ import annotations

from pathlib import Path

from bot.store.access import Access
from bot.store.db import LogWriteError, Row
from bot.store.delivery import Delivery, Outgoing, Received
from bot.store.index_versions import IndexVersions
from bot.store.messages import Messages
from bot.store.pending import Pending
from bot.store.reports import EXPORT_FORMATS, EXPORT_TABLES, Reports, Stats
from bot.store.runs import IN_PROGRESS, RunChanged, Runs


class SessionLog(Access, Messages, Runs, Pending, Delivery, Reports, IndexVersions):
    """The session log in one SQLite file, or a PostgreSQL database shared by several
    workers (`SessionLog("postgresql://...")`); safe to share between threads."""




def open_log(database_url: str | None, data_dir: Path, *, timeout: float = 5.0) -> SessionLog:
    """The session log the settings name: PostgreSQL at `database_url`, else the SQLite file
    `partnerbot.db` in the data directory; log rows that cannot be written wait in
    `<data_dir>/spool/` either way."""
    if database_url:
        return SessionLog(database_url, timeout=timeout,
                          spool=data_dir / "spool" / "partnerbot.jsonl")
    return SessionLog(data_dir / "partnerbot.db", timeout=timeout)


__all__ = ["EXPORT_FORMATS", "EXPORT_TABLES", "IN_PROGRESS", "LogWriteError", "Outgoing",
           "Received", "Row", "RunChanged", "SessionLog", "Stats", "open_log"]
