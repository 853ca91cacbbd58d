"""The packaged cross-encoder on ONNX Runtime."""

from __future__ import annotations

from pathlib import Path

import pytest

from quoth.retrieval.rerank import RerankerError, load_reranker


def test_cross_encoder_prefers_the_answer() -> None:
    reranker = load_reranker("ms-marco-MiniLM-L-12-v2")
    assert reranker is not None
    scores = reranker.score(
        "When did Heydar Aliyev visit Pakistan?",
        [
            "The visit of President Heydar Aliyev to Pakistan on April 10, 1996, was historic.",
            "The capital of France is Paris.",
            "",
        ],
    )
    assert scores.shape == (3,)
    assert scores[0] > 3 > scores[1]
    assert reranker.score("anything", []).shape == (0,)


def test_reranker_setting_errors_are_clear(tmp_path: Path) -> None:
    assert load_reranker("none") is None
    with pytest.raises(RerankerError, match="QUOTH_RERANKER"):
        load_reranker("no-such-model")
    with pytest.raises(RerankerError, match=r"model\.onnx"):
        load_reranker(str(tmp_path))
