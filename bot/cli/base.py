"""The `partnerbot` command group and what its commands share.

A thin edge: each command turns its arguments into core calls. Domain errors
(`index.errors.Problem`: the index, the store, ingest, checklists, settings) are translated
once, in `Group.invoke`, into `Error: <what happened>` and the next step, exit code 1.
"""

from __future__ import annotations

import datetime as dt
import getpass
import importlib
import logging
import sys
from collections.abc import Callable, Iterator

import click

from bot.settings import Settings, load_settings
from bot.store import SessionLog, open_log
from index.errors import IndexProblem, Problem

HasPassage = Callable[[str, str], bool]
PassageText = Callable[[str, str], str | None]


# Which module defines each top-level command. A command's module is imported when the
# command runs (help imports them all): `partnerbot ask` does not pay for the checklists'
# and the admin commands' imports. tests/unit/test_docs.py checks the list is complete.
COMMANDS = {
    "bot.cli.knowledge": ("index", "search", "ask", "add"),
    "bot.cli.chat": ("chat", "run"),
    "bot.cli.checklists": ("checklist", "runs"),
    "bot.cli.admin": ("stats", "export", "users", "forget", "retention", "migrate-store",
                      "backup"),
}


class Group(click.Group):
    """Turns the core's errors into `Error: <what happened>` plus the next step, exit 1;
    imports a command's module (COMMANDS) when the command is asked for."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except Problem as exc:
            raise click.ClickException(str(exc)) from exc

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        for module, names in COMMANDS.items():
            if cmd_name in names:
                importlib.import_module(module)
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        for module in COMMANDS:
            importlib.import_module(module)
        return super().list_commands(ctx)


@click.group(cls=Group)
@click.version_option(package_name="partnerbot")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Partner Guide: cited answers and guided checklists on UN partner selection."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    ctx.obj = load_settings()


def settings_of(ctx: click.Context) -> Settings:
    settings = ctx.find_root().obj
    assert isinstance(settings, Settings)
    return settings


def questions(question: str | None) -> Iterator[str]:
    """The one QUESTION, or one question per non-blank line of standard input."""
    if question is not None:
        yield question
        return
    for line in sys.stdin:
        if line.strip():
            yield line.rstrip("\n")


def store_of(settings: Settings) -> SessionLog:
    return open_log(settings.database(), settings.data_dir)


def actor() -> str:
    """Who an action of the CLI is audited as: the server's console, by OS user."""
    return f"cli:{getpass.getuser()}"


def day(value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not a date; use YYYY-MM-DD") from exc


def has_passage(settings: Settings) -> HasPassage | None:
    """A citation resolver over the live index, or None when there is no usable index."""
    text = passage_text(settings)
    return None if text is None else (lambda doc, locator: text(doc, locator) is not None)


def passage_text(settings: Settings) -> PassageText | None:
    """The text of a cited passage in the live index (None when it is not there), or None
    when there is no usable index."""
    from index.store import load_live

    try:
        index = load_live(settings.index_dir, settings.model)
    except IndexProblem:
        return None

    def text(doc: str, locator: str) -> str | None:
        chunk = index.find(doc, locator)
        return None if chunk is None else chunk.text

    return text


def checklist_problems(settings: Settings) -> list[str]:
    """Checklist problems (broken citations and quotes included) against the live index."""
    from bot.checklists import validate_paths

    if not settings.checklists_dir.is_dir():
        return []
    return validate_paths([settings.checklists_dir], passage_text=passage_text(settings))
