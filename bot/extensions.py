"""Plugs the checklist and admin flows into the dialogue engine."""

from __future__ import annotations

from bot import admin_flow
from bot.checklist_flow import ChecklistFlow
from bot.dialogue import Dialogue


def install(dialogue: Dialogue) -> None:
    """Register every optional flow with the dialogue."""
    ChecklistFlow(dialogue.settings.checklists_dir).install(dialogue)
    admin_flow.install(dialogue)
