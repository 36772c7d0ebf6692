"""`partnerbot checklist run` reads answer files strictly: every wrong answer is reported as
`file: question_id: message` and the command exits with 1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bot.cli import cli
from tests.conftest import ROOT

CLEAN = """\
policy_bars: "no"
sop_followed: "yes"
partner_type: international
cash_value: 0
proportionate: "yes"
strategic_fit: "yes"
national_fit: "yes"
risk_register: "yes"
due_diligence: done
capacity: adequate
coi_checked: none_found
partner_portal: "yes"
country_coordination: na
psea: adequate
fraud: measures_agreed
staff_training: [assessment, psea]
kpis: "yes"
risk_based_monitoring: "yes"
evaluation: "yes"
"""


def run_file(tmp_path: Path, text: str, *args: str, name: str = "case.yaml",
             checklist: str = "implementing-partner-selection") -> Result:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    env = {"PARTNERBOT_DATA_DIR": str(tmp_path / "var"),
           "PARTNERBOT_KNOWLEDGE_DIR": str(ROOT / "knowledge")}
    return CliRunner().invoke(cli, ["checklist", "run", checklist, "--answers", str(path),
                                    *args], env=env)


def replaced(key: str, value: str) -> str:
    lines = [f"{key}: {value}" if line.startswith(f"{key}:") else line
             for line in CLEAN.splitlines()]
    return "\n".join(lines) + "\n"


def test_a_clean_file_runs_and_names_the_partner(tmp_path: Path) -> None:
    result = run_file(tmp_path, "partner: Local Health NGO\n" + CLEAN)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Rating: low (Low risk (proceed))\nPartner: Local Health "
                                    "NGO\nScore: 100%\n")
    assert "[rule of this tool: This tool applies Recommendation 7" in result.stdout
    assert "Skipped: notes" in result.stdout
    as_json = run_file(tmp_path, "partner: Local Health NGO\n" + CLEAN, "--json",
                       "--partner", "Ref 2024/17")
    assert json.loads(as_json.stdout)["partner"] == "Ref 2024/17"  # the option wins


@pytest.mark.parametrize(("key", "value", "message"), [
    ("psea", "1", "Expected an option value, got the number 1: answer files name options by "
                  "their value, not their position. Use one of: adequate, gaps, not_done."),
    ("psea", '"2"', "Expected an option value, got the number 2: answer files name options by "
                    "their value, not their position. Use one of: adequate, gaps, not_done."),
    ("psea", "Adequate", "Not an option value of this question: 'Adequate'. Use one of: "
                         "adequate, gaps, not_done."),
    ("policy_bars", "no", 'Got false, not an answer: YAML reads a bare yes, no, on or off as '
                          'true or false, so quote the value, e.g. "yes" or "no".'),
    ("sop_followed", "yes", 'Got true, not an answer: YAML reads a bare yes, no, on or off as '
                            'true or false, so quote the value, e.g. "yes" or "no".'),
    ("staff_training", "[assessment, psea, none]",
     "'None of these' cannot be combined with other options: choose it alone."),
    ("staff_training", "{psea: true}", "Expected a list of option values, got a mapping. Use "
                                       "some of: assessment, monitoring, fraud, psea, "
                                       "cash_portal, none."),
    ("staff_training", "[2]", "Not an option value of this question: the number 2. Use one of: "
                              "assessment, monitoring, fraud, psea, cash_portal, none."),
    ("capacity", "[adequate]", "Expected one option value, got a list. Use one of: adequate, "
                               "gaps, not_done."),
    ("cash_value", '"1,500"', "Expected a number, got the text '1,500'."),
    ("cash_value", "-5", "The number must be at least 0. Send a larger number."),
    ("cash_value", "off", 'Got false, not an answer: YAML reads a bare yes, no, on or off as '
                          'true or false, so quote the value, e.g. "yes" or "no".'),
])
def test_a_wrong_answer_exits_1_naming_file_and_question(tmp_path: Path, key: str, value: str,
                                                         message: str) -> None:
    result = run_file(tmp_path, replaced(key, value))
    assert result.exit_code == 1
    assert result.stderr == f"case.yaml: {key}: {message}\n"
    assert result.stdout == ""


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = replaced("psea", "1") + "notes: 42\nstaff: someone\npartner: 7\n"
    result = run_file(tmp_path, text)
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "case.yaml: psea: Expected an option value, got the number 1: answer files name "
        "options by their value, not their position. Use one of: adequate, gaps, not_done.",
        "case.yaml: notes: Expected text, got the number 42. Quote it if that is the answer.",
        "case.yaml: staff: there is no question 'staff' in the checklist "
        "'implementing-partner-selection' (see: partnerbot checklist show "
        "implementing-partner-selection)",
        "case.yaml: partner: expected the partner's name or reference as text, got the number 7",
    ]


def test_a_count_is_a_whole_number_within_its_bounds(tmp_path: Path) -> None:
    case = ("engagement_type: advocacy\ncontributions: [cash]\nnational_law: \"yes\"\n"
            "simplified_route: \"no\"\nscreening_result: passed\nconcerns_found: {}\n")
    for value, message in (("2.5", "This question takes a whole number, not 2.5."),
                           ("-1", "The number must be at least 0. Send a larger number."),
                           ("1001", "The number must be at most 1,000. Send a smaller number.")):
        result = run_file(tmp_path, case.format(value), checklist="private-sector-screening")
        assert result.exit_code == 1
        assert result.stderr == f"case.yaml: concerns_found: {message}\n"


def test_a_missing_answer_names_the_question_asked(tmp_path: Path) -> None:
    text = "\n".join(line for line in CLEAN.splitlines() if not line.startswith("psea:")) + "\n"
    result = run_file(tmp_path, text)
    assert result.exit_code == 1
    assert result.stderr == (
        'case.yaml: psea: no answer for this question, which is asked here ("Has the '
        "partner's capacity to prevent sexual exploitation and abuse been assessed?\"). Add it "
        "to the file.\n")


def test_a_file_that_is_not_a_map_or_not_yaml(tmp_path: Path) -> None:
    listed = run_file(tmp_path, "- psea\n- fraud\n")
    assert listed.exit_code == 1
    assert "case.yaml: must be a map of question id to answer" in listed.output
    broken = run_file(tmp_path, "psea: [adequate\n")
    assert broken.exit_code == 1
    assert "case.yaml: not valid JSON or YAML" in broken.output


def test_json_answer_files_are_read_the_same_way(tmp_path: Path) -> None:
    result = run_file(tmp_path, json.dumps({"policy_bars": True}), name="case.json")
    assert result.exit_code == 1
    assert result.stderr.startswith("case.json: policy_bars: Got true, not an answer")
    ruled_out = run_file(tmp_path, json.dumps({"policy_bars": "yes"}), "--json",
                         name="case.json")
    assert ruled_out.exit_code == 0
    assert json.loads(ruled_out.stdout)["rating"] == "excluded"
