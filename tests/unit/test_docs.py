"""The README is part of the tested surface: commands, examples, the checklist sample."""

from __future__ import annotations

import re
from pathlib import Path

import click
import yaml

from bot.checklists import checklist_from_dict, validate_paths
from bot.checklists.answers_file import run_from_answers
from bot.cli import cli
from bot.cli.base import COMMANDS
from index.corpus import read_corpus
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def all_commands(group: click.Group, prefix: str = "partnerbot") -> list[tuple[str, click.Command]]:
    found = []
    ctx = click.Context(group)
    for name in group.list_commands(ctx):  # the top group imports its commands' modules here
        command = group.get_command(ctx, name)
        assert command is not None, name
        path = f"{prefix} {name}"
        found.append((path, command))
        if isinstance(command, click.Group):
            found.extend(all_commands(command, path))
    return found


def test_every_command_has_help_and_an_example_in_the_readme() -> None:
    for path, command in all_commands(cli):
        assert command.help, f"{path} has no help text"
        if not isinstance(command, click.Group):
            example = re.compile(rf"^(?:[A-Z_]+=\S+ )*{re.escape(path)}(?: |$)", re.MULTILINE)
            assert example.search(README), f"{path} has no example line in README.md"
            assert "Example:" in command.help, f"{path} --help has no example"


def test_each_command_is_found_in_the_module_the_lazy_group_imports_for_it() -> None:
    ctx = click.Context(cli)
    listed = {name: module for module, names in COMMANDS.items() for name in names}
    assert sorted(cli.list_commands(ctx)) == sorted(listed)
    for name, module in listed.items():
        command = cli.get_command(ctx, name)
        assert command is not None and command.callback is not None, name
        assert command.callback.__module__ == module, name


def test_readme_checklist_example_validates_and_runs(tmp_path: Path) -> None:
    block = README.split("A short complete\nexample:\n\n```yaml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "small-grant-check.yaml"
    path.write_text(block, encoding="utf-8")
    index = {(c.source, c.locator) for d in read_corpus(ROOT / "knowledge" / "docs")
             for c in d.chunks}
    assert validate_paths([path], has_passage=lambda d, loc: (d, loc) in index) == []
    checklist = checklist_from_dict(yaml.safe_load(block))
    result = run_from_answers(checklist, {"policy_bars": "no", "due_diligence": "done"})
    assert result["rating"] == "low"
    assert run_from_answers(checklist, {"policy_bars": "yes"})["rating"] == "excluded"


def test_shipped_checklists_and_documents_are_valid() -> None:
    index = {(c.source, c.locator) for d in read_corpus(ROOT / "knowledge" / "docs")
             for c in d.chunks}
    problems = validate_paths([ROOT / "knowledge" / "checklists"],
                              has_passage=lambda d, loc: (d, loc) in index)
    assert problems == []


def test_readme_names_the_two_commands_and_ci_calls_the_test_one() -> None:
    assert "bash scripts/start.sh" in README and "bash scripts/test.sh" in README
    assert "scripts/test.sh" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
