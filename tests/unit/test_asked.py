"""What a question asks for: the thing it names (index/queries.py `asked_for`) and whether a
text prints the kind of fact it asks for (index/evidence.py `prints_answer`)."""

from __future__ import annotations

import pytest

from index.evidence import counts, names_mentioned, prints_answer
from index.queries import answer_type, asked_for, asked_locator, normalise, query_terms


@pytest.mark.parametrize(("question", "words", "counted"), [
    ("Is there a template for the IP section of the annual report?", ["template"], False),
    ("Is there one UN-wide definition of an implementing partner we can use?",
     ["definition"], False),
    ("Is there a UN supplier code of conduct, and is it mandatory?", ["code"], False),
    ("Are there staff exchange programmes with companies?", ["programmes"], False),
    ("Which form do we use to submit a proposal?", ["form"], False),
    ("Which third-party firms do UN agencies use?", ["third-party", "firms"], False),
    ("which agencies said they had plans", ["agencies"], False),  # "said" is a chat word
    ("Which KPIs exactly should we report?", ["KPIs"], False),
    ("How do I register a new NGO partner on the Portal?", ["register"], False),
    ("How many people sit on the UNECE Partnerships Task Force?", ["people"], True),
    ("the UNIDO one, how many indian suppliers took part", ["suppliers"], True),
    ("How many UN entities already include such a section?", ["entities"], True),
])
def test_the_thing_asked_for_by_name(question: str, words: list[str], counted: bool) -> None:
    asked = asked_for(question)
    assert asked is not None
    assert [t.text for t in asked.terms] == words
    assert asked.counted is counted


@pytest.mark.parametrize("question", [
    "Is there going to be one collective accountability framework?",  # no thing named
    "How do we build a results culture among staff?",  # practice, not a procedure
    "What is results-based management?",
    "Why are agencies reluctant to create a stand-alone unit?",
    "",
    "is there?",  # the trigger alone
    "which?",
    "how many",
    "how do i",
])
def test_questions_that_name_no_thing(question: str) -> None:
    assert asked_for(question) is None


def test_a_url_prints_no_fact() -> None:
    text = ("A report is available here: https://unece.org/files/item%207_UNECE%20Report_final"
            "%205%20Sept%202022.pdf")
    assert not prints_answer(text, "share", "What share of the budget goes to partnerships?")
    assert prints_answer("About 5% of the budget goes to partnerships.", "share",
                         "What share of the budget goes to partnerships?")


def test_the_second_half_of_a_year_is_a_date_not_a_share() -> None:
    question = "What share of UNECE's budget goes to partnerships?"
    assert answer_type(question) == "share"
    assert not prints_answer("It goes to EXCOM in the second half of 2023.", "share", question)
    assert prints_answer("Half of the budget goes to partnerships.", "share", question)


def test_proper_names_are_told_from_concept_acronyms() -> None:
    terms = {t.text: t for t in query_terms("Does UNECE train IPs with Nestle on KPIs?")}
    assert terms["UNECE"].proper and terms["Nestle"].proper
    assert terms["IPs"].name and not terms["IPs"].proper
    assert not terms["KPIs"].proper and not terms["train"].proper


@pytest.mark.parametrize(("question", "kind"), [
    ("which JIU rec is about training", "recommendation"),
    ("Which recommendations deal with fraud?", "recommendation"),
    ("which issue of the 2006 note is about the Global Compact", "issue"),
    ("Which agencies objected?", None),
    ("how many recommendations are there", None),  # a count, not a passage asked for
    ("What is RBM?", None),
])
def test_the_kind_of_passage_asked_for(question: str, kind: str | None) -> None:
    assert asked_locator(asked_for(question)) == kind


def test_what_recommendation_asks_for_one_like_which() -> None:
    assert asked_locator(asked_for("what JIU rec covers IP training")) == "recommendation"
    assert asked_for("What did the JIU recommend on training?") is None


def test_a_recommendation_named_after_other_words_is_not_the_passage_asked_for() -> None:
    assert asked_locator(asked_for("which organizations supported recommendation 3")) is None


@pytest.mark.parametrize(("question", "which"), [
    ("Which drug company did WHO work with?", True),
    ("what is the name of the courier firm WFP works with", True),
    ("What's the name of the portal for NGOs?", True),
    ("Who is the current Executive Secretary of UNECE?", True),  # a person holding the role
    ("Is there a team for corporate partnerships?", False),  # exists: "a ... team" answers
    ("how many companies took part", False),
])
def test_which_questions_ask_for_the_thing_to_be_named(question: str, which: bool) -> None:
    asked = asked_for(normalise(question))
    assert asked is not None and asked.which is which


def test_who_is_the_role_asks_for_the_role_not_its_time() -> None:
    asked = asked_for(normalise("Who is the current Executive Secretary of UNECE?"))
    assert asked is not None and asked.holder
    assert [t.text for t in asked.terms] == ["Executive", "Secretary"]
    unicef = asked_for(normalise("Who is the UNICEF focal point for business?"))
    assert unicef is not None and [t.text for t in unicef.terms] == ["focal", "point"]
    assert asked_for(normalise("who is responsible for the gender rec at UNECE")) is None
    # "who's the" (read as "who the") and "whos the", as people type it
    for typed in ("who's the Executive Secretary of UNECE", "whos the executive secretary"):
        role = asked_for(normalise(typed))
        assert role is not None and role.holder, typed
        assert answer_type(typed) == "name"


QUESTION = "Which drug company did WHO work with on sleeping sickness?"


@pytest.mark.parametrize(("text", "names"), [
    # a mention of the thing asked for with no name beside it does not say which
    ("In order to eliminate African trypanosomiasis, also known as sleeping sickness, WHO "
     "joined forces with a pharmaceutical company in 2001.", False),
    ("WHO signed an agreement with the company in 2001.", False),  # the question's name only
    # a name beside the mention does
    ("WHO joined forces with Sanofi, a pharmaceutical company, in 2001.", True),
    ("The company Bayer donated the drugs.", True),
    # the word inside a proper name names something else: a division, a programme
    ("Its partnership work is coordinated by the WHO Division for Company Relations.", None),
    ("Companies such as Sanofi joined in 2001.", True),  # capitalised as the first word
    ("WHO worked with the Sanofi Pharmaceutical Company on it.", True),  # a name's last word
    # no mention: a name elsewhere may answer (the other rules judge it)
    ("Donations ran for ten years.", None),
])
def test_a_which_question_is_answered_by_a_name_beside_the_thing(text: str, names: bool | None
                                                                   ) -> None:
    asked = asked_for(normalise(QUESTION))
    assert asked is not None
    assert names_mentioned(text, asked.terms, QUESTION) is names


ROLE = "Who is the current Executive Secretary of UNECE?"


@pytest.mark.parametrize(("text", "names"), [
    # the holder's name, set apart from the role, answers
    ("Olga Algayerova, Executive Secretary of UNECE, opened the meeting.", True),
    ("The Executive Secretary, Olga Algayerova, opened the meeting.", True),
    # the role's own name, a name further off, or a month does not
    ("Partnerships have been centralized in the Office of the Deputy Executive Secretary since "
     "1 September 2021.", False),
    ("The Office of the Deputy Executive Secretary in cooperation with PMSSD has started.", False),
    ("The Executive Secretary opened the meeting with Olga Algayerova.", False),
])
def test_who_holds_a_role_is_a_name_beside_it(text: str, names: bool) -> None:
    asked = asked_for(normalise(ROLE))
    assert asked is not None
    assert names_mentioned(text, asked.terms, ROLE, holder=asked.holder) is names


@pytest.mark.parametrize(("question", "text", "given"), [
    ("how many pension funds are in the PRI",
     "The initiative has mobilized a group of approximately 20 international public pension "
     "funds.", True),
    ("how many indian suppliers took part by 2005",
     "Within two years, the participating small component suppliers (120 of them by 2005) "
     "reported a range of measurable improvements", True),
    ("How many CEB member organizations sent inputs?",  # three lines, not three organizations
     "the recent adoption of the three lines of defence model by CEB) and/or a common process "
     "and procedures, the organizations recognize", False),
    ("how many organizations support it",  # a year and a paragraph number count nothing
     "In 2005, as para 12 notes, organizations support it.", False),
])
def test_how_many_is_given_by_a_number_of_the_thing_counted(question: str, text: str,
                                                            given: bool) -> None:
    asked = asked_for(normalise(question))
    assert asked is not None and asked.counted
    assert counts(text, asked.terms) is given
