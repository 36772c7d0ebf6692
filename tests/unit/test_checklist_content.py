"""The shipped checklists, run with the answer sets a due-diligence practitioner would try: a
clean partner, one excluded by a gate, a borderline one, a gap in a key question, gaps
everywhere but the key questions; and the audit's cases (tests/../shared/reviews)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.checklists import Checklist, checklist_from_dict, load_checklists, validate_paths
from bot.checklists import engine as runs
from bot.checklists.answers_file import AnswerFileError, run_from_answers
from bot.checklists.sources import items
from index.corpus import read_corpus
from tests.conftest import ROOT

CHECKLISTS = ROOT / "knowledge" / "checklists"
README = (ROOT / "README.md").read_text(encoding="utf-8")
PASSAGES = {(c.source, c.locator): c.text for d in read_corpus(ROOT / "knowledge" / "docs")
            for c in d.chunks}


def passage_text(doc: str, locator: str) -> str | None:
    return PASSAGES.get((doc, locator))


@pytest.fixture(scope="module")
def shipped() -> dict[str, Checklist]:
    loaded = load_checklists(CHECKLISTS, passage_text=passage_text)
    assert loaded.errors == []
    return loaded.checklists


def run(checklist: Checklist, answers: dict[str, Any]) -> dict[str, Any]:
    return run_from_answers(checklist, answers, source="case.yaml")


def texts(result: dict[str, Any]) -> list[str]:
    return [a["text"] for a in result["actions"]]


# --- the files themselves -------------------------------------------------------------------


def test_every_quote_is_verbatim_and_every_item_says_its_basis(
        shipped: dict[str, Checklist]) -> None:
    assert sorted(shipped) == ["implementing-partner-selection", "partnership-design",
                               "private-sector-screening"]
    assert {c.version for c in shipped.values()} == {"2.0"}
    for checklist in shipped.values():
        for item in items(checklist):
            if item.basis == "stated":
                assert any(c.quote for c in item.cites), (checklist.id, item.ref)
            else:
                assert item.applies, (checklist.id, item.ref)
        assert checklist.scoring.floors, checklist.id


def test_capacity_assessment_is_a_key_question_of_implementing_partner_selection(
        shipped: dict[str, Checklist]) -> None:
    capacity = shipped["implementing-partner-selection"].question("capacity")
    assert capacity is not None and capacity.key and capacity.weight == 2


def test_the_readme_example_validates_with_its_quotes(tmp_path: Path) -> None:
    block = README.split("A short complete\nexample:\n\n```yaml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "small-grant-check.yaml"
    path.write_text(block, encoding="utf-8")
    assert validate_paths([path], passage_text=passage_text) == []
    checklist = load_checklists(tmp_path).checklists["small-grant-check"]
    answers = yaml.safe_load(README.split("with `case.yaml` = `", 1)[1].split("`", 1)[0])
    result = run(checklist, answers)
    assert (result["rating"], result["partner"]) == ("low", "Example NGO")


# --- private-sector screening ---------------------------------------------------------------

PSS_CLEAN: dict[str, Any] = {
    "partner": "ACME Logistics Ltd", "engagement_type": "advocacy", "contributions": ["cash"],
    "national_law": "yes", "simplified_route": "no", "screening_result": "passed",
    "concerns_found": 0, "sector": "Logistics", "sector_issues": "yes", "gc_participant": "yes",
    "dd_method": "own_process", "risk_benefit": "both", "coi_checked": "none_found",
    "uses_un_name": "no", "liability": "cleared", "beneficiary_contact": "no",
    "clear_goals": "yes", "benchmarks": "yes", "impact_assessment": "built_in",
}


def test_screening_a_clean_company(shipped: dict[str, Checklist]) -> None:
    result = run(shipped["private-sector-screening"], PSS_CLEAN)
    assert (result["rating"], result["percent"], result["partner"]) == (
        "low", 100, "ACME Logistics Ltd")
    assert [r["kind"] for r in result["fired_rules"]] == ["band"]
    assert all(a["source"] == "rating:low" for a in result["actions"])
    assert result["skipped"] == ["notes"]


def test_screening_a_company_the_screening_rules_out(shipped: dict[str, Checklist]) -> None:
    result = run(shipped["private-sector-screening"], {**PSS_CLEAN, "screening_result":
                                                       "ruled_out"})
    assert (result["rating"], result["gate"], result["percent"]) == (
        "excluded", "fails-screening", None)
    assert result["asked"] == ["engagement_type", "contributions", "national_law",
                               "simplified_route", "screening_result"]
    assert texts(result) == ["Do not enter into the partnership. Record the screening finding, "
                             "the criteria you applied and the reason."]
    assert result["fired_rules"][0]["applies"].startswith("This tool ends the run")


def test_screening_a_borderline_company(shipped: dict[str, Checklist]) -> None:
    result = run(shipped["private-sector-screening"], {
        **PSS_CLEAN, "concerns_found": 2, "concerns_handled": "commitments",
        "gc_participant": "unknown", "values_commitment": "on_paper", "dd_method": "ad_hoc",
        "risk_benefit": "risks_only", "coi_checked": "being_handled", "liability": "pending",
        "clear_goals": "partly", "benchmarks": "partly", "impact_assessment": "planned"})
    assert result["rating"] == "medium"
    assert 50 <= result["percent"] < 85
    assert texts(result)[0].startswith("Go ahead only once the mitigations listed below")
    assert len(texts(result)) == len(set(texts(result)))


def test_screening_with_a_gap_in_a_key_question(shipped: dict[str, Checklist]) -> None:
    result = run(shipped["private-sector-screening"], {**PSS_CLEAN, "coi_checked":
                                                       "not_checked"})
    assert result["rating"] == "high"
    assert [r["kind"] for r in result["fired_rules"]] == ["band", "key_question"]
    assert any("conflicts of interest" in t for t in texts(result))
    assert not any("screen" in t.casefold() for t in texts(result))  # it was screened


def test_screening_with_gaps_everywhere_but_the_key_questions(
        shipped: dict[str, Checklist]) -> None:
    result = run(shipped["private-sector-screening"], {
        **PSS_CLEAN, "contributions": ["cash", "in_kind"], "in_kind_check": "not_checked",
        "sector_issues": "general", "gc_participant": "unknown", "values_commitment": "none",
        "risk_benefit": "neither", "liability": "not_referred", "clear_goals": "no",
        "benchmarks": "no", "impact_assessment": "none"})
    assert (result["rating"], [r["ref"] for r in result["fired_rules"]]) == ("high", ["0-50"])
    assert "Do not sign the partnership agreement until the points listed below are " \
           "resolved." in texts(result)
    # the action "weigh value against risks again" gives way to the mitigation that says it
    assert not any(t.startswith("Weigh the partnership") for t in texts(result))


def test_screening_no_goals_benchmarks_or_impact_assessment_is_high_risk(
        shipped: dict[str, Checklist]) -> None:
    """The audit's case: three high-risk answers, none key, gave Medium 67%."""
    result = run(shipped["private-sector-screening"], {
        **PSS_CLEAN, "clear_goals": "no", "benchmarks": "no", "impact_assessment": "none"})
    assert result["rating"] == "high"
    assert result["fired_rules"][-1] == {
        "kind": "floor", "ref": "high>=3", "cites": [], "applies": None,
        "message": "3 answers carry high risk or more (this tool's floor: 3), so the rating is "
                   "raised from Medium risk (go ahead only with the mitigations) to High risk "
                   "(do not sign yet)."}


def test_screening_not_done_asks_to_screen_first(shipped: dict[str, Checklist]) -> None:
    result = run(shipped["private-sector-screening"], {**PSS_CLEAN, "screening_result":
                                                       "not_done"})
    assert result["rating"] == "high"
    assert "concerns_found" not in result["asked"]
    assert any(t.startswith("Screen the company against the UN business guidelines")
               for t in texts(result))


def test_the_simplified_route_still_assesses_risks_and_impact(
        shipped: dict[str, Checklist]) -> None:
    answers = {**PSS_CLEAN, "simplified_route": "yes", "simplified_check": "not_done"}
    del answers["dd_method"]
    result = run(shipped["private-sector-screening"], answers)
    assert {"simplified_check", "risk_benefit", "impact_assessment"} <= set(result["asked"])
    assert "dd_method" not in result["asked"]
    assert result["rating"] == "high"  # simplified_check is a key question


def test_a_company_that_reaches_beneficiaries_gets_the_safeguard_questions(
        shipped: dict[str, Checklist]) -> None:
    answers = {**PSS_CLEAN, "beneficiary_contact": "yes", "psea": "not_done",
               "fraud": "measures_agreed"}
    result = run(shipped["private-sector-screening"], answers)
    assert {"psea", "fraud"} <= set(result["asked"]) and result["rating"] == "high"
    psea = next(a for a in result["actions"] if "sexual exploitation" in a["text"])
    assert psea["applies"] and "Recommendation 8" in psea["applies"]


# --- implementing-partner selection ---------------------------------------------------------

IPS_CLEAN: dict[str, Any] = {
    "partner": "Local Health NGO", "policy_bars": "no", "sop_followed": "yes",
    "partner_type": "local", "cash_value": 50000, "proportionate": "yes",
    "strategic_fit": "yes", "national_fit": "yes", "risk_register": "yes",
    "due_diligence": "done", "capacity": "adequate", "coi_checked": "none_found",
    "partner_portal": "yes", "country_coordination": "yes", "cash_procedure": "hact",
    "psea": "adequate", "fraud": "measures_agreed",
    "staff_training": ["assessment", "monitoring", "fraud", "psea", "cash_portal"],
    "kpis": "yes", "risk_based_monitoring": "yes", "evaluation": "yes",
    "local_capacity": "partner_led",
}


def test_selecting_a_clean_implementing_partner(shipped: dict[str, Checklist]) -> None:
    result = run(shipped["implementing-partner-selection"], IPS_CLEAN)
    assert (result["rating"], result["percent"]) == ("low", 100)
    assert texts(result) == [
        "Proceed under your organization's procedures.",
        "Monitor the partner's performance against the agreed indicators.",
        "Share the assessment results with other UN organizations through existing "
        "mechanisms, such as the UN Partner Portal where your organization uses it."]
    assert result["actions"][1]["applies"] == (
        "This tool applies Recommendation 7, addressed to organizations, to a single partner.")


def test_an_implementing_partner_ruled_out_by_policy(shipped: dict[str, Checklist]) -> None:
    result = run(shipped["implementing-partner-selection"], {"policy_bars": "yes"})
    assert (result["rating"], result["gate"], result["asked"]) == (
        "excluded", "ruled-out-by-policy", ["policy_bars"])


def test_a_borderline_implementing_partner(shipped: dict[str, Checklist]) -> None:
    """The audit's case: USD 2 m, gaps in capacity, PSEA and fraud."""
    result = run(shipped["implementing-partner-selection"], {
        **IPS_CLEAN, "cash_value": 2_000_000, "capacity": "gaps", "psea": "gaps",
        "fraud": "no_measures"})
    assert result["rating"] == "medium"
    assert [r["kind"] for r in result["fired_rules"]] == ["band", "key_question"]


def test_capacity_not_assessed_and_procedures_not_followed_is_not_low(
        shipped: dict[str, Checklist]) -> None:
    """The audit's case: it gave Low 87% "Proceed"."""
    result = run(shipped["implementing-partner-selection"], {
        **IPS_CLEAN, "capacity": "not_done", "sop_followed": "no"})
    assert result["rating"] == "high"
    assert "Assess the partner's capacity before the selection is final." in texts(result)
    # the focal-point advice comes once, from the procedures answer
    assert sum("focal point" in t for t in texts(result)) == 1


def test_an_implementing_partner_with_a_gap_in_a_key_question(
        shipped: dict[str, Checklist]) -> None:
    result = run(shipped["implementing-partner-selection"], {**IPS_CLEAN, "due_diligence":
                                                             "not_done"})
    assert result["rating"] == "high"
    assert texts(result)[0] == ("Do not sign the agreement until the points listed below are "
                                "resolved.")


def test_an_implementing_partner_with_gaps_everywhere_but_the_key_questions(
        shipped: dict[str, Checklist]) -> None:
    result = run(shipped["implementing-partner-selection"], {
        **IPS_CLEAN, "sop_followed": "no", "strategic_fit": "no", "risk_register": "no",
        "partner_portal": "no", "country_coordination": "no", "kpis": "no",
        "risk_based_monitoring": "no", "evaluation": "no", "local_capacity": "set_by_us",
        "staff_training": ["none"]})
    assert (result["rating"], [r["ref"] for r in result["fired_rules"]]) == (
        "high", ["50-85", "high>=3"])  # 60% would be Medium without the floor
    assert any(t.startswith("Arrange training") for t in texts(result))


def test_one_risk_register_action_and_the_manager_training_outside_the_rating(
        shipped: dict[str, Checklist]) -> None:
    result = run(shipped["implementing-partner-selection"], {
        **IPS_CLEAN, "risk_register": "planned", "staff_training": ["none"]})
    assert sum("risk management framework" in t for t in texts(result)) == 1
    clean = run(shipped["implementing-partner-selection"], IPS_CLEAN)
    assert result["percent"] < clean["percent"]  # the risk register counts ...
    untrained = run(shipped["implementing-partner-selection"], {**IPS_CLEAN,
                                                                "staff_training": ["none"]})
    assert untrained["percent"] == clean["percent"]  # ... the manager's training does not
    assert untrained["rating"] == "low" and len(untrained["actions"]) == 4


def test_arrangements_below_those_set_for_the_size_are_high_risk(
        shipped: dict[str, Checklist]) -> None:
    result = run(shipped["implementing-partner-selection"], {
        **IPS_CLEAN, "cash_value": 50_000_000, "proportionate": "no"})
    assert result["rating"] == "high"


# --- partnership design ---------------------------------------------------------------------

PD_CLEAN: dict[str, Any] = {
    "partner_types": ["business", "government"], "national_law": "yes", "goals": "yes",
    "mandate_fit": "yes", "roles": "yes", "governance": "yes", "risk_management": "yes",
    "day_to_day": "yes", "monitoring": ["tracking", "early_warning", "recorded"],
    "target_count": 3, "targets_quality": "yes", "impact": "built_in", "scaling": "yes",
    "evidence": "yes", "results_focus": "yes", "beneficiaries": "strong",
    "local_actors": "yes", "core_business": "yes", "beneficiary_contact": "no",
    "gender": "yes",
}


def test_a_sound_partnership_design(shipped: dict[str, Checklist]) -> None:
    result = run(shipped["partnership-design"], PD_CLEAN)
    assert (result["rating"], result["percent"]) == ("sound", 100)
    assert len(result["actions"]) == 2


def test_a_design_that_conflicts_with_national_law_stops(shipped: dict[str, Checklist]) -> None:
    result = run(shipped["partnership-design"], {**PD_CLEAN, "national_law": "no"})
    assert (result["rating"], result["asked"]) == ("stop", ["partner_types", "national_law"])


def test_a_borderline_design_with_medium_gaps_only(shipped: dict[str, Checklist]) -> None:
    """The audit's case: twelve medium answers gave Weak 43% "Fix the high-risk points"."""
    result = run(shipped["partnership-design"], {
        **PD_CLEAN, "goals": "partly", "mandate_fit": "partly", "roles": "partly",
        "governance": "being_set_up", "risk_management": "listed_only",
        "monitoring": ["tracking", "early_warning"], "target_count": 2,
        "targets_quality": "some", "impact": "planned", "evidence": "partly",
        "results_focus": "partly", "beneficiaries": "some", "local_actors": "partly"})
    assert (result["rating"], [r["kind"] for r in result["fired_rules"]]) == (
        "needs_work", ["band"])
    assert not any("high-risk" in t for t in texts(result))
    # ten medium answers, each with its mitigation, after the rating's two actions
    assert len(result["actions"]) == 12
    assert "Record the partnership in your organization's monitoring or knowledge-management " \
           "system." in texts(result)  # monitoring neither recorded nor "none"


def test_a_design_with_a_gap_in_a_key_question(shipped: dict[str, Checklist]) -> None:
    result = run(shipped["partnership-design"], {**PD_CLEAN, "risk_management": "no"})
    assert result["rating"] == "weak"


def test_a_design_with_gaps_everywhere_but_the_key_questions(
        shipped: dict[str, Checklist]) -> None:
    result = run(shipped["partnership-design"], {
        **PD_CLEAN, "goals": "no", "mandate_fit": "no", "roles": "no", "governance": "no",
        "day_to_day": "no", "monitoring": ["none"], "targets_quality": "no", "impact": "none",
        "evidence": "no", "results_focus": "no", "beneficiaries": "none", "local_actors": "no",
        "gender": "no"})
    assert result["rating"] == "weak"
    assert "scaling" not in result["asked"]
    assert "Share the results" not in " ".join(texts(result))


def test_no_targets_is_a_key_gap_and_the_count_is_whole(shipped: dict[str, Checklist]) -> None:
    answers = {**PD_CLEAN, "target_count": 0, "no_targets": "later"}
    del answers["targets_quality"]
    assert run(shipped["partnership-design"], answers)["rating"] == "weak"
    with pytest.raises(AnswerFileError) as info:
        run(shipped["partnership-design"], {**PD_CLEAN, "target_count": 2.5,
                                            "monitoring": ["tracking", "none"]})
    assert info.value.problems == [
        "case.yaml: monitoring: 'None yet' cannot be combined with other options: choose it "
        "alone.",
        "case.yaml: target_count: This question takes a whole number, not 2.5.",
    ]


# --- runs stored before version 2.0 keep working --------------------------------------------


@pytest.mark.parametrize("name", ["implementing-partner-selection", "partnership-design",
                                  "private-sector-screening"])
def test_runs_stored_on_version_1_still_restore_and_finish(name: str) -> None:
    """A 1.0 snapshot (stored before basis, floors, quotes and exclusive options) loads, and a
    1.0 state (stored without a partner) resumes and is rated on the version it started on."""
    path = ROOT / "tests" / "data" / "checklists" / "snapshots" / f"{name}-1.0.json"
    old = checklist_from_dict(json.loads(path.read_text(encoding="utf-8")), source="run 1")
    assert old.version == "1.0" and old.scoring.floors == ()
    stored = json.loads(runs.state_to_json(runs.start(old)))
    del stored["partner"]
    state = runs.state_from_json(json.dumps(stored))
    while (question := runs.current_question(old, state)) is not None:
        if question.skippable:
            state = runs.skip(old, state, at="t")
        elif question.options:  # the best option, or the second where the first excludes
            stops = question.options[0].value in ("yes", "ruled_out") and question.id in (
                "policy_bars", "screening_result")
            state = runs.answer(old, state, question.options[int(stops)].value, at="t")
        else:
            state = runs.answer(old, state, 10 if question.type == "number" else "Note.",
                                at="t")
    result = runs.outcome(old, state)
    assert (result.status, state.version, result.partner) == ("completed", "1.0", None)
    assert result.rating_id == old.ratings[-1].id  # the lowest risk on 1.0's own rules
