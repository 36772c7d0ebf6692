"""Query expansion, score fusion and confidence; and the real model on dev-set questions."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from bot.answers import answer_question, search_query
from bot.settings import DEFAULT_THRESHOLD
from index.build import build_index
from index.corpus import read_corpus
from index.dense import DenseIndex
from index.embedders import HashingEmbedder, SentenceTransformerEmbedder
from index.evidence import (
    NAME_WEIGHT,
    coverage,
    evidence_units,
    prints_answer,
    ranking_weights,
    term_weights,
)
from index.fusion import fuse_scores, reciprocal_rank_fusion
from index.keyword import KeywordIndex, tokenize
from index.queries import (
    Term,
    answer_type,
    expand_acronyms,
    focus_sentence,
    named_recommendations,
    normalise,
    query_terms,
    sentences,
)
from index.search import FOCUS_WEIGHT, Searcher, keyword_weights
from index.vocabulary import ACRONYMS
from tests.conftest import ROOT

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


def test_normalise_writes_words_the_way_the_guidance_spells_them() -> None:
    assert normalise("Which organisations prioritise local partners?") == (
        "Which organizations prioritize local partners?")
    assert normalise("labor standards, the Labor Organization, resource mobilisation") == (
        "labour standards, the Labour Organization, resource mobilization")
    # words that end in "-ise" in both spellings stay
    assert normalise("we advise and supervise the enterprise") == (
        "we advise and supervise the enterprise")
    assert [t.text for t in query_terms(normalise("organisation"))] == ["organization"]


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
    assert set(terms) == {"well-managed", "IP", "partnership"}  # "look", "like": chat words
    assert terms["IP"].forms == (("ip",), ("implement", "partner"))
    assert terms["well-managed"].forms == (("well-manag",), ("well", "manag"))
    assert terms["partnership"].forms == (("partnership",),)
    assert [t.text for t in query_terms("Do UN agencies partner?")] == ["agencies", "partner"]
    companies = query_terms("Do companies donate?")[0]
    assert companies.alternatives == (("busi",), ("privat", "sector"))
    assert query_terms("How do we pick a partner?")[0].alternatives == (("select",),)


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
    assert fuse_scores([], [], dense_weight=0.5) == []
    with pytest.raises(ValueError, match="dense_weight"):
        fuse_scores(dense, keyword, dense_weight=1.5)


def test_coverage_counts_forms_prefixes_and_weights() -> None:
    terms = [Term("IPs", ("ip",), (("implement", "partner"),)), Term("audits", ("audit",))]
    even = [1.0, 1.0]
    assert coverage(terms, even, {"implement", "partner", "train"}) == 0.5
    assert coverage(terms, even, {"implement", "train"}) == 0.25  # half the long form
    assert coverage(terms, even, {"ip", "audit"}) == 1.0
    assert coverage([Term("partner", ("partner",))], [1.0], {"partnership"}) == 1.0  # prefix
    assert coverage([Term("fee", ("fee",))], [1.0], {"feedback"}) == 0.0  # too short a prefix
    assert coverage(terms, [1.0, 3.0], {"audit"}) == 0.75
    assert coverage([], [], {"audit"}) == 0.0
    with pytest.raises(ValueError, match="1 weights given for 2 terms"):
        coverage(terms, [1.0], {"audit"})


def test_term_weights_follow_idf_and_double_unprinted_names() -> None:
    terms = query_terms("Is Nestle a Global Compact participant or a partner?")
    idf = {"global": 1.0, "compact": 2.0, "particip": 3.0, "partner": 0.5}
    weights = term_weights(terms, idf)
    assert [t.text for t in terms] == ["Nestle", "Global", "Compact", "participant", "partner"]
    assert weights == [3.0 * NAME_WEIGHT, 1.0, 2.0, 3.0, 0.5]
    # for ranking passages a term no passage prints weighs nothing: it cannot tell them apart
    assert ranking_weights(terms, idf) == [0.0, 1.0, 2.0, 3.0, 0.5]


def test_chat_words_and_abbreviations_do_not_count_as_missing() -> None:
    terms = [t.text for t in query_terms(normalise(
        "smaller agencies cant afford a dedicated IP unit, what does the guidance suggest"))]
    assert terms == ["smaller", "agencies", "afford", "dedicated", "IP", "unit"]
    assert [t.text for t in query_terms("how many entities actually had an RBM strategy")] == [
        "entities", "RBM", "strategy"]
    assert normalise("which JIU rec is about training, pls") == (
        "which JIU recommendation is about training, please")
    assert [t.text for t in query_terms(normalise("recs 3 and 4 w/o the deadline"))] == [
        "recommendations", "3", "4", "deadline"]
    agencies = next(t for t in query_terms("agencies") if t.text == "agencies")
    assert ("entiti",) in agencies.forms and ("organiz",) in agencies.forms  # the guidance says
    assert [t.text for t in query_terms("Why would a company partner in the first place?")] == [
        "company", "partner"]
    # "up to date" is no date, "one-off" no number, "still to come" no arrival
    assert [t.text for t in query_terms(
        "do agencies keep their IP policies up to date or is it a one-off thing")] == [
        "agencies", "keep", "IP", "policies"]
    assert [t.text for t in query_terms(
        "has UNECE simplified its processes yet or is that still to come")] == [
        "UNECE", "simplified", "processes"]
    # "re" is "about" (not in "we're", "re-evaluate"); "meant to", "supposed to" are asking
    assert [t.text for t in query_terms(normalise(
        "what r we meant to push them to do re UN principles"))] == ["push", "principles"]
    assert normalise("we're re-evaluating") == "we re-evaluating"  # as "we're" always was
    # the commonest misspellings are read as the words meant
    assert normalise("a seperate report, independant of the goverment") == (
        "a separate report, independent of the government")
    # hedges: "the main types", "is a focal point enough", "in every agency"
    assert [t.text for t in query_terms(
        "what are the main types, is a focal point enough in every agency")] == [
        "types", "focal", "point", "agency"]


@pytest.mark.parametrize(("typed", "read"), [
    ("what is hact", "what is HACT"), ("is dd required for ngos", "is DD required for NGOs"),
    ("psea training for ip's staff", "PSEA training for IP staff"),
    # not the lower-case acronyms that are English words, nor a capitalised word
    ("who is on the sea panel", "who is on the sea panel"), ("Psea", "Psea")])
def test_acronyms_typed_in_lower_case_are_read_as_acronyms(typed: str, read: str) -> None:
    assert normalise(typed) == read


@pytest.mark.parametrize(("question", "named"), [
    ("deadline for rec 6?", {"Recommendation 6"}),
    ("RBM Recommendation No. 4, is it done", {"Recommendation 4"}),
    ("la reco 3 du CCI, elle s'adresse à qui ?", {"Recommendation 3"}),
    ("la recomendación 7 de la DCI", {"Recommendation 7"}),
    ("recommandation n° 2", {"Recommendation 2"}),
    ("the three recs on training", set()),
    ("a rec 2.5 million budget", set()),
])
def test_recommendations_named_by_number(question: str, named: set[str]) -> None:
    assert named_recommendations(question) == named


def test_answer_types_of_questions() -> None:
    assert answer_type("How many companies were in the Global Compact by July 2005?") == "number"
    assert answer_type("how much does the course cost") == "money"
    assert answer_type("What share of the budget goes to partnerships?") == "share"
    assert answer_type("deadline for the common IP definition?") == "date"
    assert answer_type("When did the report go to EXCOM?") == "date"
    assert answer_type("When UNECE sets out its partnership types, does it have to balance "
                       "interests?") is None  # a clause of time, then the question
    assert answer_type("when is the strategy due, and who approves it") == "date"
    assert answer_type("How often does the task force meet?") == "frequency"
    assert answer_type("Who handles partnership proposals at UNECE?") == "name"
    assert answer_type("Are there criteria for deciding which companies we can partner with?") \
        is None  # "which" is not the question word here
    assert answer_type("Why are standard-setting partnerships hard to manage?") is None
    # the audience of something is described, not named
    assert answer_type("who is the e-learning course meant for?") is None
    assert answer_type("who is rec 5 addressed to, and do orgs support it") is None
    assert answer_type("who is responsible for the training of IP staff") == "name"
    # in French, "c'est qui" and "le nom" ask for a name; "au nom de" (on behalf of) does not
    assert answer_type("c'est qui la coordonnatrice spéciale ? j'ai besoin du nom", "fr") \
        == "name"
    assert answer_type("Qui c’est, le responsable du HACT ?", "fr") == "name"
    assert answer_type("Au nom de l'ONU, peut-on signer cet accord ?", "fr") is None


def test_prints_answer_needs_a_new_fact_of_the_kind_asked() -> None:
    question = "how many suppliers took part by 2005"
    assert prints_answer("By 2005, 120 of them had joined.", "number", question)
    assert not prints_answer("The programme ran until 2005.", "number", question)  # asked
    assert not prints_answer("In 1999 UNIDO launched it under Recommendation 3.", "number",
                             question)  # a year and a recommendation number are no amounts
    assert prints_answer("It was presented on 30 September 2022.", "date", "when was it?")
    assert not prints_answer("It will be presented soon.", "date", "when was it?")
    assert prints_answer("Cash donations have exceeded $300 million.", "money", "how much")
    assert not prints_answer("The course charges fees.", "money", "how much does it cost")
    assert prints_answer("It is centralized in the Office of the Deputy Executive Secretary.",
                         "name", "who handles it at UNECE?")
    assert not prints_answer("WHO joined forces with a pharmaceutical company.", "name",
                             "which company did WHO team up with")


def test_weighted_bm25_equals_plain_bm25_with_unit_weights() -> None:
    texts = ["Screening companies before partnering", "Training staff on fraud prevention",
             "Partnering with companies on training"]
    index = KeywordIndex.build(texts)
    plain = dict(index.search("companies training", 3))
    weighted = index.weighted_scores({t: 1.0 for t in tokenize("companies training")})
    assert [weighted[i] for i in sorted(plain)] == pytest.approx([plain[i] for i in sorted(plain)])
    assert index.knows("compani") and not index.knows("tobacco")
    assert not index.weighted_scores({"tobacco": 1.0}).any()


def test_a_saved_bm25_index_scores_as_bm25s_and_loads_without_it(tmp_path: Path) -> None:
    """Queries add up the scores bm25s precomputed, with numpy: the same scores as bm25s's own
    retrieval on the real documents, and a process that loads and searches never imports
    bm25s (and its scipy)."""
    import bm25s

    texts = [c.keyword_text for d in read_corpus(ROOT / "knowledge" / "docs") for c in d.chunks]
    KeywordIndex.build(texts).save(tmp_path / "bm25")
    ours = KeywordIndex.load(tmp_path / "bm25", len(texts))
    theirs = bm25s.BM25.load(str(tmp_path / "bm25"))
    for query in ["deadline for the common IP definition",
                  "results-based management in the UN system",
                  "who approves a partnership with a private company", "PSEA training"]:
        ids = theirs.get_tokens_ids(tokenize(query))
        expected = theirs.get_scores_from_ids(ids)
        assert ours.weighted_scores({t: 1.0 for t in tokenize(query)}) == pytest.approx(
            expected, abs=1e-5)
        found = ours.search(query, 5)
        assert found, query
        assert [score for _, score in found] == pytest.approx(
            [x for x in sorted(expected, reverse=True)[:5] if x > 0], abs=1e-5)
        assert [score for _, score in found] == pytest.approx(
            [expected[i] for i, _ in found], abs=1e-5)
    script = ("import sys; from pathlib import Path; from index.keyword import KeywordIndex; "
              f"k = KeywordIndex.load(Path({str(tmp_path / 'bm25')!r}), {len(texts)}); "
              "assert k.search('results-based management', 3); "
              "assert 'bm25s' not in sys.modules and 'scipy' not in sys.modules")
    subprocess.run([sys.executable, "-c", script], check=True, cwd=ROOT)


@pytest.mark.parametrize("passages", [1, 7, 300, 2500])
def test_a_flat_index_searched_with_numpy_finds_what_faiss_finds(tmp_path: Path,
                                                                 passages: int) -> None:
    """A flat index loaded from its vectors gives faiss's IndexFlatIP results, positions and
    scores; an HNSW one is still faiss's; loading and searching a flat one
    never imports faiss."""
    import faiss

    rng = np.random.default_rng(passages)
    vectors = rng.standard_normal((passages, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    np.save(tmp_path / "vectors.npy", vectors)
    DenseIndex.build(vectors).save(tmp_path / "dense.faiss")
    ours = DenseIndex.load(tmp_path / "dense.faiss", tmp_path / "vectors.npy")
    theirs = faiss.read_index(str(tmp_path / "dense.faiss"))
    assert ours.kind == "flat" and ours.size == passages
    for q in range(5):
        query = vectors[q * 7 % passages] + 0.3 * rng.standard_normal(32).astype(np.float32)
        query /= np.linalg.norm(query)
        for k in (1, 5, 100):
            found = ours.search(query, k)
            scores, ids = theirs.search(query.reshape(1, -1), min(k, passages))
            assert [i for i, _ in found] == [int(i) for i in ids[0]]
            assert [s for _, s in found] == pytest.approx([float(s) for s in scores[0]],
                                                          abs=1e-5)
    DenseIndex.build(vectors, hnsw_above=0).save(tmp_path / "hnsw.faiss")
    assert DenseIndex.load(tmp_path / "hnsw.faiss", tmp_path / "vectors.npy").kind == "hnsw"
    script = ("import sys, numpy as np; from pathlib import Path; "
              "from index.dense import DenseIndex; "
              f"d = DenseIndex.load(Path({str(tmp_path / 'dense.faiss')!r}), "
              f"Path({str(tmp_path / 'vectors.npy')!r})); "
              "assert d.search(np.ones(32, dtype=np.float32) / 32 ** 0.5, 3); "
              "assert 'faiss' not in sys.modules")
    subprocess.run([sys.executable, "-c", script], check=True, cwd=ROOT)


def test_prefix_matches_looked_up_in_the_vocabulary_equal_a_scan_of_each_text() -> None:
    """Coverage with the index's vocabulary for prefix matches (once a search) is the
    coverage a scan of each unit's tokens gives ("partner" prints in "partnerships")."""
    chunks = [c for d in read_corpus(ROOT / "knowledge" / "docs") for c in d.chunks]
    index = KeywordIndex.build([c.keyword_text for c in chunks])
    assert {"partnership", "partnership-build"} <= index.longer("partner")
    assert "partner" not in index.longer("partner") and not index.longer("zzz")
    pieces = [p for c in chunks[:60] for p in evidence_units(c)]
    for question in ["How do partners get trained?", "What is an implementing partner?",
                     "Is there a deadline for the UNECE strategy?", "RBM in the Secretariat"]:
        terms = query_terms(question)
        weights = [1.0] * len(terms)
        for piece in pieces:
            assert coverage(terms, weights, piece.tokens, index.longer) == pytest.approx(
                coverage(terms, weights, piece.tokens)), (question, piece.unit.text)


@pytest.mark.parametrize("damage", ["vocab", "indptr", "count"])
def test_bm25_files_that_do_not_fit_are_refused(tmp_path: Path, damage: str) -> None:
    index = KeywordIndex.build(["Screening companies", "Training staff", "Partnering"])
    index.save(tmp_path)
    size = 3
    if damage == "vocab":
        (tmp_path / "vocab.index.json").write_text('{"screen": 0}', encoding="utf-8")
    elif damage == "indptr":
        np.save(tmp_path / "indptr.csc.index.npy", np.array([0, 1, 99]))
    else:
        size = 4
    with pytest.raises(ValueError, match="BM25"):
        KeywordIndex.load(tmp_path, size)


def test_building_bm25_prints_no_debug_lines(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        KeywordIndex.build(["Screening companies before partnering"])
    assert not [r for r in caplog.records if r.name == "bm25s" and r.levelno < logging.WARNING]


@pytest.fixture()
def sample_searcher(docs_dir: Path, tmp_path: Path) -> Searcher:
    """A searcher over the sample documents, indexed with unit vectors (hashing embedder)."""
    build_index(docs_dir, tmp_path / "index", HashingEmbedder())
    return Searcher(tmp_path / "index", HashingEmbedder())


def test_hits_carry_the_cosine_of_each_unit(sample_searcher: Searcher) -> None:
    """Each hit's evidence holds its units' stored cosines with the query vector."""
    index = sample_searcher.current()
    assert index.sentences is not None
    question = "Screening of companies against the GC principles"
    result = sample_searcher.search(question, 3)
    vector = HashingEmbedder().embed_query(expand_acronyms(normalise(question)))
    for hit in result.hits:
        position = index.chunks.index(hit.chunk)
        stored = index.sentences.scores(vector, [position])[position]
        assert hit.evidence and [e.cosine for e in hit.evidence] == pytest.approx(
            [float(stored[e.position]) for e in hit.evidence])
    assert result.terms and len(result.weights) == len(result.terms)
    with pytest.raises(ValueError, match="mode must be one of"):
        sample_searcher.search("x", 3, mode="fuzzy")


def test_search_reranks_by_evidence_and_sinks_front_matter(sample_searcher: Searcher) -> None:
    result = sample_searcher.search("Sample report on partnerships", 10)
    assert result.hits, "the title's words are everywhere"
    # no passage is ranked up for printing only the title: every hit has units to quote
    assert all(h.evidence for h in result.hits[:3])


def test_reciprocal_rank_fusion_is_a_small_pure_function() -> None:
    fused = reciprocal_rank_fusion([[1, 2, 3], [3, 1]], k=60)
    assert [i for i, _ in fused] == [1, 3, 2]
    assert fused[0][1] == pytest.approx(1 / 61 + 1 / 62)
    with pytest.raises(ValueError):
        reciprocal_rank_fusion([[1]], k=-1)


# --- the real packaged model on held-out dev-set questions --------------------------------
# Questions of the held-out part (every third of each group, scripts/eval_retrieval.py): the
# threshold and weights were calibrated on the other part. These pin what works today.

ANSWERABLE = ["ip-06", "ip-18", "rbm-06", "gp-19", "ue-11", "fp-12", "chat-01", "chat-13"]
DECLINED = ["oos-07", "oos-13", "oos-29", "oos-53", "off-04", "off-10"]


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
def test_real_model_answers_with_the_key_phrase(real_searcher: Searcher, devset: dict,
                                                qid: str) -> None:
    item = devset[qid]
    answer = answer_question(item["question"], real_searcher, threshold=DEFAULT_THRESHOLD)
    assert answer.grounded, f"{qid} declined at {answer.top_score:.3f}"
    first = answer.quotes[0].hit.chunk
    assert (first.source, first.locator) in {(e["doc"], e["locator"]) for e in item["expected"]}
    quoted = " ".join(" ".join(q.text.split()) for q in answer.quotes)
    assert any(key in quoted for key in item["key"]), (item["key"], quoted)


@pytest.mark.parametrize("qid", DECLINED)
def test_real_model_declines_what_the_guidance_does_not_say(real_searcher: Searcher,
                                                           devset: dict, qid: str) -> None:
    answer = answer_question(devset[qid]["question"], real_searcher, threshold=DEFAULT_THRESHOLD)
    assert not answer.grounded, f"{qid} answered at {answer.top_score:.3f}"
    assert answer.reason == "not_covered" and answer.closest


def test_real_model_follow_up_with_previous_question(real_searcher: Searcher,
                                                     devset: dict) -> None:
    item = devset["fu-04"]
    query, follow_up = search_query(item["then"], item["first"])
    assert follow_up and _found(real_searcher, query, item["expected"])
    assert not _found(real_searcher, item["then"], [{"doc": "towards-global-partnerships",
                                                     "locator": "para 1"}])


# Written for this test, not in eval/devset.yaml: a question finds the same passages whether it
# writes "UN" or "United Nations". With "UN" a term, the 2006 note (which abbreviates it)
# took the top three of the "UN" wording of each (0 to 1 in common with the other).
UN_OR_UNITED_NATIONS = [
    "why do businesses want to work with the {} at all",
    "what makes the {} attractive to companies as a partner",
    "how does the {} choose its business partners",
]


@pytest.mark.parametrize("question", UN_OR_UNITED_NATIONS)
def test_un_and_united_nations_find_the_same_passages(real_searcher: Searcher,
                                                      question: str) -> None:
    def top(name: str) -> set[str]:
        return {h.chunk.id for h in real_searcher.search(question.format(name), 5).hits[:3]}
    assert len(top("UN") & top("United Nations")) >= 2


# Written for this test: staff "choose" or "pick" partners, the guidance "selects" them. Without
# the synonym, "pick" found the training passage (para 29) first and it was quoted.
@pytest.mark.parametrize("verb", ["select", "choose", "pick"])
def test_choosing_a_partner_is_read_as_selecting_one(real_searcher: Searcher, verb: str) -> None:
    answer = answer_question(f"how do we {verb} an implementing partner", real_searcher,
                             threshold=DEFAULT_THRESHOLD)
    assert answer.grounded
    first = answer.quotes[0]
    assert (first.hit.chunk.source, first.hit.chunk.locator) == \
        ("jiu-implementing-partners", "Recommendation 4")
    assert "standard operating procedures for the selection" in first.text
