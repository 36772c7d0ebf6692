"""What admins read from the log: usage figures, exports, retention and forgetting a user."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from bot.exports import csv_writer
from bot.store.db import Store, _decode, _iso, _marks, _since
from bot.store.sql import Connection

EXPORT_FORMATS = ("csv", "jsonl")
# The exported tables, and how ``since`` selects their rows.
_SINCE = {
    "users": "last_seen >= :since",
    "access_requests": "requested_at >= :since",
    "messages": "at >= :since",
    "answers": "at >= :since",
    "answer_passages": "answer_id IN (SELECT id FROM answers WHERE at >= :since)",
    "feedback": "at >= :since",
    "runs": "updated_at >= :since",
    "run_answers": "at >= :since",
    "audit": "at >= :since",
}
EXPORT_TABLES = tuple(_SINCE)
# Rows are exported in the order they were written: by id, or by primary key.
_ORDER = {"answer_passages": "answer_id, rank"}
_DENIED = "role IS NULL AND role_source = 'admin'"  # an admin took this user's access away


@dataclass(frozen=True)
class Stats:
    """Usage figures for admins, over everything logged since a date (or ever)."""

    since: date | None
    users: int  # distinct users who sent at least one message
    questions: int
    answered: int
    declined: int
    questions_per_day: list[tuple[str, int, int]]  # (YYYY-MM-DD, answered, declined), no gaps
    unanswered: list[tuple[str, int, str]]  # (question, times asked, last asked), most asked first
    # (question, answer, comment, when), newest first
    negative_feedback: list[tuple[str | None, str | None, str | None, str]]
    top_passages: list[tuple[str, int]]  # (chunk_id, citations by answered questions)
    runs: list[tuple[str, str | None, int]]  # (checklist_id, rating, runs); training excluded
    training_runs: int
    messages_in: int
    messages_out: int
    latency_p50_ms: float | None  # of outgoing messages
    latency_p95_ms: float | None


class Reports(Store):
    """Stats, exports, retention and forgetting, each on its own consistent snapshot."""

    def stats(self, *, since: date | None = None, limit: int = 10) -> Stats:
        """Usage figures since a date; lists hold at most ``limit`` entries."""
        p = {"since": _since(since), "limit": limit}
        with self._snapshot() as db:

            def rows(sql: str) -> list[tuple[Any, ...]]:
                return [tuple(row) for row in db.execute(sql, p)]

            per_day = rows(
                """SELECT substr(at, 1, 10) AS day, count(CASE WHEN grounded = 1 THEN 1 END),
                count(CASE WHEN grounded = 0 THEN 1 END)
                FROM answers WHERE at >= :since GROUP BY substr(at, 1, 10) ORDER BY day"""
            )
            directions = dict(rows(
                "SELECT direction, count(*) FROM messages WHERE at >= :since GROUP BY direction"
            ))
            latencies = [value for (value,) in rows(
                """SELECT latency_ms FROM messages WHERE direction = 'out'
                AND latency_ms IS NOT NULL AND at >= :since ORDER BY latency_ms"""
            )]
            return Stats(
                since=since,
                users=rows(
                    """SELECT count(DISTINCT user_id) FROM messages
                    WHERE direction = 'in' AND at >= :since"""
                )[0][0],
                questions=sum(a + d for _, a, d in per_day),
                answered=sum(a for _, a, _ in per_day),
                declined=sum(d for _, _, d in per_day),
                questions_per_day=_fill_days(per_day),
                # The question as shown is the latest wording (the row with max(at)).
                unanswered=rows(
                    """SELECT question, n, last FROM (
                        SELECT question, count(*) OVER same AS n, max(at) OVER same AS last,
                        row_number() OVER (PARTITION BY lower(trim(question))
                                           ORDER BY at DESC, id DESC) AS newest
                        FROM answers
                        WHERE grounded = 0 AND question IS NOT NULL AND at >= :since
                        WINDOW same AS (PARTITION BY lower(trim(question)))
                    ) AS declined WHERE newest = 1 ORDER BY n DESC, last DESC LIMIT :limit"""
                ),
                negative_feedback=rows(
                    """SELECT a.question, a.answer, f.comment, f.at
                    FROM feedback f JOIN answers a ON a.id = f.answer_id
                    WHERE f.value = -1 AND f.at >= :since ORDER BY f.at DESC LIMIT :limit"""
                ),
                top_passages=rows(
                    """SELECT p.chunk_id, count(*) AS n
                    FROM answer_passages p JOIN answers a ON a.id = p.answer_id
                    WHERE a.grounded = 1 AND a.at >= :since
                    GROUP BY p.chunk_id ORDER BY n DESC, p.chunk_id LIMIT :limit"""
                ),
                runs=rows(
                    """SELECT checklist_id, rating, count(*) FROM runs
                    WHERE training = 0 AND started_at >= :since
                    GROUP BY checklist_id, rating ORDER BY checklist_id, rating NULLS FIRST"""
                ),
                training_runs=rows(
                    "SELECT count(*) FROM runs WHERE training = 1 AND started_at >= :since"
                )[0][0],
                messages_in=directions.get("in", 0),
                messages_out=directions.get("out", 0),
                latency_p50_ms=_percentile(latencies, 0.50),
                latency_p95_ms=_percentile(latencies, 0.95),
            )

    def export(
        self, out: TextIO, *, fmt: str, since: date | None = None,
        tables: Sequence[str] | None = None,
    ) -> int:
        """Write rows to ``out`` and return how many.

        "jsonl": one object per row with a "table" key, for all tables or those given.
        "csv": exactly one table, header first; use :meth:`export_all` for every table.
        """
        names = list(EXPORT_TABLES if tables is None else tables)
        unknown = [name for name in names if name not in EXPORT_TABLES]
        if unknown:
            raise ValueError(f"Unknown table {unknown[0]!r}; expected one of {EXPORT_TABLES}")
        if fmt not in EXPORT_FORMATS:
            raise ValueError(f"Unknown export format {fmt!r}; expected csv or jsonl")
        if fmt == "csv" and len(names) != 1:
            raise ValueError("A CSV export holds one table: pass tables=[name] or use export_all")
        with self._snapshot() as db:
            return sum(_export_table(db, out, name, fmt, since) for name in names)

    def export_all(
        self, directory: Path | str, *, fmt: str = "csv", since: date | None = None
    ) -> dict[str, int]:
        """Write one file per table (``messages.csv`` ...) from one snapshot; rows per table."""
        if fmt not in EXPORT_FORMATS:
            raise ValueError(f"Unknown export format {fmt!r}; expected csv or jsonl")
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        counts = {}
        with self._snapshot() as db:
            for name in EXPORT_TABLES:
                with open(directory / f"{name}.{fmt}", "w", encoding="utf-8", newline="") as out:
                    counts[name] = _export_table(db, out, name, fmt, since)
        return counts

    def apply_retention(self, days: int, *, now: datetime | None = None) -> int:
        """Blank the text of messages, answers and feedback comments older than ``days``.

        Rows, ids, times and figures stay, so counts and stats are unchanged. Returns the number
        of rows blanked (0 when run again); audited as actor "retention" when non-zero.
        """
        if days < 0:
            raise ValueError(f"Retention days must be 0 or more, got {days}")
        cutoff = _iso((now or self._clock()) - timedelta(days=days))
        with self._write("messages, answers, feedback") as db:
            blanked = sum(
                db.execute(sql, [cutoff]).rowcount
                for sql in (
                    "UPDATE messages SET text = NULL, raw = NULL"
                    " WHERE at < ? AND (text IS NOT NULL OR raw IS NOT NULL)",
                    "UPDATE answers SET question = NULL, query = NULL, answer = NULL WHERE at < ?"
                    " AND (question IS NOT NULL OR query IS NOT NULL OR answer IS NOT NULL)",
                    "UPDATE feedback SET comment = NULL WHERE at < ? AND comment IS NOT NULL",
                )
            )
            if blanked:
                self._audit(
                    db, "retention", "retention", {"days": days, "before": cutoff, "rows": blanked}
                )
        self._checkpoint(["messages", "answers", "feedback"])
        return blanked

    def forget(self, user_id: int, *, by: int | str) -> dict[str, int]:
        """Delete everything the user said or was told, then audit it; returns rows per table.

        Goes: the user's messages, the bot's replies to them and everything in their private
        chat; their questions and answers with passages and any feedback on those; their own
        feedback; their runs and run answers; access requests; their updates and the replies
        to their chat in the delivery tables; the cohorts they created; the user row. ``raw``
        updates of other people that embed this user (a reply quoting them) are blanked too.

        A user whose access an admin took away keeps a deny record: their ``users`` row with
        the id alone (no name, language or times; ``revocation_kept`` in the counts), so the
        revocation outlives forgetting (an open pilot or the settings list would let them in
        again). Their failed join-code attempts (``join_limits``) go too.
        """
        answers = "SELECT id FROM answers WHERE user_id = :user OR chat_id = :user"
        steps = {
            "feedback": f"DELETE FROM feedback WHERE user_id = :user OR answer_id IN ({answers})",
            "answer_passages": f"DELETE FROM answer_passages WHERE answer_id IN ({answers})",
            "answers": "DELETE FROM answers WHERE user_id = :user OR chat_id = :user",
            "run_answers": "DELETE FROM run_answers"
            " WHERE run_id IN (SELECT id FROM runs WHERE user_id = :user)",
            "runs": "DELETE FROM runs WHERE user_id = :user",
            "access_requests": "DELETE FROM access_requests WHERE user_id = :user",
            "updates": "DELETE FROM updates WHERE user_id = :user OR chat_id = :user",
            "outbox": "DELETE FROM outbox WHERE chat_id = :user",
            "cohorts": "DELETE FROM cohorts WHERE created_by = :user",
            "users": f"DELETE FROM users WHERE id = :user AND NOT ({_DENIED})",
        }
        kept = {  # in the counts only when non-zero
            "revocation_kept": "UPDATE users SET username = NULL, first_name = NULL,"
            " language = NULL, first_seen = NULL, last_seen = NULL"
            f" WHERE id = :user AND {_DENIED}",
            "join_limits": "DELETE FROM join_limits WHERE user_id = :user",
        }
        params = {"user": user_id}
        with self._write("forget") as db:
            counts = {}
            for name, sql in steps.items():
                counts[name] = db.execute(sql, params).rowcount
                if name == "runs":  # messages come here, in the order of the counts
                    counts["messages"] = _forget_messages(db, user_id)
                    counts["raw_blanked"] = _blank_raw_mentions(db, user_id)
            counts |= {name: n for name, sql in kept.items()
                       if (n := db.execute(sql, params).rowcount)}
            self._audit(db, by, "forget", {"user_id": user_id, "rows": counts})
        self._checkpoint(["messages", "answers", "answer_passages", "feedback", "runs",
                          "run_answers", "access_requests", "updates", "outbox", "cohorts",
                          "users", "join_limits"])
        return counts


CHUNK = 500  # ids per IN list


def _forget_messages(db: Connection, user_id: int) -> int:
    """Delete the user's messages (by them or in their private chat) and the bot's replies to
    them; how many. The ids are listed first: a DELETE's subquery on its own table would see
    rows vanish."""
    mine = [row[0] for row in db.execute(
        "SELECT id FROM messages WHERE user_id = ? OR chat_id = ? ORDER BY id",
        [user_id, user_id]).fetchall()]
    gone = 0
    for start in range(0, len(mine), CHUNK):
        ids = mine[start:start + CHUNK]
        gone += db.execute(f"DELETE FROM messages WHERE id IN ({_marks(ids)})"
                           f" OR reply_to IN ({_marks(ids)})", [*ids, *ids]).rowcount
    return gone


def _mentions(value: Any, user_id: int) -> bool:
    """True when the JSON value holds, at any depth, a member "id" that is this user id."""
    if isinstance(value, dict):
        return any((key == "id" and type(item) is int and item == user_id)
                   or _mentions(item, user_id) for key, item in value.items())
    if isinstance(value, list):
        return any(_mentions(item, user_id) for item in value)
    return False


def _blank_raw_mentions(db: Connection, user_id: int) -> int:
    """Blank the raw update of other people's messages that embed this user (a reply quoting
    them, a forward); how many. The digits of the id in the text pick the candidates."""
    candidates = db.execute("SELECT id, raw FROM messages WHERE raw LIKE ?",
                            [f"%{user_id}%"]).fetchall()
    hits = []
    for row_id, raw in candidates:
        try:
            decoded = json.loads(raw)
        except ValueError:
            continue
        if _mentions(decoded, user_id):
            hits.append(row_id)
    for start in range(0, len(hits), CHUNK):
        ids = hits[start:start + CHUNK]
        db.execute(f"UPDATE messages SET raw = NULL WHERE id IN ({_marks(ids)})", ids)
    return len(hits)


def _fill_days(per_day: list[tuple[Any, ...]]) -> list[tuple[str, int, int]]:
    """Per-day counts with the missing days between first and last filled with zeros."""
    if not per_day:
        return []
    found = {day: (int(answered), int(declined)) for day, answered, declined in per_day}
    first, last = date.fromisoformat(per_day[0][0]), date.fromisoformat(per_day[-1][0])
    days = (first + timedelta(days=n) for n in range((last - first).days + 1))
    return [(d.isoformat(), *found.get(d.isoformat(), (0, 0))) for d in days]


def _percentile(ordered: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile of an ascending list; None for an empty one."""
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)] if ordered else None


def _export_table(db: Connection, out: TextIO, table: str, fmt: str, since: date | None
                  ) -> int:
    """Stream one table to ``out`` as CSV (with header) or JSON lines; returns rows written."""
    sql = f"SELECT * FROM {table}"
    if since is not None:
        sql += f" WHERE {_SINCE[table]}"
    cursor = db.execute(sql + f" ORDER BY {_ORDER.get(table, 'id')}", {"since": _since(since)})
    columns = [d[0] for d in cursor.description]
    count = 0
    if fmt == "csv":
        writer = csv_writer(out)  # a text starting with = + - @ is kept as text, not a formula
        writer.writerow(columns)
        for row in cursor:
            writer.writerow(row)
            count += 1
    else:
        for row in cursor:
            record = _decode(table, dict(zip(columns, row, strict=True)))
            out.write(json.dumps({"table": table, **record}, ensure_ascii=False) + "\n")
            count += 1
    return count
