"""Query expansion, score fusion and confidence; and the real model on dev-set questions."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import yaml

from bot.answers import answer_question, compose, grounding_score, search_query
from bot.settings import DEFAULT_THRESHOLD
from index.build import build_index
from index.chunks import Chunk
from index.embedders import HashingEmbedder, SentenceTransformerEmbedder
from index.keyword import KeywordIndex, tokenize
from index.queries import (
    ACRONYMS,
    Term,
    expand_acronyms,
    focus_sentence,
    normalise,
    query_terms,
    sentences,
)
from index.search import (
    FOCUS_WEIGHT,
    NAME_WEIGHT,
    SENTENCE_COSINE_WEIGHT,
    SENTENCE_PASSAGES,
    Hit,
    Searcher,
    SearchResult,
    confidence,
    coverage,
    fuse_scores,
    keyword_weights,
    sentence_dense,
    term_weights,
)

from .conftest import ROOT

# --- query normalisation and expansion ------------------------------------------------------


def test_acronyms_are_followed_by_their_long_form() -> None:
    assert expand_acronyms("Do IPs need PSEA training?") == (
        "Do IPs (implementing partners) need PSEA (prevention of sexual exploitation and abuse)"
        " training?")
    assert expand_acronyms("Is HACT in the RBM note?") == (
        "Is HACT (harmonized approach to cash transfers) in the RBM (results-based management)"
        " note?")
    assert expand_acronyms("What are KPIs and M&E?") == (
        "What are KPIs (key performance indicators) and M&E (monitoring and evaluation)?")


def test_acronyms_match_case_and_whole_words_only() -> None:
    assert expand_acronyms("who asked WHO?") == "who asked WHO (World Health Organization)?"
    assert expand_acronyms("tips, zip, ipso facto") == "tips, zip, ipso facto"
    # a long form already written is not added twice
    assert expand_acronyms("implementing partner (IP) risks") == "implementing partner (IP) risks"


def test_acronym_table_is_well_formed() -> None:
    for acronym, long_form in ACRONYMS.items():
        assert acronym.strip() == acronym and any(c.isupper() for c in acronym)
        assert long_form and long_form != acronym


def test_normalise_undoes_contractions_and_typographic_apostrophes() -> None:
    assert normalise("We’re small, can't we?") == "We small, can not we?"
    assert normalise("the IP's staff don't") == "the IP staff do not"


def test_sentences_cut_at_question_marks_not_abbreviations() -> None:
    assert sentences("What training on IPs? and on fraud?") == ["What training on IPs?",
                                                               "and on fraud?"]
    assert sentences("Which industries, e.g. tobacco or arms?") == [
        "Which industries, e.g. tobacco or arms?"]
    assert sentences("We are small. How do we do it?") == ["We are small.", "How do we do it?"]
    assert focus_sentence("What training on IPs? and on fraud?") == "and on fraud?"
    assert focus_sentence("Just one question?") is None


def test_query_terms_drop_function_words_and_keep_alternatives() -> None:
    terms = {t.text: t for t in query_terms("What does a well-managed IP partnership look like?")}
    assert set(terms) == {"well-managed", "IP", "partnership", "look", "like"}
    assert terms["IP"].forms == (("ip",), ("implement", "partner"))
    assert terms["well-managed"].forms == (("well-manag",), ("well", "manag"))
    assert terms["partnership"].forms == (("partnership",),)
    companies = query_terms("Do companies donate?")[0]
    assert companies.alternatives == (("busi",), ("privat", "sector"))


def test_names_are_capitalised_words_inside_a_sentence() -> None:
    names = {t.text: t.name for t in query_terms("Is Nestle in the Global Compact? Where?")}
    assert names == {"Nestle": True, "Global": True, "Compact": True}
    assert [t.name for t in query_terms("Partnerships with business")] == [False, False]


# --- keyword weights, fusion, coverage and confidence -------------------------------------


def test_keyword_weights_share_a_known_acronyms_long_form() -> None:
    terms = query_terms("UNECE strategy")
    known = keyword_weights(terms, known=lambda token: True)
    assert known["unec"] == 1.0 and known["strategi"] == 1.0
    long_form = [tokenize(w)[0] for w in ("Economic", "Commission", "Europe")]
    assert sum(known[t] for t in long_form) < 1.0  # shared, weaker than one word
    unknown = keyword_weights(query_terms("IP risks"), known=lambda token: token != "ip")
    assert unknown["implement"] == unknown["partner"] == 1.0  # stands in for the unknown "IP"


def test_keyword_weights_count_the_focus_sentence_more() -> None:
    weights = keyword_weights(query_terms("training? and on fraud?"),
                              query_terms("and on fraud?"))
    assert weights["train"] == 1.0
    assert weights["fraud"] == FOCUS_WEIGHT


def test_fuse_scores_scales_each_signal_then_weights_them() -> None:
    dense = [(1, 0.8), (2, 0.6), (3, 0.4)]
    keyword = [(3, 10.0), (2, 5.0)]
    fused = dict(fuse_scores(dense, keyword, dense_weight=0.5))
    assert fused[1] == pytest.approx(0.5 * 1.0 + 0.5 * 0.0)
    assert fused[2] == pytest.approx(0.5 * 0.5 + 0.5 * 0.5)
    assert fused[3] == pytest.approx(0.5 * 0.0 + 0.5 * 1.0)
    # a keyword-only passage gets the lowest dense score seen
    assert dict(fuse_scores([(1, 0.9), (2, 0.5)], [(7, 4.0)], dense_weight=0.5))[7] == 0.5
    assert [i for i, _ in fuse_scores(dense, keyword, dense_weight=1.0)] == [1, 2, 3]
    assert [i for i, _ in fuse_scores(dense, keyword, dense_weight=0.0)][:2] == [3, 2]
    assert fuse_scores([], []) == []
    with pytest.raises(ValueError, match="dense_weight"):
        fuse_scores(dense, keyword, dense_weight=1.5)


def test_coverage_counts_forms_prefixes_and_weights() -> None:
    terms = [Term("IPs", ("ip",), (("implement", "partner"),)), Term("audits", ("audit",))]
    assert coverage(terms, {"implement", "partner", "train"}) == 0.5
    assert coverage(terms, {"implement", "train"}) == 0.25  # half the long form
    assert coverage(terms, {"ip", "audit"}) == 1.0
    assert coverage([Term("partner", ("partner",))], {"partnership"}) == 1.0  # prefix
    assert coverage([Term("fee", ("fee",))], {"feedback"}) == 0.0  # too short for a prefix
    assert coverage(terms, {"audit"}, weights=[1.0, 3.0]) == 0.75
    assert coverage([], {"audit"}) == 0.0
    with pytest.raises(ValueError, match="1 weights given for 2 terms"):
        coverage(terms, {"audit"}, weights=[1.0])


def test_term_weights_double_names_no_passage_prints() -> None:
    terms = query_terms("Is Nestle a Global Compact participant?")
    known = {"global", "compact", "particip"}.__contains__
    assert term_weights(terms, known) == [NAME_WEIGHT, 1.0, 1.0, 1.0]


def test_confidence_blends_cosine_and_coverage() -> None:
    assert confidence(0.5, 1.0, cosine_weight=0.4) == pytest.approx(0.8)
    assert confidence(0.5, 0.0, cosine_weight=0.4) == pytest.approx(0.2)
    assert confidence(0.7, 0.7) == pytest.approx(0.7)


def _result(*, dense: float, conf: float | None, hits: int = 2) -> SearchResult:
    chunks = [Chunk(f"id{n}", "doc", "Title", None, f"para {n}", (), f"{n}. Text number {n}.")
              for n in range(hits)]
    return SearchResult("q", [Hit(c, 1.0, dense, None) for c in chunks], "v1", dense, 0.0,
                        coverage=None, confidence=conf)


def test_compose_grounds_on_the_confidence_or_falls_back_to_the_cosine() -> None:
    assert compose("q", _result(dense=0.9, conf=0.5), threshold=0.6).grounded is False
    answered = compose("q", _result(dense=0.2, conf=0.7), threshold=0.6)
    assert answered.grounded is True and answered.top_score == 0.7
    assert len(answered.quotes) == 2  # the second passage is as close as the first
    assert grounding_score(_result(dense=0.65, conf=None)) == 0.65
    assert compose("q", _result(dense=0.65, conf=None), threshold=0.6).grounded is True


def test_weighted_bm25_equals_plain_bm25_with_unit_weights() -> None:
    texts = ["Screening companies before partnering", "Training staff on fraud prevention",
             "Partnering with companies on training"]
    index = KeywordIndex.build(texts)
    plain = dict(index.search("companies training", 3))
    weighted = index.weighted_scores({t: 1.0 for t in tokenize("companies training")})
    assert [weighted[i] for i in sorted(plain)] == pytest.approx([plain[i] for i in sorted(plain)])
    assert index.knows("compani") and not index.knows("tobacco")
    assert not index.weighted_scores({"tobacco": 1.0}).any()


def test_building_bm25_prints_no_debug_lines(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        KeywordIndex.build(["Screening companies before partnering"])
    assert not [r for r in caplog.records if r.name == "bm25s" and r.levelno < logging.WARNING]


@pytest.fixture()
def sample_searcher(docs_dir: Path, tmp_path: Path) -> Searcher:
    """A searcher over the sample documents, indexed with sentence vectors (hashing embedder)."""
    build_index(docs_dir, tmp_path / "index", HashingEmbedder())
    return Searcher(tmp_path / "index", HashingEmbedder())


def test_sentence_scores_of_the_hits_equal_scoring_every_candidate(
        sample_searcher: Searcher) -> None:
    """Only the returned and weighed passages have their sentences scored: the same figures."""
    searcher = sample_searcher
    index = searcher.index
    assert index.sentences is not None
    every = range(len(index.chunks))
    for question in ("Screening of companies against the GC principles",
                     "How are implementing partners assessed?", "tobacco"):
        result = searcher.search(question, 3)
        vector = HashingEmbedder().embed_query(expand_acronyms(normalise(question)))
        plain = index.sentences.best(vector, list(every))
        positions = [index.chunks.index(h.chunk) for h in result.hits]
        expected = [plain.get(i) for i in positions]
        assert [h.sentence for h in result.hits] == pytest.approx(expected)
        assert any(h.sentence is not None for h in result.hits)
        top = searcher.search(question, SENTENCE_PASSAGES).hits
        best = max(plain.get(index.chunks.index(h.chunk), 0.0) for h in top)
        assert result.top_sentence == pytest.approx(best)


def test_searcher_reports_coverage_and_confidence(docs_dir: Path, tmp_path: Path) -> None:
    build_index(docs_dir, tmp_path / "index", HashingEmbedder())
    searcher = Searcher(tmp_path / "index", HashingEmbedder())
    result = searcher.search("Screening of companies against the GC principles", 3)
    assert result.hits and result.coverage is not None and result.confidence is not None
    assert 0.0 <= result.coverage <= 1.0 and 0.0 <= result.confidence <= 1.0
    assert result.hits[0].score > 0
    unrelated = searcher.search("annual leave days", 3)
    assert unrelated.confidence is not None and unrelated.confidence < result.confidence
    with pytest.raises(ValueError, match="mode must be one of"):
        searcher.search("x", 3, mode="fuzzy")


def test_sentence_dense_takes_a_passage_up_to_its_best_sentence() -> None:
    dense = [(0, 0.6), (1, 0.5), (2, 0.4)]
    assert sentence_dense(dense, {1: 0.9, 2: 0.1}, weight=1.0) == [(1, 0.9), (0, 0.6), (2, 0.4)]
    half = sentence_dense(dense, {1: 0.9}, weight=0.5)
    assert [i for i, _ in half] == [1, 0, 2]
    assert [score for _, score in half] == pytest.approx([0.7, 0.6, 0.4])
    assert sentence_dense(dense, {1: 0.9}, weight=0.0) == dense


def test_confidence_uses_the_best_sentence_of_the_top_passages(
        sample_searcher: Searcher) -> None:
    searcher = sample_searcher
    index = searcher.index
    assert index.sentences is not None
    query = "Screening of companies against the GC principles"
    result = searcher.search(query, 10)
    assert result.top_sentence is not None and result.coverage is not None
    vector = HashingEmbedder().embed_query(expand_acronyms(normalise(query)))
    top = [index.chunks.index(h.chunk) for h in result.hits[:SENTENCE_PASSAGES]]
    rows = index.sentences.vectors
    expected = max(float((rows[index.sentences.owner == i] @ vector).max()) for i in top)
    assert result.top_sentence == pytest.approx(expected, abs=1e-6)
    assert all(h.sentence is not None for h in result.hits)
    assert result.confidence == pytest.approx(confidence(
        expected, result.coverage, cosine_weight=SENTENCE_COSINE_WEIGHT), abs=1e-6)
    assert searcher.search(query, 10, mode="keyword").top_sentence is None


# --- the real packaged model on dev-set questions -----------------------------------------

ANSWERABLE = ["ip-18", "ip-04", "rbm-04", "gp-09", "ue-06", "fp-02", "fp-12"]
OUT_OF_SCOPE = ["oos-01", "oos-05", "oos-06", "oos-10", "oos-13"]


@pytest.fixture(scope="module")
def devset() -> dict[str, dict]:
    data = yaml.safe_load((ROOT / "eval" / "devset.yaml").read_text(encoding="utf-8"))
    return {q["id"]: q for q in data["questions"] + data["followups"]}


@pytest.fixture(scope="module")
def real_searcher(real_index_dir: Path, real_embedder: SentenceTransformerEmbedder) -> Searcher:
    """The real knowledge base, indexed with build_index and the packaged model (conftest)."""
    searcher = Searcher(real_index_dir, real_embedder)
    searcher.load()
    return searcher


def _found(searcher: Searcher, question: str, expected: list[dict]) -> bool:
    hits = searcher.search(question, 5).hits
    wanted = {(e["doc"], e["locator"]) for e in expected}
    return any((h.chunk.source, h.chunk.locator) in wanted for h in hits)


@pytest.mark.parametrize("qid", ANSWERABLE)
def test_real_model_grounds_answerable_questions(real_searcher: Searcher, devset: dict,
                                                 qid: str) -> None:
    item = devset[qid]
    answer = answer_question(item["question"], real_searcher, threshold=DEFAULT_THRESHOLD)
    assert answer.grounded, f"{qid} declined at confidence {answer.top_score:.3f}"
    assert _found(real_searcher, item["question"], item["expected"])


@pytest.mark.parametrize("qid", OUT_OF_SCOPE)
def test_real_model_declines_out_of_scope_questions(real_searcher: Searcher, devset: dict,
                                                    qid: str) -> None:
    answer = answer_question(devset[qid]["question"], real_searcher, threshold=DEFAULT_THRESHOLD)
    assert not answer.grounded, f"{qid} answered at confidence {answer.top_score:.3f}"
    assert answer.reason == "not_covered"


def test_real_model_follow_up_with_previous_question(real_searcher: Searcher,
                                                     devset: dict) -> None:
    item = devset["fu-04"]
    query, follow_up = search_query(item["then"], item["first"])
    assert follow_up and _found(real_searcher, query, item["expected"])
    assert np.isfinite(grounding_score(real_searcher.search(query, 5)))


def test_rrf_mode_fuses_both_rankings(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from index.build import build_index
    from index.embedders import HashingEmbedder
    from index.search import Searcher

    from .conftest import SAMPLE_DOCS

    build_index(SAMPLE_DOCS, tmp_path / "index", HashingEmbedder())
    searcher = Searcher(tmp_path / "index", HashingEmbedder())
    rrf = searcher.search("screening companies sanctions", 3, mode="hybrid-rrf")
    assert rrf.hits[0].chunk.locator == "para 2"
    assert all(0 < h.score <= 2 / 61 for h in rrf.hits)
