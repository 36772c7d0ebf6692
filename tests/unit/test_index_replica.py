"""The index on every worker (bot/index_replica.py): two nodes, each with its own index
directory, on the test PostgreSQL server. A re-index on one is published and the other's
searcher switches to it at its next question, without a restart, the old version serving
until the new one is fully received; a damaged, cut or foreign version is never served; two
nodes publishing at once do not overwrite each other unseen."""

from __future__ import annotations

import hashlib
import logging
import shutil
from pathlib import Path

import psycopg
import pytest

from bot.index_replica import SYNCED, IndexReplica, Synced
from bot.store import SessionLog
from index.build import build_index
from index.embedders import HashingEmbedder
from index.errors import IndexProblem
from index.search import Searcher
from index.store import current_version, list_versions, versions_dir
from tests.conftest import SAMPLE_DOCS

NEW_DOC = """---
title: Note on zebra crossings
symbol: A/00/999
organization: Test Organization
date: 2026-11-30
kind: report
source: zebra.txt
---

# Note on zebra crossings

## I. Rule

1. Every zebra crossing near a field office needs a quarterly safety walk.
"""
QUESTION = "How often is a zebra crossing safety walk needed?"


def node(tmp_path: Path, name: str, store: SessionLog) -> tuple[Path, IndexReplica]:
    index_dir = tmp_path / name / "index"
    return index_dir, IndexReplica(store, index_dir, HashingEmbedder().model_id,
                                   f"{name}:8001", keep=5)


def docs(tmp_path: Path) -> Path:
    target = tmp_path / "docs"
    shutil.copytree(SAMPLE_DOCS, target)
    return target


def test_a_reindex_on_one_node_is_served_by_the_other_at_its_next_question(
        tmp_path: Path, database_url: str) -> None:
    store = SessionLog(database_url)
    corpus = docs(tmp_path)
    dir_a, node_a = node(tmp_path, "a", store)
    dir_b, node_b = node(tmp_path, "b", store)
    first = build_index(corpus, dir_a, HashingEmbedder()).version
    assert node_b.sync().action == ""  # nothing published yet, nothing here
    assert node_a.sync().action == "published"
    assert node_b.sync().action == "received"
    assert current_version(dir_b) == first
    for path in (versions_dir(dir_a) / first).rglob("*"):  # the same files, byte for byte
        if path.is_file():
            copy = versions_dir(dir_b) / first / path.relative_to(versions_dir(dir_a) / first)
            assert copy.read_bytes() == path.read_bytes()
    searcher = Searcher(dir_b, HashingEmbedder())
    assert searcher.search(QUESTION).version == first

    (corpus / "zebra.md").write_text(NEW_DOC, encoding="utf-8")
    second = build_index(corpus, dir_a, HashingEmbedder()).version
    assert node_b.sync().action == ""  # not published yet: the old version serves
    assert searcher.search(QUESTION).version == first
    assert node_a.sync().action == "published"
    assert searcher.search(QUESTION).version == first  # published, not yet received here
    assert node_b.sync().action == "received"
    found = searcher.search(QUESTION)  # the same searcher: no restart
    assert found.version == second
    assert "zebra crossing" in found.hits[0].chunk.text  # the new document answers
    assert node_a.sync().action == node_b.sync().action == ""  # in step
    assert (dir_b / SYNCED).read_text().strip() == second
    store.close()


def test_a_version_not_fully_received_is_never_served(tmp_path: Path,
                                                     database_url: str) -> None:
    store = SessionLog(database_url)
    corpus = docs(tmp_path)
    dir_a, node_a = node(tmp_path, "a", store)
    dir_b, node_b = node(tmp_path, "b", store)
    first = build_index(corpus, dir_a, HashingEmbedder()).version
    node_a.sync()
    node_b.sync()
    searcher = Searcher(dir_b, HashingEmbedder())
    assert searcher.search(QUESTION).version == first
    (corpus / "zebra.md").write_text(NEW_DOC, encoding="utf-8")
    second = build_index(corpus, dir_a, HashingEmbedder()).version
    assert node_a.sync().action == "published"
    with psycopg.connect(database_url, autocommit=True) as conn:
        archive, digest = conn.execute("SELECT archive, sha256 FROM index_versions"
                                       " WHERE name = %s", [second]).fetchone() or (b"", "")
    archive = bytes(archive)

    def stored(data: bytes, sha256: str) -> None:
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute("UPDATE index_versions SET archive = %s, sha256 = %s WHERE name = %s",
                         [data, sha256, second])

    cut = archive[: len(archive) // 2]  # half an archive, its digest matching (a bad publisher)
    flipped = bytearray(archive)
    flipped[len(archive) // 3] ^= 0xFF  # one byte of a file changed, the digest recomputed
    cases = [(archive[:-1000], digest, "does not match its sha256"),
             (cut, hashlib.sha256(cut).hexdigest(), ""),
             (bytes(flipped), hashlib.sha256(bytes(flipped)).hexdigest(), "")]
    for data, sha256, message in cases:
        stored(data, sha256)
        with pytest.raises(IndexProblem) as raised:
            node_b.sync()
        assert message in str(raised.value)
        assert current_version(dir_b) == first and list_versions(dir_b) == [first]
        assert not [p for p in versions_dir(dir_b).iterdir() if p.name != first]  # no staging
        assert searcher.search(QUESTION).version == first  # the old one serves on
    stored(archive, digest)
    assert node_b.sync().action == "received"
    assert searcher.search(QUESTION).version == second
    store.close()


def test_a_version_of_another_model_is_refused_and_the_old_one_serves(
        tmp_path: Path, database_url: str) -> None:
    store = SessionLog(database_url)
    corpus = docs(tmp_path)
    dir_a, node_a = node(tmp_path, "a", store)
    dir_b, node_b = node(tmp_path, "b", store)
    first = build_index(corpus, dir_a, HashingEmbedder()).version
    node_a.sync()
    node_b.sync()
    dir_c = tmp_path / "c" / "index"  # a node set up with another model
    other = build_index(corpus, dir_c, HashingEmbedder(dim=64, model_id="hashing-64")).version
    (dir_c / SYNCED).write_text(first + "\n")  # it was in step, then re-indexed
    node_c = IndexReplica(store, dir_c, "hashing-64", "c:8001")
    assert node_c.sync().action == "published"
    for _ in range(2):  # refused each time, the old version serving
        with pytest.raises(IndexProblem, match=f"{other} was built with hashing-64"):
            node_b.sync()
        assert current_version(dir_b) == first and list_versions(dir_b) == [first]
    store.close()


def test_two_nodes_publishing_at_once_do_not_overwrite_each_other_unseen(
        tmp_path: Path, database_url: str, caplog: pytest.LogCaptureFixture) -> None:
    store = SessionLog(database_url)
    corpus = docs(tmp_path)
    dir_a, node_a = node(tmp_path, "a", store)
    dir_b, node_b = node(tmp_path, "b", store)
    build_index(corpus, dir_a, HashingEmbedder())
    node_a.sync()
    node_b.sync()
    (corpus / "zebra.md").write_text(NEW_DOC, encoding="utf-8")
    mine = build_index(corpus, dir_a, HashingEmbedder()).version
    (corpus / "zebra.md").write_text(NEW_DOC.replace("quarterly", "monthly"), encoding="utf-8")
    theirs = build_index(corpus, dir_b, HashingEmbedder()).version  # both re-indexed
    assert node_a.sync().action == "published"
    caplog.set_level(logging.WARNING)
    assert node_b.sync() == Synced("kept", mine)
    assert current_version(dir_b) == mine and current_version(dir_a) == mine
    assert theirs in list_versions(dir_b)  # kept on disk, not served
    assert any("was not published" in r.getMessage() for r in caplog.records)
    store.close()
