"""The run engine over tests/data/checklists/valid/tiny.yaml and small in-test checklists."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bot import texts
from bot.checklists import Checklist, checklist_from_dict, load_checklist
from bot.checklists import engine as runs
from bot.checklists.engine import (
    Answer,
    InvalidAnswer,
    Note,
    RunState,
    abandon,
    add_note,
    answer,
    back,
    current_question,
    outcome,
    outcome_to_dict,
    progress,
    skip,
    start,
    state_from_json,
    state_to_json,
)
from bot.checklists.parsing import typed_answer

TINY = Path(__file__).parent.parent / "data" / "checklists" / "valid" / "tiny.yaml"
AT = "2024-05-01T10:00:00Z"
CITE = [{"doc": "guide", "locator": "para 1"}]
RATINGS = [
    {"id": "excluded", "label": "Excluded", "risk": "high"},
    {"id": "high", "label": "High risk", "risk": "high"},
    {"id": "medium", "label": "Medium risk", "risk": "medium"},
    {"id": "low", "label": "Low risk", "risk": "low"},
]
BANDS = [{"from": 0, "to": 50, "rating": "high"}, {"from": 50, "to": 80, "rating": "medium"},
         {"from": 80, "to": 100, "rating": "low"}]


@pytest.fixture
def tiny() -> Checklist:
    return load_checklist(TINY)


def make(questions: list[dict[str, Any]], gates: list[dict[str, Any]] | None = None) -> Checklist:
    return checklist_from_dict({
        "id": "made", "version": "1", "title": "Made",
        "sections": [{"id": "s", "title": "S", "questions": questions}],
        "gates": gates or [], "scoring": {"bands": BANDS}, "ratings": RATINGS})


def play(checklist: Checklist, *values: Any, state: RunState | None = None) -> RunState:
    """Answer in order; the value None means skip."""
    state = state or start(checklist)
    for value in values:
        state = (skip(checklist, state, at=AT) if value is None
                 else answer(checklist, state, value, at=AT))
    return state


def current_id(checklist: Checklist, state: RunState) -> str | None:
    question = current_question(checklist, state)
    return question.id if question else None


def rejects(checklist: Checklist, state: RunState, value: Any) -> str:
    with pytest.raises(InvalidAnswer) as info:
        answer(checklist, state, value, at=AT)
    return str(info.value)


# --- a full run, branching and scoring ------------------------------------------------------


def test_full_run_low_risk(tiny: Checklist) -> None:
    state = play(tiny, "no", "partnership", "yes", "human_rights,anti_corruption", "100", "none",
                 "Seen the annual report.")
    assert state.status == "completed"
    assert current_question(tiny, state) is None
    result = outcome(tiny, state)
    assert (result.points, result.max_points) == (10, 11)
    assert result.percent == pytest.approx(100 * 10 / 11)
    assert (result.rating_id, result.rating_label, result.risk) == ("low", "Low risk", "low")
    assert [(r.kind, r.ref, r.message) for r in result.fired] == [
        ("band", "80-100", "Score 90.9% is in the 80-100% band: Low risk.")]
    assert result.actions == ()
    assert result.asked == ("sanctions", "engagement", "gc_signatory", "policies", "staff_count",
                            "controversy", "comments")
    assert result.skipped == result.hidden == ()
    assert result.gate_id is None
    assert result.answers[3].value == ("human_rights", "anti_corruption")
    assert result.answers[6].value == "Seen the annual report."


def test_key_question_escalates_to_first_banded_rating(tiny: Checklist) -> None:
    state = play(tiny, "no", "partnership", "no", "1,2,3", "10", None)
    result = outcome(tiny, state)
    assert (result.points, result.max_points, result.percent) == (4, 8, 50)
    assert result.rating_id == "high"  # not "excluded", which comes first but no band uses it
    assert [(r.kind, r.ref) for r in result.fired] == [("band", "50-80"),
                                                       ("key_question", "gc_signatory")]
    assert result.fired[1].message == (
        'Key question "Has the company committed to the Global Compact principles?" was '
        'answered "No" (high risk), so the rating is raised from Medium risk to High risk.')
    assert result.fired[1].cites[0].locator == "para 20"
    data = outcome_to_dict(result)
    assert data["fired"][1]["cites"] == [{
        "doc": "towards-global-partnerships", "locator": "para 20",
        "quote": "offering the private sector opportunities to have its voice heard"}]
    assert json.loads(json.dumps(data)) == data
    assert [(a.text, a.source) for a in result.actions] == [
        ("Refer to the partnerships committee before going ahead.", "rating:high"),
        ("Ask the company to join the Global Compact.", "question:gc_signatory"),
    ]
    assert result.actions[0].cites[0].locator == "para 30"
    assert result.hidden == ("controversy",)
    assert result.skipped == ("comments",)


def test_na_is_left_out_of_the_denominator(tiny: Checklist) -> None:
    result = outcome(tiny, play(tiny, "no", "partnership", "na", "anti_corruption", "10", None))
    assert (result.points, result.max_points, result.percent) == (2, 4, 50)
    assert result.rating_id == "medium"
    assert [a.text for a in result.actions] == ["Agree a mitigation plan with the partner."]


def test_branch_hides_questions_and_no_scores_means_100(tiny: Checklist) -> None:
    state = play(tiny, "no", "donation")
    assert current_id(tiny, state) == "policies"
    state = play(tiny, None, "12", None, state=state)
    result = outcome(tiny, state)
    assert state.status == "completed"
    assert result.hidden == ("gc_signatory", "controversy")
    assert result.skipped == ("policies", "comments")
    assert (result.points, result.max_points, result.percent) == (0, 0, 100)
    assert result.rating_id == "low"


def test_multi_scoring_and_mitigation(tiny: Checklist) -> None:
    state = play(tiny, "no", "donation", "none", "60", "minor", None)
    result = outcome(tiny, state)
    assert (result.points, result.max_points) == (1, 7)
    assert result.rating_id == "high"
    assert [a.source for a in result.actions] == ["rating:high", "question:policies",
                                                  "question:controversy"]


def test_boundary_bands() -> None:
    options = [{"value": f"v{n}", "label": str(n), "score": n} for n in range(11)]
    options.append({"value": "almost", "label": "Almost", "score": 7.99})
    checklist = make([{"id": "q", "type": "single", "text": "Q?", "options": options,
                       "cites": CITE}])
    expected = {"v0": "high", "v4": "high", "v5": "medium", "almost": "medium", "v8": "low",
                "v10": "low"}
    for value, rating in expected.items():
        assert outcome(checklist, play(checklist, value)).rating_id == rating, value


# --- gates ------------------------------------------------------------------------------------


def test_gate_ends_the_run_at_once(tiny: Checklist) -> None:
    state = play(tiny, "yes")
    assert state.status == "completed"
    assert current_question(tiny, state) is None
    result = outcome(tiny, state)
    assert (result.rating_id, result.gate_id) == ("excluded", "sanctions")
    assert [(r.kind, r.message) for r in result.fired] == [
        ("gate", "The company is on a sanctions list; the partnership cannot go ahead.")]
    assert result.fired[0].cites[0].locator == "para 55"
    assert [a.text for a in result.actions] == [
        "Do not enter into the partnership; record the reason."]
    assert result.asked == ("sanctions",)
    assert progress(tiny, state) == (1, 1)
    assert rejects(tiny, state, "no") == texts.RUN_FINISHED
    reopened = back(tiny, state)
    assert (reopened.status, current_id(tiny, reopened)) == ("in_progress", "sanctions")


def test_gate_waits_until_its_condition_is_certain() -> None:
    yes_no = [{"value": "yes", "label": "Yes"}, {"value": "no", "label": "No"}]
    checklist = make(
        [{"id": "a", "type": "yes_no", "text": "A?", "options": yes_no, "cites": CITE},
         {"id": "b", "type": "yes_no", "text": "B?", "options": yes_no, "cites": CITE},
         {"id": "c", "type": "text", "text": "C?", "cites": CITE}],
        gates=[{"id": "no_b", "when": {"not": {"question": "b", "is": "yes"}},
                "outcome": "excluded", "message": "B is required."}])
    state = play(checklist, "yes")
    assert (state.status, current_id(checklist, state)) == ("in_progress", "b")
    assert outcome(checklist, state).gate_id is None
    state = play(checklist, "no", state=state)
    assert state.status == "completed"
    assert outcome(checklist, state).rating_id == "excluded"
    assert play(checklist, "yes", "yes").status == "in_progress"


# --- answer types and parsing ---------------------------------------------------------------


def test_yes_no_and_single_parsing(tiny: Checklist) -> None:
    state = start(tiny)
    assert rejects(tiny, state, "maybe") == "There is no option 'maybe'. Send one of: yes, no."
    assert rejects(tiny, state, "3") == "There is no option 3. Send a number from 1 to 2."
    assert rejects(tiny, state, " ") == "Please choose one of: yes, no."
    assert rejects(tiny, state, ["no"]) == "Please choose one of: yes, no."
    assert answer(tiny, state, "No", at=AT).answers[-1].value == "no"
    assert answer(tiny, state, "2", at=AT).answers[-1].value == "no"
    state = play(tiny, "no")
    assert answer(tiny, state, "Partnership", at=AT).answers[-1].value == "partnership"
    assert answer(tiny, state, 1, at=AT).answers[-1].value == "donation"


def test_multi_parsing(tiny: Checklist) -> None:
    state = play(tiny, "no", "donation")
    assert current_id(tiny, state) == "policies"
    for raw in ("3, 1", "anti_corruption,human_rights", ["human_rights", "anti_corruption"],
                "1,3,1"):
        assert answer(tiny, state, raw, at=AT).answers[-1].value == ("human_rights",
                                                                     "anti_corruption")
    assert rejects(tiny, state, "5") == "There is no option 5. Send a number from 1 to 4."
    assert rejects(tiny, state, "1, ethics") == (
        "There is no option 'ethics'. Send one of: human_rights, environment, anti_corruption, "
        "none.")
    assert rejects(tiny, state, " , ") == (
        "Please choose one or more of: human_rights, environment, anti_corruption, none. "
        "Separate them with commas.")


def test_number_parsing_and_bounds(tiny: Checklist) -> None:
    state = play(tiny, "no", "donation", None)
    accepted = {"1,500": 1500, "1 500 staff": 1500, "50": 50, 7: 7, "1,000,000": 1_000_000,
                "2.0": 2, 3.0: 3}
    for raw, value in accepted.items():
        stored = answer(tiny, state, raw, at=AT).answers[-1].value
        assert stored == value and type(stored) is type(value), raw
    assert rejects(tiny, state, "0") == "The number must be at least 1. Send a larger number."
    assert rejects(tiny, state, "2,000,000") == (
        "The number must be at most 1,000,000. Send a smaller number.")
    for raw in ("abc", "1,5", "12,34,567", "", "1.2.3", "nan", "-"):
        assert rejects(tiny, state, raw) == texts.NOT_A_NUMBER, raw
    assert rejects(tiny, state, True) == texts.ANSWER_BOOL.format(value="true")
    # staff_count counts staff: a whole number
    assert rejects(tiny, state, "1500.5") == "This question takes a whole number, not 1,500.5."
    assert rejects(tiny, state, 2.5) == "This question takes a whole number, not 2.5."


def test_numbers_typed_with_a_multiplier_or_a_dot_between_thousands(tiny: Checklist) -> None:
    state = play(tiny, "no", "donation", None)  # staff_count: 1 to 1,000,000 staff, whole
    for raw, value in {"5k": 5000, "1.5k staff": 1500, "0.5 million": 500_000}.items():
        assert answer(tiny, state, raw, at=AT).answers[-1].value == value, raw
    # "5.000" is five, or five thousand written the French or Spanish way: asked, not guessed
    for raw, small, large in (("5.000", "5", "5000"), ("2.500", "2.5", "2500")):
        assert rejects(tiny, state, raw) == texts.NUMBER_AMBIGUOUS.format(
            given=raw, small=small, large=large)
    assert rejects(tiny, state, "$500") == texts.NOT_A_NUMBER  # a count is no amount


def test_a_yes_or_no_typed_in_french_or_spanish_answers_an_english_question(
        tiny: Checklist) -> None:
    sanctions = tiny.question("sanctions")  # options "Yes", "No": no translation used here
    assert sanctions is not None and sanctions.type == "yes_no"
    for typed, value in {"oui": "yes", "Sí": "yes", "si": "yes", "non": "no", "No": "no"}.items():
        assert typed_answer(sanctions, typed) == value, typed
    assert typed_answer(sanctions, "sans objet") is None  # it has no "na" option
    engagement = tiny.question("engagement")  # a single choice: "oui" names no option
    assert engagement is not None and typed_answer(engagement, "oui") is None


def test_an_amount_typed_with_its_currency() -> None:
    usd = make([{"id": "cash", "type": "number", "text": "How much cash?", "min": 0,
                 "unit": "USD", "cites": CITE}])
    state = start(usd)
    for raw in ("$5,000", "US$ 5,000", "USD 5000", "5000 USD", "5000$", "5,000 dollars"):
        assert answer(usd, state, raw, at=AT).answers[-1].value == 5000, raw
    assert answer(usd, state, "$1.2m", at=AT).answers[-1].value == 1_200_000
    for raw in ("5 000 €", "EUR 5000", "£300"):
        assert rejects(usd, state, raw) == texts.NUMBER_OTHER_CURRENCY.format(
            given=raw, unit="USD"), raw
    cash = usd.question("cash")
    assert cash is not None
    assert typed_answer(cash, "USD 5000") == 5000  # typed, not a question
    assert typed_answer(cash, "about 5000, is that a lot?") is None


def test_number_condition_boundary(tiny: Checklist) -> None:
    base = play(tiny, "no", "donation", None)
    assert current_id(tiny, play(tiny, "50", state=base)) == "controversy"
    assert current_id(tiny, play(tiny, "49", state=base)) == "comments"


def test_text_answers(tiny: Checklist) -> None:
    state = play(tiny, "no", "donation", None, "10")
    assert rejects(tiny, state, "   ") == "The answer is empty. Send a short text answer."
    assert play(tiny, "  Fine.  ", state=state).answers[-1].value == "Fine."


def test_skip_only_where_skippable(tiny: Checklist) -> None:
    with pytest.raises(InvalidAnswer, match=r"^This question cannot be skipped\. Send an "
                                            r"answer instead\.$"):
        skip(tiny, start(tiny), at=AT)
    state = play(tiny, "no", "donation", None)
    assert state.answers[-1] == Answer("policies", None, AT, skipped=True)


# --- back, notes, progress, abandon ----------------------------------------------------------


def test_back_across_a_branch(tiny: Checklist) -> None:
    state = play(tiny, "no", "partnership", "no")
    assert current_id(tiny, state) == "policies"
    state = back(tiny, back(tiny, state))
    assert current_id(tiny, state) == "engagement"
    state = play(tiny, "donation", state=state)
    assert current_id(tiny, state) == "policies"
    state = play(tiny, "1", "10", None, state=state)
    result = outcome(tiny, state)
    assert "gc_signatory" in result.hidden
    assert "gc_signatory" not in result.asked
    with pytest.raises(InvalidAnswer, match=r"^There is no earlier answer to go back to\.$"):
        back(tiny, start(tiny))


def test_answers_of_hidden_questions_are_dropped_from_the_outcome(tiny: Checklist) -> None:
    stale = RunState(tiny.id, tiny.version, (
        Answer("sanctions", "no", AT), Answer("gc_signatory", "no", AT),
        Answer("engagement", "donation", AT)))
    assert current_id(tiny, stale) == "policies"
    result = outcome(tiny, stale)
    assert result.asked == ("sanctions", "engagement")
    assert result.rating_id == "low" and result.fired[-1].kind == "band"


def test_notes(tiny: Checklist) -> None:
    state = add_note(tiny, start(tiny), " Checked the UN list. ", at="t1")
    state = add_note(tiny, state, "And the EU list.", at="t2")
    assert state.pending_notes == (Note("Checked the UN list.", "t1"), Note("And the EU list.",
                                                                           "t2"))
    state = play(tiny, "no", state=state)
    assert state.pending_notes == ()
    assert state.answers[0].note == "Checked the UN list.\nAnd the EU list."
    undone = back(tiny, state)
    assert undone.pending_notes == state.answers[0].notes
    assert play(tiny, "no", state=undone).answers[0].notes == state.answers[0].notes
    done = play(tiny, "yes")
    done = add_note(tiny, done, "Listed since 2021.", at="t3")
    assert done.answers[-1].notes == (Note("Listed since 2021.", "t3"),)
    with pytest.raises(InvalidAnswer, match=r"^The note is empty\. Send the note text\.$"):
        add_note(tiny, done, "  ", at="t4")
    assert Answer("q", "x", AT).note is None


def test_progress(tiny: Checklist) -> None:
    state = start(tiny)
    assert progress(tiny, state) == (0, 7)
    state = play(tiny, "no", "donation", state=state)
    assert progress(tiny, state) == (2, 6)
    state = play(tiny, None, "10", state=state)
    assert progress(tiny, state) == (4, 5)
    assert progress(tiny, play(tiny, None, state=state)) == (5, 5)


def test_abandon(tiny: Checklist) -> None:
    state = abandon(play(tiny, "no"))
    assert state.status == "abandoned"
    assert current_question(tiny, state) is None
    assert rejects(tiny, state, "donation") == "This run was abandoned. Start a new run instead."
    for action in (lambda: back(tiny, state), lambda: add_note(tiny, state, "x", at=AT)):
        with pytest.raises(InvalidAnswer, match="abandoned"):
            action()
    done = play(tiny, "yes")
    assert abandon(done) is done
    assert outcome(tiny, state).status == "abandoned"


def test_outcome_while_in_progress(tiny: Checklist) -> None:
    result = outcome(tiny, play(tiny, "no", "partnership", "yes"))
    assert (result.status, result.percent, result.rating_id) == ("in_progress", 100, "low")


# --- persistence and version pinning ----------------------------------------------------------


def test_resume_from_json(tiny: Checklist) -> None:
    state = start(tiny, training=True, cohort="2024-geneva")
    state = add_note(tiny, play(tiny, "no", "donation", "1,2", state=state), "n", at="t")
    text = state_to_json(state)
    assert json.loads(text)["answers"][2]["value"] == ["human_rights", "environment"]
    restored = state_from_json(text)
    assert restored == state
    assert (restored.training, restored.cohort) == (True, "2024-geneva")
    finished = play(tiny, "10", "x", state=restored)
    assert finished.status == "completed"
    assert outcome(tiny, finished).answers[2].value == ("human_rights", "environment")
    for bad in ("{}", "[1]", "not json", text.replace('"in_progress"', '"paused"')):
        with pytest.raises(ValueError, match=r"not a run state|unknown status"):
            state_from_json(bad)


def test_run_keeps_its_snapshot_version(tmp_path: Path) -> None:
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY.read_text(encoding="utf-8"), encoding="utf-8")
    original = load_checklist(path)
    state = play(original, "no", "partnership")
    stored = json.dumps(original.to_snapshot())
    path.write_text(path.read_text(encoding="utf-8").replace('version: "1.0"', 'version: "2.0"')
                    .replace("{value: partnership, label: Partnership}",
                             "{value: partnership, label: Partnership, score: 1}"),
                    encoding="utf-8")
    changed = load_checklist(path)
    assert changed.version == "2.0"
    with pytest.raises(ValueError, match=r"uses tiny-screening 1\.0"):
        answer(changed, state, "yes", at=AT)
    pinned = checklist_from_dict(json.loads(stored))
    assert pinned == original
    state = play(pinned, "yes", "3", "10", None, state=state)
    assert state.version == "1.0"
    pinned_result = outcome(pinned, state)
    assert (pinned_result.points, pinned_result.max_points) == (6, 8)
    same_answers_on_v2 = outcome(changed, RunState(changed.id, "2.0", state.answers))
    assert (same_answers_on_v2.points, same_answers_on_v2.max_points) == (7, 9)


# --- floors, conditional actions, applied rules ---------------------------------------------


def scored(qid: str, *, key: bool = False) -> dict[str, Any]:
    """A scored question: good (2, low), weak (1, medium), bad (0, high, with a mitigation)."""
    return {"id": qid, "type": "single", "text": f"{qid}?", "key": key, "cites": CITE,
            "options": [{"value": "good", "label": "Good", "score": 2, "risk": "low"},
                        {"value": "weak", "label": "Weak", "score": 1, "risk": "medium",
                         "mitigation": f"Strengthen {qid}."},
                        {"value": "bad", "label": "Bad", "score": 0, "risk": "high",
                         "mitigation": f"Fix {qid}."}]}


def made(questions: list[dict[str, Any]], *, floors: list[dict[str, Any]] | None = None,
         ratings: list[dict[str, Any]] | None = None,
         gates: list[dict[str, Any]] | None = None) -> Checklist:
    return checklist_from_dict({
        "id": "made", "version": "1", "title": "Made",
        "sections": [{"id": "s", "title": "S", "questions": questions}], "gates": gates or [],
        "scoring": {"bands": [{"from": 0, "to": 30, "rating": "high"},
                              {"from": 30, "to": 70, "rating": "medium"},
                              {"from": 70, "to": 100, "rating": "low"}],
                    "floors": floors or []},
        "ratings": ratings or RATINGS})


FLOORS = [{"risk": "high", "at_least": 2, "rating": "medium"},
          {"risk": "high", "at_least": 3, "rating": "high"},
          {"risk": "medium", "at_least": 4, "rating": "medium"}]


def test_floors_keep_several_high_answers_out_of_the_lowest_band() -> None:
    checklist = made([scored(f"q{i}") for i in range(10)], floors=FLOORS)
    ten_good = ["good"] * 10
    assert outcome(checklist, play(checklist, *ten_good)).rating_id == "low"
    one_bad = outcome(checklist, play(checklist, "bad", *ten_good[1:]))
    assert (round(one_bad.percent), one_bad.rating_id) == (90, "low")  # one is not several
    two_bad = outcome(checklist, play(checklist, "bad", "bad", *ten_good[2:]))
    assert (round(two_bad.percent), two_bad.rating_id) == (80, "medium")
    assert [(r.kind, r.ref) for r in two_bad.fired] == [("band", "70-100"), ("floor", "high>=2")]
    assert two_bad.fired[1].message == (
        "2 answers carry high risk or more (this tool's floor: 2), so the rating is raised "
        "from Low risk to Medium risk.")
    three_bad = outcome(checklist, play(checklist, "bad", "bad", "bad", *ten_good[3:]))
    assert (round(three_bad.percent), three_bad.rating_id) == (70, "high")
    assert three_bad.fired[-1].ref == "high>=3"  # the most severe floor that holds
    four_weak = outcome(checklist, play(checklist, *["weak"] * 4, *ten_good[4:]))
    assert (round(four_weak.percent), four_weak.rating_id) == (80, "medium")
    no_floors = made([scored(f"q{i}") for i in range(10)])
    assert outcome(no_floors, play(no_floors, "bad", "bad", *ten_good[2:])).rating_id == "low"


def test_floors_count_scored_answers_only_and_never_lower_a_rating() -> None:
    unscored = {"id": "m", "type": "multi", "text": "Trained?", "cites": CITE, "options": [
        {"value": "a", "label": "A"},
        {"value": "none", "label": "None", "exclusive": True, "risk": "high",
         "mitigation": "Train."}]}
    checklist = made([scored("q1"), scored("q2"), unscored], floors=FLOORS)
    result = outcome(checklist, play(checklist, "bad", "good", "none"))
    assert (result.rating_id, [r.kind for r in result.fired]) == ("medium", ["band"])
    assert [a.text for a in result.actions] == ["Fix q1.", "Train."]  # still a required action
    keyed = made([scored("k", key=True), scored("q2"), scored("q3")], floors=FLOORS)
    result = outcome(keyed, play(keyed, "bad", "bad", "good"))
    assert [r.kind for r in result.fired] == ["band", "key_question"]  # already High: no floor
    assert result.rating_id == "high"


def test_actions_follow_the_answers_and_appear_once() -> None:
    ratings: list[dict[str, Any]] = [dict(r) for r in RATINGS]
    ratings[1] = {"id": "high", "label": "High risk", "risk": "high", "actions": [
        {"text": "Do not sign yet.", "basis": "applied", "applies": "This tool's rule."},
        {"text": "Screen the company first.", "when": {"question": "q1", "is": "bad"},
         "cites": CITE},
        {"text": "Fix q2", "unless": {"question": "q3", "answered": True},
         "cites": [{"doc": "guide", "locator": "para 9"}]}]}
    checklist = made([scored("q1"), scored("q2", key=True),
                      {**scored("q3"), "skippable": True}], ratings=ratings)
    result = outcome(checklist, play(checklist, "good", "bad", None))
    assert [(a.text, a.source) for a in result.actions] == [
        ("Do not sign yet.", "rating:high"), ("Fix q2", "rating:high")]
    # the mitigation "Fix q2." repeats the rating's action: once, with both citations
    assert [c.locator for c in result.actions[1].cites] == ["para 9", "para 1"]
    assert result.actions[0].applies == "This tool's rule."
    screened_badly = outcome(checklist, play(checklist, "bad", "bad", "bad"))
    assert [a.text for a in screened_badly.actions] == [
        "Do not sign yet.", "Screen the company first.", "Fix q1.", "Fix q2.", "Fix q3."]


def test_a_gate_requires_its_ratings_actions_only_and_says_what_the_tool_applies() -> None:
    gate = {"id": "out", "when": {"question": "q2", "is": "bad"}, "outcome": "excluded",
            "message": "Ruled out.", "basis": "applied",
            "applies": "This tool stops here when your rules exclude the partner."}
    ratings: list[dict[str, Any]] = [
        {**RATINGS[0], "actions": [{"text": "Record the reason.", "basis": "applied",
                                    "applies": "This tool's rule."}]}, *RATINGS[1:]]
    applied = {**scored("q1"), "basis": "applied", "applies": "This tool asks it of all."}
    checklist = made([applied, scored("q2")], ratings=ratings, gates=[gate])
    result = outcome(checklist, play(checklist, "bad", "bad"))
    assert result.rating_id == "excluded"
    assert [a.text for a in result.actions] == ["Record the reason."]  # not "Fix q1."
    assert result.fired[0].applies == gate["applies"]
    low = outcome(checklist, play(checklist, "weak", "good"))
    assert [(a.text, a.applies) for a in low.actions] == [
        ("Strengthen q1.", "This tool asks it of all.")]


# --- strict answers (answer files) and exclusive options --------------------------------------


def strict_error(question: Any, raw: Any) -> str:
    with pytest.raises(InvalidAnswer) as info:
        runs.parse_answer(question, raw, strict=True)
    return str(info.value)


def test_strict_answers_name_options_by_value_and_say_what_was_expected(
        tiny: Checklist) -> None:
    sanctions, engagement = tiny.question("sanctions"), tiny.question("engagement")
    policies, staff, comments = (tiny.question("policies"), tiny.question("staff_count"),
                                 tiny.question("comments"))
    assert sanctions and engagement and policies and staff and comments
    assert runs.parse_answer(engagement, "donation", strict=True) == "donation"
    assert runs.parse_answer(policies, ["environment", "human_rights"], strict=True) == (
        "human_rights", "environment")
    assert runs.parse_answer(policies, "none", strict=True) == ("none",)
    assert runs.parse_answer(staff, 40, strict=True) == 40
    assert strict_error(engagement, 1) == (
        "Expected an option value, got the number 1: answer files name options by their "
        "value, not their position. Use one of: donation, partnership.")
    assert strict_error(engagement, "1") == strict_error(engagement, 1)
    assert strict_error(engagement, "Donation") == (
        "Not an option value of this question: 'Donation'. Use one of: donation, partnership.")
    assert strict_error(sanctions, False) == (
        'Got false, not an answer: YAML reads a bare yes, no, on or off as true or false, so '
        'quote the value, e.g. "yes" or "no".')
    assert strict_error(engagement, ["donation"]) == (
        "Expected one option value, got a list. Use one of: donation, partnership.")
    assert strict_error(policies, {"a": 1}) == (
        "Expected a list of option values, got a mapping. Use some of: human_rights, "
        "environment, anti_corruption, none.")
    assert strict_error(policies, "human_rights,environment") == (
        "Not an option value of this question: 'human_rights,environment'. Use one of: "
        "human_rights, environment, anti_corruption, none.")
    assert strict_error(policies, [1]).startswith(
        "Not an option value of this question: the number 1.")
    assert strict_error(staff, "40") == "Expected a number, got the text '40'."
    assert strict_error(staff, 4.5) == "This question takes a whole number, not 4.5."
    assert strict_error(staff, 0) == "The number must be at least 1. Send a larger number."
    assert strict_error(staff, True) == texts.ANSWER_BOOL.format(value="true")
    assert strict_error(comments, 42) == (
        "Expected text, got the number 42. Quote it if that is the answer.")
    assert strict_error(comments, None) == (
        "Expected text, got nothing. Quote it if that is the answer.")


def test_an_exclusive_option_is_chosen_alone(tiny: Checklist) -> None:
    policies = tiny.question("policies")
    assert policies is not None
    for raw in ("1, 4", ["human_rights", "none"], "none,environment"):
        with pytest.raises(InvalidAnswer, match=r"^'None of these' cannot be combined with "
                                                r"other options: choose it alone\.$"):
            runs.parse_answer(policies, raw)
    assert strict_error(policies, ["none", "environment"]) == (
        "'None of these' cannot be combined with other options: choose it alone.")
    assert runs.parse_answer(policies, "4") == ("none",)


# --- the partner a run is about ---------------------------------------------------------------


def test_a_run_names_its_partner_and_keeps_it(tiny: Checklist) -> None:
    state = start(tiny, partner="  ACME   Ltd\n(ref 42) ")
    assert state.partner == "ACME Ltd (ref 42)"
    assert start(tiny, partner="   ").partner is None
    assert start(tiny).partner is None
    with pytest.raises(InvalidAnswer, match="at most 200 characters"):
        start(tiny, partner="x" * 201)
    renamed = runs.set_partner(play(tiny, "no", state=start(tiny)), "Beta NGO")
    assert renamed.partner == "Beta NGO" and renamed.answers[0].value == "no"
    assert runs.set_partner(renamed, None).partner is None
    with pytest.raises(InvalidAnswer, match="abandoned"):
        runs.set_partner(abandon(renamed), "x")
    done = play(tiny, "yes", state=state)
    assert outcome(tiny, done).partner == "ACME Ltd (ref 42)"
    assert state_from_json(state_to_json(done)) == done
    old = json.loads(state_to_json(done))
    del old["partner"]  # a state stored before runs named their partner
    assert state_from_json(json.dumps(old)) == RunState(
        tiny.id, tiny.version, done.answers, "completed")
