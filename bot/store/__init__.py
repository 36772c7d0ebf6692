"""The session log: the one package that talks to the database.

`SessionLog` is one object made of the parts of the log, each in its own module: the
connection (`db`), users, roles and the audit trail (`access`), messages, answers and
feedback (`messages`), checklist runs (`runs`), what the bot waits for (`pending`), updates
in and replies out (`delivery`), and what admins read from it (`reports`: stats, exports,
retention, forgetting a user).
"""

from __future__ import annotations

from bot.store.access import Access
from bot.store.db import LogWriteError, Row
from bot.store.delivery import Delivery, Outgoing, Received
from bot.store.messages import Messages
from bot.store.pending import Pending
from bot.store.reports import EXPORT_FORMATS, EXPORT_TABLES, Reports, Stats
from bot.store.runs import IN_PROGRESS, RunChanged, Runs


class SessionLog(Access, Messages, Runs, Pending, Delivery, Reports):
    """The session log in one SQLite file, safe to share between threads."""


__all__ = ["EXPORT_FORMATS", "EXPORT_TABLES", "IN_PROGRESS", "LogWriteError", "Outgoing",
           "Received", "Row", "RunChanged", "SessionLog", "Stats"]
