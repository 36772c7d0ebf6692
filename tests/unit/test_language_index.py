"""The vectors of the multilingual model in an index version: built and reused by the build,
checked at the load, used by the searcher for French and Spanish questions only; the glossary
that gives keyword search the English of a French or Spanish question; the language a
question is read in."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

from bot.answers import answer_question, question_language
from index.build import build_index, status
from index.embedders import HashingEmbedder
from index.errors import IndexCorrupt
from index.lexicon import english_terms
from index.queries import language_terms, unread_words
from index.search import Searcher
from index.sentences import sentence_texts
from index.store import LANGUAGE_DIR, current_version, load_live, versions_dir


class CountingEmbedder(HashingEmbedder):
    """The hashing fake under another model id, counting the texts it embedded."""

    def __init__(self, model_id: str, dim: int = 128) -> None:
        super().__init__(dim=dim, model_id=model_id)
        self.embedded = 0
        self.queries: list[str] = []

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        self.embedded += len(texts)
        return super().embed_documents(texts)

    def embed_query(self, text: str) -> np.ndarray:
        self.queries.append(text)  # counted apart from the passages and units
        return HashingEmbedder.embed_documents(self, [text])[0]


def test_a_build_with_a_language_model_holds_its_vectors(docs_dir: Path, tmp_path: Path) -> None:
    other = CountingEmbedder("multilingual-fake")
    report = build_index(docs_dir, tmp_path / "index", HashingEmbedder(),
                         language_embedder=other)
    loaded = load_live(tmp_path / "index", "hashing-256")
    assert loaded.language is not None and loaded.language.model_id == "multilingual-fake"
    assert loaded.language.dense.size == report.chunks == 13
    assert loaded.manifest["language"] == {"model_id": "multilingual-fake", "dim": 128}
    units = sum(len(sentence_texts(c)) for c in loaded.chunks)
    assert loaded.language.sentences is not None and loaded.sentences is not None
    assert len(loaded.language.sentences.owner) == units == len(loaded.sentences.owner)
    # every passage and unit once, + the probe query of the build's check
    assert other.embedded == 13 + units and len(other.queries) == 1
    assert {f"{LANGUAGE_DIR}/dense.faiss", f"{LANGUAGE_DIR}/vectors.npy",
            f"{LANGUAGE_DIR}/sentences.npy"} <= set(loaded.manifest["checksums"])
    [row] = status(tmp_path / "index")
    assert (row["model"], row["language_model"]) == ("hashing-256", "multilingual-fake")


def test_the_language_vectors_are_reused_and_rebuilt_for_another_model(
        docs_dir: Path, tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    first = build_index(docs_dir, index_dir, HashingEmbedder(),
                        language_embedder=CountingEmbedder("multilingual-fake"))
    again = CountingEmbedder("multilingual-fake")
    assert build_index(docs_dir, index_dir, HashingEmbedder(),
                       language_embedder=again).switched is False
    assert again.embedded == 0
    (docs_dir / "table-and-issues.md").unlink()
    fewer = build_index(docs_dir, index_dir, HashingEmbedder(), language_embedder=again)
    assert fewer.switched and again.embedded == 0  # what stays is reused, nothing is new
    assert load_live(index_dir, "hashing-256").language.dense.size == fewer.chunks  # type: ignore[union-attr]
    another = CountingEmbedder("multilingual-other")
    switched = build_index(docs_dir, index_dir, HashingEmbedder(), language_embedder=another)
    assert switched.switched and switched.embedded == 0  # the index's own vectors are kept
    assert another.embedded > fewer.chunks  # the other model embeds every passage and unit
    assert load_live(index_dir, "hashing-256").language.model_id == "multilingual-other"  # type: ignore[union-attr]
    assert first.version != switched.version


def test_french_and_spanish_questions_use_the_language_model(docs_dir: Path,
                                                             tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    english, other = CountingEmbedder("hashing-256", dim=256), CountingEmbedder("multi-fake")
    build_index(docs_dir, index_dir, HashingEmbedder(), language_embedder=other)
    searcher = Searcher(index_dir, english, language_embedder=other)
    searcher.load()
    other.queries.clear()
    searcher.search("capacity assessments", 3)
    assert english.queries and not other.queries
    result = searcher.search("les évaluations des capacités des ONG", 3, language="fr")
    assert other.queries == ["les évaluations des capacités des ONG "
                             "(non-governmental organization)"]
    assert result.language == "fr" and result.hits
    assert searcher.embedder_for("es") is other and searcher.embedder_for("en") is english


def test_an_index_without_them_serves_french_with_its_own_model(
        docs_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    index_dir = tmp_path / "index"
    build_index(docs_dir, index_dir, HashingEmbedder())
    other = CountingEmbedder("multi-fake")
    searcher = Searcher(index_dir, HashingEmbedder(), language_embedder=other)
    with caplog.at_level(logging.WARNING):
        searcher.load()
    assert "has no vectors of multi-fake" in caplog.text and "partnerbot index" in caplog.text
    assert searcher.search("évaluation des capacités", 3, language="fr").hits
    assert other.queries == [] and searcher.embedder_for("fr") is searcher.embedder


def test_missing_language_vectors_are_damage(docs_dir: Path, tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    build_index(docs_dir, index_dir, HashingEmbedder(),
                language_embedder=CountingEmbedder("multi-fake"))
    version = versions_dir(index_dir) / str(current_version(index_dir))
    shutil.rmtree(version / LANGUAGE_DIR)
    with pytest.raises(IndexCorrupt, match="No index version can be read"):
        load_live(index_dir, "hashing-256")


# ---- the glossary ----------------------------------------------------------------------------

def test_the_glossary_reads_plurals_accents_and_elisions() -> None:
    assert english_terms("Les PARTENAIRES D'EXÉCUTION et la formation", "fr") == [
        ("partenaires execution", ("implementing partner",)), ("formation", ("training",))]
    assert english_terms("partenaire de réalisation", "fr")[0][1] == ("implementing partner",)
    assert english_terms("¿La debida diligencia de los socios implementadores?", "es") == [
        ("debida diligencia", ("due diligence",)),
        ("socios implementadores", ("implementing partner",))]
    assert english_terms("las directrices", "es") == [("directrices", ("guidelines",))]
    assert english_terms("Is due diligence needed?", "en") == []
    assert english_terms("le chat dort", "fr") == []
    # the UN's French for a senior manager's compact: "contrat de mission"
    assert english_terms("Les hauts fonctionnaires et leurs contrats de mission", "fr") == [
        ("hauts fonctionnaires", ("senior manager", "senior official")),
        ("contrats mission", ("compact",))]


def test_the_glossary_reads_the_participles_of_its_verbs() -> None:
    """ "être audités", "auditar", "évaluées", "gestionadas": the verb of an audit, an
    evaluation, a selection is the same term as the noun."""
    assert english_terms("doivent-ils être audités", "fr") == [("audites", ("audit",))]
    assert english_terms("hay que auditar", "es") == [("auditar", ("audit",))]
    assert english_terms("les propositions évaluées", "fr")[-1] == (
        "evaluees", ("evaluate", "assess"))
    assert english_terms("alianzas gestionadas", "es")[-1] == ("gestionadas", ("manage",))


def test_language_terms_give_acronyms_then_the_english_of_the_glossary() -> None:
    terms = language_terms("Le PNUD forme-t-il ses partenaires à la PEAS ?", "fr")
    assert [t.text for t in terms] == ["UNDP", "PSEA", "partenaires"]
    partners = terms[-1]
    assert partners.forms[1:] == (("partner",),) and partners.tokens == ("fr:partenaires",)
    # the English of the glossary brings the guidance's words for it, as an English question's
    # "agencies" does: the documents call agencies "entities" and "organizations"
    agency = language_terms("¿Mi agencia necesita una estrategia?", "es")[0]
    assert agency.forms[1:] == (("agenc",), ("entiti",), ("organiz",))


# ---- the language of a question ------------------------------------------------------------

@pytest.mark.parametrize(("question", "language"), [
    ("Should implementing partners use the UN Partner Portal?", "en"),
    ("Les partenaires d'exécution doivent-ils utiliser le portail ?", "fr"),
    ("¿Cómo se debe seleccionar a los socios de implementación?", "es"),
    ("HACT?", "en"),  # acronyms alone: read as English
    ("Welche Partner brauchen eine Schulung zur Betrugsbekämpfung?", None),
])
def test_the_language_a_question_is_read_in(question: str, language: str | None) -> None:
    assert question_language(question) == language


def test_a_question_in_another_language_is_not_searched(hashed_index: Path,
                                                        tmp_path: Path) -> None:
    searcher = Searcher(hashed_index, HashingEmbedder())
    answer = answer_question("Welche Partner brauchen eine Schulung zur Betrugsbekämpfung?",
                             searcher, threshold=0.5)
    assert (answer.reason, answer.language, answer.grounded) == (
        "unsupported_language", None, False)
    french = answer_question("Quels partenaires doivent être formés à la fraude ?", searcher,
                             threshold=0.5)
    assert french.language == "fr" and french.reason in ("answered", "not_covered")


@pytest.mark.parametrize(("message", "kind", "language"), [
    ("Merci beaucoup !", "thanks", "fr"), ("Bonjour", "greeting", "fr"),
    ("¡Muchas gracias!", "thanks", "es"), ("Hola", "greeting", "es"),
    ("au revoir", "bye", "fr"), ("thanks a lot", "thanks", "en")])
def test_small_talk_in_the_three_languages_is_not_searched(hashed_index: Path, message: str,
                                                           kind: str, language: str) -> None:
    answer = answer_question(message, Searcher(hashed_index, HashingEmbedder()), threshold=0.5)
    assert (answer.reason, answer.small_talk, answer.language) == ("small_talk", kind, language)


@pytest.mark.parametrize(("text", "language", "found"), [
    ("Au fond, pourquoi une entreprise voudrait-elle s'associer à l'ONU ?", "fr",
     [("entreprise", ("business", "company"))]),  # "basically", not "funds"
    ("la collecte de fonds auprès des entreprises", "fr",
     [("collecte fonds", ("fundraising",)), ("entreprises", ("business", "company"))]),
    ("Le processus est-il en cours ?", "fr", []),
    ("Au cours des dernières années, les fonds ont-ils augmenté ?", "fr",
     [("fonds", ("funds",))]),
    ("Comment ça marche, le HACT ?", "fr", []),
    ("Dans quelle mesure le marché compte-t-il ?", "fr", [("marche", ("market",))]),
    ("Quelles mesures faut-il prendre ?", "fr", [("mesures", ("measure",))]),
    ("Combien de temps à l'avance faut-il demander ?", "fr", []),
    ("¿Es efectivo el HACT?", "es", []),
    ("¿Cuánto donaron en efectivo las empresas?", "es",
     [("efectivo", ("cash",)), ("empresas", ("business", "company"))]),
    ("¿El proyecto sigue en curso?", "es", []),
    ("De acuerdo con la guía, ¿hay un acuerdo tipo?", "es", [("acuerdo", ("agreement",))]),
])
def test_everyday_phrases_are_not_read_as_the_glossary_term(
        text: str, language: str, found: list) -> None:
    assert english_terms(text, language) == found


@pytest.mark.parametrize(("text", "language", "unread"), [
    ("Qu'est-ce que le HACT ?", "fr", []),
    ("Que signifie PSEA ?", "fr", []),
    ("c'est quoi le PNUD", "fr", []),
    ("Comment enregistrer le HACT ?", "fr", ["enregistrer"]),
    ("Où en est la stratégie de partenariat de la CEE-ONU ?", "fr", []),
    ("Au fond, pourquoi une entreprise voudrait-elle s'associer à l'ONU ?", "fr",
     ["voudrait", "associer"]),
    ("¿Qué es el HACT?", "es", []),
    ("¿Qué es el Portal de Asociados de la ONU?", "es", []),
    ("¿Cuál es el per diem en Nairobi?", "es", ["per", "diem", "nairobi"]),
])
def test_the_words_no_acronym_or_glossary_term_reads_are_found(
        text: str, language: str, unread: list[str]) -> None:
    assert unread_words(text, language) == unread


def test_the_english_name_of_a_glossary_term_is_read_in_a_french_or_spanish_question() -> None:
    assert english_terms("Nos implementing partners doivent-ils être sur le UN Partner "
                         "Portal ?", "fr") == [
        ("implementing partners", ("implementing partner",)),
        ("partner portal", ("Partner Portal",))]
    assert english_terms("¿Cómo hacer el due diligence de una empresa?", "es") == [
        ("due diligence", ("due diligence",)), ("empresa", ("business", "company"))]
    assert english_terms("le code of conduct des fournisseurs", "fr")[0] == (
        "code of conduct", ("code of conduct",))
    # an English word that is an everyday French word in another sense is not read as English
    assert english_terms("le report de la réunion", "fr") == [("reunion", ("meeting",))]


def test_a_hyphenated_english_term_may_be_printed_whole_or_by_its_parts() -> None:
    (term,) = language_terms("une plateforme d'e-learning", "fr")
    assert term.forms[1:] == (("e-learn",), ("e", "learn"))


def test_a_term_written_with_a_hyphen_is_the_same_term() -> None:
    assert english_terms("les réunions inter-agences", "fr")[1] == (
        "inter agences", ("inter-agency",))
    assert english_terms("los mecanismos inter-institucionales", "es") == [
        ("inter institucionales", ("inter-agency",))]
