"""Dense search, inner product over normalised vectors; the only faiss importer.

A flat (exact) index is searched with numpy over the version's `vectors.npy` (the same scores
as faiss's IndexFlatIP, and as fast or faster at these sizes: 0.04 ms at 300 passages, 2.5
ms at 20k against faiss's 3.5), so loading and searching the knowledge base does not import
faiss (0.2 s of start-up); an HNSW index is faiss's.

Threads: one query is searched on the calling thread alone (faiss's OpenMP threads cost more
than they save for a single query, and a lot when other processes share the cores: p95 of a
flat top-100 over 30k passages 23 ms with 2 threads against 7 ms with 1 on a busy 2-core box);
concurrent queries run on their own threads. Building uses every core.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

# Flat (exact) search up to this many passages, HNSW above. One query on one thread: flat
# top-100 takes ~0.06 us per passage (1.2 ms at 20k, 3.1 ms at 50k: as long as embedding
# the query), HNSW 0.5-0.8 ms from 20k to 100k with recall@10 >= 0.98 (scripts/bench_search.py).
HNSW_ABOVE = 20_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 200
HNSW_EF_SEARCH = 128


def _faiss() -> Any:
    import faiss

    return faiss


# The first four bytes of a faiss index file name its type.
_FLAT_FOURCC = b"IxFI"  # IndexFlatIP


class DenseIndex:
    """Exact (flat) or HNSW inner-product index; which one is recorded in `kind`. A flat one
    loaded from its vectors holds them (`_vectors`) instead of a faiss index."""

    def __init__(self, index: Any, kind: str, vectors: np.ndarray | None = None) -> None:
        self._index = index
        self.kind = kind
        self._vectors = vectors

    @property
    def size(self) -> int:
        return len(self._vectors) if self._vectors is not None else int(self._index.ntotal)

    @classmethod
    def build(cls, vectors: np.ndarray, *, hnsw_above: int = HNSW_ABOVE) -> DenseIndex:
        import faiss

        # OpenMP settings are per thread: a thread that searched before builds with all cores.
        faiss.omp_set_num_threads(os.cpu_count() or 1)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        dim = vectors.shape[1]
        index: Any
        if len(vectors) > hnsw_above:
            index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
            index.hnsw.efSearch = HNSW_EF_SEARCH
            kind = "hnsw"
        else:
            index, kind = faiss.IndexFlatIP(dim), "flat"
        if len(vectors):
            index.add(vectors)
        return cls(index, kind)

    def save(self, path: Path) -> None:
        import faiss

        faiss.write_index(self._index, str(path))

    @classmethod
    def load(cls, path: Path, vectors: Path | None = None) -> DenseIndex:
        """The index saved at `path`; a flat one from `vectors` (the same vectors as a
        (passages, dim) float32 .npy file) when given, without faiss."""
        if vectors is not None:
            with open(path, "rb") as handle:
                flat = handle.read(4) == _FLAT_FOURCC
            if flat:
                matrix = np.load(vectors, allow_pickle=False)
                if matrix.ndim != 2 or matrix.dtype != np.float32:
                    raise ValueError(f"{vectors.name} is not a float32 matrix")
                return cls(None, "flat", np.ascontiguousarray(matrix))
        import faiss

        index = faiss.read_index(str(path))
        if isinstance(index, faiss.IndexHNSWFlat):
            index.hnsw.efSearch = HNSW_EF_SEARCH
            return cls(index, "hnsw")
        return cls(index, "flat")

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """(passage position, cosine similarity) best first."""
        if self.size == 0:
            return []
        k = min(k, self.size)
        if self._vectors is not None:
            scores = self._vectors @ query.astype(np.float32).reshape(-1)
            top = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(k)
            order = top[np.lexsort((top, -scores[top]))]  # best first, ties by position
            return [(int(i), float(scores[i])) for i in order]
        if _faiss().omp_get_max_threads() != 1:  # per thread, see the module docstring
            _faiss().omp_set_num_threads(1)
        scores, ids = self._index.search(query.reshape(1, -1).astype(np.float32), k)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]
