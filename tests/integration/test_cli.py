"""The `partnerbot` command forms, with the real packaged model and real files."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bot.cli import cli
from index.build import build_index
from index.embedders import HashingEmbedder
from index.store import current_version, versions_dir
from tests.conftest import ROOT, SAMPLE_DOCS

IN_SCOPE = "Should we use the UN Partner Portal to manage implementing partners?"
OUT_OF_SCOPE = "What is the daily subsistence allowance rate for a trip to Geneva?"


def invoke(data_dir: Path, *args: str, knowledge: Path | None = None, stdin: str | None = None,
           **env: str) -> Result:
    environment = {"PARTNERBOT_DATA_DIR": str(data_dir),
                   "PARTNERBOT_KNOWLEDGE_DIR": str(knowledge or ROOT / "knowledge"), **env}
    return CliRunner().invoke(cli, list(args), env=environment, input=stdin)


def test_index_prints_counts_then_reports_unchanged(tmp_path: Path) -> None:
    knowledge = tmp_path / "knowledge"
    shutil.copytree(SAMPLE_DOCS, knowledge / "docs")
    result = invoke(tmp_path / "var", "index", knowledge=knowledge)
    assert result.exit_code == 0, result.output
    assert re.search(r"Documents: 2\nChunks: 13\nAdded: 13\nUnchanged: 0\nRemoved: 0\n"
                     r"Seconds: \d+\.\d\nVersion: \S+ \(switched to\)", result.stdout)
    (knowledge / "docs" / "table-and-issues.md").unlink()
    again = invoke(tmp_path / "var", "index", knowledge=knowledge)
    assert "Chunks: 9\nAdded: 0\nUnchanged: 9\nRemoved: 4" in again.stdout
    status = invoke(tmp_path / "var", "index", "--status", knowledge=knowledge)
    assert status.stdout.count("\n") == 2 and status.stdout.startswith("* ")
    back = invoke(tmp_path / "var", "index", "--rollback", knowledge=knowledge)
    assert back.exit_code == 0 and back.stdout.startswith("Rolled back from ")


def test_search_json_single_question(real_data_dir: Path) -> None:
    result = invoke(real_data_dir, "search", "--json", "--top-k", "3", IN_SCOPE)
    assert result.exit_code == 0, result.output
    row = json.loads(result.stdout)
    assert row["query"] == IN_SCOPE
    assert len(row["results"]) == 3
    first = row["results"][0]
    assert set(first) == {"id", "text", "source", "title", "locator", "score"}
    assert "**" not in first["text"] and first["score"] > 0


def test_search_and_ask_read_questions_from_stdin(real_data_dir: Path) -> None:
    result = invoke(real_data_dir, "ask", "--json", stdin=f"{IN_SCOPE}\n\n{OUT_OF_SCOPE}\n")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["query"] for r in rows] == [IN_SCOPE, OUT_OF_SCOPE]
    answered, declined = rows
    assert answered["grounded"] is True
    assert "jiu-implementing-partners" in {c["source"] for c in answered["citations"]}
    assert "A/77/257" in answered["answer"] and "Sources" in answered["answer"]
    assert declined["grounded"] is False
    assert "does not cover this question" in declined["answer"]
    search = invoke(real_data_dir, "search", "--json", stdin=f"{IN_SCOPE}\n{OUT_OF_SCOPE}\n")
    assert len(search.stdout.splitlines()) == 2


def test_ask_plain_text_has_quotes_and_sources(real_data_dir: Path) -> None:
    result = invoke(real_data_dir, "ask", IN_SCOPE)
    assert result.exit_code == 0
    assert "“" in result.stdout and "— SG note on A/77/257, " in result.stdout
    assert "\nSources\n• SG note on A/77/257: Review of the management of implementing " \
        "partners" in result.stdout


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("", "Your message is empty"),
        ("   ", "Your message is empty"),
        ("🤝🤔 ?!", "I could not find any words"),
        ("Welche Partner brauchen eine Schulung zur Betrugsbekämpfung?",
         "I answer questions in English, French and Spanish only"),
    ],
)
def test_bad_questions_get_a_clear_message(real_data_dir: Path, question: str,
                                           expected: str) -> None:
    result = invoke(real_data_dir, "ask", "--json", question)
    assert result.exit_code == 0
    row = json.loads(result.stdout)
    assert row["grounded"] is False and expected in row["answer"]


@pytest.mark.parametrize(("question", "language", "sources"), [
    ("Quels partenaires doivent suivre une formation sur la fraude ?", "fr", "\nSources\n"),
    ("¿Cómo se debe seleccionar a los socios de implementación?", "es", "\nFuentes\n"),
])
def test_ask_answers_french_and_spanish_in_their_language(real_data_dir: Path, question: str,
                                                          language: str, sources: str) -> None:
    """The quotes stay the English guidance; what is said around them is the question's."""
    result = invoke(real_data_dir, "ask", "--json", question)
    row = json.loads(result.stdout)
    assert row["grounded"] is True and row["language"] == language
    assert sources in row["answer"] and "A/77/257" in row["answer"]
    assert "jiu-implementing-partners" in {c["source"] for c in row["citations"]}
    assert all(c["quote"] in row["answer"] for c in row["citations"])
    assert "implementing partner" in " ".join(c["quote"] for c in row["citations"])


def test_a_huge_question_is_searched_by_its_start_and_says_so(real_data_dir: Path) -> None:
    question = IN_SCOPE + " " + "x" * 20_000
    result = invoke(real_data_dir, "ask", "--json", question)
    row = json.loads(result.stdout)
    assert row["query"] == question
    assert "20,069 characters long; I searched with its first 1,000" in row["answer"]


def test_no_index_says_what_to_do(tmp_path: Path) -> None:
    result = invoke(tmp_path / "empty", "ask", IN_SCOPE)
    assert result.exit_code == 1
    assert "No index has been built yet" in result.output
    assert "Try: partnerbot index" in result.output


def test_index_from_another_model_is_refused(tmp_path: Path) -> None:
    build_index(SAMPLE_DOCS, tmp_path / "var" / "index", HashingEmbedder())
    result = invoke(tmp_path / "var", "search", "screening")
    assert result.exit_code == 1
    assert "built with the model 'hashing-256', but the settings name 'all-MiniLM-L6-v2'" in (
        result.output)


def test_corrupt_index_file_keeps_the_previous_version_serving(tmp_path: Path,
                                                               real_index_dir: Path) -> None:
    data = tmp_path / "var"
    shutil.copytree(real_index_dir, data / "index")
    knowledge = tmp_path / "knowledge"
    shutil.copytree(ROOT / "knowledge" / "docs", knowledge / "docs")
    old = current_version(data / "index")
    (knowledge / "docs" / "unece-private-sector-evaluation.md").unlink()
    assert invoke(data, "index", knowledge=knowledge).exit_code == 0
    new = current_version(data / "index")
    assert new != old
    vectors = versions_dir(data / "index") / str(new) / "chunks.jsonl"
    vectors.write_bytes(vectors.read_bytes()[:100])  # truncated
    result = invoke(data, "search", "--json", "UNECE partnership strategy", knowledge=knowledge)
    assert result.exit_code == 0, result.output
    sources = {r["source"] for r in json.loads(result.stdout)["results"]}
    assert "unece-private-sector-evaluation" in sources  # only the old version has it


def test_invalid_settings_name_the_variable(tmp_path: Path) -> None:
    result = invoke(tmp_path, "ask", "x", PARTNERBOT_TOP_K="0")
    assert result.exit_code == 1
    assert "PARTNERBOT_TOP_K" in result.output and "greater than or equal to 1" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("variable", ["PARTNERBOT_LOG_LEVEL", "PARTNERBOT_ONNX"])
def test_every_setting_is_checked_at_start(tmp_path: Path, variable: str) -> None:
    env = {"PARTNERBOT_DATA_DIR": str(tmp_path), variable: "LOUD"}
    result = CliRunner().invoke(cli, ["stats"], env=env)
    assert result.exit_code == 1 and result.exception is not None
    assert isinstance(result.exception, SystemExit)
    assert result.output.startswith(f"Error: Invalid settings:\n{variable}: ")


def test_a_read_only_database_is_a_clear_error(tmp_path: Path) -> None:
    """`partnerbot users allow` on a database it cannot write: a message, no traceback."""
    assert invoke(tmp_path, "users", "list").exit_code == 0  # creates the database
    db = tmp_path / "partnerbot.db"
    db.chmod(0o444)
    try:
        result = invoke(tmp_path, "users", "allow", "5")
    finally:
        db.chmod(0o644)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert result.output.startswith("Error: Could not write to the session log")
    assert "\n\nTry: " in result.output
