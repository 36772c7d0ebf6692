"""The versioned index directory: build beside the live version, verify, switch atomically.

Layout under the index directory:
    CURRENT                 name of the live version (replaced atomically)
    versions/<name>/        manifest.json, chunks.jsonl, vectors.npy, dense.faiss, bm25/
    versions/.tmp-<name>/   a build in progress (never served; removed by the next build)
    build.lock              held while a build runs
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from index.chunks import Chunk
from index.dense import DenseIndex
from index.errors import IndexCorrupt, IndexMissing, IndexModelMismatch
from index.keyword import KeywordIndex
from index.sentences import SENTENCE_TEXT, SentenceVectors

FORMAT = 1
log = logging.getLogger(__name__)


@dataclass
class LoadedIndex:
    """One index version in memory."""

    version: str
    manifest: dict[str, Any]
    chunks: list[Chunk]
    dense: DenseIndex
    keyword: KeywordIndex
    warnings: list[str] = field(default_factory=list)
    sentences: SentenceVectors | None = None  # None for versions built without them
    _by_id: dict[str, Chunk] = field(init=False, repr=False)
    _by_locator: dict[tuple[str, str], Chunk] = field(init=False, repr=False)

    @property
    def model_id(self) -> str:
        return str(self.manifest["model_id"])

    def __post_init__(self) -> None:
        self._by_id = {c.id: c for c in self.chunks}
        self._by_locator = {(c.source, c.locator): c for c in self.chunks}

    def find(self, source: str, locator: str) -> Chunk | None:
        """The passage with this document id and locator, if indexed."""
        return self._by_locator.get((source, locator))

    def by_id(self, chunk_id: str) -> Chunk | None:
        """The passage with this id, if indexed."""
        return self._by_id.get(chunk_id)


def versions_dir(index_dir: Path) -> Path:
    return index_dir / "versions"


def current_version(index_dir: Path) -> str | None:
    """The live version's name, or None before the first build."""
    try:
        name = (index_dir / "CURRENT").read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return name or None


def list_versions(index_dir: Path) -> list[str]:
    """Finished versions, newest first (names sort by build time)."""
    root = versions_dir(index_dir)
    if not root.is_dir():
        return []
    names = [p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
    return sorted(names, reverse=True)


def switch_to(index_dir: Path, version: str) -> None:
    """Make `version` live with one atomic rename."""
    tmp = index_dir / "CURRENT.tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(version + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, index_dir / "CURRENT")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _checksums(paths: list[Path]) -> list[str]:
    """sha256 of each file, hashed on two threads (hashlib releases the GIL on big blocks)."""
    if len(paths) < 2:
        return [_sha256(p) for p in paths]
    with ThreadPoolExecutor(max_workers=min(len(paths), max(2, os.cpu_count() or 1))) as pool:
        return list(pool.map(_sha256, paths))


def chunk_row(chunk: Chunk) -> dict[str, Any]:
    """A passage as one row of chunks.jsonl."""
    return {"id": chunk.id, "source": chunk.source, "title": chunk.title,
            "symbol": chunk.symbol, "locator": chunk.locator,
            "headings": list(chunk.headings), "text": chunk.text, "label": chunk.label,
            "organization": chunk.organization}


def _files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.is_file() and p.name != "manifest.json")


def write_version(
    directory: Path,
    *,
    version: str,
    chunks: list[Chunk],
    vectors: np.ndarray,
    model_id: str,
    dim: int,
    documents: list[dict[str, Any]],
    built_at: str,
    hnsw_above: int,
    sentences: tuple[np.ndarray, np.ndarray] | None = None,
) -> None:
    """Write every file of one version; the manifest (with checksums) goes last."""
    directory.mkdir(parents=True)
    with open(directory / "chunks.jsonl", "w", encoding="utf-8") as handle:
        for chunk in chunks:
            handle.write(json.dumps(chunk_row(chunk), ensure_ascii=False) + "\n")
    vectors = np.asarray(vectors, dtype=np.float32)  # no copy when it is float32 already
    np.save(directory / "vectors.npy", vectors)
    dense = DenseIndex.build(vectors, hnsw_above=hnsw_above)
    dense.save(directory / "dense.faiss")
    KeywordIndex.build([c.keyword_text for c in chunks]).save(directory / "bm25")
    if sentences is not None:  # (vectors, owner passage positions), see index/sentences.py
        np.save(directory / "sentences.npy", sentences[0].astype(np.float32))
        np.save(directory / "sentence_owner.npy", sentences[1].astype(np.int32))
        (directory / "sentences.json").write_text(json.dumps({"text": SENTENCE_TEXT}),
                                                  encoding="utf-8")
    files = _files(directory)
    manifest = {
        "format": FORMAT, "version": version, "model_id": model_id, "dim": dim,
        "built_at": built_at, "dense": dense.kind, "count": len(chunks),
        "documents": documents, "chunk_ids": [c.id for c in chunks],
        "checksums": {str(p.relative_to(directory)): digest
                      for p, digest in zip(files, _checksums(files), strict=True)},
    }
    (directory / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")


def read_manifest(directory: Path) -> dict[str, Any]:
    """The manifest of one version; raises IndexCorrupt when missing or unreadable."""
    try:
        manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexCorrupt(f"{directory.name}: manifest.json unreadable ({exc})") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise IndexCorrupt(f"{directory.name}: manifest.json has an unknown format")
    return manifest


def load_version(directory: Path) -> LoadedIndex:
    """Load one version after checking every file against the manifest's checksums."""
    manifest = read_manifest(directory)
    expected = dict(manifest["checksums"])
    for name in expected:
        if not (directory / name).is_file():
            raise IndexCorrupt(f"{directory.name}: {name} is missing")
    actual = _checksums([directory / name for name in expected])
    for (name, want), got in zip(expected.items(), actual, strict=True):
        if got != want:
            raise IndexCorrupt(f"{directory.name}: {name} is damaged (checksum mismatch)")
    try:
        with open(directory / "chunks.jsonl", encoding="utf-8") as handle:
            shared: dict[Any, Any] = {}
            chunks = [chunk_from_row(json.loads(line), shared) for line in handle if line.strip()]
        dense = DenseIndex.load(directory / "dense.faiss")
        keyword = KeywordIndex.load(directory / "bm25", len(chunks))
    except Exception as exc:  # any library error on a damaged file means the same thing
        raise IndexCorrupt(f"{directory.name}: cannot be read ({exc})") from exc
    if len(chunks) != manifest["count"] or dense.size != len(chunks):
        raise IndexCorrupt(f"{directory.name}: passage count does not match the manifest")
    return LoadedIndex(directory.name, manifest, chunks, dense, keyword,
                       sentences=_load_sentences(directory, manifest, len(chunks)))


def _load_sentences(directory: Path, manifest: dict[str, Any],
                    passages: int) -> SentenceVectors | None:
    """The sentence vectors when this version has them (checked above), else None.

    The vectors are memory-mapped, not read: rows are grouped by passage and a query reads
    only those of its top passages, so the page cache holds them, not the process (at 100k
    passages they are ~0.6 GB). Version directories are never changed once written."""
    names = ("sentences.npy", "sentence_owner.npy", "sentences.json")
    if not all(name in manifest["checksums"] for name in names):
        return None
    try:
        meta = json.loads((directory / "sentences.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexCorrupt(f"{directory.name}: sentences.json cannot be read ({exc})") from exc
    if not isinstance(meta, dict) or meta.get("text") != SENTENCE_TEXT:
        log.warning("index version %s holds unit vectors of another kind (%s); quotes are "
                    "chosen without them until the next build (partnerbot index)",
                    directory.name, meta.get("text") if isinstance(meta, dict) else meta)
        return None
    try:
        return SentenceVectors.from_arrays(np.load(directory / names[0], mmap_mode="r"),
                                           np.load(directory / names[1]), passages)
    except (OSError, ValueError) as exc:
        raise IndexCorrupt(f"{directory.name}: sentence vectors cannot be read ({exc})") from exc


def chunk_from_row(row: dict[str, Any], shared: dict[Any, Any] | None = None) -> Chunk:
    """A passage from its chunks.jsonl row. With `shared`, the values repeated from passage to
    passage (document id, title, symbol, heading path) are one object each, not one per
    passage: about a fifth of the passages' memory at 100k passages."""
    if shared is None:
        shared = {}
    one = shared.setdefault
    headings = tuple(one(h, h) for h in row["headings"])
    headings = one(headings, headings)
    label, organization = row.get("label"), row.get("organization")
    return Chunk(row["id"], one(row["source"], row["source"]), one(row["title"], row["title"]),
                 one(row["symbol"], row["symbol"]), row["locator"], headings, row["text"],
                 one(label, label), one(organization, organization))


def load_live(index_dir: Path, model_id: str) -> LoadedIndex:
    """The live version, or the newest intact older one when the live one is damaged.

    Raises IndexMissing before the first build, IndexModelMismatch when the index was built
    with another model, IndexCorrupt when no version can be read.
    """
    live = current_version(index_dir)
    names = list_versions(index_dir)
    if live is None and not names:
        raise IndexMissing(f"No index has been built yet in {index_dir}.", "partnerbot index")
    order = ([live] if live else []) + [n for n in names if n != live]
    problems: list[str] = []
    for name in order:
        directory = versions_dir(index_dir) / name
        try:
            manifest = read_manifest(directory)
            if manifest["model_id"] != model_id:
                raise IndexModelMismatch(
                    f"The index (version {name}) was built with the model "
                    f"'{manifest['model_id']}', but the settings name '{model_id}'. Vectors of "
                    "two models cannot be mixed.",
                    "partnerbot index   (re-embeds every passage with the configured model)")
            loaded = load_version(directory)
        except IndexCorrupt as exc:
            problems.append(str(exc))
            log.warning("index version unusable: %s", exc)
            continue
        loaded.warnings = [f"Index version {p} — not served." for p in problems]
        if name != live and live is not None:
            loaded.warnings.append(f"Serving the previous version {name} instead of {live}.")
        return loaded
    raise IndexCorrupt(
        "No index version can be read:\n" + "\n".join(problems), "partnerbot index"
    )


def warm_up() -> None:
    """Import and exercise the search libraries (faiss, bm25s) once, so that the first
    `load_version` does not pay for it; for a background thread at start-up."""
    DenseIndex.build(np.zeros((1, 8), dtype=np.float32))
    KeywordIndex.build(["warm up"])


def remove_version(index_dir: Path, name: str) -> None:
    shutil.rmtree(versions_dir(index_dir) / name, ignore_errors=True)
