"""The `partnerbot` command: a thin edge that turns arguments into core calls.

Domain errors are translated once, in `Group.invoke`, into a message with the next step.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
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
        _sessions(settings).audit(actor=_actor(), action="rollback", detail={"from": old,
                                                                             "to": new})
        click.echo(f"Rolled back from {old} to {new}.")
        for problem in _checklist_problems(settings):
            click.echo(f"Checklist problem: {problem}")
        return
    report = build_index(settings.docs_dir, settings.index_dir, reference_embedder(settings),
                         keep=settings.keep_versions, progress=lambda m: click.echo(m, err=True))
    _sessions(settings).audit(actor=_actor(), action="index", detail={
        "version": report.version, "added": report.added, "removed": report.removed})
    problems = _checklist_problems(settings)
    state = "switched to" if report.switched else "unchanged, still serving"
    click.echo(f"Documents: {report.documents}\nChunks: {report.chunks}\n"
               f"Added: {report.added}\nUnchanged: {report.unchanged}\n"
               f"Removed: {report.removed}\nSeconds: {report.seconds:.1f}\n"
               f"Version: {report.version} ({state})")
    for problem in problems:
        click.echo(f"Checklist problem: {problem}")


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
            quotes = answer.quotes or answer.closest
            click.echo(json.dumps({
                "query": q, "answer": plain, "grounded": answer.grounded,
                "reason": answer.reason,
                "citations": [{"source": x.hit.chunk.source, "title": x.hit.chunk.title,
                               "locator": x.hit.chunk.locator,
                               "citation": texts.citation(x.hit.chunk), "quote": x.text,
                               "text": x.hit.chunk.text} for x in quotes]},
                ensure_ascii=False))
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


def _has_passage(settings: Settings) -> Any:
    """A citation resolver over the live index, or None when there is no usable index."""
    from index.store import load_live

    try:
        index = load_live(settings.index_dir, settings.model)
    except IndexProblem:
        return None
    return lambda doc, locator: index.find(doc, locator) is not None


@cli.group()
def checklist() -> None:
    """Validate, list, show and run the checklists in knowledge/checklists."""


@checklist.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.pass_context
def validate(ctx: click.Context, paths: tuple[Path, ...]) -> None:
    """Check checklist files; print every problem as file:line: field: message.

    Example: partnerbot checklist validate knowledge/checklists/private-sector-screening.yaml
    """
    from bot.checklists import validate_paths

    settings = _settings(ctx)
    has_passage = _has_passage(settings)
    targets = list(paths) or [settings.checklists_dir]
    problems = validate_paths(targets, has_passage=has_passage)
    for problem in problems:
        click.echo(problem)
    if has_passage is None:
        click.echo("Note: citations were not checked (no index). Try: partnerbot index", err=True)
    if problems:
        raise SystemExit(1)
    click.echo("All checklists are valid.")


def _loaded_checklists(settings: Settings) -> Any:
    from bot.checklists import load_checklists

    result = load_checklists(settings.checklists_dir, has_passage=_has_passage(settings))
    for error in result.errors:
        click.echo(f"Not loaded: {error}", err=True)
    return result.checklists


@checklist.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per checklist.")
@click.pass_context
def checklist_list(ctx: click.Context, as_json: bool) -> None:
    """List the checklists that load.

    Example: partnerbot checklist list
    """
    for item in _loaded_checklists(_settings(ctx)).values():
        count = len(item.questions())
        if as_json:
            click.echo(json.dumps({"id": item.id, "version": item.version, "title": item.title,
                                   "audience": list(item.audience), "questions": count}))
        else:
            click.echo(f"{item.id}  v{item.version}  {count} questions  {item.title}")


@checklist.command()
@click.argument("checklist_id")
@click.option("--json", "as_json", is_flag=True, help="The checklist as JSON.")
@click.pass_context
def show(ctx: click.Context, checklist_id: str, as_json: bool) -> None:
    """Show a checklist's questions with their options and citations.

    Example: partnerbot checklist show implementing-partner-selection
    """
    item = _loaded_checklists(_settings(ctx)).get(checklist_id)
    if item is None:
        raise click.ClickException(f"There is no checklist '{checklist_id}'.\n\n"
                                   "Try: partnerbot checklist list")
    if as_json:
        click.echo(json.dumps(item.to_snapshot(), ensure_ascii=False, indent=1))
        return
    click.echo(f"{item.title} ({item.id}, version {item.version})\n{item.description.strip()}")
    for section in item.sections:
        click.echo(f"\n== {section.title}")
        for q in section.questions:
            flags = [q.type] + (["key"] if q.key else []) + (["skippable"] if q.skippable else [])
            flags += ["conditional"] if q.show_if else []
            click.echo(f"- [{q.id}] {q.text}  ({', '.join(flags)})")
            for o in q.options:
                score = "N/A" if o.score is None else f"{o.score:g}"
                click.echo(f"    {o.value}: {o.label}  (score {score}, risk {o.risk or '-'})")
            click.echo("    cites: " + "; ".join(f"{c.doc}, {c.locator}" for c in q.cites))


@checklist.command("run")
@click.argument("checklist_id")
@click.option("--answers", "answers_file", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="JSON or YAML map of question id to answer.")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
@click.pass_context
def checklist_run(ctx: click.Context, checklist_id: str, answers_file: Path,
                  as_json: bool) -> None:
    """Run a checklist non-interactively from a file of answers and print the outcome.

    Example: partnerbot checklist run private-sector-screening --answers case.yaml
    """
    import yaml

    from bot.checklist_run import run_from_answers

    item = _loaded_checklists(_settings(ctx)).get(checklist_id)
    if item is None:
        raise click.ClickException(f"There is no checklist '{checklist_id}'.\n\n"
                                   "Try: partnerbot checklist list")
    try:
        answers = yaml.safe_load(answers_file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise click.ClickException(f"{answers_file.name}: not valid JSON or YAML: {exc}") from exc
    if not isinstance(answers, dict):
        raise click.ClickException(f"{answers_file.name}: must be a map of question id to answer")
    try:
        result = run_from_answers(item, answers, source=answers_file.name)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False))
    else:
        click.echo(f"Rating: {result['rating']} ({result['rating_label']})")
        if result["percent"] is not None:
            click.echo(f"Score: {result['percent']:.0f}%")
        click.echo("Fired rules:")
        for rule in result["fired_rules"]:
            click.echo(f"- {rule['message']}")
        click.echo("Required actions:")
        for action in result["actions"]:
            click.echo(f"- {action['text']} ({'; '.join(action['cites'])})")
        click.echo("Asked: " + ", ".join(result["asked"]))
        click.echo("Skipped: " + (", ".join(result["skipped"]) or "none"))
        if result["ignored"]:
            click.echo("Not asked (answers ignored): " + ", ".join(result["ignored"]))
    if result["status"] != "completed":
        raise SystemExit(1)


@cli.group("runs")
def runs_group() -> None:
    """Checklist runs recorded in the session log."""


@runs_group.command("export")
@click.option("--cohort", required=True, help="The cohort tag from the training link.")
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default="csv",
              show_default=True)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write here instead of standard output.")
@click.pass_context
def runs_export(ctx: click.Context, cohort: str, fmt: str, output: Path | None) -> None:
    """Export every answer and rating of a training cohort, one row per answer.

    Example: partnerbot runs export --cohort geneva-2026 --output cohort.csv
    """
    from bot.checklist_run import cohort_rows
    from bot.sessions import SessionLog

    settings = _settings(ctx)
    rows = cohort_rows(SessionLog(settings.db_path), cohort)
    import contextlib
    import csv

    with contextlib.ExitStack() as stack:
        handle = (stack.enter_context(open(output, "w", encoding="utf-8", newline=""))
                  if output else sys.stdout)
        if fmt == "jsonl":
            for row in rows:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        else:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]) if rows else ["run_id"])
            writer.writeheader()
            writer.writerows(rows)
    if output:
        click.echo(f"{len(rows)} rows written to {output}", err=True)


def _sessions(settings: Settings) -> Any:
    from bot.sessions import SessionLog

    return SessionLog(settings.db_path)


def _actor() -> str:
    import getpass

    return f"cli:{getpass.getuser()}"


def _date(value: str | None) -> Any:
    if value is None:
        return None
    import datetime as dt

    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not a date; use YYYY-MM-DD") from exc


@cli.command()
@click.option("--since", help="Only activity on or after this date (YYYY-MM-DD).")
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the questions-per-day chart to this PNG file.")
@click.pass_context
def stats(ctx: click.Context, since: str | None, plot: Path | None) -> None:
    """Usage, answered vs declined, uncovered questions, negative feedback, checklist runs.

    Example: partnerbot stats --since 2026-11-01 --plot usage.png
    """
    from bot.admin import chart_png, stats_text
    from index.store import load_live

    settings = _settings(ctx)
    figures = _sessions(settings).stats(since=_date(since))
    try:
        index = load_live(settings.index_dir, settings.model)
        def citation(chunk_id: str) -> str:
            chunk = index.by_id(chunk_id)
            return chunk.citation if chunk is not None else chunk_id
        click.echo(stats_text(figures, citation=citation))
    except IndexProblem:
        click.echo(stats_text(figures))
    if plot is not None:
        plot.write_bytes(chart_png(figures))
        click.echo(f"\nChart written to {plot}")


@cli.command()
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), required=True)
@click.option("--since", help="Only rows on or after this date (YYYY-MM-DD).")
@click.option("--output", type=click.Path(path_type=Path),
              help="csv: a directory (one file per table); jsonl: a file. Default: "
                   "var/exports/<time>/ for csv, standard output for jsonl.")
@click.pass_context
def export(ctx: click.Context, fmt: str, since: str | None, output: Path | None) -> None:
    """Export the session log: CSV (one file per table) or JSON lines.

    Example: partnerbot export --format csv --since 2026-11-01 --output exports/
    """
    import datetime as dt

    settings = _settings(ctx)
    log = _sessions(settings)
    day = _date(since)
    if fmt == "csv":
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
        directory = output or settings.data_dir / "exports" / stamp
        counts = log.export_all(directory, fmt="csv", since=day)
        for table, count in counts.items():
            click.echo(f"{directory / (table + '.csv')}: {count} rows")
    elif output is not None:
        with open(output, "w", encoding="utf-8") as handle:
            count = log.export(handle, fmt="jsonl", since=day)
        click.echo(f"{count} rows written to {output}", err=True)
    else:
        count = log.export(sys.stdout, fmt="jsonl", since=day)
    log.audit(actor=_actor(), action="export", detail={"format": fmt, "since": since})


@cli.group()
def users() -> None:
    """Who may use the bot: list, allow, revoke, and join requests."""


@users.command("list")
@click.pass_context
def users_list(ctx: click.Context) -> None:
    """List users with their roles and pending join requests.

    Example: partnerbot users list
    """
    log = _sessions(_settings(ctx))
    for row in log.users():
        click.echo(f"{row['id']}  {row.get('role') or '-':8} {row.get('username') or ''}  "
                   f"last seen {row.get('last_seen') or '-'}")
    for request in log.pending_requests():
        click.echo(f"request {request['id']}: user {request['user_id']} "
                   f"{request.get('username') or ''} waiting since {request['requested_at']}")


@users.command("allow")
@click.argument("user_id", type=int)
@click.option("--role", type=click.Choice(["staff", "trainer", "admin"]), default="staff",
              show_default=True)
@click.pass_context
def users_allow(ctx: click.Context, user_id: int, role: str) -> None:
    """Give USER_ID access with a role.

    Example: partnerbot users allow 123456789 --role trainer
    """
    _sessions(_settings(ctx)).set_role(user_id, role, by=_actor())
    click.echo(f"User {user_id} may now use the bot as {role}.")


@users.command("revoke")
@click.argument("user_id", type=int)
@click.pass_context
def users_revoke(ctx: click.Context, user_id: int) -> None:
    """Take access away from USER_ID.

    Example: partnerbot users revoke 123456789
    """
    done = _sessions(_settings(ctx)).revoke(user_id, by=_actor())
    click.echo(f"User {user_id} no longer has access." if done
               else f"User {user_id} had no access.")


@users.command("approve")
@click.argument("request_id", type=int)
@click.option("--role", type=click.Choice(["staff", "trainer", "admin"]), default="staff",
              show_default=True)
@click.option("--deny", is_flag=True, help="Deny the request instead.")
@click.pass_context
def users_approve(ctx: click.Context, request_id: int, role: str, deny: bool) -> None:
    """Approve (or --deny) a join request made with the join code.

    Example: partnerbot users approve 3 --role staff
    """
    row = _sessions(_settings(ctx)).resolve_request(request_id, approve=not deny, by=_actor(),
                                                    role=role)
    if row is None:
        raise click.ClickException(f"There is no pending request {request_id}.\n\n"
                                   "Try: partnerbot users list")
    click.echo(f"Request {request_id} {'denied' if deny else 'approved'}.")


@cli.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--title", help="Document title (default: from the file).")
@click.option("--symbol", help="Document symbol, e.g. A/77/257.")
@click.option("--date", "date_", help="Date as YYYY-MM-DD, YYYY-MM or YYYY.")
@click.option("--kind", help="Kind of document, e.g. report, guideline.")
@click.option("--organization", help="Issuing organization.")
@click.option("--replace", is_flag=True, help="Overwrite a document with the same name.")
@click.pass_context
def add(ctx: click.Context, file: Path, title: str | None, symbol: str | None,
        date_: str | None, kind: str | None, organization: str | None, replace: bool) -> None:
    """Convert a PDF, Word, HTML, Markdown or text file into knowledge/docs.

    Then run `partnerbot index` (or /reindex in Telegram) to make it searchable.

    Example: partnerbot add guidance.pdf --symbol A/80/123 --kind report
    """
    from bot.ingest import IngestError, add_document

    settings = _settings(ctx)
    try:
        added = add_document(file, settings.docs_dir, title=title, symbol=symbol, date=date_,
                             kind=kind, organization=organization, replace=replace)
    except IngestError as exc:
        raise click.ClickException(str(exc)) from exc
    verb = "Replaced" if added.replaced else "Added"
    click.echo(f"{verb} {added.path}\nTitle: {added.title}\nSections: {added.sections}\n"
               f"Paragraphs: {added.paragraphs} ({added.numbered_paragraphs} numbered)")
    for warning in added.warnings:
        click.echo(f"Warning: {warning}")
    click.echo("\nNext: partnerbot index")
    _sessions(settings).audit(actor=_actor(), action="add",
                              detail={"file": file.name, "document": added.source_id})


@cli.command()
@click.argument("user_id", type=int)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def forget(ctx: click.Context, user_id: int, yes: bool) -> None:
    """Delete everything logged about USER_ID (messages, answers, feedback, runs).

    Example: partnerbot forget 123456789 --yes
    """
    if not yes:
        click.confirm(f"Delete all data of user {user_id}?", abort=True)
    counts = _sessions(_settings(ctx)).forget(user_id, by=_actor())
    click.echo("Deleted: " + ", ".join(f"{n} {table}" for table, n in counts.items()))


@cli.command()
@click.option("--days", type=click.IntRange(1), default=None,
              help="Keep texts of the last N days (default: PARTNERBOT_RETENTION_DAYS).")
@click.pass_context
def retention(ctx: click.Context, days: int | None) -> None:
    """Blank message texts older than N days, keeping the counts.

    The bot also applies PARTNERBOT_RETENTION_DAYS once a day by itself.

    Example: partnerbot retention --days 90
    """
    settings = _settings(ctx)
    days = days or settings.retention_days
    if days is None:
        raise click.ClickException("No retention period given.\n\nTry: partnerbot retention "
                                   "--days 90, or set PARTNERBOT_RETENTION_DAYS")
    count = _sessions(settings).apply_retention(days)
    click.echo(f"Blanked the text of {count} rows older than {days} days.")


def _checklist_problems(settings: Settings) -> list[str]:
    """Checklist problems (broken citations included) against the live index."""
    from bot.checklists import validate_paths

    if not settings.checklists_dir.is_dir():
        return []
    return validate_paths([settings.checklists_dir], has_passage=_has_passage(settings))
