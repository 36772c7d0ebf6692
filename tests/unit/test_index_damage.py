"""A live index damaged while it serves: detected before it is read, marked unusable, and the
next intact version serves (index/store.py, index/search.py).

Truncating sentences.npy under a running searcher used to end the process with SIGBUS (it was
memory-mapped; it is now read with `os.pread`, index/sentences.py), so those tests search in a
subprocess: should a read crash again, they fail with its exit status instead of killing the
test session.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from bot.cli import cli
from index.build import build_index, rollback, status
from index.embedders import HashingEmbedder
from index.errors import IndexCorrupt, IndexVersionDamaged
from index.search import Searcher
from index.sentences import SentenceVectors
from index.store import (
    UNUSABLE,
    current_version,
    load_live,
    load_version,
    mark_unusable,
    switch_to,
    versions_dir,
)
from tests.conftest import ROOT

QUERY = "screening companies"

# Searches, truncates `target` to 0 bytes (between two queries, or in the middle of a query:
# when the query is being embedded, after the check at its start; or right as the sentence
# vectors are read, after every check), searches again. Prints what each search served, or
# the error it raised, as JSON.
SEARCH_SCRIPT = r"""
import json, logging, os, sys
from pathlib import Path

logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
from index.embedders import HashingEmbedder
from index.errors import IndexProblem
from index.search import Searcher

index_dir, target, when = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]


class TruncatingEmbedder(HashingEmbedder):
    armed = False

    def embed_query(self, text):
        if self.armed:
            os.truncate(target, 0)
            self.armed = False
        return super().embed_query(text)


embedder = TruncatingEmbedder()
searcher = Searcher(index_dir, embedder)


def served():
    try:
        return searcher.search(sys.argv[4], 3).version
    except IndexProblem as exc:
        return f"{type(exc).__name__}: {exc}"


out = {"before": served()}
if when == "between":
    os.truncate(target, 0)
elif when == "in-read":
    from index.sentences import SentenceVectors

    scores = SentenceVectors.scores

    def truncating_scores(self, query, passages):
        SentenceVectors.scores = scores
        os.truncate(target, 0)
        return scores(self, query, passages)

    SentenceVectors.scores = truncating_scores
else:
    embedder.armed = True
out["after"] = served()
out["again"] = served()
print(json.dumps(out))
"""


def _two_versions(docs_dir: Path, index_dir: Path) -> tuple[str, str]:
    """(older, live): two intact versions of different documents."""
    old = build_index(docs_dir, index_dir, HashingEmbedder()).version
    (docs_dir / "sample-report.md").unlink()
    new = build_index(docs_dir, index_dir, HashingEmbedder()).version
    assert old != new and current_version(index_dir) == new
    return old, new


def _search_in_subprocess(index_dir: Path, target: Path, when: str) -> tuple[dict[str, str], str]:
    done = subprocess.run(
        [sys.executable, "-c", SEARCH_SCRIPT, str(index_dir), str(target), when, QUERY],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
        timeout=300, check=False)
    assert done.returncode == 0, (
        f"the searching process ended with {done.returncode} (-7 is SIGBUS: the truncated "
        f"memory-mapped file was read)\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


@pytest.mark.parametrize("when", ["between", "mid-query", "in-read"])
def test_sentences_truncated_while_serving_the_previous_version_serves(
        docs_dir: Path, tmp_path: Path, when: str) -> None:
    index_dir = tmp_path / "index"
    old, new = _two_versions(docs_dir, index_dir)
    damaged = versions_dir(index_dir) / new
    out, log_text = _search_in_subprocess(index_dir, damaged / "sentences.npy", when)
    assert out == {"before": new, "after": old, "again": old}
    assert (f"ERROR index.search: index version {new} is damaged (sentences.npy changed size "
            in log_text)
    assert f"marked unusable ({damaged / UNUSABLE})" in log_text
    assert f"index now served from version {old}" in log_text
    marker = (damaged / UNUSABLE).read_text(encoding="utf-8")
    assert marker.startswith("sentences.npy changed size (")
    assert "checksum mismatch" in marker.splitlines()[0]
    # a restart skips the marked version too
    assert Searcher(index_dir, HashingEmbedder()).search(QUERY, 3).version == old


@pytest.mark.parametrize("when", ["between", "in-read"])
def test_only_version_truncated_is_a_clear_error_not_a_crash(docs_dir: Path, tmp_path: Path,
                                                             when: str) -> None:
    index_dir = tmp_path / "index"
    only = build_index(docs_dir, index_dir, HashingEmbedder()).version
    out, log_text = _search_in_subprocess(
        index_dir, versions_dir(index_dir) / only / "sentences.npy", when)
    assert out["before"] == only
    for served in (out["after"], out["again"]):
        assert served.startswith("IndexCorrupt: No index version can be read:")
        assert f"{only}: marked unusable (sentences.npy changed size" in served
        assert served.endswith("Try: partnerbot index")
    assert "no intact index version remains, searching is unavailable" in log_text
    with pytest.raises(IndexCorrupt, match="marked unusable"):  # and after a restart
        Searcher(index_dir, HashingEmbedder()).search(QUERY, 3)


def test_rows_read_past_a_truncation_raise_instead_of_crashing(docs_dir: Path,
                                                               tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    version = build_index(docs_dir, index_dir, HashingEmbedder()).version
    path = versions_dir(index_dir) / version / "sentences.npy"
    sentences = load_version(path.parent).sentences
    assert sentences is not None and sentences.path == path  # read from the file (no mmap)
    query = HashingEmbedder().embed_query(QUERY)
    whole = sentences.scores(query, range(13))
    os.truncate(path, path.stat().st_size // 2)  # the rows of the later passages are gone
    first = sentences.scores(query, [0])
    assert np.array_equal(first[0], whole[0])
    with pytest.raises(IndexVersionDamaged,
                       match=rf"^{version}: sentences\.npy ended early \(read \d+ of \d+ bytes"):
        sentences.scores(query, [0, 12])
    os.truncate(path, 0)
    with pytest.raises(IndexVersionDamaged, match=r"read 0 of"):
        sentences.rows(0)


def test_sentences_truncated_during_their_read_in_process_the_previous_version_serves(
        docs_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    index_dir = tmp_path / "index"
    old, new = _two_versions(docs_dir, index_dir)
    searcher = Searcher(index_dir, HashingEmbedder())
    assert searcher.search(QUERY, 3).version == new
    path = versions_dir(index_dir) / new / "sentences.npy"
    loaded = searcher.current()
    assert loaded.sentences is not None and loaded.sentences.path == path  # else: SIGBUS
    scores = SentenceVectors.scores
    calls: list[str] = []

    def truncating_scores(self: SentenceVectors, query: np.ndarray,
                          passages: Sequence[int]) -> dict[int, np.ndarray]:
        calls.append(str(self.path))
        if len(calls) == 1:  # after every check of this query: its rows are gone
            os.truncate(path, 100)
        return scores(self, query, passages)

    monkeypatch.setattr(SentenceVectors, "scores", truncating_scores)
    with caplog.at_level(logging.INFO, logger="index"):
        result = searcher.search(QUERY, 3)
    assert result.version == old and result.hits[0].evidence
    assert calls == [str(path), str(versions_dir(index_dir) / old / "sentences.npy")]
    assert f"index version {new} is damaged (sentences.npy changed size (" in caplog.text
    assert (versions_dir(index_dir) / new / UNUSABLE).read_text(encoding="utf-8").startswith(
        "sentences.npy changed size (")
    assert searcher.search(QUERY, 3).version == old


@pytest.mark.parametrize("name", ["dense.faiss", "chunks.jsonl", "bm25/vocab.index.json",
                                  "sentence_owner.npy", "vectors.npy", "manifest.json"])
def test_any_file_of_the_live_version_damaged_while_serving(
        docs_dir: Path, tmp_path: Path, name: str, caplog: pytest.LogCaptureFixture) -> None:
    index_dir = tmp_path / "index"
    old, new = _two_versions(docs_dir, index_dir)
    searcher = Searcher(index_dir, HashingEmbedder())
    assert searcher.search(QUERY, 3).version == new
    path = versions_dir(index_dir) / new / name
    path.write_bytes(path.read_bytes()[:40])
    with caplog.at_level(logging.INFO, logger="index"):
        assert searcher.search(QUERY, 3).version == old
    assert f"index version {new} is damaged ({name} changed size" in caplog.text
    assert (versions_dir(index_dir) / new / UNUSABLE).is_file()
    assert searcher.current().version == old


def test_a_marked_version_is_never_served_again(docs_dir: Path, tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    old, new = _two_versions(docs_dir, index_dir)
    directory = versions_dir(index_dir) / new
    searcher = Searcher(index_dir, HashingEmbedder())
    assert searcher.search(QUERY, 3).version == new
    chunks = directory / "chunks.jsonl"
    intact = chunks.read_bytes()
    chunks.write_bytes(intact[:100])
    assert searcher.search(QUERY, 3).version == old
    chunks.write_bytes(intact)  # the files match their checksums again: the marker holds
    switch_to(index_dir, new)  # CURRENT rewritten: the running searcher reloads, skips it
    assert searcher.search(QUERY, 3).version == old
    restarted = Searcher(index_dir, HashingEmbedder())
    assert restarted.search(QUERY, 3).version == old
    loaded = load_live(index_dir, "hashing-256")
    assert loaded.version == old
    assert any(w.startswith(f"Index version {new}: marked unusable (chunks.jsonl changed size")
               for w in loaded.warnings)
    states = {row["version"]: row["state"] for row in status(index_dir)}
    assert states[old] == "ok"
    assert str(states[new]).startswith(f"damaged: {new}: marked unusable (")
    (directory / UNUSABLE).unlink()  # files restored, marker deleted: served again
    assert Searcher(index_dir, HashingEmbedder()).search(QUERY, 3).version == new


def test_the_next_build_after_damage_serves_a_new_intact_version(docs_dir: Path,
                                                                 tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    old, new = _two_versions(docs_dir, index_dir)
    searcher = Searcher(index_dir, HashingEmbedder())
    assert searcher.search(QUERY, 3).version == new
    faiss_file = versions_dir(index_dir) / new / "dense.faiss"
    faiss_file.write_bytes(faiss_file.read_bytes()[:40])
    assert searcher.search(QUERY, 3).version == old
    report = build_index(docs_dir, index_dir, HashingEmbedder())  # the same documents
    assert report.switched and report.version not in (old, new)
    assert searcher.search(QUERY, 3).version == report.version
    states = {row["version"]: row["state"] for row in status(index_dir)}
    assert states[report.version] == "ok" and str(states[new]).startswith("damaged: ")


def test_a_touched_but_intact_file_is_reloaded_not_marked(
        docs_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    index_dir = tmp_path / "index"
    _old, new = _two_versions(docs_dir, index_dir)
    searcher = Searcher(index_dir, HashingEmbedder())
    assert searcher.search(QUERY, 3).version == new
    sentences = versions_dir(index_dir) / new / "sentences.npy"
    st = sentences.stat()
    os.utime(sentences, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    with caplog.at_level(logging.INFO, logger="index"):
        assert searcher.search(QUERY, 3).version == new
    assert "sentences.npy was modified, but its files still match their checksums" in caplog.text
    assert not (versions_dir(index_dir) / new / UNUSABLE).exists()
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="index"):  # checked once, not at every query
        assert searcher.search(QUERY, 3).version == new
    assert caplog.text == ""


def test_damage_found_at_a_load_marks_the_version(docs_dir: Path, tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    old, new = _two_versions(docs_dir, index_dir)
    directory = versions_dir(index_dir) / new
    (directory / "sentences.npy").write_bytes(b"damaged")
    assert load_live(index_dir, "hashing-256").version == old
    assert (directory / UNUSABLE).read_text(encoding="utf-8").startswith(
        "sentences.npy is damaged (checksum mismatch)\nfound ")
    shutil.rmtree(directory / "bm25")  # the marker alone keeps it out now
    assert Searcher(index_dir, HashingEmbedder()).search(QUERY, 3).version == old


def test_queries_while_the_live_version_is_damaged_never_fail(docs_dir: Path,
                                                              tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    old, new = _two_versions(docs_dir, index_dir)
    searcher = Searcher(index_dir, HashingEmbedder())
    searcher.load()
    errors: list[BaseException] = []
    served: list[str] = []
    stop = threading.Event()

    def ask() -> None:
        while not stop.is_set():
            try:
                served.append(searcher.search(QUERY, 3).version)
            except BaseException as exc:  # any failure is the test's failure
                errors.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(3)]
    def wait_for(count: int) -> None:
        deadline = time.monotonic() + 60
        while len(served) < count and not errors and time.monotonic() < deadline:
            time.sleep(0.001)

    for thread in threads:
        thread.start()
    wait_for(20)
    chunks = versions_dir(index_dir) / new / "chunks.jsonl"
    chunks.write_bytes(chunks.read_bytes()[:100])
    count = len(served)
    wait_for(count + 60)
    stop.set()
    for thread in threads:
        thread.join()
    assert errors == []
    assert set(served) == {new, old} and served[-1] == old
    assert new not in served[count + 30:]  # once replaced, never served again


def test_rollback_and_status_skip_a_marked_version(docs_dir: Path, tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    first, second = _two_versions(docs_dir, index_dir)
    (docs_dir / "new.md").write_text("---\ntitle: New\norganization: O\ndate: 2021\nkind: k\n"
                                     "source: n\n---\n\n1. Screening companies again.\n",
                                     encoding="utf-8")
    third = build_index(docs_dir, index_dir, HashingEmbedder()).version
    assert mark_unusable(versions_dir(index_dir) / second, "found damaged by hand")
    assert rollback(index_dir, "hashing-256") == (third, first)
    states = {row["version"]: row["state"] for row in status(index_dir)}
    assert states == {first: "ok", third: "ok",
                      second: f"damaged: {second}: marked unusable (found damaged by hand)"}


class CountingEmbedder(HashingEmbedder):
    """The hashing fake, counting the texts (passages, units, probe queries) it embeds."""

    embedded = 0

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        self.embedded += len(texts)
        return super().embed_documents(texts)


def test_a_build_after_the_live_version_is_marked_reuses_the_newest_intact_one(
        docs_dir: Path, tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    old, new = _two_versions(docs_dir, index_dir)  # `new`: the passages of `old` but one file's
    assert mark_unusable(versions_dir(index_dir) / new, "found damaged by hand")
    embedder = CountingEmbedder()
    report = build_index(docs_dir, index_dir, embedder)
    assert report.switched and report.version not in (old, new)
    assert report.embedded == 0 and embedder.embedded == 1  # every vector reused; the probe
    assert (report.added, report.unchanged, report.removed) == (0, 4, 9)  # against `old`
    rebuilt = load_live(index_dir, "hashing-256")
    assert rebuilt.version == report.version and rebuilt.sentences is not None
    intact = load_version(versions_dir(index_dir) / old)
    assert intact.sentences is not None
    for position, chunk in enumerate(rebuilt.chunks):  # the stored vectors of `old`
        before = intact.chunks.index(chunk)
        assert np.array_equal(rebuilt.sentences.rows(position), intact.sentences.rows(before))


def test_a_build_checks_the_version_it_reuses_and_marks_it_when_damaged(
        docs_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    index_dir = tmp_path / "index"
    old, new = _two_versions(docs_dir, index_dir)
    damaged = versions_dir(index_dir) / new / "vectors.npy"
    data = bytearray(damaged.read_bytes())
    data[-1] ^= 0xFF  # one vector changed, same size: no process has noticed
    damaged.write_bytes(bytes(data))
    embedder = CountingEmbedder()
    with caplog.at_level(logging.WARNING, logger="index"):
        report = build_index(docs_dir, index_dir, embedder)  # the live version's documents
    assert report.switched and report.version not in (old, new)  # not "unchanged": damaged
    assert report.embedded == 0 and embedder.embedded == 1  # reused from `old`, the probe
    assert (versions_dir(index_dir) / new / UNUSABLE).read_text(encoding="utf-8").startswith(
        "vectors.npy is damaged (checksum mismatch)\n")
    assert f"not reusing the vectors of index version {new} (marked: " in caplog.text
    assert Searcher(index_dir, HashingEmbedder()).search(QUERY, 3).version == report.version


def test_status_shows_what_a_marked_version_holds(docs_dir: Path, tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    old, new = _two_versions(docs_dir, index_dir)
    intact = {row["version"]: row for row in status(index_dir)}
    assert mark_unusable(versions_dir(index_dir) / new, "found damaged by hand")
    rows = {row["version"]: row for row in status(index_dir)}
    assert rows[old] == intact[old]
    assert rows[new] == {**intact[new],
                         "state": f"damaged: {new}: marked unusable (found damaged by hand)"}
    assert (rows[new]["passages"], rows[new]["model"], rows[new]["documents"]) == (
        4, "hashing-256", 1)
    assert str(rows[new]["built_at"]).startswith("20")
    shown = CliRunner().invoke(cli, ["index", "--status"], env={
        "PARTNERBOT_DATA_DIR": str(tmp_path),
        "PARTNERBOT_KNOWLEDGE_DIR": str(docs_dir.parent)})
    assert shown.exit_code == 0, shown.output
    line = next(x for x in shown.stdout.splitlines() if new in x)
    assert line.startswith(f"* {new}  {rows[new]['built_at']}  4 passages  1 documents  model "
                           "hashing-256  flat  damaged: ")
    assert "?" not in line
    (versions_dir(index_dir) / new / "manifest.json").write_text("{", encoding="utf-8")
    row = {r["version"]: r for r in status(index_dir)}[new]  # unreadable: nothing to show
    assert row == {"version": new, "live": True,
                   "state": f"damaged: {new}: marked unusable (found damaged by hand)"}
