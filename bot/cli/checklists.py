"""Commands on the checklists: validate, list, show, run from a file of answers; cohort
exports."""

from __future__ import annotations

import contextlib
import csv
import json
import sys
from pathlib import Path

import click

from bot.checklists.model import Checklist
from bot.cli.base import cli, has_passage, settings_of, store_of
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
    resolver = has_passage(settings)
    targets = list(paths) or [settings.checklists_dir]
    problems = validate_paths(targets, has_passage=resolver)
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

    from bot.checklists.answers_file import run_from_answers

    item = _loaded_checklists(settings_of(ctx)).get(checklist_id)
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
    from bot.checklists.cohorts import cohort_rows

    settings = settings_of(ctx)
    rows = cohort_rows(store_of(settings), cohort)

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


