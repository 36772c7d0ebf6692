"""The fast paths give the results of the plain ones (timings are in scripts/bench_search.py).

- serving with the ONNX export: the same top-5 passages as sentence-transformers on every dev
  set question over the real knowledge base;
- HNSW (the approximate index used above `HNSW_ABOVE` passages) against exact search, with the
  production parameters;
- an incremental build against a full build of the same documents;
- the start-up shortcuts: the cached source checksum, prefetching, parallel checksums.
"""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
import yaml

from bot.app import make_searcher, serving_embedder
from bot.settings import load_settings
from index import store
from index.build import build_index
from index.corpus import read_corpus
from index.dense import HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH, HNSW_M, DenseIndex
from index.embedders import DEFAULT_MODEL, HashingEmbedder, SentenceTransformerEmbedder
from index.onnx_embedder import (
    SOURCE_STAT_FILE,
    OnnxEmbedder,
    _source_checksum_cached,
    export_problem,
)
from index.onnx_export import META_FILE, export_onnx, source_checksum
from index.search import Searcher
from tests.conftest import ROOT

REPO_EXPORT = ROOT / "var" / "models" / DEFAULT_MODEL  # made by scripts/setup.sh


def dev_questions() -> list[str]:
    data = yaml.safe_load((ROOT / "eval" / "devset.yaml").read_text(encoding="utf-8"))
    questions = [q["question"] for q in data["questions"]]
    for pair in data.get("followups") or []:
        questions += [pair["first"], pair["then"], f"{pair['first']} {pair['then']}"]
    return questions


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repository's ONNX export when valid (copied: tests write into it), else a new one."""
    target = tmp_path_factory.mktemp("onnx") / DEFAULT_MODEL
    if export_problem(DEFAULT_MODEL, REPO_EXPORT) is None:
        shutil.copytree(REPO_EXPORT, target, ignore=shutil.ignore_patterns(SOURCE_STAT_FILE))
        return target
    return export_onnx(DEFAULT_MODEL, target)


def test_onnx_serving_gives_the_reference_top5_on_the_dev_set(
        real_index_dir: Path, real_embedder: SentenceTransformerEmbedder,
        export_dir: Path) -> None:
    reference = Searcher(real_index_dir, real_embedder)
    onnx = OnnxEmbedder(export_dir, DEFAULT_MODEL)
    fast = Searcher(real_index_dir, onnx)
    reference.load()
    fast.load()
    questions = dev_questions()
    assert len(questions) > 100
    differ = []
    for question in questions:
        want = [h.chunk.id for h in reference.search(question, 5).hits]
        got = [h.chunk.id for h in fast.search(question, 5).hits]
        if got != want:
            differ.append((question, want, got))
    assert differ == []


def test_services_serve_with_onnx_and_fall_back_without_it(export_dir: Path,
                                                           tmp_path: Path) -> None:
    data = tmp_path / "var"
    (data / "models").mkdir(parents=True)
    shutil.copytree(export_dir, data / "models" / DEFAULT_MODEL)
    assert isinstance(serving_embedder(load_settings(data_dir=data)), OnnxEmbedder)
    assert isinstance(serving_embedder(load_settings(data_dir=tmp_path / "empty")),
                      SentenceTransformerEmbedder)
    assert isinstance(serving_embedder(load_settings(data_dir=data, onnx=False)),
                      SentenceTransformerEmbedder)


def test_prefetching_searcher_gives_the_same_results(export_dir: Path, tmp_path: Path,
                                                     real_index_dir: Path) -> None:
    data = tmp_path / "var"
    shutil.copytree(real_index_dir, data / "index")
    shutil.copytree(export_dir, data / "models" / DEFAULT_MODEL)
    settings = load_settings(data_dir=data)
    plain = make_searcher(settings, prefetch=False)
    fetched = make_searcher(settings)  # loads on background threads at once
    assert isinstance(fetched.embedder, OnnxEmbedder)
    plain.load()
    fetched.load()
    for question in dev_questions()[:20]:
        assert ([h.chunk.id for h in fetched.search(question, 5).hits]
                == [h.chunk.id for h in plain.search(question, 5).hits])


def test_cached_source_checksum_is_the_checksum(export_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "export"
    shutil.copytree(export_dir, copy)
    truth = source_checksum(DEFAULT_MODEL)
    assert truth is not None
    assert _source_checksum_cached(DEFAULT_MODEL, copy, truth) == truth  # hashes, remembers
    assert (copy / SOURCE_STAT_FILE).is_file()
    assert _source_checksum_cached(DEFAULT_MODEL, copy, truth) == truth  # from the stat cache
    # another recorded checksum (a stale export) is never taken from the cache
    assert _source_checksum_cached(DEFAULT_MODEL, copy, "0" * 64) == truth
    assert export_problem(DEFAULT_MODEL, copy) is None
    stale = tmp_path / "stale"
    shutil.copytree(copy, stale)
    meta = (stale / META_FILE).read_text(encoding="utf-8").replace(truth, "0" * 64)
    (stale / META_FILE).write_text(meta, encoding="utf-8")
    assert "stale" in (export_problem(DEFAULT_MODEL, stale) or "")
    # a cache whose file list no longer matches is ignored
    (copy / SOURCE_STAT_FILE).write_text('{"source_sha256": "x", "files": []}', "utf-8")
    assert _source_checksum_cached(DEFAULT_MODEL, copy, truth) == truth


def _unit(rows: int, dim: int, seed: int) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((rows, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_hnsw_finds_what_exact_search_finds(tmp_path: Path) -> None:
    vectors = _unit(3000, 384, seed=1)
    queries = _unit(200, 384, seed=2)
    exact = DenseIndex.build(vectors)
    approx = DenseIndex.build(vectors, hnsw_above=0)  # production M / efConstruction
    assert (exact.kind, approx.kind) == ("flat", "hnsw")
    assert (approx._index.hnsw.efConstruction, approx._index.hnsw.efSearch) == (
        HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH)
    assert approx._index.hnsw.nb_neighbors(1) == HNSW_M
    approx.save(tmp_path / "dense.faiss")
    loaded = DenseIndex.load(tmp_path / "dense.faiss")
    assert loaded.kind == "hnsw" and loaded._index.hnsw.efSearch == HNSW_EF_SEARCH
    recall = []
    for query in queries:
        want = exact.search(query, 10)
        got = loaded.search(query, 10)
        recall.append(len({i for i, _ in want} & {i for i, _ in got}) / 10)
        top = dict(got)
        for i, score in want:  # what both find has the same cosine
            if i in top:
                assert top[i] == pytest.approx(score, abs=1e-5)
    assert float(np.mean(recall)) >= 0.98


def test_dense_search_is_the_same_on_any_thread() -> None:
    index = DenseIndex.build(_unit(5000, 64, seed=3))
    query = _unit(1, 64, seed=4)[0]
    main = index.search(query, 100)
    seen: list[list[tuple[int, float]]] = []
    worker = threading.Thread(target=lambda: seen.append(index.search(query, 100)))
    worker.start()
    worker.join()
    assert seen == [main]
    index_after = DenseIndex.build(_unit(5000, 64, seed=3))  # a build after a search
    assert index_after.search(query, 100) == main


class CountingEmbedder(HashingEmbedder):
    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        self.texts += texts
        return super().embed_documents(texts)


def test_incremental_build_equals_a_full_build(docs_dir: Path, tmp_path: Path) -> None:
    incremental = tmp_path / "incremental"
    build_index(docs_dir, incremental, HashingEmbedder())
    report = docs_dir / "sample-report.md"
    text = report.read_text(encoding="utf-8")
    edited = text.replace("4. Capacity assessments remain costly",
                          "4. Capacity checks remain costly")
    assert edited != text
    report.write_text(edited, encoding="utf-8")
    other = docs_dir / "table-and-issues.md"  # a new title: same chunk ids, new embedded text
    other.write_text(other.read_text(encoding="utf-8").replace(
        "title: ", "title: Renamed - ", 1), encoding="utf-8")
    counting = CountingEmbedder()
    steps: list[str] = []
    result = build_index(docs_dir, incremental, counting, progress=lambda s: steps.append(s.phase))
    full = build_index(docs_dir, tmp_path / "full", HashingEmbedder())
    renamed = [c for d in read_corpus(docs_dir) if d.source == "table-and-issues"
               for c in d.chunks]
    assert result.switched and result.added == 1  # para 4 has a new id; the renamed keep theirs
    assert result.embedded == 1 + len(renamed) < full.embedded  # but their embedded text changed
    assert all(c.embed_text in counting.texts for c in renamed)
    a = store.load_live(incremental, "hashing-256")
    b = store.load_live(tmp_path / "full", "hashing-256")
    assert [c.id for c in a.chunks] == [c.id for c in b.chunks]
    assert [c.embed_text for c in a.chunks] == [c.embed_text for c in b.chunks]
    va = np.load(store.versions_dir(incremental) / a.version / "vectors.npy")
    vb = np.load(store.versions_dir(tmp_path / "full") / b.version / "vectors.npy")
    np.testing.assert_array_equal(va, vb)
    assert steps[:3] == ["read", "load model", "reuse"] and steps[-1] == "done"
    assert {"embed", "embed units", "write", "verify", "switch"} <= set(steps)


def test_parallel_checksums_equal_sequential_ones(tmp_path: Path) -> None:
    paths = []
    for n in range(5):
        path = tmp_path / f"f{n}"
        path.write_bytes(np.random.default_rng(n).bytes(300_000 * (n + 1)))
        paths.append(path)
    assert store._checksums(paths) == [store._sha256(p) for p in paths]
