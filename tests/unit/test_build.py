"""Index builds: incremental re-embedding, versions, atomic switch, damage and model checks."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import numpy as np
import pytest

from index.build import build_index, build_lock, rollback, status
from index.chunks import Chunk
from index.embedders import HashingEmbedder
from index.errors import (
    IndexBusy,
    IndexCorrupt,
    IndexMissing,
    IndexModelMismatch,
    KnowledgeFileError,
)
from index.keyword import TOKENS, tokenize
from index.search import Searcher
from index.sentences import SentenceVectors, sentence_texts, split_sentences, units
from index.store import current_version, list_versions, load_live, versions_dir


class CountingEmbedder(HashingEmbedder):
    """The hashing fake, counting how many texts (passages, sentences, queries) it embedded."""

    def __init__(self, model_id: str = "hashing-256") -> None:
        super().__init__(model_id=model_id)
        self.embedded = 0
        self.texts: list[str] = []

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        self.embedded += len(texts)
        self.texts += texts
        return super().embed_documents(texts)


def _sentence_count(chunks: list[Chunk]) -> int:
    return sum(len(sentence_texts(c)) for c in chunks)


def test_first_build_then_no_change(docs_dir: Path, tmp_path: Path) -> None:
    embedder = CountingEmbedder()
    first = build_index(docs_dir, tmp_path / "index", embedder)
    assert (first.documents, first.chunks, first.added, first.unchanged, first.removed) == (
        2, 13, 13, 0, 0)
    assert first.switched and current_version(tmp_path / "index") == first.version
    again = build_index(docs_dir, tmp_path / "index", embedder)
    assert (again.added, again.unchanged, again.removed, again.switched) == (0, 13, 0, False)
    assert again.version == first.version
    chunks = load_live(tmp_path / "index", "hashing-256").chunks
    # every passage and every sentence once, + the probe query of the first build's check
    assert embedder.embedded == 13 + _sentence_count(chunks) + 1


def test_incremental_added_changed_removed(docs_dir: Path, tmp_path: Path) -> None:
    embedder = CountingEmbedder()
    build_index(docs_dir, tmp_path / "index", embedder)
    embedder.embedded = 0
    report_path = docs_dir / "sample-report.md"
    text = report_path.read_text(encoding="utf-8")
    text = text.replace("4. Capacity assessments remain costly", "4. Capacity checks remain costly")
    report_path.write_text(text + "\n5. A new paragraph on monitoring.\n", encoding="utf-8")
    (docs_dir / "table-and-issues.md").unlink()
    report = build_index(docs_dir, tmp_path / "index", embedder)
    assert (report.added, report.removed) == (2, 5)  # para 4 changed + para 5 new; 5 gone
    assert report.unchanged == 8 and report.chunks == 10
    loaded = load_live(tmp_path / "index", "hashing-256")
    changed = [loaded.find("sample-report", "para 4"), loaded.find("sample-report", "para 5")]
    assert None not in changed
    # only the changed passages and their sentences, plus the probe
    assert embedder.embedded == 2 + _sentence_count([c for c in changed if c]) + 1
    assert loaded.find("sample-report", "para 5") is not None
    assert loaded.find("table-and-issues", "Issue #1") is None


def test_versions_are_kept_pruned_and_rolled_back(docs_dir: Path, tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    names = []
    for n in range(4):
        (docs_dir / f"extra-{n}.md").write_text(
            f"---\ntitle: Extra {n}\norganization: O\ndate: 2020\nkind: k\nsource: x\n---\n\n"
            f"1. Extra text number {n}.\n", encoding="utf-8")
        names.append(build_index(docs_dir, index_dir, HashingEmbedder(), keep=3).version)
    assert list_versions(index_dir) == sorted(names, reverse=True)[:3]
    assert rollback(index_dir, "hashing-256") == (names[3], names[2])
    assert current_version(index_dir) == names[2]
    assert [row["live"] for row in status(index_dir)] == [False, True, False]


def test_searcher_picks_up_a_new_version_without_restart(docs_dir: Path, tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    first = build_index(docs_dir, index_dir, HashingEmbedder())
    searcher = Searcher(index_dir, HashingEmbedder())
    assert searcher.search("monitoring dashboards", 3).version == first.version
    (docs_dir / "new.md").write_text("---\ntitle: New\norganization: O\ndate: 2021\nkind: k\n"
                                     "source: n\n---\n\n1. Monitoring dashboards for partners.\n",
                                     encoding="utf-8")
    second = build_index(docs_dir, index_dir, HashingEmbedder())
    result = searcher.search("monitoring dashboards", 3)
    assert result.version == second.version
    assert result.hits[0].chunk.source == "new"


def test_damaged_live_version_falls_back_to_the_previous(docs_dir: Path, tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    old = build_index(docs_dir, index_dir, HashingEmbedder()).version
    (docs_dir / "sample-report.md").unlink()
    new = build_index(docs_dir, index_dir, HashingEmbedder()).version
    faiss_file = versions_dir(index_dir) / new / "dense.faiss"
    faiss_file.write_bytes(faiss_file.read_bytes()[:40])  # truncated
    loaded = load_live(index_dir, "hashing-256")
    assert loaded.version == old
    assert any("dense.faiss is damaged" in w for w in loaded.warnings)
    assert any(f"Serving the previous version {old}" in w for w in loaded.warnings)


def test_every_version_damaged_is_a_clear_error(docs_dir: Path, tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    version = build_index(docs_dir, index_dir, HashingEmbedder()).version
    (versions_dir(index_dir) / version / "chunks.jsonl").write_text("garbage", encoding="utf-8")
    with pytest.raises(IndexCorrupt, match=r"chunks.jsonl is damaged[\s\S]*Try: partnerbot index"):
        load_live(index_dir, "hashing-256")


def test_missing_index_says_how_to_build_it(tmp_path: Path) -> None:
    with pytest.raises(IndexMissing, match="Try: partnerbot index"):
        load_live(tmp_path / "index", "hashing-256")


def test_index_built_with_another_model_is_refused(docs_dir: Path, tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    build_index(docs_dir, index_dir, HashingEmbedder(model_id="other-model"))
    with pytest.raises(IndexModelMismatch) as caught:
        load_live(index_dir, "hashing-256")
    assert "built with the model 'other-model', but the settings name 'hashing-256'" in str(
        caught.value)
    report = build_index(docs_dir, index_dir, CountingEmbedder())  # re-embeds everything
    assert report.added == report.chunks == 13
    assert load_live(index_dir, "hashing-256").model_id == "hashing-256"


def test_a_build_killed_half_way_leaves_the_live_version(docs_dir: Path, tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    live = build_index(docs_dir, index_dir, HashingEmbedder()).version
    half = versions_dir(index_dir) / ".tmp-20990101-000000-000000"
    half.mkdir()
    (half / "chunks.jsonl").write_text('{"id": "x"', encoding="utf-8")  # as a killed build left
    assert load_live(index_dir, "hashing-256").version == live
    (docs_dir / "sample-report.md").unlink()
    build_index(docs_dir, index_dir, HashingEmbedder())
    assert not half.exists()


def test_broken_knowledge_file_fails_the_build_and_keeps_serving(docs_dir: Path,
                                                                  tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    live = build_index(docs_dir, index_dir, HashingEmbedder()).version
    (docs_dir / "broken.md").write_text("---\ntitle: x\n---\ntext\n", encoding="utf-8")
    with pytest.raises(KnowledgeFileError, match=r"broken\.md:3: organization: missing"):
        build_index(docs_dir, index_dir, HashingEmbedder())
    assert current_version(index_dir) == live


def test_write_failure_keeps_the_live_version(docs_dir: Path, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    index_dir = tmp_path / "index"
    live = build_index(docs_dir, index_dir, HashingEmbedder()).version
    (docs_dir / "sample-report.md").unlink()

    def disk_full(*_args: object, **_kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("numpy.save", disk_full)
    from index.errors import IndexBuildError

    with pytest.raises(IndexBuildError, match=r"No space left on device.*keeps serving"):
        build_index(docs_dir, index_dir, HashingEmbedder())
    assert current_version(index_dir) == live
    assert not list(versions_dir(index_dir).glob(".tmp-*"))


def test_only_one_build_at_a_time(docs_dir: Path, tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    with build_lock(index_dir), pytest.raises(IndexBusy, match="Another index build"):
        build_index(docs_dir, index_dir, HashingEmbedder())


def test_queries_during_a_rebuild_never_fail(docs_dir: Path, tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    build_index(docs_dir, index_dir, HashingEmbedder())
    searcher = Searcher(index_dir, HashingEmbedder())
    errors: list[BaseException] = []
    versions: set[str] = set()
    stop = threading.Event()

    def ask() -> None:
        while not stop.is_set():
            try:
                versions.add(searcher.search("screening companies", 3).version)
            except BaseException as exc:  # any failure is the test's failure
                errors.append(exc)

    thread = threading.Thread(target=ask)
    thread.start()
    for n in range(5):
        (docs_dir / f"more-{n}.md").write_text(
            f"---\ntitle: More {n}\norganization: O\ndate: 2020\nkind: k\nsource: m\n---\n\n"
            f"1. Screening companies, note {n}.\n", encoding="utf-8")
        build_index(docs_dir, index_dir, HashingEmbedder())
    stop.set()
    thread.join()
    assert errors == []
    assert len(versions) >= 2


def test_manifest_records_model_dimension_and_hashes(docs_dir: Path, tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    version = build_index(docs_dir, index_dir, HashingEmbedder()).version
    manifest = json.loads((versions_dir(index_dir) / version / "manifest.json").read_text())
    assert (manifest["format"], manifest["model_id"], manifest["dim"]) == (1, "hashing-256", 256)
    assert len(manifest["chunk_ids"]) == 13
    assert set(manifest["checksums"]) >= {"chunks.jsonl", "vectors.npy", "dense.faiss"}


def test_sentence_vectors_are_stored_with_checksums(docs_dir: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    index_dir = tmp_path / "index"
    version = build_index(docs_dir, index_dir, HashingEmbedder()).version
    directory = versions_dir(index_dir) / version
    manifest = json.loads((directory / "manifest.json").read_text())
    assert set(manifest["checksums"]) >= {"sentences.npy", "sentence_owner.npy", "sentences.json"}
    loaded = load_live(index_dir, "hashing-256")
    assert loaded.sentences is not None
    vectors, owner = np.load(directory / "sentences.npy"), np.load(directory / "sentence_owner.npy")
    assert vectors.dtype == np.float32 and owner.dtype == np.int32
    assert len(vectors) == len(owner) == _sentence_count(loaded.chunks)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert owner.tolist() == sorted(owner.tolist()) and set(owner) == set(range(13))
    chunk = loaded.chunks[int(owner[-1])]  # the last row is the last sentence of its passage
    expected = HashingEmbedder().embed_documents(sentence_texts(chunk)[-1:])[0]
    assert np.allclose(vectors[-1], expected)
    # served from the file: the rows of the passages asked for are read on demand (one
    # os.pread each), none are held by the process; they are the stored values
    sentences = loaded.sentences
    assert sentences.path == directory / "sentences.npy"
    reads: list[int] = []
    pread = os.pread

    def counting_pread(fd: int, size: int, offset: int) -> bytes:
        reads.append(size)
        return pread(fd, size, offset)

    monkeypatch.setattr(os, "pread", counting_pread)
    last, row_bytes = int(owner[-1]), 4 * vectors.shape[1]
    cosines = sentences.scores(expected, [last, 0, last])
    assert reads == [row_bytes * int(np.sum(owner == last)), row_bytes * int(np.sum(owner == 0))]
    assert np.allclose(cosines[last], vectors[owner == last] @ expected)
    assert all(np.array_equal(sentences.rows(p), vectors[owner == p]) for p in range(13))
    monkeypatch.undo()
    (directory / "sentences.npy").write_bytes(b"damaged")
    with pytest.raises(IndexCorrupt, match=r"sentences\.npy is damaged"):
        load_live(index_dir, "hashing-256")


def test_incremental_build_reuses_sentence_vectors(docs_dir: Path, tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    embedder = CountingEmbedder()
    build_index(docs_dir, index_dir, embedder)
    before = load_live(index_dir, "hashing-256")
    assert before.sentences is not None
    report_path = docs_dir / "sample-report.md"
    text = report_path.read_text(encoding="utf-8")
    report_path.write_text(text.replace("4. Capacity assessments remain costly",
                                        "4. Capacity checks remain costly"), encoding="utf-8")
    embedder.embedded, embedder.texts = 0, []
    report = build_index(docs_dir, index_dir, embedder)
    assert (report.added, report.unchanged) == (1, 12)
    after = load_live(index_dir, "hashing-256")
    assert after.sentences is not None
    changed = after.find("sample-report", "para 4")
    assert changed is not None
    assert embedder.texts[1:-1] == sentence_texts(changed)  # passage, its sentences, probe
    for position, chunk in enumerate(after.chunks):  # every unchanged row is the stored one
        old = before.chunks.index(chunk) if chunk in before.chunks else None
        rows = after.sentences.rows(position)
        if old is not None:
            assert np.array_equal(rows, before.sentences.rows(old))
        assert len(rows) == len(sentence_texts(chunk))


def test_version_without_sentence_vectors_loads_searches_and_gets_them(
        docs_dir: Path, tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    version = build_index(docs_dir, index_dir, HashingEmbedder()).version
    directory = versions_dir(index_dir) / version
    manifest = json.loads((directory / "manifest.json").read_text())
    for name in ("sentences.npy", "sentence_owner.npy", "sentences.json"):  # as built before
        (directory / name).unlink()
        del manifest["checksums"][name]
    (directory / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    loaded = load_live(index_dir, "hashing-256")
    assert loaded.version == version and loaded.sentences is None and not loaded.warnings
    result = Searcher(index_dir, HashingEmbedder()).search("capacity assessments", 3)
    assert result.hits and result.hits[0].evidence  # its units, each at the passage cosine
    assert {e.cosine for e in result.hits[0].evidence} == {result.hits[0].dense}
    embedder = CountingEmbedder()  # the next build adds them, reusing the passage vectors
    report = build_index(docs_dir, index_dir, embedder)
    assert report.switched and report.added == 0
    assert embedder.embedded == _sentence_count(loaded.chunks) + 1
    assert load_live(index_dir, "hashing-256").sentences is not None
    assert build_index(docs_dir, index_dir, embedder).switched is False


def test_units_keep_numbers_abbreviations_lists_and_drop_footnotes() -> None:
    text = ("12. The JIU reviewed 3.5 million records, e.g. grants.[2] Partners must report; "
            "agencies (UNDP, UNICEF) agree as follows:\n- First item\n* Second item\n"
            "[2] A footnote.")
    assert [(u.kind, u.text) for u in units(text)] == [
        ("sentence", "The JIU reviewed 3.5 million records, e.g. grants."),
        ("lead", "Partners must report; agencies (UNDP, UNICEF) agree as follows:"),
        ("item", "First item"), ("item", "Second item")]
    assert [u.item for u in units(text)][2:] == [0, 1]
    assert split_sentences("See annex III, para. 18 and No. 5. Then go.") == [
        "See annex III, para. 18 and No. 5.", "Then go."]
    assert units("") == [] and units("  \n ") == []


def test_sentence_vectors_best_cosine_per_passage() -> None:
    vectors = np.eye(4, dtype=np.float32)
    owner = np.array([0, 0, 2, 2], dtype=np.int32)  # passage 1 has no sentence
    sentences = SentenceVectors.from_arrays(vectors, owner, 3)
    query = np.array([0.1, 0.9, 0.2, 0.6], dtype=np.float32)
    assert sentences.best(query, [2, 1, 0]) == pytest.approx({2: 0.6, 0: 0.9})
    assert sentences.best(query, []) == {}
    with pytest.raises(ValueError):
        SentenceVectors.from_arrays(vectors, np.array([1, 0, 0, 2], dtype=np.int32), 3)


def test_a_keyword_index_of_an_older_tokenizer_is_rebuilt(docs_dir: Path, tmp_path: Path,
                                                           caplog: pytest.LogCaptureFixture
                                                           ) -> None:
    """Before TOKENS 2, "United" was stemmed to "unit"; such a version's BM25 words would not
    match today's queries: it is rebuilt in memory when loaded, and saved by the next build."""
    index_dir = tmp_path / "index"
    version = build_index(docs_dir, index_dir, HashingEmbedder()).version
    directory = versions_dir(index_dir) / version
    tokens_file = directory / "bm25" / "tokens.json"
    assert json.loads(tokens_file.read_text()) == {"tokens": TOKENS}
    tokens_file.unlink()  # as saved before TOKENS was recorded
    manifest = json.loads((directory / "manifest.json").read_text())
    del manifest["checksums"]["bm25/tokens.json"]
    (directory / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with caplog.at_level("WARNING"):
        loaded = load_live(index_dir, "hashing-256")
    assert loaded.version == version and loaded.keyword.tokens == TOKENS
    assert "run partnerbot index" in caplog.text
    report = build_index(docs_dir, index_dir, HashingEmbedder())
    assert report.switched and report.added == 0  # rebuilt, every vector reused
    assert build_index(docs_dir, index_dir, HashingEmbedder()).switched is False


def test_united_is_not_the_unit_of_an_implementing_partner_unit() -> None:
    assert tokenize("United Nations") == ["united", "nation"]
    assert tokenize("implementing partner units") == ["implement", "partner", "unit"]
