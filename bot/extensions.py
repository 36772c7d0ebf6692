"""Plugs the checklist and admin flows into the dialogue engine."""

from __future__ import annotations

from bot.dialogue import Dialogue


def install(dialogue: Dialogue) -> None:
    """Register every optional flow with the dialogue."""
    return None
