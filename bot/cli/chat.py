"""Commands that talk: the terminal chat and the Telegram bot."""

from __future__ import annotations

import click

from bot.app import build_dialogue
from bot.cli.base import cli, settings_of
from index.errors import Problem


@cli.command()
@click.pass_context
def chat(ctx: click.Context) -> None:
    """Talk to the assistant in the terminal (the same dialogue as the Telegram bot).

    Type a question, a /command, or /1, /2 ... to press the numbered buttons.
    Files (checklist reports) are saved under the data directory.

    Example: partnerbot chat
    """
    from bot.terminal import run_terminal_chat

    settings = settings_of(ctx)
    dialogue = build_dialogue(settings, front="cli", local_role="admin")
    run_terminal_chat(dialogue, settings.data_dir / "exports")


@cli.command()
@click.option("--webhook", is_flag=True, help="Receive updates by webhook instead of polling.")
@click.option("--listen", default="127.0.0.1", show_default=True,
              help="Webhook listen address (loopback: put nginx or another proxy in front; "
                   "0.0.0.0 listens on every interface).")
@click.option("--port", type=int, default=8443, show_default=True, help="Webhook port.")
@click.option("--url", "public_url", default=None, help="Public HTTPS URL of the webhook.")
@click.option("--secret-token", default=None,
              help="Secret Telegram must send with every webhook call (A-Z a-z 0-9 _ -). "
                   "Without it one is generated once and kept in <data dir>/webhook-secret; "
                   "calls without the secret are refused.")
@click.pass_context
def run(ctx: click.Context, webhook: bool, listen: str, port: int, public_url: str | None,
        secret_token: str | None) -> None:
    """Start the Telegram bot (long polling, or --webhook); stops on SIGTERM or Ctrl-C.

    Example: PARTNERBOT_TELEGRAM_TOKEN=123:ABC partnerbot run
    Example: partnerbot run --webhook --url https://bot.example.org --port 8443
    """
    from bot.tg.app import run_bot

    settings = settings_of(ctx)
    token = settings.token()
    if not token:
        raise Problem("No Telegram token is set.",
                      "export PARTNERBOT_TELEGRAM_TOKEN=<token from @BotFather>, or talk to the "
                      "assistant in the terminal with: partnerbot chat")
    if webhook and not public_url:
        raise Problem("--webhook needs --url (the public HTTPS address).",
                      "partnerbot run --webhook --url https://bot.example.org")
    run_bot(settings, token, webhook=webhook, listen=listen, port=port, public_url=public_url,
            secret_token=secret_token)
