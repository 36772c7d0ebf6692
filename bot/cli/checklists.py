"""Commands on the checklists: validate, list, show, run from a file of answers; cohort
exports."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from bot.checklists.model import Checklist, Cite, PassageText
from bot.checklists.sources import Passages
from bot.cli.base import cli, has_passage, passage_text, settings_of, store_of
from bot.settings import Settings


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

    settings = settings_of(ctx)
    resolver = passage_text(settings)
    targets = list(paths) or [settings.checklists_dir]
    problems = validate_paths(targets, passage_text=resolver)
    for problem in problems:
        click.echo(problem)
    if resolver is None:
        click.echo("Note: citations were not checked (no index). Try: partnerbot index", err=True)
    if problems:
        raise SystemExit(1)
    click.echo("All checklists are valid.")


def _loaded_checklists(settings: Settings) -> dict[str, Checklist]:
    from bot.checklists import load_checklists

    result = load_checklists(settings.checklists_dir, has_passage=has_passage(settings))
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
    for item in _loaded_checklists(settings_of(ctx)).values():
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
    item = _loaded_checklists(settings_of(ctx)).get(checklist_id)
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
                alone = ", chosen alone" if o.exclusive else ""
                click.echo(f"    {o.value}: {o.label}  (score {score}, risk {o.risk or '-'}"
                           f"{alone})")
            click.echo("    cites: " + "; ".join(f"{c.doc}, {c.locator}" for c in q.cites))
            click.echo(f"    applied by this tool: {q.applies}" if q.applies
                       else "    stated by the source")


@checklist.command("sources")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the table here (e.g. docs/checklist-sources.md) instead of printing it.")
@click.option("--check", is_flag=True,
              help="Do not write: exit 1 if the --output file differs from what would be written.")
@click.pass_context
def checklist_sources(ctx: click.Context, output: Path | None, check: bool) -> None:
    """Write the sources table: every checklist item, its citations, the cited sentence, and
    whether the source states it or this tool applies it.

    Example: partnerbot checklist sources --output docs/checklist-sources.md
    """
    from bot.checklists import load_checklists
    from bot.checklists.sources import sources_markdown

    settings = settings_of(ctx)
    passages, texts = corpus_passages(settings.docs_dir)
    loaded = load_checklists(settings.checklists_dir, passage_text=texts)
    if loaded.errors:
        for error in loaded.errors:
            click.echo(error, err=True)
        raise click.ClickException("Fix the checklists first.\n\nTry: partnerbot checklist "
                                   "validate")
    table = sources_markdown(loaded.checklists.values(), passages)
    if check:
        if output is None:
            raise click.UsageError("--check needs --output FILE, the file to compare.")
        current = output.read_text(encoding="utf-8") if output.is_file() else ""
        if current != table:
            raise click.ClickException(
                f"{output} is out of date.\n\nTry: partnerbot checklist sources --output "
                f"{output}")
        click.echo(f"{output} is up to date.")
    elif output is not None:
        output.write_text(table, encoding="utf-8")
        click.echo(f"Sources of {len(loaded.checklists)} checklists written to {output}",
                   err=True)
    else:
        click.echo(table, nl=False)


def corpus_passages(docs_dir: Path) -> tuple[Passages, PassageText]:
    """The passages of knowledge/docs, for the sources table (label and sentences) and for
    checking quotes (text)."""
    from bot.checklists.sources import Passage
    from index.corpus import read_corpus
    from index.sentences import units

    chunks = {(c.source, c.locator): c for d in read_corpus(docs_dir) for c in d.chunks}

    def passage(doc: str, locator: str) -> Passage | None:
        chunk = chunks.get((doc, locator))
        if chunk is None:
            return None
        return Passage(chunk.document_label, tuple(u.text for u in units(chunk.text)))

    def text(doc: str, locator: str) -> str | None:
        chunk = chunks.get((doc, locator))
        return None if chunk is None else chunk.text

    return passage, text


@checklist.command("run")
@click.argument("checklist_id")
@click.option("--answers", "answers_file", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="JSON or YAML map of question id to answer (and optionally partner: name).")
@click.option("--partner", default=None,
              help="The partner's name or reference (instead of the file's partner:).")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
@click.pass_context
def checklist_run(ctx: click.Context, checklist_id: str, answers_file: Path,
                  partner: str | None, as_json: bool) -> None:
    """Run a checklist non-interactively from a file of answers and print the outcome.

    The file is read strictly: an option by its value, a number as a number, text as text.
    Every problem is printed as file: question_id: message, and the exit code is 1.

    Example: partnerbot checklist run private-sector-screening --answers case.yaml
    """
    import yaml

    from bot.checklists.answers_file import AnswerFileError, run_from_answers

    item = _loaded_checklists(settings_of(ctx)).get(checklist_id)
    if item is None:
        raise click.ClickException(f"There is no checklist '{checklist_id}'.\n\n"
                                   "Try: partnerbot checklist list")
    name = answers_file.name
    try:
        answers = yaml.safe_load(answers_file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise click.ClickException(f"{name}: not valid JSON or YAML: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise click.ClickException(f"{name}: not UTF-8 text ({exc.reason})") from exc
    if not isinstance(answers, dict):
        raise click.ClickException(f"{name}: must be a map of question id to answer")
    try:
        result = run_from_answers(item, answers, source=name, partner=partner)
    except AnswerFileError as exc:
        for problem in exc.problems:
            click.echo(problem, err=True)
        raise SystemExit(1) from exc
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False))
    else:
        _print_result(result)
    if result["status"] != "completed":
        raise SystemExit(1)


def _print_result(result: dict[str, Any]) -> None:
    click.echo(f"Rating: {result['rating']} ({result['rating_label']})")
    if result["partner"]:
        click.echo(f"Partner: {result['partner']}")
    if result["percent"] is not None:
        click.echo(f"Score: {result['percent']:.0f}%")
    click.echo("Fired rules:")
    for rule in result["fired_rules"]:
        click.echo(f"- {rule['message']}")
    click.echo("Required actions:")
    for action in result["actions"]:
        cites = f" ({'; '.join(action['cites'])})" if action["cites"] else ""
        tool = f" [rule of this tool: {action['applies']}]" if action["applies"] else ""
        click.echo(f"- {action['text']}{cites}{tool}")
    click.echo("Asked: " + ", ".join(result["asked"]))
    click.echo("Skipped: " + (", ".join(result["skipped"]) or "none"))
    if result["ignored"]:
        click.echo("Not asked (answers ignored): " + ", ".join(result["ignored"]))


@cli.group("runs")
def runs_group() -> None:
    """Checklist runs recorded in the session log."""


def _write_rows(rows: list[dict[str, Any]], fmt: str, output: Path | None) -> None:
    from bot.exports import csv_dict_writer

    with contextlib.ExitStack() as stack:
        handle = (stack.enter_context(open(output, "w", encoding="utf-8", newline=""))
                  if output else sys.stdout)
        if fmt == "jsonl":
            for row in rows:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        else:
            writer = csv_dict_writer(handle, list(rows[0]) if rows else ["run_id"])
            writer.writeheader()
            writer.writerows(rows)
    if output:
        click.echo(f"{len(rows)} rows written to {output}", err=True)


@runs_group.command("export")
@click.option("--cohort", default=None, help="The cohort tag from the training link.")
@click.option("--partner", default=None, help="Only runs about this partner (any part of the "
              "name, any case).")
@click.option("--user", "user_id", type=int, default=None, help="Only runs of this user id.")
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default="csv",
              show_default=True)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write here instead of standard output.")
@click.pass_context
def runs_export(ctx: click.Context, cohort: str | None, partner: str | None,
                user_id: int | None, fmt: str, output: Path | None) -> None:
    """Export every answer of the matching runs, one row per answer, with partner and rating.

    Example: partnerbot runs export --cohort geneva-2026 --output cohort.csv
    """
    from bot.checklists.cohorts import run_rows

    if cohort is None and partner is None and user_id is None:
        raise click.UsageError("Give --cohort, --partner or --user (or several).")
    rows = run_rows(store_of(settings_of(ctx)), cohort=cohort, partner=partner,
                    user_id=user_id)
    _write_rows(rows, fmt, output)


@runs_group.command("list")
@click.option("--partner", default=None, help="Only runs about this partner (any part of the "
              "name, any case).")
@click.option("--user", "user_id", type=int, default=None, help="Only runs of this user id.")
@click.option("--cohort", default=None, help="Only runs of this training cohort.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per run.")
@click.pass_context
def runs_list(ctx: click.Context, partner: str | None, user_id: int | None,
              cohort: str | None, as_json: bool) -> None:
    """List checklist runs with their partner, status and rating, oldest first.

    Example: partnerbot runs list --partner acme
    """
    from bot.checklists.cohorts import run_list

    rows = run_list(store_of(settings_of(ctx)), cohort=cohort, partner=partner,
                    user_id=user_id)
    for row in rows:
        if as_json:
            click.echo(json.dumps(row, ensure_ascii=False))
        else:
            click.echo(f"{row['run_id']}  {row['started'][:10]}  {row['checklist']}  "
                       f"{row['partner'] or '(partner not named)'}  {row['status']}  "
                       f"{row['rating'] or '-'}")
    if not rows and not as_json:
        click.echo("No runs found.", err=True)


@runs_group.command("report")
@click.argument("run_id", type=int)
@click.option("--format", "fmt", type=click.Choice(["md", "csv"]), default="md",
              show_default=True)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write here instead of standard output.")
@click.pass_context
def runs_report(ctx: click.Context, run_id: int, fmt: str, output: Path | None) -> None:
    """Print the report of a past run again (Markdown or CSV), from its stored answers.

    Example: partnerbot runs report 12 --output run-12.md
    """
    from bot.checklists import engine
    from bot.checklists.cohorts import restore
    from bot.checklists.reports import csv_report, markdown_report

    settings = settings_of(ctx)
    run = store_of(settings).run(run_id)
    if run is None:
        raise click.ClickException(f"There is no run {run_id}.\n\nTry: partnerbot runs list")
    checklist, state = restore(run)
    outcome = engine.outcome(checklist, state)
    if fmt == "csv":
        text = csv_report(checklist, outcome)
    else:
        text = markdown_report(checklist, outcome, cite=_cite_labels(settings),
                               run_id=run_id, user=str(run["user_id"]), cohort=run["cohort"],
                               started=str(run.get("started_at") or ""),
                               finished=run.get("finished_at"))
    if output:
        output.write_text(text, encoding="utf-8")
        click.echo(f"Report of run {run_id} written to {output}", err=True)
    else:
        click.echo(text, nl=False)


def _cite_labels(settings: Settings) -> Callable[[Cite], str]:
    """Citations as the answers print them ("SG note on A/77/257, para 4"), from the
    knowledge documents' labels."""
    from index.corpus import read_corpus
    from index.errors import KnowledgeFileError

    try:
        labels = {d.source: d.label or d.symbol or d.title
                  for d in read_corpus(settings.docs_dir)}
    except KnowledgeFileError:
        labels = {}
    return lambda c: f"{labels.get(c.doc, c.doc)}, {c.locator}"
