"""The index on every worker: each node serves a local copy of the live index version, kept
in step with the others through the database (bot/store/index_versions.py).

Several workers (webhook mode, PostgreSQL) each have their own data directory, so their own
index directory, which the searcher serves and reloads when its CURRENT changes
(index/search.py). `IndexReplica.sync`, run by every worker every few seconds, compares three
names: the local live version (CURRENT), the one this node last published or received
(`<index dir>/PUBLISHED`) and the database's live one.

- **A change here is published.** When CURRENT differs from PUBLISHED, the node re-indexed
  (`partnerbot index`, /reindex) or rolled back since its last sync: the version's files are
  checked against their manifest, archived (tar) and published, naming the live version the
  node last saw; if another node published meanwhile, nothing is published and the other
  node's version is received instead (the later re-index has to be done again; logged).
- **A change elsewhere is received.** When the database's live version differs from
  PUBLISHED (or the node never synced), its archive is fetched, its sha256 checked, unpacked
  beside the versions (`versions/.receiving-<name>-<pid>`, never served), every file checked
  against the manifest's checksums, the model compared with this worker's, and only then
  renamed into `versions/<name>` and made live by the atomic CURRENT switch
  (index/store.py). The searcher switches to it on its next question; the old version serves
  until then, and whenever the copy failed (a damaged or partial archive, another model, a
  full disk): the next sync tries again.

A node that never synced takes the database's live version (its own index is not published
over it); the first node to sync publishes its own when the database has none. On SQLite
(one machine, the default) there is nothing to replicate and this never runs.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import shutil
import tarfile
from dataclasses import dataclass
from pathlib import Path

from bot.store import SessionLog
from index.build import build_lock
from index.errors import IndexProblem
from index.store import (
    current_version,
    list_versions,
    read_manifest,
    remove_version,
    switch_to,
    verify_files,
    versions_dir,
)

log = logging.getLogger(__name__)
SYNCED = "PUBLISHED"  # in the index directory: the version last published or received here
RECEIVING = ".receiving-"  # a version being unpacked (a dot name: never listed, never served)


@dataclass(frozen=True)
class Synced:
    """What one sync did: "published", "received", "kept" (a newer one was published
    elsewhere meanwhile: received instead) or "" (nothing to do), and the version."""

    action: str
    version: str | None


class IndexReplica:
    """Keeps one node's index directory in step with the version published in the store."""

    def __init__(self, store: SessionLog, index_dir: Path, model_id: str, worker: str, *,
                 keep: int = 5) -> None:
        """:param keep: index versions kept on this node (PARTNERBOT_KEEP_VERSIONS)."""
        self.store = store
        self.keep = max(1, keep)
        self.index_dir = index_dir
        self.model_id = model_id
        self.worker = worker
        self._refused: str | None = None  # a published version this node cannot serve

    # -- what this node last saw ------------------------------------------------------------

    def synced(self) -> str | None:
        try:
            name = (self.index_dir / SYNCED).read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        return name or None

    def _mark_synced(self, name: str) -> None:
        tmp = self.index_dir / f"{SYNCED}.tmp"
        tmp.write_text(name + "\n", encoding="utf-8")
        os.replace(tmp, self.index_dir / SYNCED)

    # -- one step ---------------------------------------------------------------------------

    def sync(self) -> Synced:
        """Publish this node's new live version, or receive the one published elsewhere.

        Raises the store's LogWriteError when the database fails, IndexProblem when a
        version cannot be published or received (the local one serves on), OSError for the
        disk."""
        local = current_version(self.index_dir)
        synced = self.synced()
        live = self.store.live_index()
        if local is not None and synced is not None and local != synced:
            newer = self.publish(local, expected=synced)
            if newer is None:
                return Synced("published", local)
            log.warning("index version %s built here was not published: %s was published by "
                        "another node meanwhile and is served instead (re-index again to "
                        "publish a new one)", local, newer)
            self.receive(newer)
            return Synced("kept", newer)
        if live is None:
            if local is None:
                return Synced("", None)
            if self.publish(local, expected=None) is None:
                return Synced("published", local)
            live = self.store.live_index()
            if live is None:
                return Synced("", None)
        name = str(live["name"])
        if name == synced and name == local:
            return Synced("", name)
        if name == local:  # the same version on both sides: nothing to copy
            self._mark_synced(name)
            return Synced("", name)
        self._check_model(name, str(live["model_id"]))  # before fetching its archive
        self.receive(name)
        return Synced("received", name)

    # -- publishing -------------------------------------------------------------------------

    def publish(self, name: str, *, expected: str | None) -> str | None:
        """Publish the local version `name`; None when it is live now, else the version
        another node published meanwhile."""
        directory = versions_dir(self.index_dir) / name
        manifest = read_manifest(directory)
        verify_files(directory, manifest, manifest["checksums"])
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
                tar.add(directory, arcname=name, recursive=True)
        archive = buffer.getvalue()
        newer = self.store.publish_index(
            name, model_id=str(manifest["model_id"]), manifest=manifest, archive=archive,
            sha256=hashlib.sha256(archive).hexdigest(), by=self.worker, expected=expected)
        if newer is None:
            self._mark_synced(name)
            log.info("index version %s published to the other workers (%d bytes)", name,
                     len(archive))
        return newer

    # -- receiving --------------------------------------------------------------------------

    def receive(self, name: str) -> None:
        """Install the published version `name` here and make it live; raises IndexProblem
        (nothing changed) when it cannot be, IndexBusy while a build runs here."""
        with build_lock(self.index_dir):  # never beside a build of this node
            target = versions_dir(self.index_dir) / name
            if not target.is_dir():
                self._fetch(name, target)
            else:  # here already (built here before, or received): served only when intact
                manifest = read_manifest(target)
                verify_files(target, manifest, manifest["checksums"])
                self._check_model(name, str(manifest["model_id"]))
            switch_to(self.index_dir, name)
            self._mark_synced(name)
            self._refused = None
            self._prune(name)
        log.info("index version %s is live on this worker (published by another node)", name)

    def _prune(self, live: str) -> None:
        """Keep the `keep` newest versions here (and the live one), as a build does."""
        for old in list_versions(self.index_dir)[self.keep:]:
            if old != live:
                remove_version(self.index_dir, old)

    def _check_model(self, name: str, model_id: str) -> None:
        if model_id != self.model_id:
            if self._refused != name:
                log.error("index version %s was built with the model %s, this worker runs %s:"
                          " not served (give every worker the same PARTNERBOT_MODEL)", name,
                          model_id, self.model_id)
            self._refused = name
            raise IndexProblem(f"index version {name} was built with {model_id}, this worker "
                               f"runs {self.model_id}", "give every worker the same "
                               "PARTNERBOT_MODEL")

    def _fetch(self, name: str, target: Path) -> None:
        row = self.store.index_archive(name)
        if row is None:
            raise IndexProblem(f"index version {name} is no longer in the database",
                               "the next sync takes the live one")
        self._check_model(name, str(row["model_id"]))
        archive: bytes = row["archive"]
        if hashlib.sha256(archive).hexdigest() != row["sha256"]:
            raise IndexProblem(f"index version {name}: the archive in the database does not "
                               "match its sha256", "publish it again from the node that built "
                               "it (partnerbot index there)")
        staging = versions_dir(self.index_dir) / f"{RECEIVING}{name}-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        try:
            try:
                with tarfile.open(fileobj=io.BytesIO(archive), mode="r:") as tar:
                    tar.extractall(staging, filter="data")
            except (tarfile.TarError, EOFError) as exc:
                raise IndexProblem(f"index version {name}: the archive cannot be unpacked "
                                   f"({exc})", "publish it again") from exc
            unpacked = staging / name
            manifest = read_manifest(unpacked)  # checked against the files, not the row
            verify_files(unpacked, manifest, manifest["checksums"])
            if manifest != row["manifest"] or manifest.get("version") not in (None, name):
                raise IndexProblem(f"index version {name}: the archive holds another "
                                   "version's manifest", "publish it again")
            self._check_model(name, str(manifest["model_id"]))
            os.rename(unpacked, target)  # whole, checked: now it can be served
        finally:
            shutil.rmtree(staging, ignore_errors=True)
