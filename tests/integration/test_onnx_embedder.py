"""The ONNX serving path gives the sentence-transformers vectors, and falls back when it cannot."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from index.embedders import DEFAULT_MODEL, SentenceTransformerEmbedder
from index.onnx_embedder import OnnxEmbedder, OnnxModelMissing, fastest_embedder
from index.onnx_export import META_FILE, ONNX_FILE, export_onnx

LONG = " ".join(
    f"Clause {i}: the implementing partner keeps books of account and lets the agency audit them."
    for i in range(30)
)  # well over 256 word pieces, so truncation matters

TEXTS = [
    "",
    "audit",
    "How do I select an implementing partner?",
    "What is a partner capacity assessment?",
    "Due diligence before signing a partnership agreement",
    "The partner must report fraud to the agency within 48 hours.",
    "Cash transfers are released in instalments tied to progress reports.",
    "Spot checks verify that reported expenditure is supported by receipts.",
    "A conflict of interest must be declared before the selection committee meets.",
    "Sexual exploitation and abuse: partners sign the PSEA protocol.",
    "The weather in Geneva is mild in spring.",
    "Football scores from last night's match.",
    "Comment sélectionner un partenaire de mise en œuvre ?",
    "Evaluación de la capacidad de los socios y auditorías financieras.",
    "Wie wird ein Partner vor der Vertragsunterzeichnung geprüft?",
    "Как выбрать партнёра для реализации проекта?",
    "如何选择合作伙伴",
    "パートナーの選定と監査について",
    "اختيار الشريك المنفذ وتقييم قدراته",
    "🤝 partnership signed ✅ 🎉",
    "🚀🚀🚀",
    "   leading and trailing spaces   ",
    "UPPER CASE AND lower case Mixed",
    "numbers 2024-05-01, 3.5%, USD 1,250,000",
    "e-mail: partner@example.org; url: https://example.org/guide?x=1",
    "Tabs\tand\nnew\nlines",
    LONG,
    "Reporting: " + "quarterly narrative and financial reports " * 40,
    "a",
    "The selection committee scores each concept note against published criteria.",
]


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_onnx(DEFAULT_MODEL, tmp_path_factory.mktemp("onnx") / DEFAULT_MODEL)


@pytest.fixture(scope="module")
def onnx(export_dir: Path) -> OnnxEmbedder:
    embedder = OnnxEmbedder(export_dir, DEFAULT_MODEL, batch_size=8)  # several sorted batches
    embedder.load()
    return embedder


@pytest.fixture(scope="module")
def onnx_vectors(onnx: OnnxEmbedder) -> np.ndarray:
    return onnx.embed_documents(TEXTS)


def _copy(export_dir: Path, target: Path) -> Path:
    shutil.copytree(export_dir, target)
    return target


def test_texts_cover_truncation(onnx: OnnxEmbedder) -> None:
    assert len(onnx._tokenizer.encode(LONG, add_special_tokens=True).ids) == 256
    assert len(onnx._tokenizer.encode(LONG, add_special_tokens=False).overflowing) > 0


def test_matches_sentence_transformers(onnx_vectors: np.ndarray,
                                       real_embedder: SentenceTransformerEmbedder) -> None:
    want = real_embedder.embed_documents(TEXTS)  # the reference path, from conftest
    got = onnx_vectors
    assert got.shape == want.shape == (len(TEXTS), 384)
    assert got.dtype == np.float32
    assert float(np.abs(got - want).max()) < 1e-4
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    got_ranks = np.argsort(-(got @ got.T), axis=1, kind="stable")
    want_ranks = np.argsort(-(want @ want.T), axis=1, kind="stable")
    assert (got_ranks == want_ranks).all()


def test_order_and_batching_do_not_change_vectors(onnx: OnnxEmbedder,
                                                  onnx_vectors: np.ndarray) -> None:
    base = onnx_vectors
    order = np.random.default_rng(7).permutation(len(TEXTS))
    shuffled = onnx.embed_documents([TEXTS[i] for i in order])
    assert float(np.abs(shuffled - base[order]).max()) < 1e-5
    one_batch = OnnxEmbedder(onnx.model_dir, DEFAULT_MODEL, batch_size=64)
    assert float(np.abs(one_batch.embed_documents(TEXTS) - base).max()) < 1e-5


def test_embed_query_is_a_one_text_batch(onnx: OnnxEmbedder) -> None:
    query = "How are partners selected?"
    vector = onnx.embed_query(query)
    assert vector.shape == (384,)
    np.testing.assert_array_equal(vector, onnx.embed_documents([query])[0])
    assert onnx.embed_documents([]).shape == (0, 384)


def test_missing_export_names_dir_and_fix(tmp_path: Path) -> None:
    missing = tmp_path / "models" / DEFAULT_MODEL
    embedder = OnnxEmbedder(missing, DEFAULT_MODEL)
    with pytest.raises(OnnxModelMissing) as caught:
        embedder.load()
    assert isinstance(caught.value, FileNotFoundError)
    assert str(missing) in str(caught.value)
    assert f"Try: python -m index.onnx_export {missing}" in str(caught.value)


def test_incomplete_export_is_missing(export_dir: Path, tmp_path: Path) -> None:
    broken = _copy(export_dir, tmp_path / "broken")
    (broken / ONNX_FILE).unlink()
    with pytest.raises(OnnxModelMissing, match="Incomplete ONNX export"):
        OnnxEmbedder(broken, DEFAULT_MODEL).load()


def test_fastest_embedder_uses_a_valid_export(export_dir: Path) -> None:
    assert isinstance(fastest_embedder(DEFAULT_MODEL, export_dir), OnnxEmbedder)


def test_fastest_embedder_falls_back_without_export(tmp_path: Path,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="index.onnx_embedder"):
        embedder = fastest_embedder(DEFAULT_MODEL, tmp_path / "nothing-here")
    assert isinstance(embedder, SentenceTransformerEmbedder)
    assert embedder.model_id == DEFAULT_MODEL
    lines = [r.getMessage() for r in caplog.records if r.name == "index.onnx_embedder"]
    assert len(lines) == 1 and "directory is missing" in lines[0]


def test_fastest_embedder_falls_back_for_another_model(export_dir: Path, tmp_path: Path,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    other = _copy(export_dir, tmp_path / "other")
    meta = json.loads((other / META_FILE).read_text(encoding="utf-8"))
    meta["model_id"] = "some-other-model"
    (other / META_FILE).write_text(json.dumps(meta), encoding="utf-8")
    with caplog.at_level(logging.INFO, logger="index.onnx_embedder"):
        embedder = fastest_embedder(DEFAULT_MODEL, other)
    assert isinstance(embedder, SentenceTransformerEmbedder)
    assert "'some-other-model'" in caplog.text


def test_fastest_embedder_falls_back_for_stale_export(export_dir: Path, tmp_path: Path,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    stale = _copy(export_dir, tmp_path / "stale")
    meta = json.loads((stale / META_FILE).read_text(encoding="utf-8"))
    meta["source_sha256"] = "0" * 64
    (stale / META_FILE).write_text(json.dumps(meta), encoding="utf-8")
    with caplog.at_level(logging.INFO, logger="index.onnx_embedder"):
        embedder = fastest_embedder(DEFAULT_MODEL, stale)
    assert isinstance(embedder, SentenceTransformerEmbedder)
    assert "stale" in caplog.text


def test_export_refuses_to_replace_other_files(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("keep me", encoding="utf-8")
    with pytest.raises(FileExistsError):
        export_onnx(DEFAULT_MODEL, tmp_path)
    assert (tmp_path / "notes.txt").read_text(encoding="utf-8") == "keep me"


def test_modules_import_without_torch() -> None:
    code = ("import sys, index.onnx_embedder, index.onnx_export; "
            "print(sorted(m for m in ('torch', 'transformers', 'sentence_transformers', "
            "'onnxruntime') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parents[2])
    assert out.stdout.strip() == "[]"


def test_threads_asking_at_once_load_the_sentence_transformers_model_once(
        caplog: pytest.LogCaptureFixture) -> None:
    """A bot starting after a crash answers several users' questions on as many threads:
    they wait for one load of the model instead of each loading it (seconds of both cores)."""
    import threading

    embedder = SentenceTransformerEmbedder(DEFAULT_MODEL)
    start = threading.Barrier(4)
    vectors: list[np.ndarray] = []

    def ask() -> None:
        start.wait()
        vectors.append(embedder.embed_query("Who approves a partnership?"))

    with caplog.at_level(logging.INFO, logger="sentence_transformers"):
        threads = [threading.Thread(target=ask) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    loads = [r for r in caplog.records if "Loading SentenceTransformer model" in r.getMessage()]
    assert len(loads) == 1, [r.getMessage() for r in loads]
    assert len(vectors) == 4 and all(np.array_equal(v, vectors[0]) for v in vectors)
