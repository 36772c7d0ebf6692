"""Building the core's parts from the settings: embedders and the searcher."""

from __future__ import annotations

import logging

from bot.settings import Settings
from index.embedders import Embedder, SentenceTransformerEmbedder
from index.search import Searcher

log = logging.getLogger(__name__)


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


def make_searcher(settings: Settings) -> Searcher:
    return Searcher(settings.index_dir, serving_embedder(settings))
