"""The one command registry: routing, the role check, /help and the Telegram menus all
derive from it."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from bot.dialogue.flow import CommandSpec
from bot.types import ROLES, Role, role_at_least


class Commands:
    """Every command of the dialogue, by name."""

    def __init__(self, specs: Iterable[CommandSpec]) -> None:
        self._specs: dict[str, CommandSpec] = {}
        for spec in specs:
            if spec.name in self._specs:
                raise ValueError(f"two flows define the command /{spec.name}")
            self._specs[spec.name] = spec

    def get(self, name: str) -> CommandSpec | None:
        return self._specs.get(name)

    def usable(self, spec: CommandSpec, role: Role | None) -> bool:
        """True when a user with `role` (None: no access) may use the command."""
        return spec.role is None or role_at_least(role, spec.role)

    def visible(self, role: Role | None) -> list[CommandSpec]:
        """The commands a user with `role` may use, in registry order."""
        return [s for s in self._specs.values() if self.usable(s, role)]

    def closest(self, name: str, role: Role | None) -> str | None:
        """The usable command a mistyped one most likely meant (/checklists: checklist), or
        None when none is close."""
        names = [s.name for s in self.visible(role)]
        found = difflib.get_close_matches(name.lower(), names, n=1, cutoff=0.75)
        return found[0] if found else None

    def menu(self, role: Role) -> list[tuple[str, str]]:
        """(name, summary) of the commands in the Telegram menu of `role`."""
        return [(s.name, s.summary) for s in self.visible(role) if s.menu]

    def by_role(self) -> dict[Role, list[CommandSpec]]:
        """The commands each role gets beyond the role below it (for /help)."""
        out: dict[Role, list[CommandSpec]] = {}
        for role in ROLES:
            out[role] = [s for s in self._specs.values() if s.role == role]
        return out
