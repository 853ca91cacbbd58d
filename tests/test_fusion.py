"""Rank fusion rules."""

from __future__ import annotations

import numpy as np

from quoth.retrieval.fusion import convex_fusion, reciprocal_rank_fusion


def test_rrf_rewards_agreement_and_keeps_items_from_either_list() -> None:
    fused = reciprocal_rank_fusion([[1, 2, 3], [3, 1, 4]])
    assert fused[:2] == [1, 3]  # both lists rank them high
    assert set(fused) == {1, 2, 3, 4}
    assert reciprocal_rank_fusion([]) == []


def test_convex_combines_normalised_scores() -> None:
    items = [10, 20, 30]
    dense = np.array([0.9, 0.5, 0.1], dtype=np.float32)
    lexical = np.array([0.0, 5.0, 10.0], dtype=np.float32)
    assert convex_fusion(items, dense, lexical, weight=1.0) == [10, 20, 30]
    assert convex_fusion(items, dense, lexical, weight=0.0) == [30, 20, 10]
    assert convex_fusion(items, dense, lexical, weight=0.7)[0] == 10
    flat = np.zeros(3, dtype=np.float32)
    assert convex_fusion(items, flat, flat) == items
