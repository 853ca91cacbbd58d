"""The calibration procedure: probe questions in, a fitted refusal decision and its figures out.

Used by ``quoth calibrate`` (an operator's probes over their own index) and by
``scripts/fit_refusal.py`` (the packaged default, fitted on every development file at once).
"""

from __future__ import annotations

from dataclasses import dataclass

from quoth.retrieval.evaluation import EvalQuestion
from quoth.retrieval.refusal import CalibrationError, RefusalModel, Sample
from quoth.retrieval.service import AnsweringService


def collect_samples(
    service: AnsweringService, questions: list[EvalQuestion], group: str
) -> list[Sample]:
    """Each probe's refusal signals, read through the reranking stage as answers are.

    A question that finds no candidate sentence is refused whatever the model says, so it
    teaches the fit nothing and is left out.
    """
    if service.effective_mode() != "rerank":
        raise CalibrationError(
            "Calibration fits the reranking stage's decision: set QUOTH_RETRIEVAL_MODE=rerank "
            "and keep a reranker (QUOTH_RERANKER)."
        )
    samples = []
    for item in questions:
        ranked = service.rank(item.question)
        if ranked.signals:
            samples.append(Sample(ranked.signals, item.answerable, group))
    return samples


@dataclass(frozen=True, slots=True)
class RefusalFigures:
    """What a decision does to one question file: the two rates a user notices."""

    answerable: int
    unanswerable: int
    false_refusal_rate: float
    refusal_rate: float
    """Share of the unanswerable questions refused."""


def figures(
    model: RefusalModel, samples: list[Sample], threshold: float | None = None
) -> RefusalFigures:
    """The decision's rates on ``samples`` (at ``threshold``, or the model's own)."""
    cut = model.threshold if threshold is None else threshold
    answerable = [s for s in samples if s.answerable]
    unanswerable = [s for s in samples if not s.answerable]
    refused = [model.confidence(s.signals) < cut for s in samples]
    wrong = sum(r for r, s in zip(refused, samples, strict=True) if s.answerable)
    right = sum(r for r, s in zip(refused, samples, strict=True) if not s.answerable)
    return RefusalFigures(
        answerable=len(answerable),
        unanswerable=len(unanswerable),
        false_refusal_rate=wrong / len(answerable) if answerable else 0.0,
        refusal_rate=right / len(unanswerable) if unanswerable else 0.0,
    )


def by_group(samples: list[Sample]) -> dict[str, list[Sample]]:
    groups: dict[str, list[Sample]] = {}
    for sample in samples:
        groups.setdefault(sample.group, []).append(sample)
    return groups
