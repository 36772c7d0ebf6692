"""Reciprocal rank fusion."""

from __future__ import annotations

import pytest

from index.fusion import reciprocal_rank_fusion


def test_items_ranked_high_in_both_lists_win() -> None:
    fused = reciprocal_rank_fusion([[1, 2, 3], [3, 1, 4]], k=60)
    assert [item for item, _ in fused] == [1, 3, 2, 4]
    assert fused[0][1] == pytest.approx(1 / 61 + 1 / 62)


def test_weights_shift_the_balance() -> None:
    fused = reciprocal_rank_fusion([[1, 2], [2, 1]], k=0, weights=[3.0, 1.0])
    assert fused[0][0] == 1


def test_empty_and_invalid_input() -> None:
    assert reciprocal_rank_fusion([[], []]) == []
    with pytest.raises(ValueError, match="2 weights given for 1 rankings"):
        reciprocal_rank_fusion([[1]], weights=[1.0, 2.0])
    with pytest.raises(ValueError, match="k must be >= 0, got -1"):
        reciprocal_rank_fusion([[1]], k=-1)
