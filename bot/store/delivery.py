"""Updates in and replies out, through the database: nothing is lost between Telegram and us,
also with several workers on one database.

`updates` is the inbox: every update is stored (its id the primary key, so a replay or a
restart handles it once) before Telegram is told it arrived, and marked handled in the same
transaction that queues its replies. `outbox` holds every reply until the Bot API accepted it:
`pending` rows are due at `next_at`; `attempts` counts sends begun, so a pending row with
attempts is "in doubt" (it may have reached Telegram just before a crash) and is sent again;
`sent` rows keep the chat, the Telegram message id and the reply's key (what a user's reply to
that message refers to), not the text, which the session log (`messages`) holds.

Several workers (bot/tg/runner.py) share both through claims with leases:

- **One user's updates, one worker at a time, in order.** An update belongs to a queue, its
  key: the user's id (else the chat's, else minus the update id). A worker handles a queue's
  updates only while it holds the queue's row in `update_claims` (`claim_updates`), oldest
  first (`next_update`), and lets go only when none is left (`release_updates`, which keeps the
  claim when an update arrived meanwhile, so none is stranded). `finish_update` marks an
  update handled only if it still is not, so a second handling of one update id (a worker that
  stalled past its lease) queues no second reply.
- **One reply, one sender.** A sender claims the first pending reply of each chat whose turn
  it is (due, not claimed by a live lease; `FOR UPDATE SKIP LOCKED` on PostgreSQL, so senders
  claiming at the same moment take different chats) with the chat's due replies after it
  (`claim_replies`); nobody else can claim those while the claim lives, and a chat's next reply
  is claimable only once the one before it is sent or failed: one chat's replies go out in
  order, whichever worker sends them.
- **Leases.** A worker renews its claims while it works on them (`renew_claims`); a claim not
  renewed for `lease` seconds (its worker was killed) expires, and another worker takes over:
  `orphaned_keys` lists the queues to recover, `claim_replies` takes the replies. A worker's
  name is stable across its restarts (host and port), so a restarted worker takes its own
  claims back at once.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.inputs import clean_text
from bot.store.db import Row, Store, _iso, _marks

# The queue of an update: its user, else its chat, else the update alone.
KEY = "coalesce(user_id, chat_id, -update_id)"


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
                    "INSERT INTO updates (update_id, received_at, user_id, chat_id, raw, status)"
                    " VALUES (?, ?, ?, ?, ?, 'received') ON CONFLICT (update_id) DO NOTHING",
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
        sent while it is handled), in one transaction; the row ids. An update already marked
        handled (by another worker that took it over) queues nothing again: []."""
        now = self._now()
        ids: list[int] = []
        with self._write("outbox") as db:
            if update_id is not None and handled:
                marked = db.execute("UPDATE updates SET status = 'handled', handled_at = ?,"
                                    " raw = NULL WHERE update_id = ? AND status = 'received'",
                                    [now, update_id]).rowcount
                if not marked and db.execute("SELECT 1 FROM updates WHERE update_id = ?",
                                             [update_id]).fetchone():
                    return []  # handled once already
            for reply in replies:
                cursor = db.execute(
                    "INSERT INTO outbox (update_id, chat_id, kind, payload, content, key, status,"
                    " attempts, next_at, created_at) VALUES (?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?)"
                    " RETURNING id",
                    [update_id, reply.chat_id, reply.kind,
                     clean_text(json.dumps(reply.payload, ensure_ascii=False)), reply.content,
                     reply.key,
                     now, now])
                ids.append(int(cursor.fetchone()[0]))
        return ids

    def mark_handled(self, update_ids: Sequence[int]) -> None:
        """Mark updates handled whose replies went out while the database failed."""
        if not update_ids:
            return
        with self._write("updates") as db:
            db.execute(f"UPDATE updates SET status = 'handled', handled_at = ?, raw = NULL"
                       f" WHERE status = 'received' AND update_id IN ({_marks(update_ids)})",
                       [self._now(), *update_ids])

    # -- claims: several workers on one inbox --------------------------------------------

    def _until(self, lease: float) -> str:
        return _iso(self._clock() + timedelta(seconds=lease))

    def claim_updates(self, key: int, worker: str, lease: float) -> bool:
        """Take (or renew) the claim on a queue of updates; False while another worker's
        claim on it lives."""
        now = self._now()
        with self._write("update_claims") as db:
            return bool(db.execute(
                "INSERT INTO update_claims (key, worker, until) VALUES (?, ?, ?)"
                " ON CONFLICT (key) DO UPDATE SET worker = excluded.worker,"
                " until = excluded.until"
                " WHERE update_claims.worker = excluded.worker OR update_claims.until < ?",
                [key, worker, self._until(lease), now]).rowcount)

    def next_update(self, key: int) -> Row | None:
        """The oldest update of the queue not handled yet, raw decoded."""
        rows = self._rows(f"SELECT * FROM updates WHERE status = 'received' AND {KEY} = ?"
                          " ORDER BY update_id LIMIT 1", [key])
        if not rows:
            return None
        row = rows[0]
        row["raw"] = json.loads(row["raw"]) if row["raw"] else None
        return row

    def release_updates(self, key: int, worker: str, *, force: bool = False) -> bool:
        """Let go of a queue once none of its updates is left; False (the claim kept) when one
        arrived meanwhile. With `force` (the worker stops), let go in any case."""
        with self._write("update_claims") as db:
            # The claim's row is deleted first: a worker claiming the queue now waits for this
            # transaction, so an update it stored just before is seen below, or it gets the
            # claim after us.
            deleted = db.execute("DELETE FROM update_claims WHERE key = ? AND worker = ?"
                                 " RETURNING until", [key, worker]).fetchone()
            if force or deleted is None:
                return True
            left = db.execute(f"SELECT 1 FROM updates WHERE status = 'received' AND {KEY} = ?"
                              " LIMIT 1", [key]).fetchone()
            if left is None:
                return True
            db.execute("INSERT INTO update_claims (key, worker, until) VALUES (?, ?, ?)",
                       [key, worker, deleted[0]])
            return False

    def orphaned_keys(self, worker: str, *, older_than: float = 0.0) -> list[int]:
        """Queues with updates not handled and nobody's live claim (or this worker's: a claim
        from before its restart), whose oldest update was received `older_than` seconds ago."""
        now = self._clock()
        rows = self._rows(
            f"SELECT {KEY} AS key, min(received_at) AS first FROM updates u"
            " WHERE status = 'received' AND NOT EXISTS (SELECT 1 FROM update_claims c"
            " WHERE c.key = coalesce(u.user_id, u.chat_id, -u.update_id)"
            " AND c.until >= ? AND c.worker != ?)"
            f" GROUP BY {KEY} ORDER BY min(update_id)", [_iso(now), worker])
        cutoff = _iso(now - timedelta(seconds=older_than))
        return [int(row["key"]) for row in rows if row["first"] <= cutoff]

    def renew_claims(self, worker: str, lease: float, *, keys: Sequence[int] = (),
                     chats: Sequence[int] = ()) -> None:
        """Extend this worker's claims on the queues and the chats' replies it works on."""
        if not keys and not chats:
            return
        until = self._until(lease)
        with self._write("update_claims") as db:
            if keys:
                db.execute(f"UPDATE update_claims SET until = ? WHERE worker = ?"
                           f" AND key IN ({_marks(keys)})", [until, worker, *keys])
            if chats:
                db.execute(f"UPDATE outbox SET claimed_until = ? WHERE claimed_by = ?"
                           f" AND status = 'pending' AND chat_id IN ({_marks(chats)})",
                           [until, worker, *chats])

    def release_claims(self, worker: str) -> None:
        """Let go of every claim of this worker (it stops, or starts again after a crash)."""
        with self._write("update_claims") as db:
            db.execute("DELETE FROM update_claims WHERE worker = ?", [worker])
            db.execute("UPDATE outbox SET claimed_by = NULL, claimed_until = NULL"
                       " WHERE claimed_by = ?", [worker])

    def reserve_send(self, now: float, interval: float, burst: int) -> float:
        """Take the next slot of a send rate shared by every worker (one message every
        `interval` seconds, `burst` at once; GCRA on the theoretical arrival time in
        `send_rate`); the seconds to wait before sending. `now`: seconds since the epoch."""
        with self._write("send_rate") as db:
            tat = float(db.execute(
                "INSERT INTO send_rate (id, tat) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET"
                " tat = CASE WHEN send_rate.tat > ? THEN send_rate.tat ELSE ? END + ?"
                " RETURNING tat", [now + interval, now, now, interval]).fetchone()[0])
        return max(0.0, tat - interval * burst - now)

    # -- outbox --------------------------------------------------------------------------

    def due_replies(self, limit: int = 200) -> list[Row]:
        """Pending replies due now, oldest first; in each chat only up to the first one that
        is not due yet, so a chat's replies go out in order (what `claim_replies` would take,
        without taking it)."""
        with self._write("outbox") as db:
            return self._due(db, limit, None, 0.0)

    def claim_replies(self, worker: str, lease: float, limit: int = 200) -> list[Row]:
        """Claim for this worker, for `lease` seconds, the replies it is to send now: in each
        chat whose first pending reply is due and not claimed by a live lease, that reply and
        the due ones after it (see the module docstring); oldest first, payload decoded."""
        with self._write("outbox") as db:
            return self._due(db, limit, worker, lease)

    def _due(self, db: Any, limit: int, worker: str | None, lease: float) -> list[Row]:
        now = self._now()
        heads = [row[0] for row in db.execute(
            "SELECT o.id FROM outbox o WHERE o.status = 'pending' AND o.next_at <= ?"
            " AND (o.claimed_until IS NULL OR o.claimed_until < ?)"
            " AND o.id = (SELECT min(p.id) FROM outbox p WHERE p.chat_id = o.chat_id"
            " AND p.status = 'pending') ORDER BY o.id LIMIT ?" + db.skip_locked,
            [now, now, limit]).fetchall()]
        if not heads:
            return []
        rows = list(db.query(
            "SELECT * FROM outbox WHERE status = 'pending' AND chat_id IN"
            f" (SELECT chat_id FROM outbox WHERE id IN ({_marks(heads)})) ORDER BY id",
            heads))
        blocked: set[int] = set()
        due: list[Row] = []
        for row in rows:
            chat = row["chat_id"]
            if chat in blocked:
                continue
            if row["next_at"] > now or len(due) >= limit:
                blocked.add(chat)
                continue
            row["payload"] = json.loads(row["payload"]) if row["payload"] else {}
            due.append(row)
        if worker is not None and due:
            until = self._until(lease)
            ids = [row["id"] for row in due]
            db.execute(f"UPDATE outbox SET claimed_by = ?, claimed_until = ?"
                       f" WHERE id IN ({_marks(ids)})", [worker, until, *ids])
            for row in due:
                row["claimed_by"], row["claimed_until"] = worker, until
        return due

    def release_replies(self, reply_ids: Sequence[int]) -> None:
        """Give back claimed replies this worker will not send now (others may take them)."""
        if not reply_ids:
            return
        with self._write("outbox") as db:
            db.execute(f"UPDATE outbox SET claimed_by = NULL, claimed_until = NULL"
                       f" WHERE id IN ({_marks(reply_ids)})", list(reply_ids))

    def next_reply_due(self) -> datetime | None:
        """When the next pending reply is due (or its claim ends), None when none is pending."""
        rows = self._rows("SELECT min(CASE WHEN claimed_until > next_at THEN claimed_until"
                          " ELSE next_at END) AS at FROM outbox WHERE status = 'pending'")
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
            db.execute("UPDATE outbox SET next_at = ?, error = ?, claimed_by = NULL,"
                       " claimed_until = NULL WHERE id = ?", [at, error[:500], reply_id])

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
            gone += db.execute("DELETE FROM outbox WHERE status <> 'pending' AND created_at < ?",
                               [cutoff]).rowcount
        return int(gone)
