"""The calibration procedure: probe questions in, a fitted refusal decision and its figures out.

Used by ``quoth calibrate`` (an operator's probes over their own index) and by
``scripts/fit_refusal.py`` (the packaged default, fitted on every development file at once).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

from quoth.retrieval.evaluation import (
    EvalQuestion,
    contains_evidence,
    first_page_holds,
    shown_quotes,
)
from quoth.retrieval.refusal import CalibrationError, RefusalModel, Sample
from quoth.retrieval.service import AnsweringService


@contextmanager
def answering_everything(service: AnsweringService) -> Iterator[AnsweringService]:
    """``service`` claiming every answer it finds, for as long as the block runs: what each
    question would show is read once, and any pair of thresholds is scored on it after."""
    kept = service.options
    service.options = replace(kept, min_score=0.0, min_claim=0.0)
    try:
        yield service
    finally:
        service.options = kept


@contextmanager
def reading_further(service: AnsweringService, always: bool) -> Iterator[AnsweringService]:
    """``service`` reading further for every question (``always``) or for none."""
    kept = service.reads_further
    service.reads_further = lambda _signals: always
    try:
        yield service
    finally:
        service.reads_further = kept


def collect_samples(
    service: AnsweringService, questions: list[EvalQuestion], group: str
) -> list[Sample]:
    """Each probe's refusal signals, read through the reranking stage as answers are, and,
    for an answerable probe with evidence, whether its marked sentence and its first page
    hold the answer: once as the first read leaves it, and, where the service reads further
    (``QUOTH_READ_FURTHER``), once more read further, for the fit to choose between by its
    own cuts.

    A question that finds no candidate sentence is refused whatever the model says, so it
    teaches the fit nothing and is left out.
    """
    if service.effective_mode() != "rerank":
        raise CalibrationError(
            "Calibration fits the reranking stage's decision: set QUOTH_RETRIEVAL_MODE=rerank "
            "and keep a reranker (QUOTH_RERANKER)."
        )
    samples = []
    with answering_everything(service):
        for item in questions:
            with reading_further(service, always=False):
                first = _read(service, item, group)
            if first is None:
                continue
            if service.options.read_further > 0:
                with reading_further(service, always=True):
                    further = _read(service, item, group)
                if further is not None:
                    first = replace(
                        first,
                        further_signals=further.signals,
                        further_right=further.right,
                        further_on_first_page=further.on_first_page,
                    )
            samples.append(first)
    return samples


def _read(service: AnsweringService, item: EvalQuestion, group: str) -> Sample | None:
    answer = service.answer(item.question)
    if not answer.signals:
        return None
    right = page = None
    if item.answerable and item.evidence and answer.quotes:
        right = contains_evidence(answer.quotes[0].sentence, item.evidence)
        page = first_page_holds(shown_quotes(answer), item.evidence)
    elif item.answerable and item.evidence:
        right = page = False
    return Sample(answer.signals, item.answerable, group, right, page)


def as_read(model: RefusalModel, samples: list[Sample]) -> list[Sample]:
    """Each sample as serving with ``model`` reads it: read further where the first read's
    confidence falls between the cuts and a further reading was measured."""
    read = []
    for sample in samples:
        if sample.further_signals is None or not model.unsure(model.confidence(sample.signals)):
            read.append(replace(sample, further_signals=None))
            continue
        read.append(
            replace(
                sample,
                signals=sample.further_signals,
                right=sample.further_right,
                on_first_page=sample.further_on_first_page,
                further_signals=None,
            )
        )
    return read


def fit_as_read(
    samples: list[Sample],
    fit: Callable[[list[Sample]], RefusalModel],
    recut: Callable[[RefusalModel, list[Sample]], RefusalModel],
) -> RefusalModel:
    """``fit`` (confidence and both cuts) on the first reads; where further readings were
    measured, those cuts then decide who reads further, and ``recut`` fits the cuts again on
    what that reading gives (quoth's callers refit the claim cut only: refitted on what was
    read further, the refusal cut rose and refused questions the first read would have
    shown). Fitting the cuts on the reading they cause went round in circles: reading
    further lifted answerable questions, the claim cut fell to meet them, and with no room
    left between the cuts nothing was read further."""
    first = fit([replace(s, further_signals=None) for s in samples])
    if all(s.further_signals is None for s in samples):
        return first
    return replace(
        recut(first, as_read(first, samples)), read_further=(first.threshold, first.claim)
    )


@dataclass(frozen=True, slots=True)
class RefusalFigures:
    """What a decision does to one question file: the rates a user notices."""

    answerable: int
    unanswerable: int
    false_refusal_rate: float
    refusal_rate: float
    """Share of the unanswerable questions refused."""
    false_claim_rate: float = 0.0
    """Share of the unanswerable questions given a bold answer."""
    claimed_right: float | None = None
    """Share of the answerable questions given a bold answer whose sentence is right (None
    where the probes carry no evidence to check it)."""
    claims_right: float | None = None
    """Of every bold answer given (answerable or not), the share whose sentence is right."""
    first_page: float | None = None
    """Share of the answerable questions whose answer is on the first page, shown as the
    answer or as the closest passages."""


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def figures(
    model: RefusalModel,
    samples: list[Sample],
    threshold: float | None = None,
    claim: float | None = None,
) -> RefusalFigures:
    """The decision's rates on ``samples`` (at ``threshold`` and ``claim``, or the model's
    own cuts)."""
    cut = model.threshold if threshold is None else threshold
    bold = max(cut, model.claim if claim is None else claim)
    answerable = [s for s in samples if s.answerable]
    unanswerable = [s for s in samples if not s.answerable]
    confidence = {id(s): model.confidence(s.signals) for s in samples}
    refused = [s for s in samples if confidence[id(s)] < cut]
    claimed = [s for s in samples if confidence[id(s)] >= bold]
    checked = [s for s in answerable if s.right is not None]
    claimed_checked = [s for s in claimed if not s.answerable or s.right is not None]
    return RefusalFigures(
        answerable=len(answerable),
        unanswerable=len(unanswerable),
        false_refusal_rate=_share(sum(s.answerable for s in refused), len(answerable)),
        refusal_rate=_share(sum(not s.answerable for s in refused), len(unanswerable)),
        false_claim_rate=_share(sum(not s.answerable for s in claimed), len(unanswerable)),
        claimed_right=(
            _share(sum(bool(s.right) for s in claimed if s.answerable), len(checked))
            if checked
            else None
        ),
        claims_right=(
            _share(sum(bool(s.right) for s in claimed_checked), len(claimed_checked))
            if checked
            else None
        ),
        first_page=(
            _share(
                sum(bool(s.on_first_page) for s in checked if confidence[id(s)] >= cut),
                len(checked),
            )
            if checked
            else None
        ),
    )


def by_group(samples: list[Sample]) -> dict[str, list[Sample]]:
    groups: dict[str, list[Sample]] = {}
    for sample in samples:
        groups.setdefault(sample.group, []).append(sample)
    return groups
