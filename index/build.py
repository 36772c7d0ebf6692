"""Building a new index version: re-embed only what changed, verify, then switch."""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import logging
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from index.chunks import Chunk
from index.corpus import read_corpus
from index.dense import HNSW_ABOVE
from index.embedders import Embedder
from index.errors import (
    IndexBuildError,
    IndexBusy,
    IndexCorrupt,
    IndexProblem,
    IndexVersionDamaged,
)
from index.keyword import TOKENS, saved_tokens
from index.sentences import SENTENCE_TEXT, sentence_texts, stack_sentences
from index.store import (
    LANGUAGE_DIR,
    UNUSABLE,
    chunk_from_row,
    chunk_row,
    current_version,
    list_versions,
    load_live,
    load_version,
    mark_unusable,
    read_manifest,
    remove_version,
    switch_to,
    verify_files,
    versions_dir,
    write_version,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Step:
    """A build announcing the phase it starts: for the admin, and for timing it."""

    phase: str  # "read", "load model", "reuse", "embed", "embed units", "write", "verify", ...
    message: str


Progress = Callable[[Step], None]


@dataclass(frozen=True)
class BuildReport:
    """What a build did: passages added, kept and removed (by id), texts embedded anew."""

    version: str
    documents: int
    chunks: int
    added: int
    unchanged: int
    removed: int
    seconds: float
    switched: bool  # False when nothing changed and the live version stays
    embedded: int = 0  # passages whose text (with its title and heading path) was embedded


@contextlib.contextmanager
def build_lock(index_dir: Path) -> Iterator[None]:
    """Only one build at a time; a second one fails at once instead of waiting."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / "build.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise IndexBusy("Another index build is running.", "wait for it to finish") from exc
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def new_version_name(now: dt.datetime | None = None) -> str:
    now = now or dt.datetime.now(dt.UTC)
    return now.strftime("%Y%m%d-%H%M%S-%f")


def text_hash(text: str) -> str:
    """The key a vector is stored and reused by: the hash of exactly the text embedded."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


@dataclass
class _Previous:
    """What the version whose vectors a build reuses holds (see `_previous`)."""

    passages: dict[str, np.ndarray] = field(default_factory=dict)  # text hash -> vector
    units: dict[str, np.ndarray] = field(default_factory=dict)  # unit text hash -> vector
    rows: list[dict[str, object]] | None = None  # its chunks.jsonl rows
    ids: set[str] = field(default_factory=set)
    version: str | None = None  # its name
    language_model: str | None = None  # the model of its vectors for French and Spanish
    language_passages: dict[str, np.ndarray] = field(default_factory=dict)  # by text hash
    language_units: dict[str, np.ndarray] = field(default_factory=dict)  # by unit text hash


def _previous(index_dir: Path, model_id: str) -> _Previous:
    """The vectors of the live version by the hash of their text or, when it is marked
    unusable, damaged or unreadable, of the newest intact version built with this model (the
    one `load_live` serves then); empty when there is none, or the live version was built
    with another model (vectors of two models never mix).

    A version is reused only once all its files match their checksums (a damaged one found
    here is marked unusable, as `load_live` does), so no damaged vector is copied into the
    new version, and "nothing changed" never keeps a damaged live version."""
    live = current_version(index_dir)
    order = ([live] if live else []) + [n for n in list_versions(index_dir) if n != live]
    for name in order:
        directory = versions_dir(index_dir) / name
        try:
            manifest = read_manifest(directory)
            if manifest["model_id"] != model_id:
                if name == live:
                    return _Previous()
                continue
            verify_files(directory, manifest, manifest["checksums"])
            found = _read_previous(directory)
        except IndexCorrupt as exc:
            reason = str(exc).removeprefix(f"{name}: ")
            marked = isinstance(exc, IndexVersionDamaged) and mark_unusable(directory, reason)
            log.warning("not reusing the vectors of index version %s%s: %s", name,
                        f" (marked: {directory / UNUSABLE})" if marked else "", reason)
            continue
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("not reusing the vectors of index version %s: %s", name, exc)
            continue
        if name != live:
            log.warning("reusing the vectors of index version %s, the newest intact one", name)
        return found
    return _Previous()


def _tokens_current(index_dir: Path, live: str | None) -> bool:
    """Whether the live version's keyword index reads words as `tokenize` does now."""
    if live is None:
        return False
    try:
        return saved_tokens(versions_dir(index_dir) / live / "bm25") == TOKENS
    except (OSError, ValueError, TypeError):
        return False


def _read_previous(directory: Path) -> _Previous:
    """The vectors of one version (checked by `_previous`) by the hash of their text."""
    with open(directory / "chunks.jsonl", encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle if line.strip()]
    chunks = [chunk_from_row(row) for row in rows]
    vectors = np.load(directory / "vectors.npy")
    found = _Previous(rows=rows, ids={c.id for c in chunks}, version=directory.name)
    if len(vectors) == len(chunks):
        found.passages = {text_hash(c.embed_text): v
                          for c, v in zip(chunks, vectors, strict=True)}
    found.units = _previous_units(directory, chunks)
    _read_previous_language(directory, chunks, found)
    return found


def _read_previous_language(directory: Path, chunks: list[Chunk], found: _Previous) -> None:
    """The vectors of the multilingual model of one version, by the hash of their text."""
    try:
        manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
        meta = manifest.get("language")
        if not isinstance(meta, dict):
            return
        vectors = np.load(directory / LANGUAGE_DIR / "vectors.npy")
    except (OSError, ValueError):
        return
    if len(vectors) != len(chunks):
        return
    found.language_model = str(meta.get("model_id"))
    found.language_passages = {text_hash(c.embed_text): v
                               for c, v in zip(chunks, vectors, strict=True)}
    try:
        units = np.load(directory / LANGUAGE_DIR / "sentences.npy")
    except (OSError, ValueError):
        return
    texts = [t for c in chunks for t in sentence_texts(c)]
    if len(texts) == len(units):
        found.language_units = {text_hash(t): v for t, v in zip(texts, units, strict=True)}


def _previous_units(directory: Path, chunks: list[Chunk]) -> dict[str, np.ndarray]:
    """A version's unit vectors by the hash of their text, when they are of the kind this
    code embeds (sentences.json names it)."""
    try:
        meta = json.loads((directory / "sentences.json").read_text(encoding="utf-8"))
        if not isinstance(meta, dict) or meta.get("text") != SENTENCE_TEXT:
            return {}
        vectors = np.load(directory / "sentences.npy")
        owner = np.load(directory / "sentence_owner.npy")
    except (OSError, ValueError):
        return {}
    texts = [t for c in chunks for t in sentence_texts(c)]
    if len(texts) != len(vectors) or len(owner) != len(vectors):
        return {}
    return {text_hash(t): v for t, v in zip(texts, vectors, strict=True)}


def _embed(texts: list[str], known: dict[str, np.ndarray], embedder: Embedder,
           dim: int | None) -> tuple[list[np.ndarray], int]:
    """A vector for each text, reused by its hash where known; (vectors, how many embedded)."""
    keys = [text_hash(t) for t in texts]
    todo = list(dict.fromkeys(k for k in keys if k not in known))
    by_key = dict(known)
    if todo:
        first = {k: t for t, k in zip(texts, keys, strict=True)}
        fresh = embedder.embed_documents([first[k] for k in todo])
        by_key.update(zip(todo, fresh, strict=True))
    return [by_key[k] for k in keys], len(todo)


def build_index(
    docs_dir: Path,
    index_dir: Path,
    embedder: Embedder,
    *,
    keep: int = 5,
    hnsw_above: int = HNSW_ABOVE,
    progress: Progress | None = None,
    language_embedder: Embedder | None = None,
) -> BuildReport:
    """Build or update the index from `docs_dir`; the live version serves until the switch.

    With `language_embedder` (multilingual-e5-small beside all-MiniLM-L6-v2), the passages
    and their units are embedded by it too, for French and Spanish questions (index/store.py
    `LanguageVectors`), its vectors reused by text hash like the others.

    Vectors are reused by the hash of exactly the text embedded (a passage with its title and
    heading path; a unit alone), so a new title re-embeds its passages and nothing else.
    Raises KnowledgeFileError for broken documents, IndexBusy while another build runs and
    IndexBuildError when writing or checking the new version fails.
    """
    say: Progress = progress or (lambda _step: None)
    started = time.perf_counter()
    with build_lock(index_dir):
        say(Step("read", f"Reading the documents in {docs_dir} ..."))
        documents = read_corpus(docs_dir)
        chunks = [chunk for doc in documents for chunk in doc.chunks]
        say(Step("load model", f"Read {len(documents)} documents, {len(chunks)} passages."))
        embedder.load()
        if language_embedder is not None:
            language_embedder.load()
        say(Step("reuse", "Looking for vectors to reuse ..."))
        old = _previous(index_dir, embedder.model_id)
        live = current_version(index_dir)
        new_ids = {c.id for c in chunks}
        added = len(new_ids - old.ids)
        removed = len(old.ids - new_ids)
        unchanged = (old.version == live and old.rows == [chunk_row(c) for c in chunks]
                     and _tokens_current(index_dir, live))
        if language_embedder is not None and old.language_model != language_embedder.model_id:
            old.language_passages, old.language_units = {}, {}
            unchanged = False  # its vectors for French and Spanish are missing or another's
        if live and unchanged and old.units:
            return BuildReport(live, len(documents), len(chunks), 0, len(chunks), 0,
                               time.perf_counter() - started, switched=False)
        say(Step("embed", "Embedding new or changed passages ..."))
        rows, embedded = _embed([c.embed_text for c in chunks], old.passages, embedder, None)
        vectors = np.stack(rows).astype(np.float32)
        dim = int(vectors.shape[1])
        say(Step("embed units", f"Embedded {embedded} passages; now the sentences of new or "
                                "changed ones ..."))
        per_chunk_texts = [sentence_texts(c) for c in chunks]
        flat, _ = _embed([t for group in per_chunk_texts for t in group], old.units, embedder,
                         dim)
        per_chunk: list[np.ndarray] = []
        start = 0
        for group in per_chunk_texts:
            block = flat[start:start + len(group)]
            per_chunk.append(np.stack(block) if block else np.zeros((0, dim), np.float32))
            start += len(group)
        sentences = stack_sentences(per_chunk, dim)
        language = None
        if language_embedder is not None:
            say(Step("embed languages", "Embedding the new or changed passages and sentences "
                                        f"with {language_embedder.model_id} (for French and "
                                        "Spanish questions) ..."))
            language_rows, _ = _embed([c.embed_text for c in chunks], old.language_passages,
                                      language_embedder, None)
            language_units, _ = _embed([t for group in per_chunk_texts for t in group],
                                       old.language_units, language_embedder, None)
            language_dim = int(language_rows[0].shape[0]) if language_rows else 0
            language = (language_embedder.model_id,
                        np.stack(language_rows).astype(np.float32),
                        np.stack(language_units).astype(np.float32) if language_units
                        else np.zeros((0, language_dim), np.float32))
        version = new_version_name()
        _cleanup_unfinished(index_dir)
        tmp = versions_dir(index_dir) / f".tmp-{version}"
        documents_meta = [
            {"source": d.source, "title": d.title, "symbol": d.symbol, "label": d.label,
             "date": d.date, "organization": d.organization, "kind": d.kind,
             "sha256": d.sha256, "passages": len(d.chunks)}
            for d in documents
        ]
        try:
            say(Step("write", "Writing the new index version ..."))
            write_version(tmp, version=version, chunks=chunks, vectors=vectors,
                          model_id=embedder.model_id, dim=dim, documents=documents_meta,
                          built_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                          hnsw_above=hnsw_above, sentences=sentences, language=language)
            final = versions_dir(index_dir) / version
            tmp.rename(final)
        except OSError as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            raise IndexBuildError(
                f"Writing the new index failed: {exc}. The live index"
                f" ({live or 'none'}) keeps serving.", "free disk space, then partnerbot index"
            ) from exc
        say(Step("verify", "Checking the new version ..."))
        _verify(final, embedder, chunks, language_embedder)
        say(Step("switch", f"Switching to version {version} ..."))
        switch_to(index_dir, version)
        _prune(index_dir, keep)
        say(Step("done", f"Switched to version {version}."))
        return BuildReport(version, len(documents), len(chunks), added,
                           len(chunks) - added, removed, time.perf_counter() - started,
                           switched=True, embedded=embedded)


def _verify(directory: Path, embedder: Embedder, chunks: list,
            language_embedder: Embedder | None = None) -> None:
    """Load the new version and check a probe query finds its own passage (with each
    model)."""
    try:
        loaded = load_version(directory)
        probe = chunks[0]
        hits = loaded.dense.search(embedder.embed_query(probe.embed_text), 5)
        if loaded.model_id != embedder.model_id or not hits:
            raise IndexProblem("probe query returned nothing")
        if probe.id not in {loaded.chunks[i].id for i, _ in hits}:
            raise IndexProblem("probe query did not find its own passage")
        if language_embedder is not None:
            if loaded.language is None or loaded.language.model_id != (
                    language_embedder.model_id):
                raise IndexProblem(f"the vectors of {language_embedder.model_id} are missing")
            hits = loaded.language.dense.search(language_embedder.embed_query(
                probe.embed_text), 5)
            if probe.id not in {loaded.chunks[i].id for i, _ in hits}:
                raise IndexProblem(f"a probe query by {language_embedder.model_id} did not "
                                   "find its own passage")
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
    """Every kept version: name, live or not, build time, passages, model, intact or why not.

    A version marked unusable still shows what its manifest says, with its state "damaged:
    ... marked unusable (why)"; "ok" means its manifest is readable (its files are checked
    against their checksums when a process loads it)."""
    live = current_version(index_dir)
    rows: list[dict[str, object]] = []
    for name in list_versions(index_dir):
        row: dict[str, object] = {"version": name, "live": name == live}
        directory = versions_dir(index_dir) / name
        manifest: dict[str, Any] | None = None
        try:
            manifest = read_manifest(directory)
            row["state"] = "ok"
        except IndexCorrupt as exc:
            row["state"] = f"damaged: {exc}"
            with contextlib.suppress(IndexCorrupt):  # for display only: it is not served
                manifest = read_manifest(directory, marked=True)
        if manifest is not None:
            row.update(_described(manifest))
        rows.append(row)
    return rows


def _described(manifest: dict[str, Any]) -> dict[str, object]:
    """What `status` shows of a manifest: the fields it has of built_at, passages, documents,
    model, dense and the model of French and Spanish questions (`language_model`)."""
    fields = {"built_at": "built_at", "passages": "count", "model": "model_id",
              "dense": "dense"}
    shown = {key: manifest[name] for key, name in fields.items() if name in manifest}
    if isinstance(manifest.get("documents"), list):
        shown["documents"] = len(manifest["documents"])
    language = manifest.get("language")
    if isinstance(language, dict) and isinstance(language.get("model_id"), str):
        shown["language_model"] = language["model_id"]
    return shown


__all__ = ["BuildReport", "build_index", "load_live", "rollback", "status"]
