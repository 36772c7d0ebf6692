"""The `partnerbot` command: `cli` (bot/cli/base.py) with its commands, one module per area
(imported when their command runs: bot.cli.base.COMMANDS)."""

from __future__ import annotations

from bot.cli.base import cli

__all__ = ["cli", "main"]


def main() -> None:
    """Console entry point."""
    cli(prog_name="partnerbot")
