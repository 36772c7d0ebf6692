"""The `partnerbot` command: a thin edge that turns arguments into core calls.

Domain errors are translated once, in `Group.invoke`, into a message with the next step.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from typing import Any

import click

from bot import texts
from bot.answers import answer_question
from bot.services import make_searcher, reference_embedder
from bot.settings import Settings, load_settings
from index.build import build_index, rollback, status
from index.errors import IndexProblem


class Group(click.Group):
    """Turns the core's errors into `Error: <what happened>` plus the next step, exit 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except IndexProblem as exc:
            raise click.ClickException(str(exc)) from exc
        except ValueError as exc:  # pydantic settings errors name the variable
            if exc.__class__.__name__ == "ValidationError":
                raise click.ClickException(f"Invalid settings:\n{exc}") from exc
            raise


@click.group(cls=Group)
@click.version_option(package_name="partnerbot")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Partner Guide: cited answers and guided checklists on UN partner selection."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    ctx.obj = load_settings()


def _settings(ctx: click.Context) -> Settings:
    return ctx.find_root().obj  # type: ignore[no-any-return]


def _questions(question: str | None) -> Iterator[str]:
    """The one QUESTION, or one question per non-blank line of standard input."""
    if question is not None:
        yield question
        return
    for line in sys.stdin:
        if line.strip():
            yield line.rstrip("\n")


@cli.command()
@click.option("--status", "show_status", is_flag=True, help="List the kept index versions.")
@click.option("--rollback", "do_rollback", is_flag=True,
              help="Switch back to the previous version.")
@click.pass_context
def index(ctx: click.Context, show_status: bool, do_rollback: bool) -> None:
    """Build or update the index from knowledge/docs.

    Re-embeds only new or changed passages, builds the new version beside the live one,
    checks it and switches atomically.

    Example: partnerbot index
    """
    settings = _settings(ctx)
    if show_status:
        rows = status(settings.index_dir)
        if not rows:
            click.echo("No index yet.\n\nTry: partnerbot index")
        for row in rows:
            mark = "*" if row["live"] else " "
            details = (f"{row.get('built_at', '?')}  {row.get('passages', '?')} passages  "
                       f"{row.get('documents', '?')} documents  model {row.get('model', '?')}  "
                       f"{row.get('dense', '')}  {row['state']}")
            click.echo(f"{mark} {row['version']}  {details}")
        return
    if do_rollback:
        old, new = rollback(settings.index_dir, settings.model)
        click.echo(f"Rolled back from {old} to {new}.")
        return
    report = build_index(settings.docs_dir, settings.index_dir, reference_embedder(settings),
                         keep=settings.keep_versions, progress=lambda m: click.echo(m, err=True))
    state = "switched to" if report.switched else "unchanged, still serving"
    click.echo(f"Documents: {report.documents}\nChunks: {report.chunks}\n"
               f"Added: {report.added}\nUnchanged: {report.unchanged}\n"
               f"Removed: {report.removed}\nSeconds: {report.seconds:.1f}\n"
               f"Version: {report.version} ({state})")


@cli.command()
@click.argument("question", required=False)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per question.")
@click.option("--top-k", "top_k", type=click.IntRange(1, 50), default=5, show_default=True)
@click.pass_context
def search(ctx: click.Context, question: str | None, as_json: bool, top_k: int) -> None:
    """Show the passages that best match QUESTION (or each line of standard input).

    Example: partnerbot search --top-k 3 "screening companies"
    """
    searcher = make_searcher(_settings(ctx))
    searcher.load()
    for q in _questions(question):
        result = searcher.search(q, top_k) if q.strip() else None
        hits = result.hits if result else []
        if as_json:
            click.echo(json.dumps({"query": q, "results": [
                {"id": h.chunk.id, "text": h.chunk.text, "source": h.chunk.source,
                 "title": h.chunk.title, "locator": h.chunk.locator, "score": round(h.score, 6)}
                for h in hits]}, ensure_ascii=False))
            continue
        if not q.strip():
            click.echo(texts.to_plain(texts.EMPTY_QUESTION))
        click.echo(f"Query: {q}")
        for n, h in enumerate(hits, start=1):
            click.echo(f"{n}. {h.chunk.citation}  (score {h.score:.4f})")
            click.echo("   " + h.chunk.text.replace("\n", "\n   ")[:600])
        click.echo("")


@cli.command()
@click.argument("question", required=False)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per question.")
@click.pass_context
def ask(ctx: click.Context, question: str | None, as_json: bool) -> None:
    """Answer QUESTION (or each line of standard input) with quotes and citations.

    Example: partnerbot ask "Do implementing partners need PSEA training?"
    """
    settings = _settings(ctx)
    searcher = make_searcher(settings)
    searcher.load()
    for q in _questions(question):
        answer = answer_question(q, searcher, threshold=settings.threshold, top_k=settings.top_k)
        plain = texts.to_plain(texts.answer_message(answer))
        if as_json:
            click.echo(json.dumps({
                "query": q, "answer": plain, "grounded": answer.grounded,
                "citations": [{"source": h.chunk.source, "title": h.chunk.title,
                               "locator": h.chunk.locator, "text": h.chunk.text}
                              for h in answer.hits]}, ensure_ascii=False))
        else:
            click.echo(plain + "\n")


def main() -> None:
    """Console entry point."""
    cli(prog_name="partnerbot")


def make_dialogue(settings: Settings, *, front: str, local_role: str | None = None) -> Any:
    """The dialogue engine with its searcher, session log and extensions."""
    from bot.dialogue import Dialogue
    from bot.extensions import install
    from bot.sessions import SessionLog

    sessions = SessionLog(settings.db_path)
    sessions.bootstrap_roles(admins=settings.admin_ids, allowed=settings.allowed_ids)
    dialogue = Dialogue(settings=settings, searcher=make_searcher(settings), sessions=sessions,
                        front=front, local_role=local_role)
    install(dialogue)
    return dialogue


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
