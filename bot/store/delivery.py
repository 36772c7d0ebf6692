"""Updates in and replies out, through the database: nothing is lost between Telegram and us.

`updates` is the inbox: every update is stored (its id the primary key, so a replay or a
restart handles it once) before Telegram is told it arrived, and marked handled in the same
transaction that queues its replies. `outbox` holds every reply until the Bot API accepted it:
`pending` rows are due at `next_at`; `attempts` counts sends begun, so a pending row with
attempts is "in doubt" (it may have reached Telegram just before a crash) and is sent again;
`sent` rows keep the chat, the Telegram message id and the reply's key (what a user's reply to
that message refers to), not the text, which the session log (`messages`) holds.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.inputs import clean_text
from bot.store.db import Row, Store, _iso


@dataclass(frozen=True)
class Outgoing:
    """One reply to queue: to a chat, of a kind ("message", "edit", "document")."""

    chat_id: int
    kind: str
    payload: dict[str, Any]
    content: bytes | None = None
    key: str | None = None


@dataclass(frozen=True)
class Received:
    """One update as the inbox keeps it."""

    update_id: int
    raw: dict[str, Any]
    user_id: int | None
    chat_id: int | None


class Delivery(Store):
    """The inbox of updates and the outbox of replies."""

    # -- inbox ---------------------------------------------------------------------------

    def receive(self, updates: Sequence[Received]) -> list[int]:
        """Store updates not seen before; the ids of those that are new."""
        new: list[int] = []
        now = self._now()
        with self._write("updates") as db:
            for u in updates:
                cursor = db.execute(
                    "INSERT OR IGNORE INTO updates (update_id, received_at, user_id, chat_id, raw,"
                    " status) VALUES (?, ?, ?, ?, ?, 'received')",
                    [u.update_id, now, u.user_id, u.chat_id,
                     clean_text(json.dumps(u.raw, ensure_ascii=False, default=str))])
                if cursor.rowcount:
                    new.append(u.update_id)
        return new

    def unhandled_updates(self) -> list[Row]:
        """Updates received but not handled (a crash in between), oldest first, raw decoded."""
        rows = self._rows("SELECT * FROM updates WHERE status = 'received' ORDER BY update_id")
        for row in rows:
            row["raw"] = json.loads(row["raw"]) if row["raw"] else None
        return rows

    def next_update_offset(self) -> int | None:
        """The getUpdates offset that confirms everything stored: the newest id + 1."""
        rows = self._rows("SELECT max(update_id) AS newest FROM updates")
        newest = rows[0]["newest"] if rows else None
        return None if newest is None else int(newest) + 1

    def finish_update(self, update_id: int | None, replies: Sequence[Outgoing], *,
                      handled: bool = True) -> list[int]:
        """Queue the replies and mark the update handled (unless `handled` is False: progress
        sent while it is handled), in one transaction; the row ids."""
        now = self._now()
        ids: list[int] = []
        with self._write("outbox") as db:
            for reply in replies:
                cursor = db.execute(
                    "INSERT INTO outbox (update_id, chat_id, kind, payload, content, key, status,"
                    " attempts, next_at, created_at) VALUES (?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?)",
                    [update_id, reply.chat_id, reply.kind,
                     clean_text(json.dumps(reply.payload, ensure_ascii=False)), reply.content,
                     reply.key,
                     now, now])
                ids.append(int(cursor.lastrowid or 0))
            if update_id is not None and handled:
                db.execute("UPDATE updates SET status = 'handled', handled_at = ?, raw = NULL"
                           " WHERE update_id = ?", [now, update_id])
        return ids

    # -- outbox --------------------------------------------------------------------------

    def due_replies(self, limit: int = 200) -> list[Row]:
        """Pending replies due now, oldest first; in each chat only up to the first one that
        is not due yet, so a chat's replies go out in order."""
        now = self._now()
        rows = self._rows("SELECT * FROM outbox WHERE status = 'pending' ORDER BY id LIMIT ?",
                          [limit * 5])
        blocked: set[int] = set()
        due: list[Row] = []
        for row in rows:
            chat = row["chat_id"]
            if chat in blocked:
                continue
            if row["next_at"] > now:
                blocked.add(chat)
                continue
            row["payload"] = json.loads(row["payload"]) if row["payload"] else {}
            due.append(row)
            if len(due) >= limit:
                break
        return due

    def next_reply_due(self) -> datetime | None:
        """When the next pending reply is due, or None when none is pending."""
        rows = self._rows("SELECT min(next_at) AS at FROM outbox WHERE status = 'pending'")
        at = rows[0]["at"] if rows else None
        return None if at is None else datetime.fromisoformat(at)

    def begin_send(self, reply_id: int) -> None:
        """Count a send begun (from now on the reply is in doubt until marked sent)."""
        with self._write("outbox") as db:
            db.execute("UPDATE outbox SET attempts = attempts + 1 WHERE id = ?", [reply_id])

    def mark_sent(self, reply_id: int, message_id: int | None) -> None:
        """The Bot API accepted the reply: keep where it went, drop its content."""
        with self._write("outbox") as db:
            db.execute("UPDATE outbox SET status = 'sent', sent_at = ?, message_id = ?,"
                       " payload = NULL, content = NULL, error = NULL WHERE id = ?",
                       [self._now(), message_id, reply_id])

    def retry_later(self, reply_id: int, seconds: float, error: str) -> None:
        """Send the reply again in `seconds` (its chat's later replies wait behind it)."""
        at = _iso(self._clock() + timedelta(seconds=seconds))
        with self._write("outbox") as db:
            db.execute("UPDATE outbox SET next_at = ?, error = ? WHERE id = ?",
                       [at, error[:500], reply_id])

    def mark_failed(self, reply_id: int, error: str) -> None:
        """The Bot API refused the reply for good (chat gone, bot blocked): stop trying."""
        with self._write("outbox") as db:
            db.execute("UPDATE outbox SET status = 'failed', error = ?, payload = NULL,"
                       " content = NULL WHERE id = ?", [error[:500], reply_id])

    def replies_of(self, update_id: int) -> list[Row]:
        """The outbox rows queued for one update (status, attempts, message id)."""
        return self._rows("SELECT id, chat_id, kind, key, status, attempts, message_id, error"
                          " FROM outbox WHERE update_id = ? ORDER BY id", [update_id])

    def outbox_counts(self) -> dict[str, int]:
        """Replies per status: pending (waiting to be sent), sent, failed."""
        rows = self._rows("SELECT status, count(*) AS n FROM outbox GROUP BY status")
        counts = {"pending": 0, "sent": 0, "failed": 0}
        counts.update({row["status"]: int(row["n"]) for row in rows})
        return counts

    # -- what a message of the bot was ---------------------------------------------------

    def message_key(self, chat_id: int, message_id: int) -> str | None:
        """The key of the bot's message `message_id` in the chat, if it had one."""
        rows = self._rows("SELECT key FROM outbox WHERE chat_id = ? AND message_id = ?"
                          " ORDER BY id DESC LIMIT 1", [chat_id, message_id])
        return rows[0]["key"] if rows else None

    def message_for_key(self, chat_id: int, key: str) -> int | None:
        """The Telegram id of the newest sent message with this key in the chat."""
        rows = self._rows("SELECT message_id FROM outbox WHERE chat_id = ? AND key = ?"
                          " AND status = 'sent' AND message_id IS NOT NULL"
                          " ORDER BY id DESC LIMIT 1", [chat_id, key])
        return int(rows[0]["message_id"]) if rows else None

    def prune_delivery(self, *, keep_days: int = 30) -> int:
        """Delete handled updates and settled replies older than `keep_days` (the newest
        update is kept: it holds the polling offset); how many rows went."""
        cutoff = _iso(self._clock() - timedelta(days=keep_days))
        with self._write("outbox") as db:
            gone = db.execute(
                "DELETE FROM updates WHERE status = 'handled' AND received_at < ?"
                " AND update_id < (SELECT max(update_id) FROM updates)", [cutoff]).rowcount
            gone += db.execute("DELETE FROM outbox WHERE status != 'pending' AND created_at < ?",
                               [cutoff]).rowcount
        return int(gone)
