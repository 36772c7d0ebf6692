"""The partner in reports, cohort rows and summaries; finding past runs and their reports again;
the result message; the generated sources table (docs/checklist-sources.md) is never stale."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bot import render
from bot.checklists import Checklist, load_checklist, load_checklists
from bot.checklists import engine as runs
from bot.checklists.cohorts import cohort_rows, cohort_summary, run_list
from bot.checklists.reports import CSV_COLUMNS, csv_report, markdown_report
from bot.checklists.sources import Passage, cited_sentence
from bot.cli import cli
from bot.store import SessionLog
from tests.conftest import ROOT

TINY = ROOT / "tests" / "data" / "checklists" / "valid" / "tiny.yaml"
AT = "2024-05-01T10:00:00+00:00"


@pytest.fixture
def tiny() -> Checklist:
    return load_checklist(TINY)


def cite(c: object) -> str:
    return f"{getattr(c, 'doc', '')}, {getattr(c, 'locator', '')}"


def finished(checklist: Checklist, *values: object, partner: str | None = None,
             cohort: str | None = None) -> runs.RunState:
    state = runs.start(checklist, partner=partner, cohort=cohort, training=cohort is not None)
    for value in values:
        state = (runs.skip(checklist, state, at=AT) if value is None
                 else runs.answer(checklist, state, value, at=AT))
    return state


def store_run(store: SessionLog, checklist: Checklist, state: runs.RunState, user: int) -> int:
    run_id = store.create_run(user_id=user, chat_id=user, checklist_id=checklist.id,
                              version=checklist.version, snapshot=checklist.to_snapshot(),
                              state=json.loads(runs.state_to_json(runs.start(checklist))),
                              training=state.training, cohort=state.cohort)
    result = runs.outcome(checklist, state)
    store.save_run(run_id, state=json.loads(runs.state_to_json(state)), status=state.status,
                   rating=result.rating_id, score=result.percent)
    return run_id


# --- reports and the result message ---------------------------------------------------------


def test_reports_name_the_partner_and_mark_the_rules_of_this_tool(tiny: Checklist) -> None:
    state = finished(tiny, "no", "partnership", "na", "anti_corruption", "10", "Fine.",
                     partner="=ACME Ltd")
    result = runs.outcome(tiny, state)
    assert result.rating_id == "medium"
    report = markdown_report(tiny, result, cite=cite, run_id=3, user="Ana", cohort=None,
                             started="2024-05-01", finished="2024-05-02")
    assert report.startswith("# Tiny screening: =ACME Ltd\n\n- Partner: =ACME Ltd\n")
    assert "- Agree a mitigation plan with the partner.\n  - _Rule of this tool: This test " \
           "checklist sets this action itself._" in report
    assert "| 6 | Anything else the reviewer should know? | Fine. |" in report
    assert "this tool's own, not UN rules" in report
    rows = list(csv.reader(io.StringIO(csv_report(tiny, result))))
    assert rows[0] == CSV_COLUMNS
    assert {row[2] for row in rows[1:]} == {"'=ACME Ltd"}  # never run as a formula
    hidden = markdown_report(tiny, runs.outcome(tiny, finished(tiny, "no", "donation", None,
                                                               "10", None)),
                             cite=cite, run_id=4, user="Ana", cohort="c1", started="x",
                             finished=None)
    assert "- Partner: not named" in hidden
    assert "## Not asked\n\nThese questions did not apply, given the answers above:\n\n" \
           "- Has the company committed to the Global Compact principles?\n" \
           "- How serious are any past controversies?" in hidden


def test_the_result_message_is_short(tiny: Checklist) -> None:
    state = finished(tiny, "no", "partnership", "no", "none", "60", "minor", None,
                     partner="ACME <Ltd>")
    html = render.outcome_message(tiny, runs.outcome(tiny, state), cite)
    assert html.splitlines()[:3] == ["<b>Result: High risk</b>", "Partner: <b>ACME &lt;Ltd&gt;</b>",
                                     "Score 9% (not applicable and skipped questions are left "
                                     "out)"]
    assert "<b>Why</b>" in html and "<b>Required actions</b>" in html
    assert "• Ask the company to join the Global Compact. <i>(towards-global-partnerships, " \
           "para 20)</i>" in html
    assert "Has the company committed" not in html.split("<b>Why</b>")[1].split(
        "<b>Required actions</b>")[1]  # no list of answers: they are in the report
    assert html.endswith("in the attached report (Markdown and CSV).")
    medium = render.outcome_message(tiny, runs.outcome(tiny, finished(
        tiny, "no", "partnership", "na", "anti_corruption", "10", None)), cite)
    assert "\n  <i>Rule of this tool: This test checklist sets this action itself.</i>" in medium
    gate = render.outcome_message(tiny, runs.outcome(tiny, finished(tiny, "yes")), cite)
    assert "Score" not in gate and "Partner" not in gate


# --- past runs: cohorts, lists, exports, reports again --------------------------------------


@pytest.fixture
def data_dir(tmp_path: Path, tiny: Checklist) -> Path:
    store = SessionLog(tmp_path / "partnerbot.db")
    store_run(store, tiny, finished(tiny, "yes", partner="ACME Ltd", cohort="geneva"), 5)
    store_run(store, tiny, finished(tiny, "no", "donation", None, "10", None,
                                    partner="Beta NGO", cohort="geneva"), 6)
    store_run(store, tiny, finished(tiny, "no", "donation", None, "12", None), 5)
    return tmp_path


def test_cohort_rows_and_summary_carry_the_partner(data_dir: Path) -> None:
    store = SessionLog(data_dir / "partnerbot.db")
    rows = cohort_rows(store, "geneva")
    assert [(r["run_id"], r["partner"], r["question_id"]) for r in rows][:2] == [
        (1, "ACME Ltd", "sanctions"), (2, "Beta NGO", "sanctions")]
    summary = cohort_summary(store, "geneva")
    assert summary["partners"] == [
        {"run_id": 1, "user_id": 5, "partner": "ACME Ltd", "checklist": "tiny-screening",
         "status": "completed", "rating": "excluded"},
        {"run_id": 2, "user_id": 6, "partner": "Beta NGO", "checklist": "tiny-screening",
         "status": "completed", "rating": "low"}]
    assert [r["run_id"] for r in run_list(store, partner="acme")] == [1]
    assert [r["run_id"] for r in run_list(store, user_id=5)] == [1, 3]


def invoke(data_dir: Path, *args: str) -> Result:
    env = {"PARTNERBOT_DATA_DIR": str(data_dir),
           "PARTNERBOT_KNOWLEDGE_DIR": str(ROOT / "knowledge")}
    return CliRunner().invoke(cli, list(args), env=env)


def test_staff_find_their_past_runs_and_reports_again(data_dir: Path) -> None:
    listed = invoke(data_dir, "runs", "list", "--user", "5")
    assert listed.exit_code == 0, listed.output
    lines = listed.stdout.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("1  ") and lines[0].endswith(
        "  tiny-screening  ACME Ltd  completed  excluded")
    assert lines[1].endswith("  tiny-screening  (partner not named)  completed  low")
    as_json = invoke(data_dir, "runs", "list", "--partner", "BETA", "--json")
    assert [json.loads(line)["run_id"] for line in as_json.stdout.splitlines()] == [2]
    assert invoke(data_dir, "runs", "list", "--partner", "nobody").stderr == "No runs found.\n"
    report = invoke(data_dir, "runs", "report", "1")
    assert report.exit_code == 0, report.output
    assert report.stdout.startswith("# Tiny screening: ACME Ltd\n")
    assert "Stopped by the exclusion gate `sanctions`." in report.stdout
    as_csv = invoke(data_dir, "runs", "report", "2", "--format", "csv")
    assert next(csv.DictReader(io.StringIO(as_csv.stdout)))["partner"] == "Beta NGO"
    missing = invoke(data_dir, "runs", "report", "99")
    assert missing.exit_code == 1 and "There is no run 99." in missing.output
    exported = invoke(data_dir, "runs", "export", "--partner", "acme", "--format", "jsonl")
    assert {json.loads(line)["partner"] for line in exported.stdout.splitlines()} == {"ACME Ltd"}
    assert invoke(data_dir, "runs", "export").exit_code == 2  # says what to filter by


# --- the sources table ----------------------------------------------------------------------


def test_the_sources_table_in_docs_is_up_to_date(tmp_path: Path) -> None:
    result = invoke(tmp_path, "checklist", "sources", "--output",
                    str(ROOT / "docs" / "checklist-sources.md"), "--check")
    assert result.exit_code == 0, (
        f"{result.output}\ndocs/checklist-sources.md is stale: run "
        "partnerbot checklist sources --output docs/checklist-sources.md")
    stale = tmp_path / "old.md"
    stale.write_text("# Checklist sources\n", encoding="utf-8")
    check = invoke(tmp_path, "checklist", "sources", "--output", str(stale), "--check")
    assert check.exit_code == 1 and "is out of date" in check.output


def test_the_sources_table_lists_every_item_with_its_basis() -> None:
    table = (ROOT / "docs" / "checklist-sources.md").read_text(encoding="utf-8")
    loaded = load_checklists(ROOT / "knowledge" / "checklists")
    for checklist in loaded.checklists.values():
        for question in checklist.questions():
            assert f"| Question `{question.id}`: " in table
    assert ("| Question `kpis`: Have performance indicators been agreed for this partner, with "
            "a way to collect, monitor and report the data? | Applied by this tool: This tool "
            "applies Recommendation 7, addressed to organizations, to a single partner. | SG "
            "note on A/77/257, Recommendation 7 |") in table
    assert ("| Question `benchmarks`: Has the partnership set clear benchmarks and time-bound "
            "targets against which it can be evaluated? | Stated | Towards global partnerships, "
            "para 49 | **At the very least, all partnerships should establish clear benchmarks "
            "and time-bound targets against which they can be evaluated.** |") in table


def test_the_cited_sentence_is_the_one_holding_the_quote() -> None:
    passage = Passage("Doc", ("First sentence.", "The partner’s “rule” applies here.",
                              "Third one."))
    assert cited_sentence(passage, "rule” applies") == (
        "The partner’s “**rule” applies** here.")
    assert cited_sentence(passage, "partner's “rule”") == "The partner’s “rule” applies here."
    assert cited_sentence(passage, "here. Third") == (
        "The partner’s “rule” applies **here. Third** one.")
    assert cited_sentence(passage, None) == "(the whole passage)"
    assert cited_sentence(passage, "absent") == "“absent” (not found in the passage)"
