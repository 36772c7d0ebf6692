"""The versioned index directory: build beside the live version, verify, switch atomically.

Layout under the index directory:
    CURRENT                 name of the live version (replaced atomically)
    versions/<name>/        manifest.json, chunks.jsonl, vectors.npy, dense.faiss, bm25/,
                            sentences.npy, sentence_owner.npy, sentences.json, and language/
                            (the vectors of the model for French and Spanish questions:
                            vectors.npy, dense.faiss, sentences.npy) when built with one
    versions/.tmp-<name>/   a build in progress (never served; removed by the next build)
    versions/<name>/UNUSABLE  written when that version was found damaged; holds the reason
    build.lock              held while a build runs

A version directory never changes once written. A damaged one (a file missing, or not
matching its checksum in the manifest) is marked unusable with the file
`versions/<name>/UNUSABLE` (the reason and when it was found): by `load_live` at a load; by
the searcher (index/search.py) when a file of the version it serves changes on disk while it
runs (`LoadedIndex.changed`: an `os.stat` of each file against its stat at the load) or a
read of its sentence vectors ends early; and by a build (index/build.py) when the version
whose vectors it would reuse does not match its checksums. A marked version is never served
again, by this process, another one or after a restart: `read_manifest` refuses it, so
`load_live` falls back to the newest intact version (CURRENT is left as it is), `rollback`
skips it, `status` shows it damaged (with what its manifest says), and the next build reuses
the vectors of the newest intact version instead (checked against their checksums first),
writes a new intact version and switches to it; pruning removes the marked one like any
other old version. After restoring the files of a marked version, delete its UNUSABLE file
to serve it again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import shutil
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from index.chunks import Chunk
from index.dense import DenseIndex
from index.errors import IndexCorrupt, IndexMissing, IndexModelMismatch, IndexVersionDamaged
from index.keyword import TOKENS, KeywordIndex, tokenize
from index.sentences import SENTENCE_TEXT, SentenceVectors

FORMAT = 1
LANGUAGE_DIR = "language"  # the multilingual model's vectors in a version (LanguageVectors)
UNUSABLE = "UNUSABLE"  # the marker file of a damaged version (see the module docstring)
log = logging.getLogger(__name__)

# A file as `os.stat` sees it: (device, inode, size, mtime, ctime). Any change of a version's
# file (truncated, rewritten, replaced, removed) changes it.
FileStamp = tuple[int, int, int, int, int]


def _file_stamp(path: str | Path) -> FileStamp:
    st = os.stat(path)
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


@dataclass
class LanguageVectors:
    """The passages and their units embedded by a second, multilingual model: French and
    Spanish questions are matched with them (index/search.py). `sentences` rows are in the
    order of the version's sentence_owner.npy, like its English unit vectors."""

    model_id: str
    dense: DenseIndex
    sentences: SentenceVectors | None = None


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
    directory: Path | None = None  # where it was loaded from
    files: dict[str, FileStamp] = field(default_factory=dict)  # each file as it was loaded
    language: LanguageVectors | None = None  # the multilingual model's vectors, if built
    _by_id: dict[str, Chunk] = field(init=False, repr=False)
    _by_locator: dict[tuple[str, str], Chunk] = field(init=False, repr=False)
    _paths: dict[str, str] = field(init=False, repr=False)  # for `changed`: no Path joins

    @property
    def model_id(self) -> str:
        return str(self.manifest["model_id"])

    def __post_init__(self) -> None:
        self._by_id = {c.id: c for c in self.chunks}
        self._by_locator = {(c.source, c.locator): c for c in self.chunks}
        self._paths = ({name: os.fspath(self.directory / name) for name in self.files}
                       if self.directory is not None else {})

    def find(self, source: str, locator: str) -> Chunk | None:
        """The passage with this document id and locator, if indexed."""
        return self._by_locator.get((source, locator))

    def by_id(self, chunk_id: str) -> Chunk | None:
        """The passage with this id, if indexed."""
        return self._by_id.get(chunk_id)

    def changed(self, names: Iterable[str] | None = None) -> str | None:
        """What changed on disk since the load, of the files `names` (default: all of the
        version's files), e.g. "sentences.npy changed size (9344 -> 0 bytes)"; None when
        nothing did. One `os.stat` per file (~3 us each): cheap enough for every query."""
        for name in self._paths if names is None else names:
            path = self._paths.get(name)
            if path is None:
                continue
            before = self.files[name]
            try:
                now = _file_stamp(path)
            except FileNotFoundError:
                return f"{name} was removed"
            except OSError as exc:
                return f"{name} cannot be checked ({exc.strerror or exc})"
            if now != before:
                if now[2] != before[2]:
                    return f"{name} changed size ({before[2]} -> {now[2]} bytes)"
                return f"{name} was modified"
        return None


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


def unusable_reason(directory: Path) -> str | None:
    """Why this version was marked unusable, or None when it is not marked."""
    try:
        text = (directory / UNUSABLE).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:  # a marker that cannot be read still marks
        return f"{UNUSABLE} cannot be read ({exc})"
    return text.splitlines()[0] if text else "no reason recorded"


def mark_unusable(directory: Path, reason: str) -> bool:
    """Mark a damaged version so that no process serves it again (see the module docstring);
    False when the marker cannot be written (a read-only disk: the version's checksums still
    refuse it at every load)."""
    if not directory.is_dir():  # removed meanwhile (pruned): nothing to mark
        return False
    found = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    text = (f"{reason}\nfound {found} by process {os.getpid()}; delete this file once the "
            "version's files are restored to serve it again\n")
    tmp = directory / f".{UNUSABLE}.{os.getpid()}.tmp"
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, directory / UNUSABLE)
    except OSError as exc:
        log.warning("index version %s: cannot write its %s marker (%s)", directory.name,
                    UNUSABLE, exc)
        tmp.unlink(missing_ok=True)
        return False
    return True


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
    language: tuple[str, np.ndarray, np.ndarray | None] | None = None,
) -> None:
    """Write every file of one version; the manifest (with checksums) goes last.

    `language`: (model id, passage vectors, unit vectors in the rows of `sentences`) of the
    model French and Spanish questions are matched with."""
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
    if language is not None:
        language_dir = directory / LANGUAGE_DIR
        language_dir.mkdir()
        language_vectors = np.asarray(language[1], dtype=np.float32)
        np.save(language_dir / "vectors.npy", language_vectors)
        DenseIndex.build(language_vectors, hnsw_above=hnsw_above).save(
            language_dir / "dense.faiss")
        if language[2] is not None and sentences is not None:
            np.save(language_dir / "sentences.npy", language[2].astype(np.float32))
    files = _files(directory)
    manifest = {
        "format": FORMAT, "version": version, "model_id": model_id, "dim": dim,
        "built_at": built_at, "dense": dense.kind, "count": len(chunks),
        "documents": documents, "chunk_ids": [c.id for c in chunks],
        **({"language": {"model_id": language[0], "dim": int(np.shape(language[1])[1])}}
           if language is not None else {}),
        "checksums": {str(p.relative_to(directory)): digest
                      for p, digest in zip(files, _checksums(files), strict=True)},
    }
    (directory / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")


def read_manifest(directory: Path, *, marked: bool = False) -> dict[str, Any]:
    """The manifest of one version; raises IndexCorrupt when the version is marked unusable
    (unless `marked`: to show it, never to serve it) or its manifest is of an unknown format,
    IndexVersionDamaged when it is missing or unreadable."""
    reason = None if marked else unusable_reason(directory)
    if reason is not None:
        raise IndexCorrupt(f"{directory.name}: marked unusable ({reason})")
    try:
        manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError) as exc:
        raise IndexVersionDamaged(f"{directory.name}: manifest.json unreadable ({exc})") from exc
    except OSError as exc:  # permissions, I/O: not known to be damage
        raise IndexCorrupt(f"{directory.name}: manifest.json unreadable ({exc})") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise IndexCorrupt(f"{directory.name}: manifest.json has an unknown format")
    if not isinstance(manifest.get("checksums"), dict):
        raise IndexVersionDamaged(f"{directory.name}: manifest.json has no checksums")
    return manifest


def verify_files(directory: Path, manifest: dict[str, Any], names: Iterable[str]) -> None:
    """Check these files of a version against the manifest's checksums (those it lists);
    raises IndexVersionDamaged when one is missing or does not match, IndexCorrupt when one
    cannot be read otherwise."""
    listed = [name for name in names if name in manifest["checksums"]]
    try:
        actual = _checksums([directory / name for name in listed])
    except FileNotFoundError as exc:
        missing = os.path.relpath(exc.filename, directory) if exc.filename else "a file"
        raise IndexVersionDamaged(f"{directory.name}: {missing} is missing") from exc
    except OSError as exc:
        raise IndexCorrupt(f"{directory.name}: cannot be read ({exc})") from exc
    for name, got in zip(listed, actual, strict=True):
        if got != manifest["checksums"][name]:
            raise IndexVersionDamaged(
                f"{directory.name}: {name} is damaged (checksum mismatch)")


def load_version(directory: Path) -> LoadedIndex:
    """Load one version after checking every file against the manifest's checksums.

    Raises IndexVersionDamaged when a file is missing or does not match its checksum (or the
    manifest is unreadable), IndexCorrupt when the version cannot be read otherwise. Each
    file's stat is recorded before it is hashed, so a change after the check is seen by
    `LoadedIndex.changed`."""
    manifest = read_manifest(directory)
    expected = dict(manifest["checksums"])
    files: dict[str, FileStamp] = {}
    for name in [*expected, "manifest.json"]:
        try:
            files[name] = _file_stamp(directory / name)
        except FileNotFoundError:
            raise IndexVersionDamaged(f"{directory.name}: {name} is missing") from None
        except OSError as exc:
            raise IndexCorrupt(f"{directory.name}: {name} cannot be read ({exc})") from exc
        if not (directory / name).is_file():
            raise IndexVersionDamaged(f"{directory.name}: {name} is missing")
    try:
        actual = _checksums([directory / name for name in expected])
    except OSError as exc:
        raise IndexCorrupt(f"{directory.name}: cannot be read ({exc})") from exc
    for (name, want), got in zip(expected.items(), actual, strict=True):
        if got != want:
            raise IndexVersionDamaged(
                f"{directory.name}: {name} is damaged (checksum mismatch)")
    try:
        with open(directory / "chunks.jsonl", encoding="utf-8") as handle:
            shared: dict[Any, Any] = {}
            chunks = [chunk_from_row(json.loads(line), shared) for line in handle if line.strip()]
        dense = DenseIndex.load(directory / "dense.faiss", directory / "vectors.npy"
                                if "vectors.npy" in expected else None)
        keyword = KeywordIndex.load(directory / "bm25", len(chunks))
    except Exception as exc:  # any library error on a damaged file means the same thing
        raise IndexCorrupt(f"{directory.name}: cannot be read ({exc})") from exc
    if keyword.tokens != TOKENS:  # built by an older tokenizer: its words would not match
        log.warning("index version %s has keyword tokens of another kind (%s, not %s): rebuilt "
                    "in memory; run partnerbot index to save them", directory.name,
                    keyword.tokens, TOKENS)
        keyword = KeywordIndex.build([c.keyword_text for c in chunks])
    if len(chunks) != manifest["count"] or dense.size != len(chunks):
        raise IndexCorrupt(f"{directory.name}: passage count does not match the manifest")
    sentences = _load_sentences(directory, manifest, len(chunks))
    language = _load_language(directory, manifest, len(chunks), sentences)
    return LoadedIndex(directory.name, manifest, chunks, dense, keyword, sentences=sentences,
                       directory=directory, files=files, language=language)


def _load_language(directory: Path, manifest: dict[str, Any], passages: int,
                   sentences: SentenceVectors | None) -> LanguageVectors | None:
    """The multilingual model's vectors when this version has them (checked above)."""
    meta = manifest.get("language")
    if not isinstance(meta, dict) or not isinstance(meta.get("model_id"), str):
        return None
    names = [f"{LANGUAGE_DIR}/dense.faiss"]
    if not all(name in manifest["checksums"] for name in names):
        raise IndexVersionDamaged(f"{directory.name}: {names[0]} is missing")
    try:
        vectors = f"{LANGUAGE_DIR}/vectors.npy"
        dense = DenseIndex.load(directory / names[0], directory / vectors
                                if vectors in manifest["checksums"] else None)
    except Exception as exc:  # any library error on a damaged file means the same thing
        raise IndexCorrupt(f"{directory.name}: cannot be read ({exc})") from exc
    if dense.size != passages:
        raise IndexCorrupt(f"{directory.name}: {names[0]} does not match the passages")
    units = None
    name = f"{LANGUAGE_DIR}/sentences.npy"
    if sentences is not None and name in manifest["checksums"]:
        try:
            units = SentenceVectors.open(directory / name, sentences.owner, passages)
        except (OSError, ValueError) as exc:
            raise IndexCorrupt(f"{directory.name}: {name} cannot be read ({exc})") from exc
    return LanguageVectors(meta["model_id"], dense, units)


def _load_sentences(directory: Path, manifest: dict[str, Any],
                    passages: int) -> SentenceVectors | None:
    """The sentence vectors when this version has them (checked above), else None.

    Only the header of sentences.npy is read here: rows are grouped by passage and a query
    reads those of its top passages from the open file (`os.pread`), so the page cache holds
    them, not the process (at 100k passages they are ~0.6 GB). Not memory-mapped: should the
    file be truncated under the process all the same, a read ends early and raises
    IndexVersionDamaged (the searcher marks the version and serves the next intact one)
    instead of ending the process with SIGBUS."""
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
        return SentenceVectors.open(directory / names[0], np.load(directory / names[1]),
                                    passages)
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

    A version marked unusable is skipped; one found damaged here is marked (see the module
    docstring). Raises IndexMissing before the first build, IndexModelMismatch when the index
    was built with another model, IndexCorrupt when no version can be read.
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
            marked = isinstance(exc, IndexVersionDamaged) and mark_unusable(
                directory, str(exc).removeprefix(f"{name}: "))
            log.warning("index version unusable%s: %s",
                        f" (marked: {directory / UNUSABLE})" if marked else "", exc)
            continue
        loaded.warnings = [f"Index version {p} — not served." for p in problems]
        if name != live and live is not None:
            loaded.warnings.append(f"Serving the previous version {name} instead of {live}.")
        return loaded
    raise IndexCorrupt(
        "No index version can be read:\n" + "\n".join(problems), "partnerbot index"
    )


def warm_up() -> None:
    """Exercise the stemmer once, so that the first search does not pay for it; for a
    background thread at start-up. (faiss is not imported: a flat index, the knowledge base's,
    is searched without it; `load_version` imports it for an HNSW one.)"""
    tokenize("warm up")


def remove_version(index_dir: Path, name: str) -> None:
    shutil.rmtree(versions_dir(index_dir) / name, ignore_errors=True)
