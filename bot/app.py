"""The one wiring: the dialogue, its searcher and its store, built from the settings.

The CLI, the terminal chat, the Telegram adapter and the tests all build the bot with
`build_dialogue`; nothing else assembles the parts.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from bot.admin.flow import AdminFlow
from bot.admin.upload import UploadFlow
from bot.checklists.flow import ChecklistFlow
from bot.dialogue.engine import Dialogue
from bot.dialogue.flow import Context
from bot.dialogue.questions import QuestionFlow
from bot.settings import Settings
from bot.store import SessionLog
from bot.types import Role
from index.embedders import Embedder, SentenceTransformerEmbedder
from index.search import Searcher
from index.store import warm_up

log = logging.getLogger(__name__)
WRITE_TIMEOUT = 0.5  # seconds a write of the bot waits for a busy database before it gives up


def reference_embedder(settings: Settings) -> Embedder:
    """sentence-transformers: the reference path, used for building the index."""
    return SentenceTransformerEmbedder(settings.model)


def serving_embedder(settings: Settings) -> Embedder:
    """The fastest embedder giving the same vectors: ONNX when exported, else the reference."""
    if settings.onnx:
        try:
            from index.onnx_embedder import fastest_embedder
        except ImportError:  # the ONNX path is optional
            return reference_embedder(settings)
        return fastest_embedder(settings.model, settings.onnx_dir)
    return reference_embedder(settings)


def make_searcher(settings: Settings, *, embedder: Embedder | None = None,
                  prefetch: bool = True) -> Searcher:
    """The searcher over the live index with the serving embedder (or the one given).

    With `prefetch`, the ONNX session is created and the search libraries are imported on two
    background threads at once, so that `Searcher.load()` (which loads the embedder, then the
    index) finds them ready or nearly: start-up overlaps them with each other and with whatever
    the caller does first (the Telegram application's set-up). Errors are left for `load()` to
    raise. sentence-transformers is never prefetched (its import is slow and heavy).
    """
    embedder = embedder or serving_embedder(settings)
    if prefetch and not isinstance(embedder, SentenceTransformerEmbedder):
        _in_background(embedder.load, "load the query embedder")
        _in_background(warm_up, "import the search libraries")
    return Searcher(settings.index_dir, embedder)


def _in_background(work: Callable[[], object], what: str) -> None:
    """Run `work` on a (non-daemon: never cut off mid-import at exit) thread; log failures."""
    def run() -> None:
        try:
            work()
        except Exception as exc:  # load() raises it again where it is handled
            log.debug("prefetch failed (%s): %s", what, exc)

    threading.Thread(target=run, name=f"prefetch: {what}").start()


def open_store(settings: Settings) -> SessionLog:
    """The session log, with the roles of the settings applied (raises LogWriteError)."""
    store = SessionLog(settings.db_path, timeout=WRITE_TIMEOUT)

    def settings_roles() -> None:
        store.bootstrap_roles(admins=settings.admin_ids, allowed=settings.allowed_ids)

    settings_roles()
    store.on_new_file = settings_roles  # a deleted data directory: the listed users again
    return store


def build_dialogue(settings: Settings, *, front: str = "telegram", local_role: Role | None = None,
                   embedder: Embedder | None = None, prefetch: bool = True) -> Dialogue:
    """The dialogue with every flow, its searcher and its store.

    `embedder` replaces the serving embedder (tests use the hashing fake); `local_role` is the
    terminal chat operator's role.
    """
    ctx = Context(settings=settings, searcher=make_searcher(settings, embedder=embedder,
                                                            prefetch=prefetch),
                  store=open_store(settings), front=front, local_role=local_role)
    flows = (ChecklistFlow(settings.checklists_dir), AdminFlow(), UploadFlow(), QuestionFlow())
    return Dialogue(ctx, flows)
