"""The `partnerbot` command: `cli` (bot/cli/base.py) with its commands, one module per area."""

from __future__ import annotations

from bot.cli import admin, chat, checklists, knowledge
from bot.cli.base import cli

__all__ = ["admin", "chat", "checklists", "cli", "knowledge", "main"]


def main() -> None:
    """Console entry point."""
    cli(prog_name="partnerbot")
