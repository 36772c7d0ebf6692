"""What the bot waits for from a user in one chat, kept in the database with an expiry.

A pending thing has a kind ("comment", "note", "selection", "start", ...), data (JSON) and
optionally the id of the bot's message it belongs to (the prompt a reply must answer). One of
each kind per user and chat; setting it again replaces it. Expired rows are never returned and
are deleted on the next write.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.store.db import Row, Store, _decode, _iso, _json


class Pending(Store):
    """Pending state: survives restarts, scoped to its chat, expires."""

    def set_pending(self, user_id: int, chat_id: int, kind: str, data: Any = None, *,
                    ttl_seconds: float, message_id: int | None = None) -> None:
        """Wait for `kind` from the user in this chat, for `ttl_seconds` at most."""
        now = self._clock()
        with self._write("pending") as db:
            db.execute("DELETE FROM pending WHERE expires_at < ?", [_iso(now)])
            db.execute(
                """INSERT INTO pending (user_id, chat_id, kind, data, message_id, created_at,
                expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (user_id, chat_id, kind) DO UPDATE SET data = excluded.data,
                message_id = excluded.message_id, created_at = excluded.created_at,
                expires_at = excluded.expires_at""",
                [user_id, chat_id, kind, _json(data), message_id,
                 _iso(now), _iso(now + timedelta(seconds=ttl_seconds))])

    def pending(self, user_id: int, chat_id: int, kind: str | None = None) -> list[Row]:
        """What is pending for the user in this chat (of one kind), newest first."""
        sql = "SELECT * FROM pending WHERE user_id = ? AND chat_id = ? AND expires_at >= ?"
        params: list[Any] = [user_id, chat_id, self._now()]
        if kind is not None:
            sql += " AND kind = ?"
            params.append(kind)
        return [_decode("pending", row) for row in self._rows(
            sql + " ORDER BY created_at DESC, kind", params)]

    def drop_pending(self, user_id: int, chat_id: int, kind: str | None = None) -> int:
        """Stop waiting (for one kind, or everything) in this chat; how many were dropped."""
        sql = "DELETE FROM pending WHERE user_id = ? AND chat_id = ?"
        params: list[Any] = [user_id, chat_id]
        if kind is not None:
            sql += " AND kind = ?"
            params.append(kind)
        with self._write("pending") as db:
            return int(db.execute(sql, params).rowcount)
