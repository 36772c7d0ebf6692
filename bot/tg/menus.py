"""Which command menu each private chat should have: the default one (staff, in the language
of the user's Telegram app) or a chat-scoped one (a trainer's or admin's commands, or the
language the user chose with /language). bot/tg/runner.py sets them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from bot import i18n
from bot.types import ROLES, Role

Menu = tuple[Role, str]  # a chat's own command menu: the role's commands, in a language


def chat_menu(role: str | None, chosen: str | None, telegram: str | None) -> Menu | None:
    """The menu a private chat gets instead of the default one (staff, in the language of
    the user's Telegram app): a trainer's or admin's commands, or a /language choice; None
    when the default fits."""
    privileged: Role | None = role if role in ROLES[1:] else None  # type: ignore[assignment]
    if privileged is None and chosen not in i18n.LANGUAGES:
        return None
    language = chosen if chosen in i18n.LANGUAGES else i18n.from_telegram(telegram)
    return privileged or "staff", language or i18n.SOURCE_LANGUAGE


def menu_changes(users: Iterable[Mapping[str, Any]], admins: Iterable[int],
                 current: Mapping[int, Menu | None]) -> list[tuple[int, Menu | None]]:
    """The chats whose menu must be set (or removed: None) so that each user of the store
    (and each admin of the settings) has the menu `chat_menu` gives, `current` being what each
    chat's menu was set to."""
    admins = set(admins)
    wanted: dict[int, Menu | None] = {}
    for u in users:
        role = "admin" if u["id"] in admins else u["role"]
        menu = chat_menu(role, u.get("chosen_language"), u.get("language"))
        if menu is not None:
            wanted[int(u["id"])] = menu
    for admin in admins:
        wanted.setdefault(admin, ("admin", i18n.SOURCE_LANGUAGE))
    changes: list[tuple[int, Menu | None]] = [
        (c, m) for c, m in wanted.items() if current.get(c, "none") != m]
    changes += [(c, None) for c, m in current.items() if m and c not in wanted]
    return changes
