"""The one dialogue engine every front uses: `handle(user, event) -> list[Reply]`.

Pure core: no Telegram. Fronts translate their input into events and send the replies.
Everything that arrives is logged first, including what the bot cannot handle.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot import texts
from bot.answers import answer_question
from bot.sessions import LogWriteError, SessionLog
from bot.settings import Settings
from index.errors import IndexMissing, IndexProblem
from index.search import Searcher

log = logging.getLogger(__name__)
FOLLOW_UP_WINDOW = 30 * 60  # seconds within which a short question may follow up the last one
ROLES = ("staff", "trainer", "admin")


@dataclass(frozen=True)
class User:
    """Who sent an event, and from which chat."""

    id: int
    chat_id: int
    username: str | None = None
    first_name: str | None = None
    language: str | None = None
    chat_type: str = "private"


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Command:
    name: str
    args: str = ""


@dataclass(frozen=True)
class Press:
    """A button press; `data` is the button's callback data (untrusted)."""

    data: str


@dataclass(frozen=True)
class Unsupported:
    """Anything the bot cannot read (photo, sticker, voice, ...)."""

    kind: str
    raw: dict | None = None


Event = Text | Command | Press | Unsupported


@dataclass(frozen=True)
class Button:
    label: str
    data: str


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    caption: str = ""


@dataclass(frozen=True)
class Reply:
    """A message to send (Telegram HTML), with buttons rows and an optional file.

    `notice` is a short text for the button press itself; `to` sends to another chat;
    `edit` replaces the message whose button was pressed instead of sending a new one.
    """

    html: str = ""
    buttons: tuple[tuple[Button, ...], ...] = ()
    attachment: Attachment | None = None
    notice: str | None = None
    to: int | None = None
    edit: bool = False


Notify = Callable[[Reply], None]


@dataclass
class Dialogue:
    """Routes events to answers, checklists and admin commands, and logs every exchange."""

    settings: Settings
    searcher: Searcher
    sessions: SessionLog
    front: str = "telegram"
    local_role: str | None = None  # the terminal chat's operator gets this role
    extensions: dict[str, Callable[..., Any]] = field(default_factory=dict)
    command_roles: dict[str, str] = field(default_factory=dict)  # "/stats" -> "admin"
    _awaiting_comment: dict[int, int] = field(default_factory=dict)
    _retention_applied: float | None = None

    # ---- entry point -------------------------------------------------------------------

    def handle(self, user: User, event: Event, notify: Notify | None = None) -> list[Reply]:
        """Log the event, answer it, log the replies; never raises on user input."""
        started = time.perf_counter()
        failures: list[str] = []
        self._apply_retention(failures)
        message_id = self._safe(failures, self._log_incoming, user, event)
        try:
            replies = self._route(user, event, message_id, failures, notify)
        except IndexMissing:
            replies = [Reply(texts.INDEX_MISSING)]
        except IndexProblem as exc:
            replies = [Reply(texts.INDEX_BROKEN.format(reason=texts.esc(exc)))]
        latency = (time.perf_counter() - started) * 1000
        for reply in replies:
            if reply.html and reply.to is None:
                self._safe(failures, self.sessions.log_outgoing, chat_id=user.chat_id,
                           user_id=user.id, reply_to=message_id, text=reply.html,
                           latency_ms=latency, front=self.front)
        if failures:
            replies = replies + self._admin_alerts(failures[0])
        return replies

    def _safe(self, failures: list[str], func: Callable, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        try:
            return func(*args, **kwargs)
        except LogWriteError as exc:
            log.error("session log write failed: %s", exc)
            failures.append(str(exc))
            return None

    def _apply_retention(self, failures: list[str]) -> None:
        """Blank texts older than the retention period, at most once a day."""
        days = self.settings.retention_days
        last = self._retention_applied
        if days is None or (last is not None and time.monotonic() - last < 86_400):
            return
        self._retention_applied = time.monotonic()
        self._safe(failures, self.sessions.apply_retention, days)

    def _admin_alerts(self, reason: str) -> list[Reply]:
        alert = texts.LOG_FAILED_ADMIN.format(reason=texts.esc(reason))
        return [Reply(alert, to=admin) for admin in sorted(self.settings.admin_ids)]

    def _log_incoming(self, user: User, event: Event) -> int:
        self.sessions.touch_user(user.id, username=user.username, first_name=user.first_name,
                                 language=user.language)
        if isinstance(event, Text):
            kind, text = "text", event.text
        elif isinstance(event, Command):
            kind, text = "command", f"/{event.name} {event.args}".strip()
        elif isinstance(event, Press):
            kind, text = "callback", event.data
        else:
            kind, text = event.kind, None
        raw = event.raw if isinstance(event, Unsupported) else None
        return self.sessions.log_incoming(user_id=user.id, chat_id=user.chat_id,
                                          chat_type=user.chat_type, kind=kind, text=text,
                                          raw=raw, front=self.front)

    # ---- routing -----------------------------------------------------------------------

    def role(self, user: User) -> str | None:
        if self.local_role is not None:
            return self.local_role
        role = self.sessions.role(user.id)  # settings are bootstrapped into the log at start
        if role is None and self.settings.open_pilot and not self.sessions.revoked(user.id):
            return "staff"
        return role

    def _route(self, user: User, event: Event, message_id: int | None, failures: list[str],
               notify: Notify | None) -> list[Reply]:
        role = self.role(user)
        if role is None:
            if isinstance(event, Command) and event.name == "join" and "join" in self.extensions:
                return self.extensions["join"](self, user, event.args)
            template = texts.NOT_ALLOWED_WITH_CODE if self.settings.join_code else texts.NOT_ALLOWED
            return [Reply(template.format(user_id=user.id))]
        if isinstance(event, Unsupported) and event.kind == "edited_message":
            return [Reply(texts.EDITED)]
        if isinstance(event, Unsupported):
            return [Reply(texts.UNSUPPORTED.format(kind=texts.esc(event.kind.replace("_", " "))))]
        if isinstance(event, Command):
            return self._command(user, role, event, notify)
        if isinstance(event, Press):
            return self._press(user, role, event)
        if user.id in self._awaiting_comment:
            answer_id = self._awaiting_comment.pop(user.id)
            self._safe(failures, self.sessions.add_feedback_comment, answer_id=answer_id,
                       user_id=user.id, comment=event.text)
            return [Reply(texts.FEEDBACK_COMMENT_SAVED)]
        checklist_text = self.extensions.get("checklist_text")
        if checklist_text is not None:
            replies = checklist_text(self, user, event.text)
            if replies:
                return replies
        return self._question(user, event.text, message_id, failures)

    def _command(self, user: User, role: str, event: Command, notify: Notify | None
                 ) -> list[Reply]:
        name = event.name.lower()
        if name == "start":
            if event.args and "start_payload" in self.extensions:
                return self.extensions["start_payload"](self, user, event.args)
            return [Reply(texts.WELCOME)]
        if name == "help":
            extra = texts.ADMIN_HELP if role == "admin" else ""
            extra += texts.TRAINER_HELP if role in ("admin", "trainer") else ""
            return [Reply(texts.HELP + extra)]
        if name == "sources":
            return [Reply(texts.sources_message(self.searcher.current().manifest["documents"]))]
        if name == "cancel":
            cancelled = self._awaiting_comment.pop(user.id, None) is not None
            cancel = self.extensions.get("cancel")
            if cancel is not None:
                cancelled = bool(cancel(self, user)) or cancelled
            return [Reply(texts.CANCELLED if cancelled else texts.NOTHING_TO_CANCEL)]
        handler = self.extensions.get(f"/{name}")
        if handler is None:
            return [Reply(texts.UNKNOWN_COMMAND.format(command=texts.esc(name)))]
        needed = self.command_roles.get(name, "staff")
        if ROLES.index(role) < ROLES.index(needed):
            template = texts.ADMIN_ONLY if needed == "admin" else texts.TRAINER_ONLY
            return [Reply(template.format(command=texts.esc(name)))]
        return handler(self, user, event.args, notify)

    # ---- questions ---------------------------------------------------------------------

    def _question(self, user: User, text: str, message_id: int | None, failures: list[str]
                  ) -> list[Reply]:
        previous = None
        last = None
        if text.strip():
            try:
                last = self.sessions.last_answer(chat_id=user.chat_id, user_id=user.id,
                                                 within_seconds=FOLLOW_UP_WINDOW)
            except LogWriteError:
                last = None
            previous = last["query"] if last else None
        answer = answer_question(text, self.searcher, threshold=self.settings.threshold,
                                 top_k=self.settings.top_k, previous=previous)
        html = texts.answer_message(answer, previous=last["question"] if last else None)
        if answer.reason in ("empty", "no_words"):
            return [Reply(html)]
        answer_id = self._safe(
            failures, self.sessions.log_answer, message_id=message_id, user_id=user.id,
            chat_id=user.chat_id, question=text, query=answer.query, answer=html,
            grounded=answer.grounded, index_version=answer.version,
            passages=[(h.chunk.id, h.score) for h in answer.hits], top_score=answer.top_score,
        )
        rows: list[tuple[Button, ...]] = []
        passages = tuple(Button(texts.SHOW_PASSAGE.format(n=n), f"p:{h.chunk.id}")
                         for n, h in enumerate(answer.hits, start=1))
        if passages:
            rows.append(passages)
        if answer_id is not None:
            rows.append((Button(texts.HELPFUL, f"f:{answer_id}:1"),
                         Button(texts.NOT_HELPFUL, f"f:{answer_id}:-1")))
        return [Reply(html, tuple(rows))]

    # ---- buttons -----------------------------------------------------------------------

    def _press(self, user: User, role: str, event: Press) -> list[Reply]:
        kind, _, rest = event.data.partition(":")
        if kind == "p" and rest:
            chunk = self.searcher.current().by_id(rest)
            if chunk is None:
                return [Reply(texts.STALE_BUTTON, notice=texts.STALE_BUTTON)]
            return [Reply(texts.passage_message(chunk))]
        if kind == "f":
            return self._feedback(user, rest)
        handler = self.extensions.get(f"press:{kind}")
        if handler is not None:
            return handler(self, user, rest)
        return [Reply(texts.STALE_BUTTON, notice=texts.STALE_BUTTON)]

    def _feedback(self, user: User, rest: str) -> list[Reply]:
        answer_id_text, _, value_text = rest.partition(":")
        if not answer_id_text.isdigit() or value_text not in ("1", "-1"):
            return [Reply(texts.STALE_BUTTON, notice=texts.STALE_BUTTON)]
        answer = self.sessions.answer(int(answer_id_text))
        if answer is None or answer.get("user_id") != user.id:
            return [Reply(texts.STALE_BUTTON, notice=texts.STALE_BUTTON)]
        self.sessions.log_feedback(answer_id=int(answer_id_text), user_id=user.id,
                                   value=int(value_text))
        if value_text == "1":
            return [Reply(notice=texts.FEEDBACK_THANKS)]
        self._awaiting_comment[user.id] = int(answer_id_text)
        return [Reply(texts.FEEDBACK_ASK_COMMENT, notice=texts.FEEDBACK_THANKS)]
