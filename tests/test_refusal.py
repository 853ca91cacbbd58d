"""The refusal decision's fit, on hand-made samples whose right result is known."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from quoth.retrieval.logistic import fit_logistic
from quoth.retrieval.refusal import (
    STORED_NAME,
    CalibrationError,
    RefusalModel,
    Sample,
    default_refusal,
    fit_refusal,
    load_refusal,
    threshold_for,
)
from quoth.retrieval.rerank import PASSAGE_MODEL, load_reranker, packaged_reranker_dir


def sample(answer: float, window: float, answerable: bool, group: str = "a") -> Sample:
    return Sample({"answer_score": answer, "window_score": window}, answerable, group)


def test_logistic_fit_recovers_a_known_rule() -> None:
    rng = np.random.default_rng(7)
    x = rng.normal(size=(2000, 2))
    labels = rng.random(2000) < 1 / (1 + np.exp(-(2.0 * x[:, 0] - 1.0 * x[:, 1] + 0.5)))
    model = fit_logistic(x, labels, l2=0.0)
    raw = np.array(model.weights) / np.array(model.scale)
    assert raw == pytest.approx([2.0, -1.0], abs=0.25)
    assert model.probability(np.array([[3.0, -3.0]]))[0] > 0.99


def test_threshold_spares_each_group_its_answerable_questions() -> None:
    probabilities = {"news": [0.9, 0.8, 0.7, 0.6], "wiki": [0.5, 0.4, 0.3, 0.2, 0.1] * 20}
    # never on a sample: between the least kept and the next below it
    assert 0.1 - 1e-6 < threshold_for(probabilities, target=0.0) < 0.1  # none refused
    assert threshold_for(probabilities, target=0.2) == pytest.approx(0.15)  # wiki's 20 lowest go
    assert threshold_for({"news": probabilities["news"]}, target=0.25) == pytest.approx(0.65)
    # an unanswerable question's confidence below the cut is a side of it too
    assert threshold_for({"news": [0.9, 0.8]}, 0.0, others=[0.2, 0.95]) == pytest.approx(0.5)


def _nudged(value: float, ulps: int) -> float:
    for _ in range(abs(ulps)):
        value = float(np.nextafter(value, np.inf if ulps > 0 else -np.inf))
    return value


@pytest.mark.parametrize("target", [0.0, 0.1])
def test_fitted_decisions_survive_a_few_ulps(target: float) -> None:
    """Another BLAS kernel computes the same confidence a few units in the last place off:
    no fitted decision may flip for that (it did when the threshold sat on a sample)."""
    samples = [sample(8 + i % 3, 7 + i % 2, True) for i in range(20)]
    samples += [sample(-8 - i % 3, -7, False) for i in range(20)]
    samples += [sample(5 + i % 2, 4, True, "b") for i in range(10)]
    samples += [sample(-2, -3 - i % 2, False, "b") for i in range(10)]
    model = fit_refusal(samples, target=target)
    for s in samples:
        confidence = model.confidence(s.signals)
        kept = confidence >= model.threshold
        assert all((_nudged(confidence, u) >= model.threshold) == kept for u in (-8, 8))


def test_fit_separates_what_the_signals_separate() -> None:
    samples = [sample(8 + i % 3, 7 + i % 2, True) for i in range(20)]
    samples += [sample(-8 - i % 3, -7, False) for i in range(20)]
    samples += [sample(5 + i % 2, 4, True, "b") for i in range(10)]
    samples += [sample(-2, -3 - i % 2, False, "b") for i in range(10)]
    model = fit_refusal(samples, target=0.0)
    assert all(model.confidence(s.signals) >= model.threshold for s in samples if s.answerable)
    assert all(model.confidence(s.signals) < model.threshold for s in samples if not s.answerable)
    assert model.fitted_on == {"a": 40, "b": 20}


def test_too_few_probes_are_a_clear_error() -> None:
    with pytest.raises(CalibrationError, match="at least 3 answerable and 3 unanswerable"):
        fit_refusal([sample(1, 1, True), sample(-1, -1, False)])


def test_stored_calibration_preferred_and_a_damaged_one_ignored(tmp_path: Path) -> None:
    assert load_refusal(tmp_path) == default_refusal()
    samples = [sample(9, 9, True)] * 3 + [sample(1, 1, True)] * 3 + [sample(-5, -5, False)] * 3
    fitted = fit_refusal(samples)
    fitted.save(tmp_path / STORED_NAME)
    assert load_refusal(tmp_path) == fitted
    assert RefusalModel.from_json(json.loads((tmp_path / STORED_NAME).read_text())) == fitted
    (tmp_path / STORED_NAME).write_text("{not json")
    assert load_refusal(tmp_path) == default_refusal()


def test_each_reranker_reads_the_fit_made_for_its_scores(tmp_path: Path) -> None:
    """A fit reads one model's scores: a folder's own ``refusal.json`` beats the passage
    model's default, and a stored calibration made with another reranker is set aside."""
    folder = tmp_path / "model"
    folder.mkdir()
    for name in ("model.onnx", "tokenizer.json"):
        (folder / name).symlink_to(packaged_reranker_dir() / name)
    reranker = load_reranker(str(folder))
    assert reranker is not None
    passage = default_refusal()
    assert passage.reranker == PASSAGE_MODEL
    assert default_refusal(reranker).threshold == passage.threshold
    replace(passage, threshold=0.42).save(folder / STORED_NAME)
    assert default_refusal(reranker) == replace(passage, threshold=0.42, reranker=str(folder))
    index_dir = tmp_path / "index"
    index_dir.mkdir()
    replace(passage, threshold=0.9).save(index_dir / STORED_NAME)
    assert load_refusal(index_dir, reranker).threshold == 0.42
    assert load_refusal(index_dir).threshold == 0.9
    replace(passage, threshold=0.7, reranker=str(folder)).save(index_dir / STORED_NAME)
    assert load_refusal(index_dir, reranker).threshold == 0.7
