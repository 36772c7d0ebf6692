"""Building a new index version: re-embed only what changed, verify, then switch."""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import logging
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index.corpus import read_corpus
from index.dense import HNSW_ABOVE
from index.embedders import Embedder
from index.errors import IndexBuildError, IndexBusy, IndexCorrupt, IndexProblem
from index.store import (
    current_version,
    list_versions,
    load_live,
    load_version,
    read_manifest,
    remove_version,
    switch_to,
    versions_dir,
    write_version,
)

log = logging.getLogger(__name__)
Progress = Callable[[str], None]


@dataclass(frozen=True)
class BuildReport:
    """What a build did."""

    version: str
    documents: int
    chunks: int
    added: int
    unchanged: int
    removed: int
    seconds: float
    switched: bool  # False when nothing changed and the live version stays


@contextlib.contextmanager
def build_lock(index_dir: Path) -> Iterator[None]:
    """Only one build at a time; a second one fails at once instead of waiting."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / "build.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise IndexBusy("Another index build is running. Wait for it to finish.") from exc
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def new_version_name(now: dt.datetime | None = None) -> str:
    now = now or dt.datetime.now(dt.UTC)
    return now.strftime("%Y%m%d-%H%M%S-%f")


def _previous_vectors(index_dir: Path, model_id: str) -> dict[str, np.ndarray]:
    """Vectors of the live version by chunk id, when it was built with the same model."""
    live = current_version(index_dir)
    if live is None:
        return {}
    directory = versions_dir(index_dir) / live
    try:
        manifest = read_manifest(directory)
        if manifest["model_id"] != model_id:
            return {}
        vectors = np.load(directory / "vectors.npy")
        ids = manifest["chunk_ids"]
    except (IndexCorrupt, OSError, ValueError):
        return {}
    if len(ids) != len(vectors):
        return {}
    return dict(zip(ids, vectors, strict=True))


def build_index(
    docs_dir: Path,
    index_dir: Path,
    embedder: Embedder,
    *,
    keep: int = 5,
    hnsw_above: int = HNSW_ABOVE,
    progress: Progress | None = None,
) -> BuildReport:
    """Build or update the index from `docs_dir`; the live version serves until the switch.

    Raises KnowledgeFileError for broken documents, IndexBusy while another build runs and
    IndexBuildError when writing or checking the new version fails.
    """
    say = progress or (lambda _message: None)
    started = time.perf_counter()
    with build_lock(index_dir):
        documents = read_corpus(docs_dir)
        chunks = [chunk for doc in documents for chunk in doc.chunks]
        say(f"Read {len(documents)} documents, {len(chunks)} passages.")
        embedder.load()
        old = _previous_vectors(index_dir, embedder.model_id)
        new_ids = {c.id for c in chunks}
        todo = [c for c in chunks if c.id not in old]
        removed = len(set(old) - new_ids)
        live = current_version(index_dir)
        if live and not todo and not removed and _same_order(index_dir, live, chunks):
            return BuildReport(live, len(documents), len(chunks), 0, len(chunks), 0,
                               time.perf_counter() - started, switched=False)
        say(f"Embedding {len(todo)} new or changed passages ...")
        fresh = embedder.embed_documents([c.embed_text for c in todo]) if todo else None
        fresh_by_id = {c.id: fresh[i] for i, c in enumerate(todo)} if fresh is not None else {}
        rows = [old[c.id] if c.id in old else fresh_by_id[c.id] for c in chunks]
        vectors = np.stack(rows).astype(np.float32)
        version = new_version_name()
        _cleanup_unfinished(index_dir)
        tmp = versions_dir(index_dir) / f".tmp-{version}"
        documents_meta = [
            {"source": d.source, "title": d.title, "symbol": d.symbol, "date": d.date,
             "organization": d.organization, "kind": d.kind, "sha256": d.sha256,
             "passages": len(d.chunks)}
            for d in documents
        ]
        try:
            say("Writing the new index version ...")
            write_version(tmp, version=version, chunks=chunks, vectors=vectors,
                          model_id=embedder.model_id, dim=int(vectors.shape[1]),
                          documents=documents_meta,
                          built_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                          hnsw_above=hnsw_above)
            final = versions_dir(index_dir) / version
            tmp.rename(final)
        except OSError as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            raise IndexBuildError(
                f"Writing the new index failed: {exc}. The live index"
                f" ({live or 'none'}) keeps serving.\n\nTry: free disk space, then partnerbot index"
            ) from exc
        _verify(final, embedder, chunks)
        switch_to(index_dir, version)
        say(f"Switched to version {version}.")
        _prune(index_dir, keep)
        return BuildReport(version, len(documents), len(chunks), len(todo),
                           len(chunks) - len(todo), removed, time.perf_counter() - started,
                           switched=True)


def _same_order(index_dir: Path, live: str, chunks: list) -> bool:
    try:
        manifest = read_manifest(versions_dir(index_dir) / live)
    except IndexCorrupt:
        return False
    return bool(manifest["chunk_ids"] == [c.id for c in chunks])


def _verify(directory: Path, embedder: Embedder, chunks: list) -> None:
    """Load the new version and check a probe query finds its own passage."""
    try:
        loaded = load_version(directory)
        probe = chunks[0]
        hits = loaded.dense.search(embedder.embed_query(probe.embed_text), 5)
        if loaded.model_id != embedder.model_id or not hits:
            raise IndexProblem("probe query returned nothing")
        if probe.id not in {loaded.chunks[i].id for i, _ in hits}:
            raise IndexProblem("probe query did not find its own passage")
    except IndexProblem as exc:
        remove_version(directory.parent.parent, directory.name)
        raise IndexBuildError(f"The new index failed its check ({exc}); the live index keeps "
                              "serving.") from exc


def _cleanup_unfinished(index_dir: Path) -> None:
    root = versions_dir(index_dir)
    if root.is_dir():
        for path in root.glob(".tmp-*"):
            shutil.rmtree(path, ignore_errors=True)


def _prune(index_dir: Path, keep: int) -> None:
    live = current_version(index_dir)
    for name in list_versions(index_dir)[max(keep, 1):]:
        if name != live:
            remove_version(index_dir, name)


def rollback(index_dir: Path, model_id: str) -> tuple[str, str]:
    """Switch back to the newest intact version older than the live one; (from, to)."""
    with build_lock(index_dir):
        live = current_version(index_dir)
        names = list_versions(index_dir)
        older = [n for n in names if live is None or n < live]
        for name in older:
            try:
                loaded = load_version(versions_dir(index_dir) / name)
            except IndexCorrupt as exc:
                log.warning("skipping damaged version: %s", exc)
                continue
            if loaded.model_id != model_id:
                continue
            switch_to(index_dir, name)
            return live or "none", name
    raise IndexBuildError("There is no older intact index version to roll back to.")


def status(index_dir: Path) -> list[dict[str, object]]:
    """Every kept version: name, live or not, build time, passages, model, intact or why not."""
    live = current_version(index_dir)
    rows: list[dict[str, object]] = []
    for name in list_versions(index_dir):
        row: dict[str, object] = {"version": name, "live": name == live}
        try:
            manifest = read_manifest(versions_dir(index_dir) / name)
            row.update(built_at=manifest["built_at"], passages=manifest["count"],
                       documents=len(manifest["documents"]), model=manifest["model_id"],
                       dense=manifest["dense"], state="ok")
        except IndexCorrupt as exc:
            row["state"] = f"damaged: {exc}"
        rows.append(row)
    return rows


__all__ = ["BuildReport", "build_index", "load_live", "rollback", "status"]
