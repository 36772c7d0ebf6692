"""Every message in and out, the answers with the passages they used, and feedback."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from bot.store.db import Row, Store, _decode, _insert, _iso
from bot.store.migrations import hide_join_codes
from bot.store.sql import Connection


class Messages(Store):
    """The conversation: messages, answers, feedback."""

    def log_incoming(
        self, *, user_id: int | None, chat_id: int | None, chat_type: str | None, kind: str,
        text: str | None, update_id: int | None = None, raw: dict[str, Any] | None = None,
        front: str = "telegram", at: str | None = None,
    ) -> int:
        """Store one incoming message of any kind, handled or not; returns its id."""
        raw = None if raw is None else hide_join_codes(raw)  # an edited "/join CODE" too
        row = {
            "at": at or self._now(), "direction": "in", "front": front, "user_id": user_id,
            "chat_id": chat_id, "chat_type": chat_type, "kind": kind,
            "text": None if text is None else hide_join_codes(text), "update_id": update_id,
            "raw": None if raw is None else json.dumps(raw, ensure_ascii=False, default=str),
        }
        with self._write("messages") as db:
            return _insert(db, "messages", row)

    def log_outgoing(
        self, *, chat_id: int | None, user_id: int | None, reply_to: int | None, text: str,
        latency_ms: float, front: str = "telegram", at: str | None = None,
    ) -> int:
        """Store one message the bot sent; ``reply_to`` is the id of the incoming row."""
        row = {
            "at": at or self._now(), "direction": "out", "front": front, "user_id": user_id,
            "chat_id": chat_id, "kind": "text", "text": text, "reply_to": reply_to,
            "latency_ms": latency_ms,
        }
        with self._write("messages") as db:
            return _insert(db, "messages", row)

    def log_answer(
        self, *, message_id: int | None, user_id: int | None, chat_id: int | None, question: str,
        query: str, answer: str, grounded: bool, index_version: str,
        passages: Sequence[tuple[str, float]], top_score: float, at: str | None = None,
    ) -> int:
        """Store an answer (or a decline) and its passages in rank order; returns its id."""
        row = {
            "at": at or self._now(), "message_id": message_id, "user_id": user_id,
            "chat_id": chat_id,
            "question": question, "query": query, "answer": answer, "grounded": int(grounded),
            "index_version": index_version, "top_score": top_score,
        }
        with self._write("answers") as db:
            answer_id = _insert(db, "answers", row)
            db.executemany(
                "INSERT INTO answer_passages (answer_id, rank, chunk_id, score)"
                " VALUES (?, ?, ?, ?)",
                [(answer_id, rank, chunk, float(score))
                 for rank, (chunk, score) in enumerate(passages, start=1)],
            )
            return answer_id

    def _with_passages(self, db: Connection, row: Row) -> Row:
        row["passages"] = [
            (chunk, score)
            for chunk, score in db.execute(
                "SELECT chunk_id, score FROM answer_passages WHERE answer_id = ? ORDER BY rank",
                [row["id"]],
            )
        ]
        return _decode("answers", row)

    def answer(self, answer_id: int) -> Row | None:
        """One answer with ``passages`` as [(chunk_id, score)] in rank order."""
        db = self._open()
        rows = list(db.query("SELECT * FROM answers WHERE id = ?", [answer_id]))
        return self._with_passages(db, rows[0]) if rows else None

    def last_answer(
        self, *, chat_id: int, user_id: int, within_seconds: float | None = None
    ) -> Row | None:
        """The user's latest answer in this chat (optionally only if recent), for follow-ups."""
        sql = "SELECT * FROM answers WHERE chat_id = :chat AND user_id = :user"
        params: dict[str, Any] = {"chat": chat_id, "user": user_id}
        if within_seconds is not None:
            sql += " AND at >= :after"
            params["after"] = _iso(self._clock() - timedelta(seconds=within_seconds))
        db = self._open()
        rows = list(db.query(sql + " ORDER BY id DESC LIMIT 1", params))
        return self._with_passages(db, rows[0]) if rows else None

    def log_feedback(
        self, *, answer_id: int, user_id: int, value: int, comment: str | None = None,
        at: str | None = None,
    ) -> int:
        """Store a +1/-1 vote, replacing the user's earlier vote on that answer (a comment
        given before stays); returns its id."""
        if value not in (1, -1):
            raise ValueError(f"Feedback value must be 1 or -1, got {value!r}")
        with self._write("feedback") as db:
            db.execute(
                """INSERT INTO feedback (answer_id, user_id, value, comment, at)
                VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (answer_id, user_id) DO UPDATE SET
                    value = excluded.value, comment = coalesce(excluded.comment, feedback.comment),
                    at = excluded.at""",
                [answer_id, user_id, value, comment, at or self._now()],
            )
            row = db.execute(
                "SELECT id FROM feedback WHERE answer_id = ? AND user_id = ?", [answer_id, user_id]
            ).fetchone()
            return int(row[0])

    def add_feedback_comment(self, *, answer_id: int, user_id: int, comment: str) -> bool:
        """Attach a comment to the user's vote on an answer; False if there is no vote."""
        with self._write("feedback") as db:
            cursor = db.execute(
                "UPDATE feedback SET comment = ? WHERE answer_id = ? AND user_id = ?",
                [comment, answer_id, user_id],
            )
            return cursor.rowcount > 0

