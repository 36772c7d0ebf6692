"""Shared fixtures: sample knowledge, embedders (hashing fake and the real packaged model)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from index.build import build_index
from index.embedders import HashingEmbedder, SentenceTransformerEmbedder

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DOCS = ROOT / "tests" / "data" / "knowledge" / "docs"
REAL_DOCS = ROOT / "knowledge" / "docs"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No PARTNERBOT_* variable of the developer's shell leaks into a test."""
    import os

    for name in list(os.environ):
        if name.startswith("PARTNERBOT_"):
            monkeypatch.delenv(name)


@pytest.fixture()
def docs_dir(tmp_path: Path) -> Path:
    """A writable copy of the small sample knowledge base."""
    target = tmp_path / "knowledge" / "docs"
    shutil.copytree(SAMPLE_DOCS, target)
    return target


@pytest.fixture()
def hashing() -> HashingEmbedder:
    return HashingEmbedder()


@pytest.fixture(scope="session")
def real_embedder() -> SentenceTransformerEmbedder:
    """The packaged all-MiniLM-L6-v2, loaded once per test session."""
    embedder = SentenceTransformerEmbedder()
    embedder.load()
    return embedder


@pytest.fixture(scope="session")
def real_index_dir(tmp_path_factory: pytest.TempPathFactory,
                   real_embedder: SentenceTransformerEmbedder) -> Path:
    """The real knowledge base indexed with the real model, once per session (read-only)."""
    index_dir = tmp_path_factory.mktemp("real") / "index"
    build_index(REAL_DOCS, index_dir, real_embedder)
    return index_dir


@pytest.fixture()
def real_data_dir(tmp_path: Path, real_index_dir: Path) -> Path:
    """A data directory holding a copy of the real index, for CLI and bot tests."""
    data = tmp_path / "var"
    shutil.copytree(real_index_dir, data / "index")
    return data


@pytest.fixture(scope="session")
def hashed_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    index_dir = tmp_path_factory.mktemp("hashed") / "index"
    build_index(ROOT / "knowledge" / "docs", index_dir, HashingEmbedder())
    return index_dir


@pytest.fixture()
def knowledge(tmp_path: Path) -> Path:
    target = tmp_path / "knowledge"
    shutil.copytree(ROOT / "knowledge", target)
    return target
