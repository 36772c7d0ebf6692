"""Checklist loading and validation: every problem pinned as `file:line: field: message`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.checklists import (
    Checklist,
    ChecklistError,
    checklist_from_dict,
    load_checklist,
    load_checklists,
    validate_paths,
)
from bot.checklists.loading import field_path

VALID_DIR = Path(__file__).parent.parent / "data" / "checklists" / "valid"

# Lines 1-14; extra questions start on line 15.
HEAD = """\
id: demo
version: "1"
title: Demo
sections:
  - id: main
    title: Main
    questions:
      - id: q1
        type: yes_no
        text: First?
        options:
          - {value: "yes", label: "Yes", score: 1}
          - {value: "no", label: "No", score: 0, risk: high}
        cites: [{doc: guide, locator: para 1, quote: The first rule}]
"""
TAIL = """\
scoring:
  bands:
    - {from: 0, to: 50, rating: high}
    - {from: 50, to: 100, rating: low}
ratings:
  - {id: high, label: High risk, risk: high}
  - {id: low, label: Low risk, risk: low}
"""
CITE = "        cites: [{doc: guide, locator: para 2}]\n"


def write(tmp_path: Path, questions: str = "", tail: str = TAIL, name: str = "c.yaml") -> Path:
    path = tmp_path / name
    path.write_text(HEAD + questions + tail, encoding="utf-8")
    return path


def problems(tmp_path: Path, questions: str = "", tail: str = TAIL) -> list[str]:
    path = write(tmp_path, questions, tail)
    return [p.removeprefix(f"{path}:") for p in validate_paths(path)]


def single(qid: str, show_if: str, options: str = "[{value: a, label: A}, {value: b, label: B}]"
           ) -> str:
    """A single-choice question block (5 lines) with a show_if on its fourth line."""
    return (f"      - id: {qid}\n        type: single\n        text: Which?\n"
            f"        show_if: {show_if}\n        options: {options}\n" + CITE)


# --- valid files ----------------------------------------------------------------------------


def test_valid_fixture_loads_without_problems() -> None:
    checklist = load_checklist(VALID_DIR / "tiny.yaml")
    assert checklist.id == "tiny-screening"
    assert checklist.version == "1.0"
    assert [q.id for q in checklist.questions()][:3] == ["sanctions", "engagement", "gc_signatory"]
    assert validate_paths(VALID_DIR) == []
    assert validate_paths([VALID_DIR / "tiny.yaml"], has_passage=lambda doc, loc: True) == []


def test_template_is_valid(tmp_path: Path) -> None:
    assert problems(tmp_path) == []


def test_snapshot_round_trip_is_json_and_equal() -> None:
    checklist = load_checklist(VALID_DIR / "tiny.yaml")
    snapshot = json.loads(json.dumps(checklist.to_snapshot()))
    assert snapshot["scoring"]["bands"][0] == {"from": 0.0, "to": 50.0, "rating": "high"}
    assert checklist_from_dict(snapshot) == checklist


def test_snapshot_problems_have_no_line() -> None:
    snapshot = load_checklist(VALID_DIR / "tiny.yaml").to_snapshot()
    snapshot["sections"][0]["questions"][0]["type"] = "boolean"
    with pytest.raises(ChecklistError) as info:
        checklist_from_dict(snapshot, source="run 7")
    assert info.value.problems == [
        "run 7: sections[0].questions[0].type: "
        "Input should be 'yes_no', 'single', 'multi', 'number' or 'text'"
    ]


def test_field_path() -> None:
    assert field_path(("sections", 0, "questions", 2, "type")) == "sections[0].questions[2].type"
    assert field_path(()) == "checklist"


# --- file-level problems --------------------------------------------------------------------


def test_yaml_syntax_error_has_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("id: demo\ntitle: [unclosed\nversion: 1\n")
    assert validate_paths(path) == [
        f"{path}:3: yaml: expected ',' or ']', but got ':' "
        "(while parsing a flow sequence on line 2)"
    ]


def test_not_a_mapping_and_empty(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("- one\n- two\n")
    (tmp_path / "b.yaml").write_text("")
    assert validate_paths(tmp_path) == [
        f"{tmp_path / 'a.yaml'}:1: checklist: expected a mapping of fields, got list",
        f"{tmp_path / 'b.yaml'}:1: checklist: expected a mapping of fields, got nothing",
    ]


def test_duplicate_yaml_key(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(HEAD.replace('version: "1"\n', 'version: "1"\nversion: "2"\n') + TAIL)
    assert validate_paths(path) == [f"{path}:3: version: duplicate key 'version'"]


def test_broken_file_is_skipped_others_load(tmp_path: Path) -> None:
    write(tmp_path, name="good.yaml")
    (tmp_path / "broken.yaml").write_text("id: [\n")
    (tmp_path / "same.yaml").write_text(HEAD + TAIL)
    result = load_checklists(tmp_path)
    assert list(result.checklists) == ["demo"]
    assert isinstance(result.checklists["demo"], Checklist)
    assert len(result.errors) == 2
    assert result.errors[0].startswith(f"{tmp_path / 'broken.yaml'}:2: yaml: ")
    assert result.errors[1] == (f"{tmp_path / 'same.yaml'}:1: id: checklist id 'demo' "
                                f"is already used by {tmp_path / 'good.yaml'}")


def test_load_checklist_raises_with_problems(tmp_path: Path) -> None:
    path = write(tmp_path, tail=TAIL.replace("rating: low}", "rating: lo}"))
    with pytest.raises(ChecklistError) as info:
        load_checklist(path)
    assert info.value.problems == [
        f"{path}:18: scoring.bands[1].rating: rating 'lo' is not defined"]


# --- structure (pydantic) -------------------------------------------------------------------


def test_unknown_missing_and_wrong_types(tmp_path: Path) -> None:
    questions = (
        "      - id: q2\n"                       # 15
        "        type: boolean\n"                # 16
        "        colour: red\n"                  # 17
        "        weight: heavy\n"                # 18
        "        skippable: maybe\n"             # 19
        "        options: {value: a}\n"          # 20
        "      - id: q3\n"                       # 21
        "        type: yes_no\n"                 # 22
        "        text: Third?\n"                 # 23
        "        options:\n"                     # 24
        "          - {value: yes, label: Yes}\n"  # 25
        "          - {value: 'no', label: 'No'}\n" + CITE
    )
    assert problems(tmp_path, questions) == [
        "15: sections[0].questions[1].text: required field is missing",
        "16: sections[0].questions[1].type: "
        "Input should be 'yes_no', 'single', 'multi', 'number' or 'text'",
        "17: sections[0].questions[1].colour: unknown field",
        "18: sections[0].questions[1].weight: expected a number",
        "19: sections[0].questions[1].skippable: expected true or false",
        "20: sections[0].questions[1].options: expected a list",
        '25: sections[0].questions[2].options[0].value: expected text, got true/false '
        '(quote yes/no/on/off: "yes")',
        '25: sections[0].questions[2].options[0].label: expected text, got true/false '
        '(quote yes/no/on/off: "yes")',
    ]


def test_bad_ids_and_condition_forms(tmp_path: Path) -> None:
    questions = (
        "      - id: Q-2\n        type: text\n        text: Two?\n" + CITE        # 15-18
        + single("q3", "{question: q1, is: 'yes', is_not: 'no'}")            # 19-24
        + single("q4", "{question: q1, equals: 'yes'}")                      # 25-30
        + single("q5", "{question: q1, is: yes}")                            # 31-36
        + single("q6", "{question: q1, answered: false}")                    # 37-42
        + single("q7", "{all: []}")                                          # 43-48
        + single("q8", "yes")                                                # 49-54
    )
    assert problems(tmp_path, questions) == [
        "15: sections[0].questions[1].id: String should match pattern '^[a-z0-9_]+$'",
        "22: sections[0].questions[2].show_if: expected 'question' with exactly one of is, "
        "is_not, in, includes, at_least, below, answered; or exactly one of all, any, not",
        "28: sections[0].questions[3].show_if.equals: unknown field",
        '34: sections[0].questions[4].show_if.is: '
        'expected text or a number (quote yes/no values: "yes")',
        "40: sections[0].questions[5].show_if.answered: Input should be True",
        "46: sections[0].questions[6].show_if.all: must not be empty",
        "52: sections[0].questions[7].show_if: expected a mapping",
    ]


# --- semantic problems ----------------------------------------------------------------------


def test_duplicate_ids(tmp_path: Path) -> None:
    questions = (
        "  - id: main\n    title: Again\n    questions:\n"                     # 15-17
        "      - id: q1\n        type: text\n        text: Again?\n" + CITE     # 18-21
    )
    tail = (
        "gates:\n"                                                            # 22
        "  - {id: g, when: {question: q1, is: 'no'}, outcome: high, message: Stop.}\n"
        "  - {id: g, when: {question: q1, is: 'no'}, outcome: high, message: Stop.}\n"
        + TAIL + "  - {id: low, label: Low again, risk: low}\n"               # 25-31, 32
    )
    assert problems(tmp_path, questions, tail) == [
        "15: sections[1].id: duplicate section id 'main'",
        "18: sections[1].questions[0].id: duplicate question id 'q1'",
        "24: gates[1].id: duplicate gate id 'g'",
        "32: ratings[2].id: duplicate rating id 'low'",
    ]


def test_show_if_unknown_later_and_self(tmp_path: Path) -> None:
    questions = (
        single("q2", "{question: nope, is: a}")                               # 15-20
        + single("q3", "{question: q4, is: a}")                               # 21-26
        + single("q4", "{not: {question: q4, answered: true}}")               # 27-32
    )
    assert problems(tmp_path, questions) == [
        "18: sections[0].questions[1].show_if.question: unknown question 'nope'",
        "24: sections[0].questions[2].show_if.question: "
        "question 'q4' does not come before this question",
        "30: sections[0].questions[3].show_if.not.question: "
        "question 'q4' does not come before this question",
    ]


def test_unreachable_show_if(tmp_path: Path) -> None:
    number = ("      - id: n\n        type: number\n        text: How many?\n"
              "        min: 0\n        max: 10\n" + CITE)                     # 15-20
    multi = ("      - id: m\n        type: multi\n        text: Which?\n"
             "        options: [{value: a, label: A}, {value: b, label: B}]\n" + CITE)  # 21-25
    questions = (
        number + multi
        + single("s1", "{question: q1, is: maybe}")                           # 26-31
        + single("s2", "{question: q1, includes: 'yes'}")                     # 32-37
        + single("s3", "{question: q1, at_least: 3}")                         # 38-43
        + single("s4", "{question: m, is: a}")                                # 44-49
        + single("s5", "{any: [{question: m, includes: c}, {question: n, at_least: 11}]}")
        + single("s6", "{all: [{question: n, below: 0}, {question: q1, in: ['yes', x]}]}")
        + single("s7", "{question: n, is: ten}")                              # 62-67
    )
    assert problems(tmp_path, questions) == [
        "29: sections[0].questions[3].show_if.is: question 'q1' has no option 'maybe'",
        "35: sections[0].questions[4].show_if.includes: "
        "'includes' needs a multi question, 'q1' is yes_no",
        "41: sections[0].questions[5].show_if.at_least: "
        "'at_least' needs a number question, 'q1' is yes_no",
        "47: sections[0].questions[6].show_if.is: "
        "'is' cannot test multi question 'm': use 'includes'",
        "53: sections[0].questions[7].show_if.any[0].includes: question 'm' has no option 'c'",
        "53: sections[0].questions[7].show_if.any[1].at_least: "
        "question 'n' is at most 10, so this is never true",
        "59: sections[0].questions[8].show_if.all[0].below: "
        "question 'n' is at least 0, so this is never true",
        "59: sections[0].questions[8].show_if.all[1].in[1]: question 'q1' has no option 'x'",
        "65: sections[0].questions[9].show_if.is: question 'n' takes a number, not 'ten'",
    ]


def test_option_rules(tmp_path: Path) -> None:
    questions = (
        "      - id: yn\n        type: yes_no\n        text: Sure?\n"          # 15-17
        "        options:\n"                                                  # 18
        "          - {value: 'yes', label: 'Yes'}\n"                          # 19
        "          - {value: maybe, label: Maybe}\n"                          # 20
        "          - {value: 'yes', label: Again}\n" + CITE                   # 21-22
        + "      - id: n\n        type: number\n        text: How many?\n"     # 23-25
        "        min: 5\n        max: 1\n"                                    # 26-27
        "        options: [{value: a, label: A}]\n" + CITE                    # 28-29
        + "      - id: t\n        type: text\n        text: Why?\n"            # 30-32
        "        unit: USD\n        weight: 2\n        key: true\n" + CITE     # 33-36
        + "      - id: s\n        type: single\n        text: One?\n"          # 37-39
        "        options: [{value: a, label: A}]\n"                           # 40
    )
    assert problems(tmp_path, questions) == [
        "18: sections[0].questions[1].options: "
        "a yes_no question needs both 'yes' and 'no' options",
        "20: sections[0].questions[1].options[1].value: "
        "a yes_no option value must be yes, no or na, not 'maybe'",
        "21: sections[0].questions[1].options[2].value: duplicate option value 'yes'",
        "27: sections[0].questions[2].max: 'max' (1) is below 'min' (5)",
        "28: sections[0].questions[2].options: "
        "options are only allowed on yes_no, single and multi questions",
        "33: sections[0].questions[3].unit: only number questions take 'unit'",
        "34: sections[0].questions[3].weight: "
        "weight only applies to questions with scored options",
        "35: sections[0].questions[3].key: a key question needs options with a risk",
        "37: sections[0].questions[4].cites: every question needs at least one citation",
        "40: sections[0].questions[4].options: a single question needs at least 2 options",
    ]


def test_key_question_needs_a_rating_with_its_risk(tmp_path: Path) -> None:
    questions = (
        "      - id: k\n        type: single\n        text: Key?\n        key: true\n"
        "        options:\n"                                                  # 19
        "          - {value: a, label: A, risk: low}\n"                       # 20
        "          - {value: b, label: B, risk: medium}\n" + CITE             # 21-22
    )
    assert problems(tmp_path, questions) == [
        "21: sections[0].questions[1].options[1].risk: "
        "no rating has risk 'medium', so this key question cannot raise it",
    ]


def test_bands(tmp_path: Path) -> None:
    def bands(*rows: str) -> str:
        return "scoring:\n  bands:\n" + "".join(f"    - {r}\n" for r in rows) + TAIL[TAIL.index(
            "ratings"):]

    assert problems(tmp_path, tail=bands("{from: 10, to: 50, rating: high}",
                                         "{from: 60, to: 90, rating: low}")) == [
        "17: scoring.bands[0].from: bands must start at 0, this one starts at 10",
        "18: scoring.bands[1].from: gap: no band covers 50 to 60",
        "18: scoring.bands[1].to: bands must end at 100, the last one ends at 90",
    ]
    assert problems(tmp_path, tail=bands("{from: 40, to: 100, rating: low}",
                                         "{from: 0, to: 50, rating: high}",
                                         "{from: 70, to: 70, rating: high}")) == [
        "17: scoring.bands[0].from: overlaps the band 0-50",
        "19: scoring.bands[2]: 'from' (70) must be below 'to' (70)",
    ]


def test_ratings_referenced_but_undefined_and_order(tmp_path: Path) -> None:
    tail = (
        "gates:\n"                                                            # 15
        "  - {id: g, when: {question: zz, is: 'no'}, outcome: banned, message: Stop.}\n"
        "scoring:\n  bands:\n"                                                # 17-18
        "    - {from: 0, to: 50, rating: high}\n"                             # 19
        "    - {from: 50, to: 100, rating: fine}\n"                           # 20
        "ratings:\n"                                                          # 21
        "  - {id: low, label: Low risk, risk: low}\n"                         # 22
        "  - {id: high, label: High risk, risk: high}\n"                      # 23
    )
    assert problems(tmp_path, tail=tail) == [
        "16: gates[0].when.question: unknown question 'zz'",
        "16: gates[0].outcome: rating 'banned' is not defined",
        "20: scoring.bands[1].rating: rating 'fine' is not defined",
        "23: ratings[1].risk: ratings must go from most to least severe: "
        "'high' (high) comes after 'low' (low)",
    ]


def test_citations_resolve_with_has_passage(tmp_path: Path) -> None:
    tail = ("gates:\n  - id: g\n    when: {question: q1, is: 'no'}\n    outcome: high\n"
            "    message: Stop.\n    basis: applied\n    applies: A rule of this test.\n"
            "    cites: [{doc: guide, locator: para 99}]\n" + TAIL)
    path = write(tmp_path, tail=tail)
    known = {("guide", "para 1")}
    assert validate_paths(path, has_passage=lambda doc, loc: (doc, loc) in known) == [
        f"{path}:22: gates[0].cites[0]: no passage 'para 99' in document 'guide'",
    ]
    assert validate_paths(path) == []


# --- stated or applied, quotes ----------------------------------------------------------------

PASSAGES = {
    ("guide", "para 1"): "1. The first rule of the guide’s chapter. Partners “should be\n"
                         "screened” before   signing.[2]",
    ("guide", "para 2"): "2. Another passage.",
}


def text_of(doc: str, locator: str) -> str | None:
    return PASSAGES.get((doc, locator))


def test_basis_needs_applies_and_applies_needs_basis(tmp_path: Path) -> None:
    questions = (
        "      - id: q2\n        type: text\n        text: Two?\n"          # 15-17
        "        basis: applied\n" + CITE                                    # 18-19
        + "      - id: q3\n        type: text\n        text: Three?\n"      # 20-22
        "        applies: This tool asks it.\n" + CITE                       # 23-24
    )
    tail = TAIL.replace("  - {id: high, label: High risk, risk: high}",
                        "  - id: high\n    label: High risk\n    risk: high\n"
                        "    actions: [{text: Act., basis: applied}]")     # 30-33
    assert problems(tmp_path, questions, tail) == [
        "18: sections[0].questions[1].basis: basis 'applied' needs 'applies': what this tool "
        "applies, in a sentence shown to users",
        "23: sections[0].questions[2].applies: 'applies' goes with 'basis: applied' only",
        "33: ratings[0].actions[0].basis: basis 'applied' needs 'applies': what this tool "
        "applies, in a sentence shown to users",
    ]
    wrong = "      - id: q4\n        type: text\n        text: Four?\n        basis: inferred\n"
    assert problems(tmp_path, wrong + CITE) == [
        "18: sections[0].questions[1].basis: Input should be 'stated' or 'applied'"]


def test_quotes_are_checked_verbatim_against_the_passage(tmp_path: Path) -> None:
    questions = (
        "      - id: q2\n        type: text\n        text: Two?\n"                       # 15-17
        "        help: Partners “should be screened” before signing.\n"                  # 18
        "        cites: [{doc: guide, locator: para 1, quote: \"guide's chapter\"}]\n"   # 19
        "      - id: q3\n        type: text\n        text: Three?\n"                     # 20-22
        "        help: Partners “should be vetted” first.\n"                             # 23
        "        cites: [{doc: guide, locator: para 1, quote: the First rule}]\n"         # 24
        "      - id: q4\n        type: text\n        text: Four?\n" + CITE              # 25-28
        + "      - id: q5\n        type: text\n        text: Five?\n"                   # 29-31
        "        basis: applied\n        applies: This tool asks it “of everyone”.\n"     # 32-33
        + CITE                                                                         # 34
    )
    path = write(tmp_path, questions)
    found = [p.removeprefix(f"{path}:") for p in validate_paths(path, passage_text=text_of)]
    assert found == [
        "23: sections[0].questions[2].help: “should be vetted” is not in any passage this item "
        "cites",
        "24: sections[0].questions[2].cites[0].quote: not found verbatim in 'guide, para 1': "
        "'the First rule'",
        "25: sections[0].questions[3].basis: a stated item needs a cite with the 'quote' that "
        "states it; or mark it 'basis: applied' with 'applies'",
        "33: sections[0].questions[4].applies: “of everyone” is not in any passage this item "
        "cites",
    ]
    # without the passages' text only the resolution and the stated-needs-a-quote rule apply
    assert [p.removeprefix(f"{path}:") for p in validate_paths(
        path, has_passage=lambda d, loc: True)] == [found[2]]
    assert validate_paths(path) == []  # a snapshot is checked without citations


def test_option_and_number_rules(tmp_path: Path) -> None:
    questions = (
        "      - id: partner\n        type: text\n        text: Who?\n"        # 15-17
        "        integer: true\n" + CITE                                        # 18-19
        + "      - id: m\n        type: multi\n        text: Which?\n"         # 20-22
        "        options:\n"                                                    # 23
        "          - {value: a, label: A}\n"                                    # 24
        "          - {value: none, label: None}\n" + CITE                       # 25-26
        + "      - id: s\n        type: single\n        text: One?\n"          # 27-29
        "        options:\n"                                                    # 30
        "          - {value: a, label: A, exclusive: true}\n"                   # 31
        "          - {value: b, label: B}\n" + CITE                             # 32-33
    )
    assert problems(tmp_path, questions) == [
        "15: sections[0].questions[1].id: the id 'partner' is reserved (answer files use it "
        "for the partner's name)",
        "18: sections[0].questions[1].integer: only number questions take 'integer'",
        "25: sections[0].questions[2].options[1].value: the option 'none' of a multi question "
        "must be 'exclusive: true'",
        "31: sections[0].questions[3].options[0].exclusive: only the options of a multi "
        "question can be exclusive",
    ]
    number = "      - id: n\n        type: number\n        text: How many?\n        integer: 1\n"
    assert problems(tmp_path, number + CITE) == [
        "18: sections[0].questions[1].integer: expected true or false"]


def test_floors_and_action_conditions(tmp_path: Path) -> None:
    tail = (
        "scoring:\n  bands:\n"                                                # 15-16
        "    - {from: 0, to: 50, rating: high}\n"                               # 17
        "    - {from: 50, to: 100, rating: low}\n"                              # 18
        "  floors:\n"                                                          # 19
        "    - {risk: high, at_least: 2, rating: medium}\n"                     # 20
        "    - {risk: high, at_least: 3, rating: excluded}\n"                   # 21
        "    - {risk: low, at_least: 0, rating: high}\n"                        # 22
        "ratings:\n"                                                           # 23
        "  - {id: excluded, label: Excluded, risk: high}\n"                     # 24
        "  - id: high\n    label: High risk\n    risk: high\n"                # 25-27
        "    actions:\n"                                                       # 28
        "      - {text: Act., when: {question: nope, is: a}, basis: applied, applies: X.}\n"
        "  - {id: low, label: Low risk, risk: low}\n"                           # 30
    )
    assert problems(tmp_path, tail=tail) == [
        "22: scoring.floors[2].risk: Input should be 'medium' or 'high'",
        "22: scoring.floors[2].at_least: Input should be greater than or equal to 1",
    ]
    tail = tail.replace("    - {risk: low, at_least: 0, rating: high}\n", "")
    assert problems(tmp_path, tail=tail) == [
        "20: scoring.floors[0].rating: rating 'medium' is not defined",
        "21: scoring.floors[1].rating: rating 'excluded' is not used by any band, so a floor "
        "cannot lead to it",
        "28: ratings[1].actions[0].when.question: unknown question 'nope'",
    ]
