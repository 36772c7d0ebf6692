"""The values every part of the bot passes around: who wrote, what they sent, what to reply.

No imports of the rest of the project: the engine, the flows, the fronts and the store all
use these, so nothing here may pull in numpy, the index or Telegram.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

Role = Literal["staff", "trainer", "admin"]
ROLES: tuple[Role, ...] = ("staff", "trainer", "admin")  # in order of rights


def role_at_least(role: Role | None, needed: Role) -> bool:
    """True when `role` has the rights of `needed` (an admin is also a trainer and staff)."""
    return role is not None and ROLES.index(role) >= ROLES.index(needed)


@dataclass(frozen=True)
class User:
    """Who sent an event, and from which chat."""

    id: int
    chat_id: int
    username: str | None = None
    first_name: str | None = None
    language: str | None = None
    chat_type: str = "private"

    @property
    def private(self) -> bool:
        """True in a one-to-one chat with the bot (the terminal chat counts as one)."""
        return self.chat_type == "private"

    @property
    def name(self) -> str:
        """How to name the user in reports and alerts."""
        return self.username or self.first_name or str(self.id)


@dataclass(frozen=True)
class Text:
    """A message typed by the user."""

    text: str
    reply_to: int | None = None  # the message id of the bot's message it replies to
    reply_key: str | None = None  # the key of that message (`Reply.key`), when it had one


@dataclass(frozen=True)
class Command:
    """`/name args` (the name in lower case, without the bot's @username)."""

    name: str
    args: str = ""


@dataclass(frozen=True)
class Press:
    """A button press; `data` is the button's callback data (untrusted)."""

    data: str


@dataclass(frozen=True)
class Upload:
    """A file sent to the bot. `fetch` downloads its bytes (called only when they are needed,
    so a refused file is never downloaded); it raises `index.errors.Problem` when it cannot."""

    filename: str
    size: int | None
    mime: str | None
    caption: str
    fetch: Callable[[], bytes]


@dataclass(frozen=True)
class Unsupported:
    """Anything the bot cannot read (photo, sticker, voice, ...)."""

    kind: str
    raw: dict[str, object] | None = None


Event = Text | Command | Press | Upload | Unsupported


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
    """A message to send (Telegram HTML), with rows of buttons and an optional file.

    `notice` is a short text for the button press itself; `to` sends to another chat;
    `key` names the message within its chat, so that a later reply with the same key and
    `edit` replaces it (progress of a re-index); `edit` without a key replaces the message
    whose button was pressed; `force_reply` asks the user's client to reply to this message
    (a comment after 👎), and only such a reply is taken as what was asked for.
    """

    html: str = ""
    buttons: tuple[tuple[Button, ...], ...] = ()
    attachment: Attachment | None = None
    notice: str | None = None
    to: int | None = None
    edit: bool = False
    key: str | None = None
    force_reply: bool = False


Notify = Callable[[Reply], None]
"""Sends a reply at once, while the event is still being handled (progress of a re-index)."""
