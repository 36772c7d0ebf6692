"""Building a new index version: re-embed only what changed, verify, then switch."""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import logging
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from index.corpus import read_corpus
from index.dense import HNSW_ABOVE
from index.embedders import Embedder
from index.errors import IndexBuildError, IndexBusy, IndexCorrupt, IndexProblem
from index.sentences import SENTENCE_TEXT, sentence_texts, stack_sentences
from index.store import (
    chunk_row,
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
    timings: dict[str, float] = field(default_factory=dict)  # seconds per phase


class _Phases:
    """Seconds spent in each phase of a build, for the report (and the benchmark)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._last = time.perf_counter()

    def done(self, phase: str) -> None:
        now = time.perf_counter()
        self.seconds[phase] = self.seconds.get(phase, 0.0) + now - self._last
        self._last = now


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


def _previous_sentences(index_dir: Path, model_id: str) -> dict[str, np.ndarray]:
    """Sentence vectors of the live version by chunk id (each passage's rows), when it has
    them and was built with the same model; {} otherwise (every passage's sentences are then
    embedded again)."""
    live = current_version(index_dir)
    if live is None:
        return {}
    directory = versions_dir(index_dir) / live
    try:
        manifest = read_manifest(directory)
        if manifest["model_id"] != model_id:
            return {}
        meta = json.loads((directory / "sentences.json").read_text(encoding="utf-8"))
        if not isinstance(meta, dict) or meta.get("text") != SENTENCE_TEXT:
            return {}  # embedded from other text: embed every passage's sentences again
        vectors = np.load(directory / "sentences.npy")
        owner = np.load(directory / "sentence_owner.npy")
        ids = manifest["chunk_ids"]
    except (IndexCorrupt, OSError, ValueError):
        return {}
    if len(owner) != len(vectors) or (len(owner) and (owner.min() < 0 or owner.max() >= len(ids)
                                                      or np.any(np.diff(owner) < 0))):
        return {}
    starts = np.searchsorted(owner, np.arange(len(ids) + 1))
    return {chunk_id: vectors[starts[i]:starts[i + 1]] for i, chunk_id in enumerate(ids)}


def _sentence_rows(chunks: list, old: dict[str, np.ndarray], embedder: Embedder,
                   dim: int) -> tuple[tuple[np.ndarray, np.ndarray], int]:
    """((sentences.npy, sentence_owner.npy), passages whose sentences were embedded): the rows
    of unchanged passages are reused by chunk id, only the others' sentences are embedded."""
    todo = [c for c in chunks if c.id not in old]
    texts = [sentence_texts(c) for c in todo]
    flat = [t for group in texts for t in group]
    fresh = embedder.embed_documents(flat) if flat else np.zeros((0, dim), np.float32)
    fresh_by_id: dict[str, np.ndarray] = {}
    start = 0
    for chunk, group in zip(todo, texts, strict=True):
        fresh_by_id[chunk.id] = fresh[start:start + len(group)]
        start += len(group)
    per_chunk = [old[c.id] if c.id in old else fresh_by_id[c.id] for c in chunks]
    return stack_sentences(per_chunk, dim), len(todo)


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
    phases = _Phases()
    with build_lock(index_dir):
        documents = read_corpus(docs_dir)
        chunks = [chunk for doc in documents for chunk in doc.chunks]
        say(f"Read {len(documents)} documents, {len(chunks)} passages.")
        phases.done("read")
        embedder.load()
        phases.done("load model")
        old = _previous_vectors(index_dir, embedder.model_id)
        stale = _retitled(index_dir, chunks) if old else set()
        for chunk_id in stale:  # same id, but the embedded title or heading path changed
            old.pop(chunk_id, None)
        new_ids = {c.id for c in chunks}
        todo = [c for c in chunks if c.id not in old]
        removed = len(set(old) - new_ids)
        live = current_version(index_dir)
        old_sentences = {k: v for k, v in _previous_sentences(index_dir, embedder.model_id)
                         .items() if k not in stale}
        if (live and not todo and not removed and _same_order(index_dir, live, chunks)
                and all(c.id in old_sentences for c in chunks)):
            return BuildReport(live, len(documents), len(chunks), 0, len(chunks), 0,
                               time.perf_counter() - started, switched=False)
        say(f"Embedding {len(todo)} new or changed passages ...")
        phases.done("reuse")
        fresh = embedder.embed_documents([c.embed_text for c in todo]) if todo else None
        phases.done("embed")
        fresh_by_id = {c.id: fresh[i] for i, c in enumerate(todo)} if fresh is not None else {}
        rows = [old[c.id] if c.id in old else fresh_by_id[c.id] for c in chunks]
        vectors = np.stack(rows).astype(np.float32)
        say("Embedding the sentences of new or changed passages ...")
        sentences, _ = _sentence_rows(chunks, old_sentences, embedder, int(vectors.shape[1]))
        phases.done("embed sentences")
        version = new_version_name()
        _cleanup_unfinished(index_dir)
        tmp = versions_dir(index_dir) / f".tmp-{version}"
        documents_meta = [
            {"source": d.source, "title": d.title, "symbol": d.symbol, "label": d.label,
             "date": d.date,
             "organization": d.organization, "kind": d.kind, "sha256": d.sha256,
             "passages": len(d.chunks)}
            for d in documents
        ]
        try:
            say("Writing the new index version ...")
            written = write_version(tmp, version=version, chunks=chunks, vectors=vectors,
                          model_id=embedder.model_id, dim=int(vectors.shape[1]),
                          documents=documents_meta,
                          built_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                          hnsw_above=hnsw_above, sentences=sentences)
            final = versions_dir(index_dir) / version
            tmp.rename(final)
            for phase, seconds in (written or {}).items():
                phases.seconds[f"write.{phase}"] = seconds
            phases.done("write")
        except OSError as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            raise IndexBuildError(
                f"Writing the new index failed: {exc}. The live index"
                f" ({live or 'none'}) keeps serving.", "free disk space, then partnerbot index"
            ) from exc
        _verify(final, embedder, chunks)
        phases.done("verify")
        switch_to(index_dir, version)
        say(f"Switched to version {version}.")
        _prune(index_dir, keep)
        phases.done("switch")
        return BuildReport(version, len(documents), len(chunks), len(todo),
                           len(chunks) - len(todo), removed, time.perf_counter() - started,
                           switched=True, timings=phases.seconds)


def _retitled(index_dir: Path, chunks: list) -> set[str]:
    """Ids of passages whose document title or heading path changed since the live version.

    A chunk id hashes the source, locator and text, but the embedded text also starts with the
    title and heading path (`Chunk.embed_text`): such passages keep their id and must still be
    embedded again.
    """
    live = current_version(index_dir)
    if live is None:
        return set()
    now = {c.id: (c.title, list(c.headings)) for c in chunks}
    stale: set[str] = set()
    try:
        with open(versions_dir(index_dir) / live / "chunks.jsonl", encoding="utf-8") as handle:
            for line in handle:
                if not line.strip():
                    continue
                row = json.loads(line)
                new = now.get(row["id"])
                if new is not None and new != (row["title"], row["headings"]):
                    stale.add(row["id"])
    except (OSError, ValueError, KeyError, TypeError):
        return set(now)  # unreadable: embed everything again
    return stale


def _same_order(index_dir: Path, live: str, chunks: list) -> bool:
    """True when the live version holds exactly these passages, in this order, with the same
    metadata (a new citation label changes no id but must reach chunks.jsonl)."""
    try:
        manifest = read_manifest(versions_dir(index_dir) / live)
        with open(versions_dir(index_dir) / live / "chunks.jsonl", encoding="utf-8") as handle:
            rows = [json.loads(line) for line in handle if line.strip()]
    except (IndexCorrupt, OSError, ValueError):
        return False
    if manifest["chunk_ids"] != [c.id for c in chunks] or len(rows) != len(chunks):
        return False
    return all(row == chunk_row(c) for row, c in zip(rows, chunks, strict=True))


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
