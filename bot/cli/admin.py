"""Commands for admins: stats, export, users, forget, retention."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import click

from bot.cli.base import actor, cli, day, settings_of, store_of
from bot.inputs import InputError, parse_row_id, parse_user_id
from bot.settings import Settings
from index.errors import IndexProblem


class UserIdType(click.ParamType):
    """A Telegram user id, read by the one parser (bot/inputs.py): digits 0-9, 1 to 2**52 - 1,
    not the bot's own id; anything else is a usage error saying what was wrong."""

    name = "user id"

    def convert(self, value: object, param: click.Parameter | None,
                ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        settings = ctx.find_root().obj if ctx is not None else None
        bot_id = settings.bot_id if isinstance(settings, Settings) else None
        try:
            return parse_user_id(str(value), bot_id=bot_id)
        except InputError as exc:
            self.fail(f"{exc.message} Try: {exc.hint}", param, ctx)


class RowIdType(click.ParamType):
    """A join request's number (digits 0-9, within SQLite's integers)."""

    name = "request id"

    def convert(self, value: object, param: click.Parameter | None,
                ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        try:
            return parse_row_id(str(value))
        except InputError as exc:
            self.fail(f"{exc.message} Try: {exc.hint}", param, ctx)


USER_ID = UserIdType()
REQUEST_ID = RowIdType()


@cli.command()
@click.option("--since", help="Only activity on or after this date (YYYY-MM-DD).")
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the questions-per-day chart to this PNG file.")
@click.pass_context
def stats(ctx: click.Context, since: str | None, plot: Path | None) -> None:
    """Usage, answered vs declined, uncovered questions, negative feedback, checklist runs.

    Example: partnerbot stats --since 2026-11-01 --plot usage.png
    """
    from bot.admin.ops import chart_png, stats_text
    from index.store import load_live

    settings = settings_of(ctx)
    figures = store_of(settings).stats(since=day(since))
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

    settings = settings_of(ctx)
    log = store_of(settings)
    since_day = day(since)
    if fmt == "csv":
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
        directory = output or settings.data_dir / "exports" / stamp
        counts = log.export_all(directory, fmt="csv", since=since_day)
        for table, count in counts.items():
            click.echo(f"{directory / (table + '.csv')}: {count} rows")
    elif output is not None:
        with open(output, "w", encoding="utf-8") as handle:
            count = log.export(handle, fmt="jsonl", since=since_day)
        click.echo(f"{count} rows written to {output}", err=True)
    else:
        count = log.export(sys.stdout, fmt="jsonl", since=since_day)
    log.audit(actor=actor(), action="export", detail={"format": fmt, "since": since})


@cli.group()
def users() -> None:
    """Who may use the bot: list, allow, revoke, and join requests."""


@users.command("list")
@click.pass_context
def users_list(ctx: click.Context) -> None:
    """List users with their roles and pending join requests.

    Example: partnerbot users list
    """
    log = store_of(settings_of(ctx))
    for row in log.users():
        click.echo(f"{row['id']}  {row.get('role') or '-':8} {row.get('username') or ''}  "
                   f"last seen {row.get('last_seen') or '-'}")
    for request in log.pending_requests():
        click.echo(f"request {request['id']}: user {request['user_id']} "
                   f"{request.get('username') or ''} waiting since {request['requested_at']}")


@users.command("allow")
@click.argument("user_id", type=USER_ID)
@click.option("--role", type=click.Choice(["staff", "trainer", "admin"]), default="staff",
              show_default=True)
@click.pass_context
def users_allow(ctx: click.Context, user_id: int, role: str) -> None:
    """Give USER_ID access with a role.

    Example: partnerbot users allow 123456789 --role trainer
    """
    from bot.admin.flow import access_message
    from bot.render import to_plain

    change = store_of(settings_of(ctx)).change_access(user_id, role, by=actor())
    message = to_plain(access_message(change, revoke=False))
    if change.refused is not None:
        raise click.ClickException(message)
    click.echo(message)


@users.command("revoke")
@click.argument("user_id", type=USER_ID)
@click.pass_context
def users_revoke(ctx: click.Context, user_id: int) -> None:
    """Take access away from USER_ID.

    Example: partnerbot users revoke 123456789
    """
    from bot.admin.flow import access_message
    from bot.render import to_plain

    settings = settings_of(ctx)
    change = store_of(settings).change_access(user_id, None, by=actor(),
                                              open_pilot=settings.open_pilot)
    message = to_plain(access_message(change, revoke=True))
    if change.refused is not None:
        raise click.ClickException(message)
    click.echo(message)


@users.command("approve")
@click.argument("request_id", type=REQUEST_ID)
@click.option("--role", type=click.Choice(["staff", "trainer", "admin"]), default="staff",
              show_default=True)
@click.option("--deny", is_flag=True, help="Deny the request instead.")
@click.pass_context
def users_approve(ctx: click.Context, request_id: int, role: str, deny: bool) -> None:
    """Approve (or --deny) a join request made with the join code.

    Example: partnerbot users approve 3 --role staff
    """
    row = store_of(settings_of(ctx)).resolve_request(request_id, approve=not deny, by=actor(),
                                                    role=role)
    if row is None:
        raise click.ClickException(f"There is no pending request {request_id}.\n\n"
                                   "Try: partnerbot users list")
    click.echo(f"Request {request_id} {'denied' if deny else 'approved'}.")


@cli.command()
@click.argument("user_id", type=USER_ID)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def forget(ctx: click.Context, user_id: int, yes: bool) -> None:
    """Delete everything logged about USER_ID (messages, answers, feedback, runs).

    Example: partnerbot forget 123456789 --yes
    """
    if not yes:
        click.confirm(f"Delete all data of user {user_id}?", abort=True)
    counts = store_of(settings_of(ctx)).forget(user_id, by=actor())
    kept = counts.pop("revocation_kept", 0)
    click.echo("Deleted: " + ", ".join(f"{n} {table}" for table, n in counts.items()))
    if kept:
        click.echo(f"Kept: the revocation of user {user_id} (their id alone), so they stay "
                   "without access.")


@cli.command()
@click.option("--days", type=click.IntRange(1, 36500), default=None,
              help="Keep texts of the last N days (default: PARTNERBOT_RETENTION_DAYS).")
@click.pass_context
def retention(ctx: click.Context, days: int | None) -> None:
    """Blank message texts older than N days, keeping the counts.

    The bot also applies PARTNERBOT_RETENTION_DAYS once a day by itself.

    Example: partnerbot retention --days 90
    """
    settings = settings_of(ctx)
    days = days or settings.retention_days
    if days is None:
        raise click.ClickException("No retention period given.\n\nTry: partnerbot retention "
                                   "--days 90, or set PARTNERBOT_RETENTION_DAYS")
    count = store_of(settings).apply_retention(days)
    click.echo(f"Blanked the text of {count} rows older than {days} days.")




@cli.command("migrate-store")
@click.option("--to", "url", required=True, metavar="postgresql://...",
              help="The empty PostgreSQL database to copy the session log into.")
@click.option("--from", "source", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="The SQLite session log (default: <data dir>/partnerbot.db).")
@click.pass_context
def migrate_store(ctx: click.Context, url: str, source: Path | None) -> None:
    """Copy the SQLite session log into an empty PostgreSQL database, checked row for row.

    Stop the bot first. Every table is copied in one transaction, the ids continue after the
    copied ones, and every row is compared before the copy is committed; a target that holds
    anything is refused. Then set PARTNERBOT_DATABASE_URL to the URL and start the workers.

    Example: partnerbot migrate-store --to postgresql://partnerbot@db.internal/partnerbot
    """
    from bot.store import open_log
    from bot.store.db import redact_url
    from bot.store.sql import is_url
    from bot.store.transfer import CopyProblem, copy_to_postgresql

    if not is_url(url):
        raise CopyProblem(f"--to must be a PostgreSQL URL, not {redact_url(url)!r}.",
                          "partnerbot migrate-store --to postgresql://user@host/database")
    settings = settings_of(ctx)
    path = source or settings.db_path
    copied = copy_to_postgresql(path, url)
    for table, count in copied.rows.items():
        click.echo(f"{table}: {count} rows copied and checked")
    if copied.nul_replaced:
        click.echo(f"{copied.nul_replaced} text values held a NUL character, which PostgreSQL "
                   "cannot store: it was replaced with U+FFFD (as the bot does)")
    with open_log(url, settings.data_dir) as target:
        target.audit(actor=actor(), action="migrate-store",
                     detail={"from": str(path), "rows": copied.total})
    click.echo(f"\n{copied.total} rows copied from {path} to {redact_url(url)} and checked "
               "row for row; new ids continue after the copied ones.\n"
               f"Next: stop using {path} (keep it as a backup), set "
               "PARTNERBOT_DATABASE_URL to this URL and start the workers.")


@cli.command()
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The backup file (default: <data dir>/backups/partnerbot-<time>.db); "
                   "never overwritten.")
@click.pass_context
def backup(ctx: click.Context, output: Path | None) -> None:
    """Back up the SQLite session log to one file, safely while the bot runs.

    SQLite's backup API copies one consistent state of the database. With
    PARTNERBOT_DATABASE_URL set, use pg_dump instead (docs/deployment.md).

    Example: partnerbot backup --output /srv/backups/partnerbot-monday.db
    """
    settings = settings_of(ctx)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    target = output or settings.data_dir / "backups" / f"partnerbot-{stamp}.db"
    with store_of(settings) as log:
        pages = log.backup(target)
    click.echo(f"Backed up {log.where} to {target} ({pages} pages).")
