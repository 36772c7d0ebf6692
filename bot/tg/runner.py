"""The bot's life: start on getMe alone, updates in through the store, one user's updates in
order, replies out through the outbox, the rest of the set-up retried in the background.

Updates come from long polling (`TelegramBot.poll`: an update is stored before the next
getUpdates confirms it to Telegram) or from the webhook (bot/tg/webhook.py: stored before the
200 answer). Each update id is handled once. One user's updates are handled in order by one
worker at a time, also when several workers (webhook mode, on PostgreSQL) share the database:
a worker that stored an update drains its user's queue while it holds the queue's claim
(bot/store/delivery.py), oldest update first; another worker's update for the same user is
handled by whoever holds the claim. Claims are leases renewed every HEARTBEAT seconds; every
worker looks as often for queues whose claim lapsed (a worker killed) or that nobody claimed
(a worker killed between storing and claiming), and handles them: updates stored but not
handled when a process died are handled by another worker within LEASE seconds, or at once
by the same worker when it starts again. If the database cannot be written, updates are
handled from memory and replies sent directly, so answers still go out.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import socket
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

from bot import i18n
from bot.index_replica import IndexReplica
from bot.store import LogWriteError, Outgoing, Received
from bot.store.sql import POSTGRESQL
from bot.tg.menus import Menu, chat_menu, menu_changes
from bot.tg.outbox import CHAT_RATE, Sender, outgoing, retry_after_seconds
from bot.types import Reply, Role
from index.errors import IndexBusy, IndexProblem, Problem

if TYPE_CHECKING:
    from telegram.ext import Application

    from bot.dialogue.engine import Dialogue

log = logging.getLogger(__name__)
POLL_TIMEOUT = 25  # seconds a getUpdates long poll waits for an update
IN_FLIGHT = 200  # updates being handled at once before polling waits
START_TRIES = 5  # getMe attempts (with backoff) before the start is given up
MENU_REFRESH = 60.0  # seconds between checks that each role's command menu is set
LEASE = 15.0  # seconds a worker's claim lives unless renewed (then another worker takes over)
HEARTBEAT = 3.0  # seconds between renewals of the claims, and looks for abandoned updates
RECOVER_AFTER = 1.0  # an unclaimed update this old is taken by any worker
INDEX_SYNC = 3.0  # seconds between looks at the index version published to every worker


def _backoff(attempt: int, first: float = 1.0, cap: float = 30.0) -> float:
    return min(cap, first * 2 ** attempt) * random.uniform(0.8, 1.2)


def worker_name(port: int | None = None) -> str:
    """This worker's name in claims: the host and the webhook port (or "polling"), the same
    across restarts, so a restarted worker takes back its own claims at once; two workers
    never share one (they cannot listen on one host's port)."""
    return f"{socket.gethostname()}:{port if port is not None else 'polling'}"


def _key(update: Update) -> int:
    """The queue an update is handled in: its user, else its chat, else itself."""
    user, chat = update.effective_user, update.effective_chat
    return user.id if user else chat.id if chat else -update.update_id


def _received(update: Update) -> Received:
    user, chat = update.effective_user, update.effective_chat
    return Received(update.update_id, update.to_dict(), user.id if user else None,
                    chat.id if chat else None)


class TelegramBot:
    """The Application with the store between Telegram and the dialogue."""

    def __init__(self, application: Application[Any, Any, Any, Any, Any, Any],
                 dialogue: Dialogue, *, poll_timeout: int = POLL_TIMEOUT,
                 settled: Callable[[int], None] | None = None, worker: str | None = None,
                 lease: float = LEASE, heartbeat: float = HEARTBEAT,
                 chat_rate: float = CHAT_RATE) -> None:
        """:param settled: called with an update id once it is handled and its replies are
        sent or failed for good (tests wait on it).
        :param worker: this worker's name in claims (default: `worker_name()`).
        :param lease: seconds its claims live unless renewed; renewed every `heartbeat`.
        :param chat_rate: messages a second the outbox sends in one chat after a burst."""
        self.application = application
        self.dialogue = dialogue
        self.store = dialogue.store
        self.poll_timeout = poll_timeout
        self._on_settled = settled
        self.worker = worker or worker_name()
        self.lease, self.heartbeat = lease, heartbeat
        self.sender = Sender(application.bot, self.store, settled=self._row_settled,
                             worker=self.worker, lease=lease,
                             shared_rate=self.store.dialect == POSTGRESQL, chat_rate=chat_rate)
        self._cached: dict[int, tuple[int, Update]] = {}  # stored by us, not handled: id -> key
        self._drainers: dict[int, asyncio.Task[Any]] = {}  # queues this worker drains now
        self._unfinished: set[int] = set()  # handled, but not marked so (the database failed)
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
        self._menus: dict[int, Menu | None] = {}  # what each chat's own menu was set to
        self.replica: IndexReplica | None = None  # several workers: the index kept in step
        self._index_problem: str | None = None
        if self.store.dialect == POSTGRESQL:
            settings = dialogue.settings
            embedder = getattr(dialogue.searcher, "embedder", None)
            self.replica = IndexReplica(self.store, settings.index_dir,
                                        str(getattr(embedder, "model_id", settings.model)),
                                        self.worker, keep=settings.keep_versions)
        application.bot_data.bot = self

    @property
    def bot(self) -> Any:
        return self.application.bot

    # -- start and stop ----------------------------------------------------------------------

    async def start(self) -> None:
        """Check the token (getMe, retried on 5xx and network errors); on PostgreSQL take the
        index version the other workers serve (bot/index_replica.py); then start sending,
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
        log.info("started as @%s (worker %s)", self.bot.username, self.worker)
        try:  # claims left by this worker before a crash: its own again at once
            await asyncio.to_thread(self.store.release_claims, self.worker)
        except LogWriteError as exc:
            log.error("claims of the last run not released: %s", exc)
        if self.replica is not None:  # the version the other workers serve, before any
            await self._sync_index()  # question: a new node has none of its own
        self._spawn(self.sender.run(self.stopping))
        self._spawn(self._load_index())
        self._spawn(self._keep_menus())
        self._spawn(self._keep_claims(), name="claims")
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
        try:  # what is left is for the other workers (or the next start), at once
            await asyncio.to_thread(self.store.release_claims, self.worker)
        except LogWriteError as exc:
            log.warning("claims not released (they expire in %.0f s): %s", self.lease, exc)
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
        if self.replica is not None:
            self._spawn(self._keep_index(), name="index sync")

    async def _keep_index(self) -> None:
        """Every INDEX_SYNC seconds: publish a version built here, or receive the one
        published elsewhere (bot/index_replica.py); the searcher switches to a received one
        at its next question."""
        while not self.stopping.is_set():
            try:
                await asyncio.wait_for(self.stopping.wait(), timeout=INDEX_SYNC)
                return
            except TimeoutError:
                pass
            await self._sync_index()

    async def _sync_index(self) -> None:
        assert self.replica is not None
        try:
            done = await asyncio.to_thread(self.replica.sync)
        except IndexBusy:
            return  # a build runs here: its version is published once it is live
        except (IndexProblem, LogWriteError, OSError) as exc:
            if str(exc) != self._index_problem:  # once per problem, not every few seconds
                log.warning("index not synchronised with the other workers: %s", exc)
            self._index_problem = str(exc)
            return
        self._index_problem = None
        if done.action:
            log.info("index version %s %s", done.version, done.action)

    async def _recover(self, older_than: float = 0.0) -> None:
        """Handle updates stored but not handled that no live worker has claimed: left by a
        crash before this start, by a worker killed since, or stored by one that died before
        it claimed them."""
        try:
            keys = await asyncio.to_thread(self.store.orphaned_keys, self.worker,
                                           older_than=older_than)
        except LogWriteError as exc:
            log.error("stored updates not read: %s", exc)
            return
        for key in keys:
            if key not in self._drainers:
                log.info("handling the updates of queue %s left unhandled", key)
                self._drain_soon(key)

    async def _keep_claims(self) -> None:
        """Every `heartbeat` seconds: mark handled what was answered while the database
        failed, renew this worker's claims, and take over abandoned updates."""
        while not self.stopping.is_set():
            try:
                await asyncio.wait_for(self.stopping.wait(), timeout=self.heartbeat)
                return
            except TimeoutError:
                pass
            try:
                if self._unfinished:
                    done = list(self._unfinished)
                    await asyncio.to_thread(self.store.mark_handled, done)
                    self._unfinished.difference_update(done)
                await asyncio.to_thread(self.store.renew_claims, self.worker, self.lease,
                                        keys=list(self._drainers), chats=self.sender.busy)
            except LogWriteError as exc:
                log.warning("claims not renewed: %s", exc)
                continue
            await self._recover(RECOVER_AFTER)

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

    def menu(self, role: Role, language: str = i18n.SOURCE_LANGUAGE) -> list[BotCommand]:
        with i18n.speaking(language):
            return [BotCommand(n, i18n.translate(d)) for n, d in self.dialogue.commands.menu(role)]

    async def _keep_menus(self) -> None:
        """The default menu (staff) once, in English and for French and Spanish Telegram apps
        (`language_code`); then every minute, the chat-scoped menu of each trainer, admin and
        user who chose a language with /language (removed when no longer needed)."""
        for language in i18n.LANGUAGES:
            code = None if language == i18n.SOURCE_LANGUAGE else language
            await self.retry_call(f"setting the command menu ({language})", functools.partial(
                self.bot.set_my_commands, self.menu("staff", language),
                scope=BotCommandScopeDefault(), language_code=code))
        while not self.stopping.is_set():
            for chat_id, menu in await self._menu_changes():
                await self.retry_call(f"setting the menu of {chat_id}",
                                      functools.partial(self._set_menu, chat_id, menu))
            try:
                await asyncio.wait_for(self.stopping.wait(), timeout=MENU_REFRESH)
            except TimeoutError:
                pass

    async def _set_menu(self, chat_id: int, menu: Menu | None) -> None:
        scope = BotCommandScopeChat(chat_id)
        try:
            if menu is None:
                await self.bot.delete_my_commands(scope=scope)
            else:
                await self.bot.set_my_commands(self.menu(*menu), scope=scope)
        except BadRequest as exc:  # the user has not opened a chat with the bot yet
            log.info("menu of %s not set: %s", chat_id, exc)
        self._menus[chat_id] = menu

    async def _menu_changes(self) -> list[tuple[int, Menu | None]]:
        try:
            users = await asyncio.to_thread(self.store.users)
        except LogWriteError:
            return []
        return menu_changes(users, self.dialogue.settings.admin_ids, self._menus)

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
            for update in updates:
                self._dispatch(update)
            return len(updates)
        for update in updates:
            if update.update_id in new:
                key = _key(update)
                self._cached[update.update_id] = (key, update)
                self._in_flight += 1
                self._drain_soon(key)
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

    # -- one user's updates in order, one worker at a time -----------------------------------

    def _drain_soon(self, key: int) -> None:
        """Have this worker drain the queue, unless it does already (the running drain sees
        what was stored before it lets the queue go)."""
        if key not in self._drainers and not self.stopping.is_set():
            self._drainers[key] = self._spawn(self._drain(key), name=f"update queue {key}")

    def _take(self, update_id: int) -> Update | None:
        """The update as this worker received it, if it did (and its in-flight slot back)."""
        entry = self._cached.pop(update_id, None)
        if entry is None:
            return None
        self._in_flight -= 1
        self._slot.set()
        return entry[1]

    def _cached_of(self, key: int) -> list[int]:
        return sorted(uid for uid, (k, _) in self._cached.items() if k == key)

    async def _drain(self, key: int) -> None:
        lock = self._locks.setdefault(key, asyncio.Lock())
        try:
            async with lock:  # updates handled from memory for this user wait, and vice versa
                await self._drain_claimed(key)
        finally:
            self._drainers.pop(key, None)
            if not self._waiting.get(key) and not lock.locked():
                self._locks.pop(key, None)
            if self._cached_of(key) and not self.stopping.is_set():
                self._drain_soon(key)  # stored while the queue was being let go

    async def _drain_claimed(self, key: int) -> None:
        """Claim the queue and handle its updates oldest first until none is left."""
        store = self.store
        try:
            if not await asyncio.to_thread(store.claim_updates, key, self.worker, self.lease):
                for update_id in self._cached_of(key):  # the claim holder handles them
                    self._take(update_id)
                return
        except LogWriteError as exc:
            log.error("queue %s not claimed, handling its updates from memory: %s", key, exc)
            await self._from_memory(key)
            return
        while True:
            try:
                row = await asyncio.to_thread(store.next_update, key)
                if row is None:
                    if await asyncio.to_thread(store.release_updates, key, self.worker):
                        return
                    continue
                update_id = int(row["update_id"])
                if update_id in self._unfinished or row["raw"] is None:
                    await asyncio.to_thread(store.mark_handled, [update_id])  # answered
                    self._unfinished.discard(update_id)
                    self._take(update_id)
                    continue
            except LogWriteError as exc:  # the claim lapses; handled from memory meanwhile
                log.error("queue %s not read: %s", key, exc)
                await self._from_memory(key)
                return
            update = self._take(update_id)
            if update is None:
                log.info("handling update %s, left unhandled by a stopped worker", update_id)
                update = Update.de_json(row["raw"], self.bot)
            await self._handle(update)

    async def _from_memory(self, key: int) -> None:
        """Handle the updates of the queue this worker holds (the database failed)."""
        for update_id in self._cached_of(key):
            update = self._take(update_id)
            if update is not None:
                await self._handle(update)

    def _dispatch(self, update: Update) -> None:
        """Handle an update that could not be stored, after the same user's earlier ones."""
        key = _key(update)
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
            await self._check_menu(user.id, user.language_code)

    async def _check_menu(self, user_id: int, telegram_language: str | None = None) -> None:
        """Bring a user's chat menu up to date with their role (after /allow, say) and their
        language (after /language)."""
        try:
            role = await asyncio.to_thread(self.store.role, user_id)
            chosen = await asyncio.to_thread(self.store.chosen_language, user_id)
        except LogWriteError:
            return
        if user_id in self.dialogue.settings.admin_ids:
            role = "admin"
        wanted = chat_menu(role, chosen, telegram_language)
        if self._menus.get(user_id, None) != wanted:
            self._menus[user_id] = wanted  # set once; a failure is retried by _keep_menus
            self._spawn(self._menu_once(user_id, wanted), name="menu")

    async def _menu_once(self, chat_id: int, menu: Menu | None) -> None:
        try:
            await self._set_menu(chat_id, menu)
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
            if update_id is not None and handled:
                self._unfinished.add(update_id)  # marked handled when the database is back
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

