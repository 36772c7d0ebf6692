"""Index versions published through the database (PostgreSQL: several workers, one live index).

A worker whose node built a new index version publishes it: its files as one archive (a tar
of the version directory) with its manifest, and the row of `index_live` naming it. Every
other worker sees the new name, fetches the archive, checks it and installs it locally
(bot/index_replica.py). A publication is a compare-and-set: it names the live version its
node last saw (`expected`), and when another node published meanwhile it changes nothing and
says so, so two nodes re-indexing at once cannot overwrite each other unseen. The newest
`keep` versions stay in the database (and the live one always) for nodes that join late.
"""

from __future__ import annotations

import json
from typing import Any

from bot.store.db import Row, Store

KEEP = 3  # published versions kept in the database (the live one always among them)


class IndexVersions(Store):
    """The published index versions and the live one."""

    def live_index(self) -> Row | None:
        """The live published version: name, serial, model_id, sha256, size, published_at,
        published_by (no archive); None before the first publication."""
        rows = self._rows(
            "SELECT l.name, l.serial, v.model_id, v.sha256, v.size, l.published_at,"
            " l.published_by FROM index_live l JOIN index_versions v ON v.name = l.name"
            " WHERE l.id = 1")
        return rows[0] if rows else None

    def index_archive(self, name: str) -> Row | None:
        """A published version: model_id, manifest (decoded), archive (bytes), sha256."""
        rows = self._rows("SELECT model_id, manifest, archive, sha256 FROM index_versions"
                          " WHERE name = ?", [name])
        if not rows:
            return None
        row = rows[0]
        row["manifest"] = json.loads(row["manifest"])
        row["archive"] = bytes(row["archive"])
        return row

    def publish_index(self, name: str, *, model_id: str, manifest: dict[str, Any],
                      archive: bytes, sha256: str, by: str, expected: str | None,
                      keep: int = KEEP) -> str | None:
        """Make `name` the live version, if the live one is still `expected` (None: there
        is none yet, or the node never synced); returns None when it did, else the name of
        the version live now (another node published it meanwhile: nothing changed)."""
        now = self._now()
        with self._write("index_versions") as db:
            db.lock("index")
            live = db.execute("SELECT name, serial FROM index_live WHERE id = 1").fetchone()
            if live is not None and live[0] != expected and live[0] != name:
                return str(live[0])
            db.execute(
                "INSERT INTO index_versions (name, model_id, manifest, archive, sha256, size,"
                " published_at, published_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (name) DO NOTHING",
                [name, model_id, json.dumps(manifest), archive, sha256, len(archive), now, by])
            db.execute(
                "INSERT INTO index_live (id, name, serial, published_at, published_by)"
                " VALUES (1, ?, 1, ?, ?) ON CONFLICT (id) DO UPDATE SET name = excluded.name,"
                " serial = index_live.serial + 1, published_at = excluded.published_at,"
                " published_by = excluded.published_by", [name, now, by])
            db.execute(
                "DELETE FROM index_versions WHERE name <> ? AND name NOT IN (SELECT name FROM"
                " index_versions ORDER BY published_at DESC, name DESC LIMIT ?)", [name, keep])
        return None
