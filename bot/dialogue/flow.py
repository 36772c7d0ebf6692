"""What a flow is, and what it may use.

A flow (questions and answers, checklists, admin) owns some commands and some button
prefixes, and may take free text, `/cancel` and a `/start` payload. Flows are passed to the
dialogue when it is built (bot/app.py); the dialogue routes each event to the flow that owns
it. Everything a flow waits for lives in the store (`Context.store`, pending state), never in
the flow object.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from bot.types import Notify, Reply, Role, Text, User, role_at_least

if TYPE_CHECKING:
    from bot.settings import Settings
    from bot.store import SessionLog
    from index.search import Searcher

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class Context:
    """What flows work with: the settings, the searcher over the live index, the store."""

    settings: Settings
    searcher: Searcher
    store: SessionLog
    front: str = "telegram"  # "telegram" or "cli" (the terminal chat)
    bot_username: str | None = None  # the Telegram bot's @username, once known (for links)
    local_role: Role | None = None  # the terminal chat's operator has this role

    def role(self, user: User) -> Role | None:
        """The user's role, or None without access (an open pilot makes everyone staff,
        unless an admin revoked them)."""
        if self.local_role is not None:
            return self.local_role
        role = self.store.role(user.id)
        if role is None and self.settings.open_pilot and not self.store.revoked(user.id):
            return "staff"
        return role  # type: ignore[return-value]

    def allowed(self, user: User, needed: Role) -> bool:
        return role_at_least(self.role(user), needed)

    def language_of(self, user_id: int) -> str:
        """The language to write to a user in outside their own turn (an alert, an approval):
        their /language choice, else their Telegram app's language, else English."""
        from bot import i18n
        from bot.store import LogWriteError

        try:
            found = self.store.chosen_language(user_id, or_telegram=True)
        except LogWriteError:
            found = None
        return i18n.from_telegram(found) or i18n.SOURCE_LANGUAGE


@dataclass
class Turn:
    """One event being handled: who sent it, its row in the log, and how to send progress.

    `log` writes a log row that must not stop the reply (spooled when the database fails);
    `failures` collects what the admins must be told after the reply; `after` holds replies
    a flow that let text pass wants sent after the flow that took it (the checklist question,
    shown again below the answer to a question typed during a run). The turn's language is
    bot/i18n.py `current()`; `chosen_language` says whether the user chose it with /language
    (then a question in another language is still answered in it).
    """

    ctx: Context
    user: User
    notify: Notify
    message_id: int | None = None  # the incoming message's row in the session log
    failures: list[str] = field(default_factory=list)
    after: list[Reply] = field(default_factory=list)
    chosen_language: str | None = None  # the user's /language choice (None: automatic)

    @property
    def role(self) -> Role | None:
        return self.ctx.role(self.user)

    def log(self, method: str, **kwargs: Any) -> Any:
        """Write a log row (store `method`); when the database fails it is spooled and written
        back later, the admins told once per incident, and the result is None."""
        result, alert = self.ctx.store.keep(method, **kwargs)
        if alert is not None:
            self.failures.append(alert)
        return result

    def safe(self, func: Callable[..., T], *args: object, **kwargs: object) -> T | None:
        """Run a write that may be skipped (retention): a failure is logged, None returned."""
        from bot.store import LogWriteError

        try:
            return func(*args, **kwargs)
        except LogWriteError as exc:
            log.error("session log write failed: %s", exc)
            return None


class CommandHandler(Protocol):
    def __call__(self, turn: Turn, args: str) -> list[Reply]:
        """Handle `/command args`."""


@dataclass(frozen=True)
class CommandSpec:
    """One command: its name, who may use it, its one-line summary and its handler."""

    name: str
    summary: str
    handler: CommandHandler
    role: Role | None = "staff"  # the least role that may use it; None: anyone (/join)
    usage: str = ""  # what follows the name in /help, e.g. "<user id> [role]"
    menu: bool = True  # listed in the Telegram command menu of the roles that may use it
    secret_args: bool = False  # what follows the name is never logged ("/join ‹hidden›")
    group: bool = False  # usable in a group chat; others answer "send this to me in private"


class Flow(Protocol):
    """A part of the conversation, plugged into the dialogue."""

    prefixes: tuple[str, ...]  # the button data prefixes it owns ("c" for "c:12:q:a0")
    groups: bool  # takes part in group chats (else its buttons and text are private-only)
    pending_kinds: tuple[str, ...]  # the kinds of pending state it keeps in the store

    def commands(self) -> Sequence[CommandSpec]:
        """The commands it owns."""

    def on_press(self, turn: Turn, prefix: str, rest: str) -> list[Reply]:
        """A press of one of its buttons (data `prefix:rest`, untrusted)."""

    def on_text(self, turn: Turn, message: Text) -> list[Reply] | None:
        """Free text: replies when the flow takes it (an answer it waits for), else None."""

    def on_cancel(self, turn: Turn, kind: str) -> str | None:
        """`/cancel` of the pending thing `kind` it owns: what was cancelled, or None."""

    def on_start(self, turn: Turn, payload: str) -> list[Reply] | None:
        """`/start payload` (a deep link): replies when the payload is its own, else None."""
