"""Replies out through the store's outbox: queued with their update, sent in order per chat,
marked sent only when the Bot API accepted them, retried with backoff (Telegram's retry_after
honoured), sent again after a restart.

`outgoing` turns the dialogue's `Reply` into outbox rows (Telegram HTML split below the
message limit, buttons, ForceReply, threading); `Sender` sends them. Each worker runs a Sender;
a Sender sends only the rows it claimed (bot/store/delivery.py `claim_replies`: a chat's due
rows, while its claim's lease lives), so senders on several workers never send one row twice,
and each chat's rows go out in order. With `shared_rate` (several workers, PostgreSQL) every
send first takes a slot of Telegram's overall rate shared by all workers
(`SessionLog.reserve_send`), so that together they send no faster than one bot may; each
worker's own rate limiter still applies. When the database cannot be written,
`Sender.send_unrecorded` sends replies from memory, so answers still go out.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from telegram import (
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    ReplyParameters,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError
from telegram.ext import ExtBot

from bot import render
from bot.store import LogWriteError, Outgoing, SessionLog
from bot.tg.html import split_message
from bot.types import Reply

log = logging.getLogger(__name__)
BACKOFF_FIRST, BACKOFF_MAX = 1.0, 60.0  # seconds before a failed send is tried again
GIVE_UP_AFTER = 24 * 3600.0  # a reply still not accepted after this long is marked failed
CHAT_RATE, CHAT_BURST = 1.0, 3  # messages per second in one chat, and the burst allowed
PARALLEL_CHATS = 8  # chats sent to at once (the global limit is the rate limiter's)
SHARED_RATE, SHARED_BURST = 30.0, 30  # messages a second over every worker, and at once
UNRECORDED_TRIES = 5  # sends of a reply that could not be stored, before it is dropped
Row = dict[str, Any]


def outgoing(reply: Reply, *, chat_id: int, pressed: int | None = None,
             thread: int | None = None) -> list[Outgoing]:
    """The outbox rows of one reply.

    :param pressed: the message whose button was pressed (what `edit` without a key edits).
    :param thread: the user's message to reply to (in groups), for replies to this chat.
    """
    target = reply.to if reply.to is not None else chat_id
    reply_to = thread if reply.to is None else None
    buttons = [[[b.label, b.data] for b in row] for row in reply.buttons] or None
    rows: list[Outgoing] = []
    edit_target = reply.key if reply.key else pressed
    if reply.edit and not reply.html and reply.to is None and edit_target is not None:
        payload = {"markup_only": True, "buttons": buttons,
                   "message_id": None if reply.key else pressed, "edit_key": reply.key}
        rows.append(Outgoing(target, "edit", payload, key=reply.key))
    if reply.html:
        pieces = split_message(reply.html)
        if reply.edit and reply.to is None and len(pieces) == 1 and edit_target is not None:
            payload = {"text": pieces[0], "buttons": buttons,
                       "message_id": None if reply.key else pressed, "edit_key": reply.key}
            rows.append(Outgoing(target, "edit", payload, key=reply.key))
        else:
            for n, piece in enumerate(pieces):
                last = n == len(pieces) - 1
                payload = {"text": piece, "buttons": buttons if last else None,
                           "force_reply": bool(reply.force_reply and last),
                           "reply_to": reply_to if n == 0 else None}
                rows.append(Outgoing(target, "message", payload, key=reply.key))
    if reply.attachment is not None:
        payload = {"filename": reply.attachment.filename, "caption": reply.attachment.caption,
                   "reply_to": reply_to}
        rows.append(Outgoing(target, "document", payload, content=reply.attachment.content,
                             key=reply.key))
    return rows


def _markup(payload: Row) -> InlineKeyboardMarkup | ForceReply | None:
    if payload.get("force_reply"):
        return ForceReply(selective=True)
    rows = payload.get("buttons")
    if not rows:
        return None
    return InlineKeyboardMarkup([[InlineKeyboardButton(label, callback_data=data)
                                  for label, data in row] for row in rows])


def _reply_parameters(payload: Row) -> ReplyParameters | None:
    if not payload.get("reply_to"):
        return None
    return ReplyParameters(int(payload["reply_to"]), allow_sending_without_reply=True)


def retry_after_seconds(exc: RetryAfter) -> float:
    """Telegram's retry_after, whether PTB gives it as seconds or as a timedelta."""
    value = exc.retry_after
    return float(value if isinstance(value, int | float) else value.total_seconds())


class _ChatPace:
    """At most `rate` messages a second in one chat after a burst of CHAT_BURST."""

    def __init__(self, rate: float = CHAT_RATE) -> None:
        self.rate = rate
        self.tokens = float(CHAT_BURST)
        self.at = time.monotonic()

    def wait(self) -> float:
        now = time.monotonic()
        self.tokens = min(CHAT_BURST, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        wait = (1 - self.tokens) / self.rate
        self.tokens -= 1
        return wait


class Sender:
    """Sends due outbox rows, in order within a chat, several chats at once."""

    def __init__(self, bot: ExtBot[None], store: SessionLog, *,
                 settled: Callable[[int | None, int], None] | None = None,
                 worker: str = "sender", lease: float = 15.0, shared_rate: bool = False,
                 chat_rate: float = CHAT_RATE) -> None:
        """:param settled: called with (update id, row id) once a row is sent or failed.
        :param chat_rate: messages a second in one chat after the burst (Telegram's advice;
            tests against a fake server without flood limits go faster).
        :param worker: the name this sender claims rows as, for `lease` seconds.
        :param shared_rate: keep to Telegram's overall rate together with the other workers
            (through the database)."""
        self.bot = bot
        self.shared_rate = shared_rate
        self.store = store
        self.worker, self.lease = worker, lease
        self._settled = settled or (lambda update_id, row_id: None)
        self._wake = asyncio.Event()
        self._busy: set[int] = set()  # chats being sent to now
        self._tasks: set[asyncio.Task[None]] = set()
        self._pace: dict[int, _ChatPace] = {}
        self.chat_rate = chat_rate
        self._unmarked: dict[int, int | None] = {}  # sent, but the database said no: row -> id

    def wake(self) -> None:
        """New replies are queued (safe from the event loop only)."""
        self._wake.set()

    @property
    def busy(self) -> list[int]:
        """The chats being sent to now (their claims are renewed while they are)."""
        return list(self._busy)

    async def run(self, stop: asyncio.Event) -> None:
        """Send until `stop` is set; then wait a moment for the sends under way."""
        while not stop.is_set():
            self._wake.clear()
            delay = await self._round()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=delay)
            except TimeoutError:
                pass
        await self.drain(5.0)

    async def drain(self, timeout: float) -> None:
        """Wait up to `timeout` seconds for the sends under way."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout)

    async def _round(self) -> float:
        """Start sending to each chat with due rows; seconds until the next look."""
        await self._mark_unmarked()
        if len(self._busy) >= PARALLEL_CHATS:
            return 0.05
        try:
            rows = await asyncio.to_thread(self.store.claim_replies, self.worker, self.lease,
                                           limit=200)
        except LogWriteError as exc:
            log.warning("outbox not readable, trying again: %s", exc)
            return 2.0
        by_chat: dict[int, list[Row]] = {}
        for row in rows:
            by_chat.setdefault(row["chat_id"], []).append(row)
        unsent: list[int] = []  # claimed, but not sent now: given back at once
        for chat_id, chat_rows in by_chat.items():
            if chat_id in self._busy or len(self._busy) >= PARALLEL_CHATS:
                unsent += [int(row["id"]) for row in chat_rows]
                continue
            self._busy.add(chat_id)
            task = asyncio.create_task(self._send_chat(chat_id, chat_rows))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        if unsent:
            await self._record(self.store.release_replies, unsent)
        if by_chat and len(self._busy) >= PARALLEL_CHATS:
            return 0.05
        try:
            due = await asyncio.to_thread(self.store.next_reply_due)
        except LogWriteError:
            return 2.0
        if due is None:
            return 30.0
        return min(30.0, max(0.05, (due - datetime.now(UTC)).total_seconds()))

    async def _send_chat(self, chat_id: int, rows: list[Row]) -> None:
        done = 0
        try:
            for row in rows:
                if row["id"] in self._unmarked:
                    done += 1
                    continue
                if not await self._send_row(row):
                    done += 1  # its claim was given back with its next try
                    break  # retried later; the chat's next rows wait behind it
                done += 1
        finally:
            rest = [int(row["id"]) for row in rows[done:]]
            if rest:  # claimed and not sent: another round (or worker) takes them
                await self._record(self.store.release_replies, rest)
            self._busy.discard(chat_id)
            self._wake.set()

    async def _send_row(self, row: Row) -> bool:
        """Send one stored row; True when it is settled (sent or failed for good)."""
        row_id = int(row["id"])
        try:
            await asyncio.to_thread(self.store.begin_send, row_id)
        except LogWriteError as exc:
            log.warning("reply %s not sent yet, the outbox cannot be written: %s", row_id, exc)
            return False
        await self._take_slot()
        try:
            message_id = await self._deliver(row)
        except RetryAfter as exc:
            seconds = retry_after_seconds(exc) + 0.1
            log.info("chat %s: flood limit, reply %s again in %.1f s", row["chat_id"], row_id,
                     seconds)
            return await self._later(row, seconds, f"429 retry after {seconds:.0f} s")
        except (BadRequest, Forbidden) as exc:
            log.error("reply %s to chat %s refused for good: %s", row_id, row["chat_id"], exc)
            await self._record(self.store.mark_failed, row_id, str(exc))
            self._settled(row["update_id"], row_id)
            return True
        except TelegramError as exc:  # 5xx, network, a token that stopped working
            created = datetime.fromisoformat(row["created_at"])
            if (datetime.now(UTC) - created).total_seconds() > GIVE_UP_AFTER:
                await self._record(self.store.mark_failed, row_id, f"gave up: {exc}")
                self._settled(row["update_id"], row_id)
                return True
            seconds = min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** min(int(row["attempts"]), 6))
            seconds *= random.uniform(0.8, 1.2)
            log.warning("reply %s to chat %s failed (%s), again in %.1f s", row_id,
                        row["chat_id"], exc, seconds)
            return await self._later(row, seconds, str(exc))
        if not await self._record(self.store.mark_sent, row_id, message_id):
            self._unmarked[row_id] = message_id  # never sent twice by this process
        self._settled(row["update_id"], row_id)
        return True

    async def _take_slot(self) -> None:
        """Wait for this send's slot of the rate all workers share (when they share one)."""
        if not self.shared_rate:
            return
        try:
            wait = await asyncio.to_thread(self.store.reserve_send, time.time(),
                                           1.0 / SHARED_RATE, SHARED_BURST)
        except LogWriteError as exc:  # this worker's own rate limiter still holds
            log.warning("shared send rate not read, sending anyway: %s", exc)
            return
        if wait > 0:
            await asyncio.sleep(wait)

    async def _later(self, row: Row, seconds: float, error: str) -> bool:
        row["attempts"] = int(row["attempts"]) + 1
        await self._record(self.store.retry_later, int(row["id"]), seconds, error)
        return False

    async def _record(self, write: Callable[..., None], *args: Any) -> bool:
        try:
            await asyncio.to_thread(write, *args)
        except LogWriteError as exc:
            log.error("outbox not updated: %s", exc)
            return False
        return True

    async def _mark_unmarked(self) -> None:
        for row_id, message_id in list(self._unmarked.items()):
            if await self._record(self.store.mark_sent, row_id, message_id):
                del self._unmarked[row_id]

    async def send_unrecorded(self, rows: list[Outgoing]) -> None:
        """Send replies that could not be stored (the database failed), from memory."""
        for reply in rows:
            row: Row = {"chat_id": reply.chat_id, "kind": reply.kind, "payload": reply.payload,
                        "content": reply.content, "key": reply.key}
            for attempt in range(UNRECORDED_TRIES):
                try:
                    await self._deliver(row)
                    break
                except RetryAfter as exc:
                    await asyncio.sleep(retry_after_seconds(exc) + 0.1)
                except (BadRequest, Forbidden) as exc:
                    log.error("unrecorded reply to chat %s refused: %s", reply.chat_id, exc)
                    break
                except TelegramError as exc:
                    log.warning("unrecorded reply to chat %s failed: %s", reply.chat_id, exc)
                    await asyncio.sleep(min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** attempt))
            else:
                log.error("a reply to chat %s was lost: the database and the Bot API failed",
                          reply.chat_id)

    # -- one Bot API call ------------------------------------------------------------------

    async def _deliver(self, row: Row) -> int | None:
        """Send (or edit) one row; the Telegram message id. Raises TelegramError."""
        chat_id, payload = int(row["chat_id"]), row["payload"] or {}
        pace = self._pace.setdefault(chat_id, _ChatPace(self.chat_rate))
        wait = pace.wait()
        if wait:
            await asyncio.sleep(wait)
        if row["kind"] == "document":
            message = await self.bot.send_document(
                chat_id, InputFile(bytes(row["content"] or b""), filename=payload["filename"]),
                caption=payload.get("caption") or None,
                reply_parameters=_reply_parameters(payload))
            return message.message_id
        if row["kind"] == "edit":
            edited = await self._edit(chat_id, payload)
            if edited is not None or payload.get("markup_only"):
                return edited
        return await self._send_text(chat_id, payload)

    async def _send_text(self, chat_id: int, payload: Row) -> int:
        text, markup = payload["text"], _markup(payload)
        try:
            message = await self.bot.send_message(chat_id, text, parse_mode=ParseMode.HTML,
                                                  reply_markup=markup,
                                                  reply_parameters=_reply_parameters(payload))
        except BadRequest as exc:
            if "parse entities" not in str(exc).lower():
                raise
            log.warning("HTML rejected, sending plain text: %s", exc)
            message = await self.bot.send_message(chat_id, render.to_plain(text),
                                                  reply_markup=markup,
                                                  reply_parameters=_reply_parameters(payload))
        return message.message_id

    async def _edit(self, chat_id: int, payload: Row) -> int | None:
        """Edit the message in place; None when it must be sent anew instead."""
        target = payload.get("message_id")
        if target is None and payload.get("edit_key"):
            target = await asyncio.to_thread(self.store.message_for_key, chat_id,
                                             payload["edit_key"])
        if target is None:
            return None
        markup = _markup(payload)
        inline = markup if isinstance(markup, InlineKeyboardMarkup) else None
        try:
            if payload.get("markup_only"):
                await self.bot.edit_message_reply_markup(chat_id=chat_id, message_id=int(target),
                                                         reply_markup=inline)
            else:
                await self.bot.edit_message_text(payload["text"], chat_id=chat_id,
                                                 message_id=int(target),
                                                 parse_mode=ParseMode.HTML, reply_markup=inline)
        except BadRequest as exc:
            reason = str(exc).lower()
            if "not modified" in reason:  # a double tap: the message is already right
                return int(target)
            log.info("message %s not edited (%s)%s", target, exc,
                     "" if payload.get("markup_only") else ", sending it anew")
            return None
        return int(target)
