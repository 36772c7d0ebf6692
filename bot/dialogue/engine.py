"""The one dialogue engine every front uses: `handle(user, event) -> list[Reply]`.

Pure core: no Telegram. Fronts translate their input into events and send the replies.
Everything that arrives is logged first, including what the bot cannot handle. Commands come
from one registry (bot/dialogue/commands.py), buttons go to the flow that owns their prefix,
free text to the first flow that takes it (the questions flow, last, answers it). A domain
error (`index.errors.Problem`) is turned into a message here, once.

Each turn speaks one language (bot/i18n.py): the user's `/language` choice, else Telegram's
`language_code`, else English; the questions flow then answers a question in its own language
when it is clearly English, French or Spanish and the user chose none. `/language` and its
buttons (`l:<en|fr|es|auto>`) are the engine's own, like /start, /help and /cancel.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot import i18n, render, texts
from bot.dialogue.commands import Commands
from bot.dialogue.flow import CommandSpec, Context, Flow, Turn
from bot.store import LogWriteError
from bot.types import (
    Button,
    Command,
    Event,
    Notify,
    Press,
    Reply,
    Text,
    Unsupported,
    Upload,
    User,
)
from index.errors import IndexCorrupt, IndexMissing, Problem

if TYPE_CHECKING:
    from bot.settings import Settings
    from bot.store import SessionLog
    from index.search import Searcher

log = logging.getLogger(__name__)
LANGUAGE_PREFIX = "l"  # l:<language> or l:auto, the buttons of /language
AUTOMATIC = ("auto", "automatic", "automatique", "automático", "automatico")


def _no_notify(reply: Reply) -> None:
    """Where there is no front to send progress to (the CLI, tests), progress is dropped."""


@dataclass
class Dialogue:
    """Routes events to the flows and logs every exchange."""

    ctx: Context
    flows: Sequence[Flow]
    commands: Commands = field(init=False)
    _retention_applied: float | None = field(default=None, init=False)
    _index_alerted: str | None = field(default=None, init=False)  # admins told of this problem

    def __post_init__(self) -> None:
        core = [
            CommandSpec("start", texts.SUMMARY_START, self._start, group=True),
            CommandSpec("help", texts.SUMMARY_HELP, self._help, group=True),
            CommandSpec("cancel", texts.SUMMARY_CANCEL, self._cancel, group=True),
            CommandSpec("language", texts.SUMMARY_LANGUAGE, self._language,
                        usage=texts.USAGE_LANGUAGE, group=True),
        ]
        self.commands = Commands([*core, *(c for f in self.flows for c in f.commands())])
        owners: dict[str, Flow] = {}
        for flow in self.flows:
            for prefix in flow.prefixes:
                if prefix in owners or prefix == LANGUAGE_PREFIX:
                    raise ValueError(f"two flows own the button prefix {prefix!r}")
                owners[prefix] = flow
        self._press_owner = owners
        self._pending_owner = {kind: flow for flow in self.flows for kind in flow.pending_kinds}
        i18n.load()  # the catalogs are read at start, not at the first French message

    @property
    def settings(self) -> Settings:
        return self.ctx.settings

    @property
    def searcher(self) -> Searcher:
        return self.ctx.searcher

    @property
    def store(self) -> SessionLog:
        return self.ctx.store

    # ---- entry point -------------------------------------------------------------------

    def handle(self, user: User, event: Event, notify: Notify | None = None) -> list[Reply]:
        """Log the event, answer it in the user's language, log the replies; never raises on
        user input."""
        chosen = self._chosen_language(user.id)
        token = i18n.use(i18n.choose(chosen=chosen, telegram=user.language))
        try:
            return self._handle(user, event, notify, chosen)
        finally:
            i18n.reset(token)

    def _chosen_language(self, user_id: int) -> str | None:
        """The language a user chose with /language (None: automatic, or the store cannot
        tell)."""
        try:
            return self.ctx.store.chosen_language(user_id)
        except LogWriteError:
            return None

    def _handle(self, user: User, event: Event, notify: Notify | None,
                chosen: str | None) -> list[Reply]:
        started = time.perf_counter()
        turn = Turn(self.ctx, user, notify or _no_notify, chosen_language=chosen)
        store = self.ctx.store
        recovered = store.recover()
        self._apply_retention(turn)
        turn.message_id = self._log_incoming(turn, event)
        try:
            replies = self._route(turn, event)
        except IndexMissing:
            replies = [Reply(texts.INDEX_MISSING)]
        except IndexCorrupt as exc:  # every version damaged: users get a plain message
            log.error("no usable index: %s", exc)
            replies = [Reply(texts.INDEX_UNAVAILABLE)]
            if self._index_alerted != exc.message:
                self._index_alerted = exc.message
                turn.failures.append(exc.message)
        except LogWriteError as exc:  # state that could not be saved: nothing was kept
            log.error("could not save while handling %s: %s", type(event).__name__, exc)
            replies = [Reply(texts.NOT_SAVED)]
            if store.incident_opened():
                turn.failures.append(exc.message)
        except Problem as exc:
            log.warning("problem while handling %s: %s", type(event).__name__, exc)
            replies = [Reply(render.problem(exc))]
        latency = (time.perf_counter() - started) * 1000
        for reply in replies:
            if reply.html and reply.to is None:
                turn.log("log_outgoing", chat_id=user.chat_id, user_id=user.id,
                         reply_to=turn.message_id, text=reply.html, latency_ms=latency,
                         front=self.ctx.front)
        if turn.failures:
            template = ("INDEX_BROKEN_ADMIN" if turn.failures[0] == self._index_alerted
                        else "LOG_FAILED_ADMIN")
            replies = replies + self._admin_alerts(template, turn.failures[0])
        elif recovered:
            replies = replies + self._admin_alerts("LOG_RECOVERED_ADMIN", str(recovered))
        return replies

    def log_only(self, user: User | None, *, kind: str, text: str | None, update_id: int | None,
                 raw: dict[str, object] | None) -> list[Reply]:
        """Log something nobody is answered for (group chatter, a channel post, a command for
        another bot); the replies are admin alerts when the log failed or recovered."""
        store = self.ctx.store
        recovered = store.recover()
        _, alert = store.keep(
            "log_incoming", user_id=user.id if user else None,
            chat_id=user.chat_id if user else None, chat_type=user.chat_type if user else None,
            kind=kind, text=text, update_id=update_id, raw=raw, front=self.ctx.front)
        if alert is not None:
            return self._admin_alerts("LOG_FAILED_ADMIN", alert)
        if recovered:
            return self._admin_alerts("LOG_RECOVERED_ADMIN", str(recovered))
        return []

    def _apply_retention(self, turn: Turn) -> None:
        """Blank texts older than the retention period, at most once a day."""
        days = self.ctx.settings.retention_days
        last = self._retention_applied
        if days is None or (last is not None and time.monotonic() - last < 86_400):
            return
        self._retention_applied = time.monotonic()
        turn.safe(self.ctx.store.apply_retention, days)

    def _admin_alerts(self, template: str, reason: str) -> list[Reply]:
        """The text `template` (a name in bot/texts.py) to every admin, in their language."""
        alerts = []
        for admin in sorted(self.ctx.settings.admin_ids):
            alert = i18n.text_in(template, self.ctx.language_of(admin)).format(
                reason=render.esc(reason))
            alerts.append(Reply(alert, to=admin))
        return alerts

    def _log_incoming(self, turn: Turn, event: Event) -> int | None:
        user = turn.user
        turn.log("touch_user", user_id=user.id, username=user.username,
                 first_name=user.first_name, language=user.language)
        raw = None
        if isinstance(event, Text):
            kind, text = "text", event.text
        elif isinstance(event, Command):
            spec = self.commands.get(event.name.lower())
            args = "‹hidden›" if spec and spec.secret_args and event.args.strip() else event.args
            kind, text = "command", f"/{event.name} {args}".strip()
        elif isinstance(event, Press):
            kind, text = "callback", event.data
        elif isinstance(event, Upload):
            kind, text = "document", event.filename
        else:
            kind, text, raw = event.kind, None, event.raw
        return turn.log("log_incoming", user_id=user.id, chat_id=user.chat_id,  # type: ignore[no-any-return]
                        chat_type=user.chat_type, kind=kind, text=text, raw=raw,
                        front=self.ctx.front)

    # ---- routing -----------------------------------------------------------------------

    def _route(self, turn: Turn, event: Event) -> list[Reply]:
        if turn.role is None:
            spec = self.commands.get(event.name.lower()) if isinstance(event, Command) else None
            if spec is not None and spec.role is None and isinstance(event, Command):
                return spec.handler(turn, event.args)
            template = (texts.NOT_ALLOWED_WITH_CODE if self.ctx.settings.join_code
                        else texts.NOT_ALLOWED)
            return [Reply(template.format(user_id=turn.user.id))]
        if isinstance(event, Unsupported):
            if event.kind == "edited_message":
                return [Reply(texts.EDITED)]
            kind = texts.MESSAGE_KINDS.get(event.kind, event.kind.replace("_", " "))
            return [Reply(texts.UNSUPPORTED.format(kind=render.esc(kind)))]
        if isinstance(event, Command):
            return self._command(turn, event)
        if isinstance(event, Press):
            prefix, _, rest = event.data.partition(":")
            if prefix == LANGUAGE_PREFIX:
                return self._language_pressed(turn, rest)
            owner = self._press_owner.get(prefix)
            if owner is None or not (turn.user.private or owner.groups):
                return [Reply(texts.STALE_BUTTON, notice=texts.STALE_BUTTON)]
            return owner.on_press(turn, prefix, rest)
        if isinstance(event, Upload):  # to the flow that takes files (admins add documents)
            for flow in self.flows:
                on_upload = getattr(flow, "on_upload", None)
                if on_upload is not None:
                    taken: list[Reply] = on_upload(turn, event)
                    return taken
            return [Reply(texts.UNSUPPORTED.format(kind=texts.MESSAGE_KINDS["document"]))]
        for flow in self.flows:
            if not (turn.user.private or flow.groups):
                continue  # in a group only questions are answered; runs stay private
            replies = flow.on_text(turn, event)
            if replies is not None:
                return replies + turn.after
        return [Reply(texts.NO_FLOW), *turn.after]

    def _command(self, turn: Turn, event: Command) -> list[Reply]:
        spec = self.commands.get(event.name.lower())
        if spec is None:
            meant = self.commands.closest(event.name, turn.role)
            if meant is not None:
                return [Reply(texts.UNKNOWN_COMMAND_MEANT.format(
                    command=render.esc(event.name), meant=meant))]
            return [Reply(texts.UNKNOWN_COMMAND.format(command=render.esc(event.name)))]
        if not self.commands.usable(spec, turn.role):
            template = texts.ADMIN_ONLY if spec.role == "admin" else texts.TRAINER_ONLY
            return [Reply(template.format(command=render.esc(spec.name)))]
        if not turn.user.private and not spec.group:
            return [Reply(self._private_only(spec.name))]
        return spec.handler(turn, event.args)

    def _private_only(self, command: str) -> str:
        """In a group: what is private (runs, admin and trainer output) is asked in private."""
        name = self.ctx.bot_username
        where = texts.PRIVATE_LINK.format(username=render.esc(name)) if name else ""
        return texts.PRIVATE_ONLY.format(command=render.esc(command), where=where)

    # ---- the core commands -------------------------------------------------------------

    def _start(self, turn: Turn, args: str) -> list[Reply]:
        """`/start` welcomes; `/start <payload>` (a deep link) goes to the flow that owns it."""
        if args and not turn.user.private:  # a deep link opens private things: not here
            return [Reply(self._private_only("start"))]
        if args:
            for flow in self.flows:
                replies = flow.on_start(turn, args)
                if replies is not None:
                    return replies
        return [Reply(texts.WELCOME)]

    def _help(self, turn: Turn, args: str) -> list[Reply]:
        """`/help`: how to ask, and every command the user may use."""
        return [Reply(render.help_message(self.commands.by_role(), turn.role))]

    def _cancel(self, turn: Turn, args: str) -> list[Reply]:
        """`/cancel`: stop waiting for the newest pending thing in this chat, and say what."""
        store, user = self.ctx.store, turn.user
        for row in store.pending(user.id, user.chat_id):
            owner = self._pending_owner.get(row["kind"])
            what = owner.on_cancel(turn, row["kind"]) if owner is not None else None
            if what is None:
                store.drop_pending(user.id, user.chat_id, row["kind"])
                continue
            return [Reply(texts.CANCELLED.format(what=what))]
        if store.active_run(user.id) is not None:
            return [Reply(texts.NOTHING_TO_CANCEL_RUN)]
        return [Reply(texts.NOTHING_TO_CANCEL)]

    # ---- /language -------------------------------------------------------------------------

    def _language(self, turn: Turn, args: str) -> list[Reply]:
        """`/language`: the language I answer in, with a button for each; `/language fr`
        (es, en, auto) chooses it, remembered in the store."""
        given = args.strip()
        if not given:
            return [self._language_menu(turn)]
        if given.lower() in AUTOMATIC:
            return [self._choose_language(turn, None)]
        language = i18n.parse_choice(given)
        if language is None:
            return [Reply(texts.LANGUAGE_UNKNOWN.format(given=render.esc(given[:40])))]
        return [self._choose_language(turn, language)]

    def _language_menu(self, turn: Turn) -> Reply:
        chosen = turn.chosen_language
        template = texts.LANGUAGE_CHOSEN_NOW if chosen else texts.LANGUAGE_AUTO_NOW
        mark = "✔ "
        row = tuple(Button((mark if language == chosen else "") + i18n.NAMES[language],
                           f"{LANGUAGE_PREFIX}:{language}") for language in i18n.LANGUAGES)
        auto = Button(("" if chosen else mark) + texts.LANGUAGE_AUTO, f"{LANGUAGE_PREFIX}:auto")
        return Reply(template.format(name=texts.LANGUAGE_NAMES[i18n.current()]), (row, (auto,)))

    def _choose_language(self, turn: Turn, language: str | None, *, edit: bool = False
                         ) -> Reply:
        """Remember the choice (None: automatic) and say so, in the language now spoken."""
        turn.ctx.store.set_language(turn.user.id, language)
        turn.chosen_language = language
        i18n.use(language or i18n.choose(chosen=None, telegram=turn.user.language))
        done = texts.LANGUAGE_SET if language else texts.LANGUAGE_AUTO_SET
        return Reply(done, edit=edit, notice=i18n.NAMES[i18n.current()] if edit else None)

    def _language_pressed(self, turn: Turn, rest: str) -> list[Reply]:
        if rest == "auto":
            return [self._choose_language(turn, None, edit=True)]
        if rest not in i18n.LANGUAGES:
            return [Reply(texts.STALE_BUTTON, notice=texts.STALE_BUTTON)]
        return [self._choose_language(turn, rest, edit=True)]
