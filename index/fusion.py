"""Score fusion (served) and reciprocal rank fusion (compared in the evaluation): pure functions."""

from __future__ import annotations

from collections.abc import Sequence


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[int]], *, k: int = 60, weights: Sequence[float] | None = None
) -> list[tuple[int, float]]:
    """Fuse ranked id lists: score(id) = sum of weight / (k + rank), rank counting from 1.

    Returns (id, score) best first; ties keep the order in which ids were first seen.
    """
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    if weights is not None and len(weights) != len(rankings):
        raise ValueError(f"{len(weights)} weights given for {len(rankings)} rankings")
    scores: dict[int, float] = {}
    for position, ranking in enumerate(rankings):
        weight = 1.0 if weights is None else weights[position]
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
    return sorted(scores.items(), key=lambda pair: -pair[1])


def _scaled(scores: dict[int, float], floor: float) -> dict[int, float]:
    """Min-max scaling to [0, 1]; every score equal (or none) scales to 1."""
    top = max(scores.values(), default=floor)
    span = top - floor
    return {i: (s - floor) / span if span > 0 else 1.0 for i, s in scores.items()}


def fuse_scores(dense: Sequence[tuple[int, float]], keyword: Sequence[tuple[int, float]], *,
                dense_weight: float) -> list[tuple[int, float]]:
    """Weighted sum of min-max scaled scores over the pooled candidates, best first.

    `dense` is a best-first top-N of (passage, cosine): a passage outside it gets its lowest
    cosine (a bound for the rest). `keyword` holds (passage, BM25) for passages sharing a word;
    others score 0. Ties keep the order in which passages were first seen.
    """
    if not 0.0 <= dense_weight <= 1.0:
        raise ValueError(f"dense_weight must be within [0, 1], got {dense_weight}")
    pool = list(dict.fromkeys([i for i, _ in dense] + [i for i, _ in keyword]))
    if not pool:
        return []
    cos = dict(dense)
    floor_cos = min(cos.values(), default=0.0)
    dense_scaled = _scaled({i: cos.get(i, floor_cos) for i in pool}, floor_cos)
    bm25 = dict(keyword)
    keyword_scaled = _scaled({i: bm25.get(i, 0.0) for i in pool}, 0.0) if bm25 else {}
    fused = {i: dense_weight * dense_scaled[i]
             + (1.0 - dense_weight) * keyword_scaled.get(i, 0.0) for i in pool}
    return sorted(fused.items(), key=lambda pair: -pair[1])
