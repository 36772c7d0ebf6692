"""The compacted language model kept in the data directory (index/language.py `cache_in`):
read back it identifies exactly as the model read from py3langid's package; a cache that is
cut, of another version or unwritable is never used and never fatal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from index import language

QUESTIONS = [
    "which partners need a capacity assessment?",
    "Quels partenaires doivent faire l'objet d'une évaluation des capacités ?",
    "¿Qué socios necesitan una evaluación de la capacidad?",
    "Welche Partner brauchen eine Kapazitätsbewertung?",
    "c'est quoi la due diligence ?",
]


@pytest.fixture(scope="module")
def tables() -> dict[str, object]:
    return language._load_tables()


def test_a_cached_model_identifies_as_the_packaged_one(tables: dict[str, object],
                                                       tmp_path: Path) -> None:
    language._write_cache(tmp_path / "langid", tables)
    read = language._read_cache(tmp_path / "langid")
    assert read is not None
    packaged, cached = language._make_identifier(tables), language._make_identifier(read)
    for question in QUESTIONS:
        expected, got = packaged.rank(question), cached.rank(question)
        assert [code for code, _ in got] == [code for code, _ in expected]
        assert [p for _, p in got] == pytest.approx([p for _, p in expected], abs=1e-9)


def test_a_cut_or_foreign_cache_is_not_used(tables: dict[str, object], tmp_path: Path) -> None:
    cache = tmp_path / "langid"
    language._write_cache(cache, tables)
    table = cache / "nextmove.bin"
    table.write_bytes(table.read_bytes()[:1000])  # cut
    assert language._read_cache(cache) is None

    language._write_cache(cache, tables)  # written anew, whole
    assert language._read_cache(cache) is not None
    meta = json.loads((cache / "meta.json").read_text())
    meta["key"] = meta["key"].replace('"format": 1', '"format": 0')
    (cache / "meta.json").write_text(json.dumps(meta))
    assert language._read_cache(cache) is None  # made by another version
    assert language._read_cache(tmp_path / "missing") is None


def test_an_unwritable_cache_is_skipped_with_a_warning(tables: dict[str, object],
                                                       tmp_path: Path,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    language._write_cache(blocker / "langid", tables)  # its parent is a file
    assert "language model not cached" in caplog.text
    assert blocker.read_text() == "not a directory"
