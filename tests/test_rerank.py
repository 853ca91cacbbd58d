"""The packaged cross-encoders on ONNX Runtime: quoth-answer and the passage model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from quoth.retrieval.refusal import default_refusal
from quoth.retrieval.rerank import (
    ANSWER_MODEL,
    OnnxCrossEncoder,
    RerankerError,
    answer_model_dir,
    load_reranker,
)


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


def test_quoth_answer_ships_with_its_own_refusal_fit() -> None:
    """The trained model loads from inside the package like the packaged one, tells the
    sentence that states the answer from one on the same topic that does not, and carries
    the refusal decision fitted on its own scores."""
    reranker = load_reranker(ANSWER_MODEL)
    assert isinstance(reranker, OnnxCrossEncoder) and reranker.folder == answer_model_dir()
    sentences = [
        "The visit of President Heydar Aliyev to Pakistan on April 10, 1996, was historic.",
        "President Heydar Aliyev spoke of Pakistan with great warmth.",
        "The capital of France is Paris.",
    ]
    judged = reranker.judge("When did Heydar Aliyev visit Pakistan?", sentences)
    scores = judged.scores
    assert scores[0] > 0 > scores[1] and scores[0] - scores[1] > 4 and scores[2] < 0
    assert np.allclose(scores, reranker.score("When did Heydar Aliyev visit Pakistan?", sentences))
    phrase = judged.phrases[0]  # the second head, from the same pass
    assert reranker.reads_phrases and phrase is not None
    assert sentences[0][phrase.start : phrase.end] == "April 10, 1996" and phrase.probability > 0.5
    assert (answer_model_dir() / "model.onnx").stat().st_size < 40_000_000
    refusal = default_refusal(reranker)
    assert refusal.reranker == ANSWER_MODEL and refusal != default_refusal()
    assert {"seed", "own", "topic", "squad-dev", "guide", "validation"} <= set(refusal.fitted_on)
