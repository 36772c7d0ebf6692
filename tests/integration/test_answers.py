"""Answers: evidence units and quotes on real passages, small talk, declines, and the real
model on questions typed the way people chat (none of them in the dev set)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot import render, texts
from bot.answers import (
    QUOTE_CHARS,
    Answer,
    answer_question,
    quote_text,
    small_talk,
    without_greeting,
)
from bot.settings import DEFAULT_THRESHOLD
from index.chunks import Chunk
from index.corpus import read_corpus
from index.embedders import SentenceTransformerEmbedder
from index.evidence import enumerates, evidence_units, is_front_matter, passage_evidence
from index.queries import asks_for_list, query_terms
from index.search import Searcher
from index.sentences import split_sentences, units
from tests.conftest import REAL_DOCS


@pytest.fixture(scope="module")
def passages() -> dict[tuple[str, str], Chunk]:
    return {(c.source, c.locator): c for d in read_corpus(REAL_DOCS) for c in d.chunks}


def _units(passages: dict[tuple[str, str], Chunk], doc: str, locator: str) -> list:
    return units(passages[(doc, locator)].text)


# --- evidence units of real passages -----------------------------------------------------------


def test_a_list_lead_in_is_quoted_with_its_items(passages: dict) -> None:
    pieces = _units(passages, "towards-global-partnerships", "para 11")
    assert pieces[0].kind == "lead"
    assert pieces[0].text == (
        "Partnerships can be loosely grouped under the following four functions:")
    assert {p.item for p in pieces if p.kind == "item"} == {0, 1, 2, 3}
    quote = quote_text(pieces, (0,))
    lines = quote.splitlines()
    assert lines[0] == pieces[0].text
    assert [line.split(":")[0] for line in lines[1:]] == [
        "(a) Advocacy", "(b) Developing norms and standards",
        "(c) Sharing and coordinating resources and expertise",
        "(d) Harnessing markets for development"]
    # an item brings its lead-in, and is quoted in full while the others are shortened
    item_b = next(i for i, p in enumerate(pieces) if p.text.startswith("(b)"))
    quote = quote_text(pieces, (item_b,))
    assert quote.startswith(pieces[0].text) and pieces[item_b].text in quote
    assert "(a) Advocacy: …" in quote


def test_labelled_fields_of_a_table_row_stay_whole(passages: dict) -> None:
    pieces = _units(passages, "unece-private-sector-evaluation", "Recommendation 2")
    texts_ = [p.text for p in pieces]
    assert "Responsibility: DES" in texts_
    assert "Target date: 31 December 2023" in texts_
    assert "Date of implementation/comments: In progress" in texts_  # the status on its own
    target = texts_.index("Target date: 31 December 2023")
    assert pieces[target].kind == "field" and pieces[target].label == "Target date"
    # a later sentence of a field is quoted after its label
    later = next(i for i, p in enumerate(pieces)
                 if p.label == "Recommendation" and not p.text.startswith("Recommendation"))
    assert quote_text(pieces, (later,)).startswith("Recommendation: … This would include")


def test_a_sentence_a_passage_prints_twice_is_quoted_once(passages: dict) -> None:
    pieces = _units(passages, "unece-private-sector-evaluation", "Recommendation 5")
    sentence = ("The due diligence and associated processes will be aligned with the Partnership "
                "Strategy to identify the most strategic opportunities, while at the same time "
                "properly assessing potential risks.")
    twice = [i for i, p in enumerate(pieces) if p.text == sentence]
    assert len(twice) == 2 and pieces[twice[0]].label != pieces[twice[1]].label
    quote = quote_text(pieces, tuple(twice))
    assert quote.count(sentence) == 1 and quote.startswith("Management response: … ")


def test_a_list_or_an_enumerating_sentence_lists_things(passages: dict) -> None:
    lead = _units(passages, "towards-global-partnerships", "para 11")[0]
    assert enumerates(lead.text)  # "... under the following four functions:"
    colon = next(u for u in _units(passages, "towards-global-partnerships", "para 44")
                 if u.text.startswith("However, two partnership management challenges"))
    assert enumerates(colon.text)  # "... particularly critical: X and Y"
    assert not enumerates("United Nations goals, especially the Millennium Development Goals "
                          "can only be achieved if all social actors cooperate.")
    assert asks_for_list("What are the Clinton principles?")
    assert asks_for_list("so what topics should the training cover")
    assert not asks_for_list("What is the Global Compact?")
    assert not asks_for_list("Why are the deadlines too tight?")


def test_footnotes_are_stripped_from_quotes_but_kept_in_the_passage(passages: dict) -> None:
    chunk = passages[("towards-global-partnerships", "para 10")]
    assert "[3]" in chunk.text and "heuristic device" in chunk.text  # Show passage has them
    pieces = units(chunk.text)
    assert len(pieces) == 1
    assert pieces[0].text.endswith("to the work of the United Nations.")
    assert "[" not in pieces[0].text and "heuristic" not in pieces[0].text


def test_abbreviations_do_not_end_a_sentence(passages: dict) -> None:
    footnotes = passages[("towards-global-partnerships", "para 10")].text
    line = next(x for x in footnotes.splitlines() if "annex III, para. 18" in x)
    assert len(split_sentences(line.removeprefix("[3] "))) == 1
    sales = next(x for x in footnotes.splitlines() if "Sales No." in x)
    assert len(split_sentences(sales)) == 1
    assert split_sentences("Through expertise (e.g. in marketing) and contacts. Companies "
                           "join.") == ["Through expertise (e.g. in marketing) and contacts.",
                                        "Companies join."]


def test_a_label_alone_is_not_evidence(passages: dict) -> None:
    issue = passages[("private-sector-focal-points-2006", "Issue #2")]
    assert "Action Points and Progress:" in issue.text
    assert all("Action Points" not in p.text for p in units(issue.text))


def test_an_action_point_holds_the_progress_reported_under_it(passages: dict) -> None:
    pieces = _units(passages, "private-sector-focal-points-2006", "Issue #3, action point 5")
    assert pieces[0].text.startswith("Compile a list of the major UN")
    assert pieces[0].under is None
    assert [p.under for p in pieces[1:]] == [0] * (len(pieces) - 1)
    assert pieces[1].text.startswith("UNSSC has compiled this list")
    # the progress starts a line of its own
    assert quote_text(pieces, (0, 1)).splitlines() == [pieces[0].text, pieces[1].text]
    # a nested lead-in keeps its own items, and is under its action point too
    listed = _units(passages, "private-sector-focal-points-2006", "Issue #2, action point 2")
    assert listed[1].kind == "lead" and listed[1].under == 0
    assert {p.under for p in listed[2:]} == {0} and {p.lead for p in listed[2:]} == {1}
    # passages without nested bullets have no unit under another
    row = _units(passages, "unece-private-sector-evaluation", "Recommendation 2")
    assert all(p.under is None for p in row)


def test_titles_and_front_matter_are_never_evidence(passages: dict) -> None:
    for doc in ("jiu-implementing-partners", "towards-global-partnerships"):
        opening = passages[(doc, "Opening text")]
        assert all(is_front_matter(opening, p) for p in units(opening.text))
    content = passages[("private-sector-focal-points-2006", "Opening text ¶2")]
    assert not any(is_front_matter(content, p) for p in units(content.text))


# --- small talk and messages with nothing to search ------------------------------------------


@pytest.mark.parametrize(("message", "kind"), [
    ("hi", "greeting"), ("Hello!", "greeting"), ("good morning", "greeting"),
    ("thanks", "thanks"), ("Thank you so much 🙏", "thanks"), ("ok", "ack"), ("cool", "ack"),
    ("help", "help"), ("what can you do?", "help"), ("bye", "bye"), ("help me", "help"),
    ("how does it work", "help"), ("please help", "help"), ("ayuda por favor", "help"),
    ("Comment ça marche ?", "help"), ("¿Cómo funciona?", "help"),
    ("que peux-tu faire ?", "help"), ("oui", "ack"), ("d'accord", "ack"), ("sí", "ack"),
    ("vale", "ack"), ("très bien", "ack"), ("ok merci", "thanks"),
    ("hi, how are you?", "greeting"), ("bonjour, ça va ?", "greeting"),
    ("hola, ¿qué tal?", "greeting"), ("buen día", "greeting"), ("how are you", "greeting"),
    ("merci, bonne journée", "thanks"), ("that was helpful", "thanks"),
    ("have a nice day", "bye"), ("buen fin de semana", "bye")])
def test_small_talk_gets_a_short_reply_not_a_search(message: str, kind: str) -> None:
    assert small_talk(message) == kind
    answer = answer_question(message, searcher=None, threshold=0.5)  # type: ignore[arg-type]
    assert answer.reason == "small_talk" and not answer.hits
    reply = render.answer_message(answer)
    assert texts.NOT_COVERED[:60] not in reply and "Closest passages" not in reply
    assert len(reply) < 700


@pytest.mark.parametrize(("message", "question"), [
    ("hi, what is the Partner Portal?", "what is the Partner Portal?"),
    ("Hello there! Is HACT covered?", "Is HACT covered?"), ("hi what is HACT", "what is HACT"),
    ("High-level committee?", "High-level committee?"),
    ("Bonjour, qu'est-ce que le HACT ?", "qu'est-ce que le HACT ?"),
    ("Buenos días: ¿qué es el HACT?", "¿qué es el HACT?"),
    ("hola, ¿quién es responsable?", "¿quién es responsable?"),
    ("Salutations du bureau", "Salutations du bureau"),
    # thanks or an ok before a follow-up: "thanks! and what about NGOs?" follows up
    ("thanks! and what about NGOs?", "and what about NGOs?"),
    ("ok, and for companies?", "and for companies?"),
    ("merci ! et pour les ONG ?", "et pour les ONG ?"), ("Okapi partners?", "Okapi partners?")])
def test_a_greeting_with_a_question_is_a_question(message: str, question: str) -> None:
    assert small_talk(message) is None
    assert without_greeting(message) == question


@pytest.mark.parametrize(("message", "reason"), [
    ("?", "no_words"), ("   ", "empty"), ("what is it?", "no_terms"),
    ("what about it?", "no_terms"), ("is there?", "no_terms"), ("which?", "no_terms"),
    ("12345", "number_only"), ("2024?!", "number_only"), ("1", "number_only"),
    ("https://example.org/a?b=1", "link_only"),
    ("www.unece.org", "link_only"), ("focal.point@un.org", "link_only")])
def test_nothing_to_search_gets_a_clear_message(message: str, reason: str) -> None:
    answer = answer_question(message, searcher=None, threshold=0.5)  # type: ignore[arg-type]
    assert answer.reason == reason
    message = render.answer_message(answer)
    assert message in (texts.EMPTY_QUESTION, texts.NO_WORDS, texts.NUMBER_ONLY, texts.NO_TERMS,
                       texts.LINK_ONLY)
    assert "message" in message and "<i>" in message  # says what was wrong, with an example


# --- the real model ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_searcher(real_index_dir: Path, real_embedder: SentenceTransformerEmbedder) -> Searcher:
    searcher = Searcher(real_index_dir, real_embedder)
    searcher.load()
    return searcher


def ask(searcher: Searcher, question: str) -> Answer:
    return answer_question(question, searcher, threshold=DEFAULT_THRESHOLD)


# Written for this test, the way staff chat; none is in eval/devset.yaml, so the threshold
# (calibrated on part of the dev set) was not tuned on them.
CHAT = [
    ("hey so do IPs really have to show up in our risk register",
     "jiu-implementing-partners", {"Recommendation 6", "para 23", "para 24"}),
    ("the UNECE one-stop shop, whats the target date",
     "unece-private-sector-evaluation", {"Recommendation 7"}),
    ("does undp insist on GC membership before partnering w a company",
     "private-sector-focal-points-2006", {"Issue #2, action point 1"}),
    ("HACT?", "jiu-implementing-partners", {"Recommendation 8", "para 30"}),
    ("what is hact", "jiu-implementing-partners", {"Recommendation 8", "para 30"}),
]


@pytest.mark.parametrize(("question", "doc", "locators"), CHAT)
def test_chat_style_questions_are_answered_from_the_right_passage(
        real_searcher: Searcher, question: str, doc: str, locators: set[str]) -> None:
    answer = ask(real_searcher, question)
    assert answer.grounded, f"declined at {answer.top_score:.3f}"
    cited = {(q.hit.chunk.source, q.hit.chunk.locator) for q in answer.quotes}
    assert cited & {(doc, loc) for loc in locators}, cited


def test_the_quote_holds_the_labelled_field_asked_for(real_searcher: Searcher) -> None:
    answer = ask(real_searcher, "the UNECE one-stop shop, whats the target date")
    assert "Target date: 31 December 2023" in " ".join(q.text for q in answer.quotes)


@pytest.mark.parametrize("question", ["whats the per diem in nairobi",
                                      "Who won the football world cup in 2022?"])
def test_off_topic_chat_is_declined(real_searcher: Searcher, question: str) -> None:
    assert ask(real_searcher, question).reason == "not_covered"


def test_a_declined_question_shows_each_closest_passage_by_its_best_sentence(
        real_searcher: Searcher) -> None:
    answer = ask(real_searcher, "How many days of annual leave do I get per year?")
    assert not answer.grounded and 1 <= len(answer.closest) <= 3
    message = render.answer_message(answer)
    assert "does not cover this question" in message and "Closest passages" in message
    for quote in answer.closest:
        printed = " ".join(quote.hit.chunk.text.split())
        pieces = [p.strip() for p in re.split(r"…|\n", quote.text) if p.strip(" :")]
        assert pieces and all(p.rstrip(":") in printed for p in pieces), quote.text  # verbatim
        assert render.esc(render.citation(quote.hit.chunk)) in message
        assert len(quote.text) < len(quote.hit.chunk.text) or len(quote.text) < 400


def test_answers_cite_short_labels_with_context_and_full_titles_once(
        real_searcher: Searcher) -> None:
    answer = ask(real_searcher, "did agencies support the annual report recommendation?")
    message = render.answer_message(answer)
    chunk = answer.quotes[0].hit.chunk
    assert chunk.document_label == "SG note on A/77/257"
    if chunk.locator.startswith("para"):
        assert f"{chunk.locator}, on Recommendation" in message  # says what it is about
    assert message.count(chunk.title) == 1  # the full title once, under Sources
    assert message.index("Sources") > message.index(chunk.title) - len(chunk.title) - 40


@pytest.mark.parametrize("question", [
    "What should staff be trained on when managing implementing partners?",
    "What are the main types of partnerships with business?",
    "hey how many companies were actually in the global compact by july 2005",
    "What's the status of the UNECE partnership strategy?",
    # UNECE's Recommendation 5 prints one sentence under two labels; it was quoted twice
    "what are the risks of partnering with business",
])
def test_no_sentence_is_quoted_twice_and_answers_fit_a_phone(real_searcher: Searcher,
                                                             question: str) -> None:
    answer = ask(real_searcher, question)
    sentences = [s for q in answer.quotes for s in q.text.replace("\n", " … ").split(" … ")]
    assert len(sentences) == len(set(sentences))
    assert len(render.answer_message(answer)) <= 1600


# Written for this test, not in eval/devset.yaml: in-domain questions that ask for a thing the
# guidance never names, each answered at the threshold alone (0.59-0.66) before the rules of
# bot/answers.py `_names_missing` and `_on_subject`.
NAMES_A_THING_NOT_THERE = [
    "Is there a template for the KPI report on implementing partners?",
    "Is there a checklist for the IP section of the annual report?",
    "How do I apply for the partnering skills course?",
    "How do I sign up for the Partners in Action learning community?",
    "how many people are on the UNECE task force",
    "How many NGOs have joined the UN Partner Portal?",
]


# Written for this test, not in eval/devset.yaml: the guidance mentions each thing asked for
# without naming it ("a pharmaceutical company", "an express delivery ... firm", "15 leading
# global businesses"); answered (0.69-0.85) before `names_mentioned`.
NAMES_IT_WITHHOLDS = [
    "which drug company worked with WHO on sleeping sickness",
    "what was the name of the express delivery firm WFP partnered with",
    "which businesses are part of the Growing Sustainable Business programme",
    # "the UNDP Division for Business Partnerships" names a division, not a firm
    "which firms take part in UNDP's Growing Sustainable Business programme",
    # "who is the ROLE" asks for a person: the guidance names offices ("the Office of the
    # Deputy Executive Secretary"), never the people in them
    "who is the Deputy Executive Secretary of UNECE",
    "Who is the UNICEF focal point for corporate partnerships?",
]


# Written for this test: questions for the members of something the guidance names without
# listing them; answered (by a mention) before `asks_for_list`.
LISTS_IT_DOES_NOT_GIVE = [
    "What were the lessons learned in the tsunami report?",
    "What are the zero-growth instructions of the Secretary-General?",
]


@pytest.mark.parametrize("question", NAMES_A_THING_NOT_THERE + NAMES_IT_WITHHOLDS
                         + LISTS_IT_DOES_NOT_GIVE)
def test_a_question_for_a_thing_the_guidance_never_names_is_declined(
        real_searcher: Searcher, question: str) -> None:
    answer = ask(real_searcher, question)
    assert answer.reason == "not_covered", render.answer_message(answer)
    assert answer.closest  # still shown where the guidance comes closest


def test_a_which_question_answered_by_names_beside_the_thing_is_answered(
        real_searcher: Searcher) -> None:
    answer = ask(real_searcher, "which organizations plan to tie individual accountability "
                                "to results")
    assert answer.grounded, f"declined at {answer.top_score:.3f}"
    assert "namely the United Nations Secretariat" in answer.quotes[0].text


def test_a_thing_the_guidance_names_is_answered(real_searcher: Searcher) -> None:
    answer = ask(real_searcher, "Is there a code of conduct for UN suppliers?")
    assert answer.grounded
    assert "UN Supplier Code of Conduct" in answer.quotes[0].text


@pytest.mark.parametrize("question", [
    "what are the four functions partnerships are grouped under",
    # "main" is a hedge: it ranked UNIDO's "main lines of work" (para 29) first
    "What are the main functions of partnerships?",
])
def test_a_question_for_a_list_the_guidance_gives_is_answered_by_it(
        real_searcher: Searcher, question: str) -> None:
    answer = ask(real_searcher, question)
    assert answer.grounded
    listed = [q for q in answer.quotes if q.hit.chunk.locator == "para 11"]
    assert listed and "(d) Harnessing markets for development" in listed[0].text
    assert answer.quotes[0].hit.chunk.locator in ("para 10", "para 11")  # 10 introduces it


def test_how_many_is_answered_by_the_number_of_the_thing_counted(
        real_searcher: Searcher) -> None:
    answer = ask(real_searcher, "how many companies did UNICEF partner with in 2003")
    assert answer.grounded
    assert "more than 180 companies" in answer.quotes[0].text


def test_a_deadline_is_answered_by_the_target_date_field(real_searcher: Searcher) -> None:
    answer = ask(real_searcher, "Is there a deadline for the UNECE partnership strategy?")
    assert answer.grounded
    first = answer.quotes[0]
    assert first.hit.chunk.source == "unece-private-sector-evaluation"
    assert "Target date: 31 December 2023" in first.text


def test_a_name_the_passage_prints_counts_for_each_of_its_units(passages: dict) -> None:
    chunk = passages[("unece-private-sector-evaluation", "Recommendation 4")]
    terms = query_terms("Will UNECE train its staff?")
    pieces = evidence_units(chunk)
    scored = passage_evidence(pieces, (), 0.5, terms, [1.0] * len(terms), kind=None,
                              question="Will UNECE train its staff?")
    unit = next(e for e in scored if e.unit.text.startswith("The training of staff"))
    assert "UNECE" not in unit.unit.text
    assert unit.terms == pytest.approx(1.0)  # UNECE (from its row), train, staff
    other = passages[("towards-global-partnerships", "para 52")]  # staff training, not UNECE
    scored = passage_evidence(evidence_units(other), (), 0.5, terms, [1.0] * len(terms),
                              kind=None, question="Will UNECE train its staff?")
    assert max(e.terms for e in scored) < 1.0


@pytest.mark.parametrize("question", ["which JIU rec is about training",
                                      "what JIU recommendation covers IP training pls"])
def test_which_recommendation_is_answered_by_the_recommendation(
        real_searcher: Searcher, question: str) -> None:
    answer = ask(real_searcher, question)
    assert answer.grounded, f"declined at {answer.top_score:.3f}"
    first = answer.quotes[0].hit.chunk
    assert (first.source, first.locator) == ("jiu-implementing-partners", "Recommendation 8")


# Written for this test: a question about one recommendation quoted, after Recommendation 6,
# para 17 ("the proposed 2023 deadline is considered too tight"), which is on Recommendation 4.
@pytest.mark.parametrize("question", [
    "what's the deadline for the IP risk management recommendation",
    "what's the deadline in the recommendation on IP risks?",
])
def test_a_question_on_one_recommendation_quotes_nothing_on_another(
        real_searcher: Searcher, question: str) -> None:
    answer = ask(real_searcher, question)
    assert answer.grounded, f"declined at {answer.top_score:.3f}"
    first = answer.quotes[0].hit.chunk
    assert (first.source, first.locator) == ("jiu-implementing-partners", "Recommendation 6")
    assert all(q.hit.chunk.locator == "Recommendation 6"
               or q.hit.chunk.context == "Recommendation 6" for q in answer.quotes)


# Written for this test: a question naming a recommendation by number is answered from it, or
# from the paragraphs on it (without the lift, each quoted another recommendation first or
# was declined).
@pytest.mark.parametrize(("question", "doc", "recommendation"), [
    ("RBM rec 6, what do orgs say", "jiu-results-based-management", "Recommendation 6"),
    ("what did agencies say about rec 7 of the JIU IP report", "jiu-implementing-partners",
     "Recommendation 7"),
    ("is UNECE rec 4 done", "unece-private-sector-evaluation", "Recommendation 4"),
])
def test_a_recommendation_named_by_number_is_quoted(real_searcher: Searcher, question: str,
                                                    doc: str, recommendation: str) -> None:
    answer = ask(real_searcher, question)
    assert answer.grounded, f"declined at {answer.top_score:.3f}"
    assert all(q.hit.chunk.source == doc and recommendation in (q.hit.chunk.locator,
                                                                 q.hit.chunk.context)
               for q in answer.quotes), [q.hit.chunk.citation for q in answer.quotes]


def test_who_is_responsible_is_answered_by_the_responsibility_field(
        real_searcher: Searcher) -> None:
    """"DES" opens the field's value; it was not read as a name, so the row's management
    response was quoted from another recommendation instead."""
    answer = ask(real_searcher, "who is responsible for UNECE recommendation 5")
    assert answer.grounded
    assert answer.quotes[0].hit.chunk.locator == "Recommendation 5"
    assert "Responsibility: DES, supported by the Executive Office" in answer.quotes[0].text


@pytest.mark.parametrize("question", ["JIU recommendation on staff training",
                                      "which JIU rec is about training staff on IPs"])
def test_a_named_issuer_ranks_its_documents_first(real_searcher: Searcher,
                                                  question: str) -> None:
    """The JIU issued neither the UNECE report nor "Towards global partnerships", which also
    speak of training staff: without the issuer's bonus, one of them ranked first."""
    hits = real_searcher.search(question, 5).hits
    assert hits[0].chunk.source in {"jiu-implementing-partners", "jiu-results-based-management"}
    assert "Joint Inspection Unit" in (hits[0].chunk.organization or "")


def test_hard_to_manage_finds_complex_to_manage(real_searcher: Searcher) -> None:
    """Para 14 says such partnerships "are the most complex to manage"; without the synonym
    Recommendation 1 (on standards for implementing partners) was quoted first."""
    answer = ask(real_searcher, "are standard-setting partnerships hard to manage")
    assert answer.grounded
    first = answer.quotes[0].hit.chunk
    assert (first.source, first.locator) == ("towards-global-partnerships", "para 14")
    assert "the most complex to manage" in answer.quotes[0].text


@pytest.mark.parametrize(("question", "progress"), [
    ("what happened with the email newsletter for focal points",
     "In early April 2006, the Global Compact Office will launch"),
    ("did anyone compile the publications and toolkits on business partnerships",
     "UNSSC has compiled this list")])
def test_an_action_point_is_quoted_with_its_progress(real_searcher: Searcher, question: str,
                                                     progress: str) -> None:
    """The action point alone says what was planned; the line under it, what was done."""
    answer = ask(real_searcher, question)
    assert answer.grounded
    first = answer.quotes[0]
    assert first.hit.chunk.locator.startswith("Issue #3, action point")
    lines = first.text.splitlines()
    assert len(lines) >= 2 and lines[1].startswith(progress), first.text


def test_a_near_tie_is_quoted_from_the_passage_ranked_first(real_searcher: Searcher) -> None:
    """Para 55 (smaller organizations and due diligence) is ranked first; a sentence of
    UNECE's row scored a little higher on its own and was quoted first before."""
    result = real_searcher.search("we are a small organization, how do we do due diligence "
                                  "on partners", 5)
    assert result.hits[0].chunk.locator == "para 55"
    answer = ask(real_searcher, "we are a small organization, how do we do due diligence on "
                                "partners")
    assert answer.grounded
    assert answer.quotes[0].hit.chunk.locator == "para 55"


def test_a_sentence_that_refers_back_is_quoted_after_the_one_it_refers_to(
        real_searcher: Searcher) -> None:
    """Para 8's best sentence opens "While this broad definition ...": alone it does not say
    which definition; the definition before it comes with it."""
    answer = ask(real_searcher,
                 "is the broad definition of partnerships enough to guide what the UN does")
    assert answer.grounded
    first = answer.quotes[0]
    assert (first.hit.chunk.source, first.hit.chunk.locator) == (
        "towards-global-partnerships", "para 8")
    assert first.text.startswith("Partnerships are defined as voluntary and collaborative")
    assert "While this broad definition is suitable" in first.text


def test_a_further_quote_too_long_with_its_context_is_quoted_alone(
        real_searcher: Searcher) -> None:
    """Para 11 opens with the answer ("Organizations partially support this
    recommendation."), a short statement that brings the sentence after it; with it the
    quotes would pass QUOTE_CHARS, so the statement is quoted alone, not dropped."""
    answer = ask(real_searcher, "do organizations support rec 2 on annual reports")
    assert answer.grounded
    by_locator = {q.hit.chunk.locator: q for q in answer.quotes
                  if q.hit.chunk.source == "jiu-implementing-partners"}
    assert by_locator["para 11"].text == "Organizations partially support this recommendation."
    assert sum(len(q.text) for q in answer.quotes) <= QUOTE_CHARS


def test_the_fact_asked_for_is_on_the_subject_of_its_own_clause(real_searcher: Searcher) -> None:
    """"How much cash ..., and what was the hardest part ...": the amount is about the cash;
    the second clause's words do not count against "Cash donations have exceeded $300
    million" (declined before, at a confidence above the threshold)."""
    answer = ask(real_searcher, "How much cash did businesses donate after the tsunami, and "
                                "what was the hardest part of matching their offers with needs?")
    assert answer.grounded, answer.reason
    assert "Cash donations have exceeded $300 million" in answer.quotes[0].text


def test_a_past_date_is_not_answered_by_a_target_date(real_searcher: Searcher) -> None:
    answer = ask(real_searcher, "when was the UNECE partnerships report presented to EXCOM")
    assert answer.grounded
    assert "30 September 2022" in answer.quotes[0].text
    assert not answer.quotes[0].text.startswith("Target date")


def test_a_year_the_question_names_must_be_the_quoted_passages(real_searcher: Searcher) -> None:
    other_year = ask(real_searcher,
                     "What was agreed at the 2004 private sector focal points meeting?")
    assert other_year.reason == "not_covered" and other_year.top_score >= DEFAULT_THRESHOLD
    answered = ask(real_searcher, "what was agreed at the 2005 private sector focal points meeting")
    assert answered.grounded and "2005" in answered.quotes[0].hit.chunk.text


@pytest.mark.parametrize("question", [
    "what did the 2006 focal points note look at",  # declined at 0.539 when "look" counted
    "what should fraud prevention training cover",
])
def test_words_that_frame_the_question_are_not_missing_evidence(
        real_searcher: Searcher, question: str) -> None:
    answer = ask(real_searcher, question)
    assert answer.grounded, f"declined at {answer.top_score:.3f}"
