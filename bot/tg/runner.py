"""The bot's life: start on getMe alone, updates in through the store, one user's updates in
order, replies out through the outbox, the rest of the set-up retried in the background.

Updates come from long polling (`TelegramBot.poll`: an update is stored before the next
getUpdates confirms it to Telegram) or from the webhook (bot/tg/webhook.py: stored before the
200 answer). Each update id is handled once; updates stored but not handled when the process
died are handled at the next start. If the database cannot be written, updates are handled
from memory and replies sent directly, so answers still go out.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from telegram import BotCommand, BotCommandScopeChat, BotCommandScopeDefault, Update
from telegram.error import (
    BadRequest,
    Conflict,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)

from bot.store import LogWriteError, Outgoing, Received
from bot.tg.outbox import Sender, outgoing, retry_after_seconds
from bot.types import ROLES, Reply, Role
from index.errors import Problem

if TYPE_CHECKING:
    from telegram.ext import Application

    from bot.dialogue.engine import Dialogue

log = logging.getLogger(__name__)
POLL_TIMEOUT = 25  # seconds a getUpdates long poll waits for an update
IN_FLIGHT = 200  # updates being handled at once before polling waits
START_TRIES = 5  # getMe attempts (with backoff) before the start is given up
MENU_REFRESH = 60.0  # seconds between checks that each role's command menu is set


def _backoff(attempt: int, first: float = 1.0, cap: float = 30.0) -> float:
    return min(cap, first * 2 ** attempt) * random.uniform(0.8, 1.2)


def _received(update: Update) -> Received:
    user, chat = update.effective_user, update.effective_chat
    return Received(update.update_id, update.to_dict(), user.id if user else None,
                    chat.id if chat else None)


class TelegramBot:
    """The Application with the store between Telegram and the dialogue."""

    def __init__(self, application: Application[Any, Any, Any, Any, Any, Any],
                 dialogue: Dialogue, *, poll_timeout: int = POLL_TIMEOUT,
                 settled: Callable[[int], None] | None = None) -> None:
        """:param settled: called with an update id once it is handled and its replies are
        sent or failed for good (tests wait on it)."""
        self.application = application
        self.dialogue = dialogue
        self.store = dialogue.store
        self.poll_timeout = poll_timeout
        self._on_settled = settled
        self.sender = Sender(application.bot, self.store, settled=self._row_settled)
        self.stopping = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._locks: dict[int, asyncio.Lock] = {}
        self._waiting: dict[int, int] = {}
        self._in_flight = 0
        self._slot = asyncio.Event()
        self._finished: set[int] = set()
        self._open: dict[int, set[int]] = {}  # replies of an update not yet sent or failed
        self._done: set[int] = set()  # updates handled whose replies may still be open
        self._handling: set[int] = set()  # updates being handled now
        self._early: dict[int, set[int]] = {}
        self._menus: dict[int, Role | None] = {}  # what each privileged chat's menu was set to
        application.bot_data.bot = self

    @property
    def bot(self) -> Any:
        return self.application.bot

    # -- start and stop ----------------------------------------------------------------------

    async def start(self) -> None:
        """Check the token (getMe, retried on 5xx and network errors); then start sending,
        load the index and set the menus in the background, and handle what a crash left.

        Raises `Problem` for a token Telegram rejects or a Bot API that stays unreachable.
        """
        for attempt in range(START_TRIES):
            try:
                await self.application.initialize()
                break
            except InvalidToken as exc:
                raise Problem("Telegram rejected the bot token (Unauthorized).",
                              "check PARTNERBOT_TELEGRAM_TOKEN (or the token file) against "
                              "@BotFather's /token") from exc
            except (NetworkError, RetryAfter) as exc:
                if attempt == START_TRIES - 1:
                    url = self.dialogue.settings.telegram_api_url
                    raise Problem(f"Cannot reach the Bot API at {url}: {exc}",
                                  "check the network, or PARTNERBOT_TELEGRAM_API_URL") from exc
                wait = (retry_after_seconds(exc) if isinstance(exc, RetryAfter)
                        else _backoff(attempt))
                log.warning("getMe failed (%s), trying again in %.1f s", exc, wait)
                await asyncio.sleep(wait)
        await self.application.start()
        self.dialogue.ctx.bot_username = self.bot.username
        log.info("started as @%s", self.bot.username)
        self._spawn(self.sender.run(self.stopping))
        self._spawn(self._load_index())
        self._spawn(self._keep_menus())
        await self._recover()

    async def stop(self) -> None:
        """Stop taking updates, finish those under way (10 s at most), flush replies."""
        self.stopping.set()
        self.sender.wake()
        handling = [t for t in self._tasks if t.get_name().startswith("update")]
        if handling:
            await asyncio.wait(handling, timeout=10)
        rest = [t for t in self._tasks if not t.done()]
        for task in rest:
            if not task.get_name().startswith("sender"):
                task.cancel()
        if rest:
            await asyncio.wait(rest, timeout=10)
        await self.application.stop()
        await self.application.shutdown()

    def _spawn(self, work: Any, name: str | None = None) -> asyncio.Task[Any]:
        task = asyncio.create_task(work, name=name or getattr(work, "__name__", "task"))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _load_index(self) -> None:
        try:
            await asyncio.to_thread(self.dialogue.searcher.load)
        except Exception as exc:  # the bot still starts and tells users the index is missing
            log.error("index not loaded at start: %s", exc)

    async def _recover(self) -> None:
        """Handle updates stored but not handled before the last stop (a crash)."""
        try:
            rows = await asyncio.to_thread(self.store.unhandled_updates)
        except LogWriteError as exc:
            log.error("stored updates not read: %s", exc)
            return
        for row in rows:
            if row["raw"] is None:
                continue
            log.info("handling update %s, left from before the restart", row["update_id"])
            self._dispatch(Update.de_json(row["raw"], self.bot))

    # -- background set-up -------------------------------------------------------------------

    async def retry_call(self, what: str, call: Callable[[], Any]) -> None:
        """Run a Bot API call the bot can serve without, retrying with backoff until it
        succeeds or the bot stops (an unknown method is retried every 10 minutes at most)."""
        attempt = 0
        while not self.stopping.is_set():
            try:
                await call()
                if attempt:
                    log.info("%s: done after %d failed attempts", what, attempt)
                return
            except RetryAfter as exc:
                wait = retry_after_seconds(exc)
            except TelegramError as exc:
                wait = _backoff(attempt, cap=600.0)
                level = logging.WARNING if attempt == 0 else logging.INFO
                log.log(level, "%s failed (%s), trying again in %.0f s", what, exc, wait)
            attempt += 1
            try:
                await asyncio.wait_for(self.stopping.wait(), timeout=wait)
            except TimeoutError:
                pass

    def menu(self, role: Role) -> list[BotCommand]:
        return [BotCommand(n, d) for n, d in self.dialogue.commands.menu(role)]

    async def _keep_menus(self) -> None:
        """The default menu (staff) once; then every minute, each trainer's and admin's
        chat-scoped menu set to their role's (and removed when they lose the role)."""
        await self.retry_call("setting the command menu", lambda: self.bot.set_my_commands(
            self.menu("staff"), scope=BotCommandScopeDefault()))
        while not self.stopping.is_set():
            for chat_id, role in await self._menu_changes():
                await self.retry_call(f"setting the menu of {chat_id}",
                                      functools.partial(self._set_menu, chat_id, role))
            try:
                await asyncio.wait_for(self.stopping.wait(), timeout=MENU_REFRESH)
            except TimeoutError:
                pass

    async def _set_menu(self, chat_id: int, role: Role | None) -> None:
        scope = BotCommandScopeChat(chat_id)
        try:
            if role is None:
                await self.bot.delete_my_commands(scope=scope)
            else:
                await self.bot.set_my_commands(self.menu(role), scope=scope)
        except BadRequest as exc:  # the user has not opened a chat with the bot yet
            log.info("menu of %s not set: %s", chat_id, exc)
        self._menus[chat_id] = role

    async def _menu_changes(self) -> list[tuple[int, Role | None]]:
        try:
            users = await asyncio.to_thread(self.store.users)
        except LogWriteError:
            return []
        wanted: dict[int, Role | None] = {
            int(u["id"]): u["role"] for u in users if u["role"] in ROLES[1:]}
        for admin in self.dialogue.settings.admin_ids:
            wanted.setdefault(admin, "admin")
        changes: list[tuple[int, Role | None]] = [
            (c, r) for c, r in wanted.items() if self._menus.get(c, "none") != r]
        changes += [(c, None) for c, r in self._menus.items() if r and c not in wanted]
        return changes

    # -- updates in ---------------------------------------------------------------------------

    async def accept(self, updates: Sequence[Update]) -> int:
        """Store updates (raises nothing), handle the new ones; how many were new."""
        if not updates:
            return 0
        try:
            new = set(await asyncio.to_thread(self.store.receive,
                                              [_received(u) for u in updates]))
        except Exception as exc:  # answered anyway; not kept for a restart
            log.error("updates not stored, handled from memory: %s", exc,
                      exc_info=not isinstance(exc, LogWriteError))
            new = {u.update_id for u in updates}
        for update in updates:
            if update.update_id in new:
                self._dispatch(update)
            else:
                log.info("update %s seen before: not handled again", update.update_id)
        return len(new)

    async def poll(self) -> None:
        """Long-poll getUpdates until stopped; back off as Telegram asks on errors. A webhook
        left from webhook mode is deleted in the background (getUpdates answers 409 until)."""
        self._spawn(self.retry_call("deleting the webhook", lambda: self.bot.delete_webhook()),
                    name="delete webhook")
        try:
            offset = await asyncio.to_thread(self.store.next_update_offset)
        except LogWriteError:
            offset = None
        failures = 0
        while not self.stopping.is_set():
            while self._in_flight >= IN_FLIGHT and not self.stopping.is_set():
                self._slot.clear()
                await self._slot.wait()
            try:
                updates = await self.bot.get_updates(
                    offset=offset, timeout=self.poll_timeout, read_timeout=self.poll_timeout + 10,
                    allowed_updates=Update.ALL_TYPES)
            except RetryAfter as exc:
                await self._pause(retry_after_seconds(exc), "getUpdates: flood limit")
                continue
            except InvalidToken as exc:
                failures += 1
                await self._pause(_backoff(failures, cap=300.0),
                                  f"getUpdates: the token was rejected ({exc})", logging.ERROR)
                continue
            except Conflict as exc:
                failures += 1
                await self._pause(_backoff(failures), f"getUpdates: {exc}")
                continue
            except TelegramError as exc:  # 5xx, network
                failures += 1
                await self._pause(_backoff(failures), f"getUpdates failed: {exc}")
                continue
            failures = 0
            if updates:
                offset = max(u.update_id for u in updates) + 1
                await self.accept(updates)

    async def _pause(self, seconds: float, why: str, level: int = logging.WARNING) -> None:
        log.log(level, "%s; polling again in %.1f s", why, seconds)
        try:
            await asyncio.wait_for(self.stopping.wait(), timeout=seconds)
        except TimeoutError:
            pass

    def _dispatch(self, update: Update) -> None:
        user, chat = update.effective_user, update.effective_chat
        key = user.id if user else chat.id if chat else -update.update_id
        self._in_flight += 1
        self._waiting[key] = self._waiting.get(key, 0) + 1
        self._spawn(self._in_order(key, update), name=f"update {update.update_id}")

    async def _in_order(self, key: int, update: Update) -> None:
        """Handle the update after the same user's earlier ones (asyncio.Lock is FIFO)."""
        lock = self._locks.setdefault(key, asyncio.Lock())
        try:
            async with lock:
                await self._handle(update)
        finally:
            self._waiting[key] -= 1
            if not self._waiting[key]:
                del self._waiting[key]
                self._locks.pop(key, None)
            self._in_flight -= 1
            self._slot.set()

    async def _handle(self, update: Update) -> None:
        update_id = update.update_id
        self._handling.add(update_id)
        try:
            await self.application.process_update(update)
        except Exception:  # process_update hands handler errors to the error handler
            log.exception("update %s could not be handled", update_id)
        try:
            if update_id not in self._finished:
                await self.reply(update, [])
        finally:
            self._finished.discard(update_id)
            self._handling.discard(update_id)
            self._early.pop(update_id, None)
        user, chat = update.effective_user, update.effective_chat
        if user is not None and chat is not None and chat.id == user.id:
            await self._check_menu(user.id)

    async def _check_menu(self, user_id: int) -> None:
        """Bring a user's chat menu up to date with their role (after /allow, say)."""
        try:
            role = await asyncio.to_thread(self.store.role, user_id)
        except LogWriteError:
            return
        if user_id in self.dialogue.settings.admin_ids:
            role = "admin"
        wanted: Role | None = role if role in ROLES[1:] else None  # type: ignore[assignment]
        if self._menus.get(user_id, None) != wanted:
            self._menus[user_id] = wanted  # set once; a failure is retried by _keep_menus
            self._spawn(self._menu_once(user_id, wanted), name="menu")

    async def _menu_once(self, chat_id: int, role: Role | None) -> None:
        try:
            await self._set_menu(chat_id, role)
        except TelegramError as exc:
            log.info("menu of %s not set now (%s); the next refresh tries again", chat_id, exc)
            self._menus.pop(chat_id, None)

    # -- replies out --------------------------------------------------------------------------

    async def reply(self, update: Update, replies: Sequence[Reply], *,
                    pressed: int | None = None, thread: int | None = None) -> None:
        """Queue the replies of an update and mark it handled (one transaction); when the
        database fails, send them from memory."""
        chat = update.effective_chat
        rows: list[Outgoing] = []
        for reply in replies:
            if reply.to is None and chat is None:
                continue
            rows += outgoing(reply, chat_id=chat.id if chat else 0, pressed=pressed,
                             thread=thread)
        await self.queue(update.update_id, rows)
        self._finished.add(update.update_id)

    async def queue(self, update_id: int | None, rows: list[Outgoing], *,
                    handled: bool = True) -> None:
        """Queue rows of an update, marking it handled unless `handled` is False (progress
        while it is being handled)."""
        try:
            ids = await asyncio.to_thread(self.store.finish_update, update_id, rows,
                                          handled=handled)
        except LogWriteError as exc:
            log.error("replies not stored, sending them directly: %s", exc)
            await self.sender.send_unrecorded(rows)
            ids = []
        if update_id is not None:
            early = self._early.pop(update_id, set())  # settled before we got here
            self._open.setdefault(update_id, set()).update(set(ids) - early)
            if handled:
                self._done.add(update_id)
                self._maybe_settled(update_id)
        self.sender.wake()

    def _row_settled(self, update_id: int | None, row_id: int) -> None:
        if update_id is None:
            return
        if update_id in self._open:
            self._open[update_id].discard(row_id)
            self._maybe_settled(update_id)
        elif update_id in self._handling:
            self._early.setdefault(update_id, set()).add(row_id)

    def _maybe_settled(self, update_id: int) -> None:
        """Tell `settled` once the update is handled and none of its replies is pending."""
        if update_id not in self._done or self._open.get(update_id):
            return
        self._done.discard(update_id)
        self._open.pop(update_id, None)
        if self._on_settled is not None:
            self._on_settled(update_id)

