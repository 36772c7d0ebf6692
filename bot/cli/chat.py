"""Commands that talk: the terminal chat and the Telegram bot."""

from __future__ import annotations

import click

from bot.app import build_dialogue
from bot.cli.base import cli, settings_of

@cli.command()
@click.pass_context
def chat(ctx: click.Context) -> None:
    """Talk to the assistant in the terminal (the same dialogue as the Telegram bot).

    Type a question, a /command, or /1, /2 ... to press the numbered buttons.
    Files (checklist reports) are saved under the data directory.

    Example: partnerbot chat
    """
    from bot.terminal import run_terminal_chat

    settings = _settings(ctx)
    dialogue = make_dialogue(settings, front="cli", local_role="admin")
    run_terminal_chat(dialogue, settings.data_dir / "exports")


@cli.command()
@click.option("--webhook", is_flag=True, help="Receive updates by webhook instead of polling.")
@click.option("--listen", default="0.0.0.0", show_default=True, help="Webhook listen address.")
@click.option("--port", type=int, default=8443, show_default=True, help="Webhook port.")
@click.option("--url", "public_url", default=None, help="Public HTTPS URL of the webhook.")
@click.option("--secret-token", default=None, help="Secret checked on every webhook call.")
@click.pass_context
def run(ctx: click.Context, webhook: bool, listen: str, port: int, public_url: str | None,
        secret_token: str | None) -> None:
    """Start the Telegram bot (long polling, or --webhook).

    Example: PARTNERBOT_TELEGRAM_TOKEN=123:ABC partnerbot run
    """
    from telegram.error import InvalidToken, NetworkError

    from bot.tg.app import build_application, protect_token

    settings = _settings(ctx)
    token = settings.token()
    if not token:
        raise click.ClickException(
            "No Telegram token is set.\n\nTry: export PARTNERBOT_TELEGRAM_TOKEN=<token from "
            "@BotFather>, or talk to the assistant in the terminal with: partnerbot chat")
    logging.getLogger().setLevel(settings.log_level)
    protect_token(token)
    dialogue = make_dialogue(settings, front="telegram")
    application = build_application(dialogue, token)
    try:
        if webhook:
            if not public_url:
                raise click.ClickException("--webhook needs --url (the public HTTPS address).")
            application.run_webhook(listen=listen, port=port, url_path="telegram",
                                    webhook_url=public_url.rstrip("/") + "/telegram",
                                    secret_token=secret_token)
        else:
            application.run_polling()
    except InvalidToken as exc:
        raise click.ClickException(
            "Telegram rejected the bot token (Unauthorized).\n\nTry: check "
            "PARTNERBOT_TELEGRAM_TOKEN (or the token file) against @BotFather's /token") from exc
    except NetworkError as exc:
        raise click.ClickException(
            f"Cannot reach the Bot API at {settings.telegram_api_url}: {exc}\n\n"
            "Try: check the network, or PARTNERBOT_TELEGRAM_API_URL") from exc


