"""Whether to answer or say "not in my sources": a calibrated decision over several signals.

One hand-set logit threshold held on the files it was set on and refused one answerable
question in five on an unseen Wikipedia corpus. The decision is now a logistic model over
signals the reranking stage already computes, fitted on questions whose answerability is
known, with the threshold set so that no fitting file loses more than a target share of its
answerable questions. quoth ships a default fitted on every development file at once
(``scripts/fit_refusal.py``); ``quoth calibrate`` re-fits it on an operator's own probe
questions and stores the result beside the index, where it is preferred to the default.

The signals are one reranker's scores, so a fit belongs to the reranker it was fitted with:
each packaged model has its own default (a ``refusal.json`` in the model's folder, else
``refusal_default.json`` for the passage model), and a stored fit for another reranker is
set aside rather than read on the wrong scale.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from quoth.errors import QuothError
from quoth.retrieval.logistic import LinearModel, fit_logistic
from quoth.retrieval.phrase import NEVER_SHOWN
from quoth.retrieval.rerank import PASSAGE_MODEL, Reranker

SIGNALS = ("answer_score", "window_score")
"""What the reranker says of the best sentence alone, and of it with its neighbours."""
AVAILABLE_SIGNALS = (*SIGNALS, "phrase_score", "phrase_type", "type_match", "answer_margin")
"""Every signal a fit may read (:func:`quoth.retrieval.ranking.phrase_signals`): also how sure
the answer model is of the phrase it found in the best sentence (0 for a model with no phrase
head), whether that phrase and that sentence hold the kind of thing asked for, and the best
sentence's lead over the next."""
TARGET_FALSE_REFUSALS = 0.03
TARGET_FALSE_CLAIMS = 0.10
"""The most unanswerable questions of a file that may be given a bold answer (news-like
files; SQuAD-style files, written against the paragraph that nearly answers them, are
allowed :data:`TARGET_FALSE_CLAIMS_ADVERSARIAL`)."""
TARGET_FALSE_CLAIMS_ADVERSARIAL = 0.20
STORED_NAME = "refusal.json"
DEFAULT_NAME = "refusal_default.json"


class CalibrationError(QuothError, ValueError):
    """The probe questions cannot be used to fit a refusal decision; the message says why."""


@dataclass(frozen=True, slots=True)
class Sample:
    """One question's signals and whether it has an answer in the corpus."""

    signals: dict[str, float]
    answerable: bool
    group: str
    """The question file it came from: every file weighs the same in the fit."""
    right: bool | None = None
    """An answerable question whose best quote's marked sentence holds the answer (None:
    not measured, or unanswerable)."""
    on_first_page: bool | None = None
    """An answerable question whose answer is somewhere on the first page of quotes."""
    further_signals: dict[str, float] | None = None
    """The same question read further (more candidate sentences), where that was measured:
    serving reads further only where the first read falls between the two cuts, so which
    reading a fit sees depends on its own cuts (:func:`quoth.retrieval.calibrate.as_read`)."""
    further_right: bool | None = None
    further_on_first_page: bool | None = None


@dataclass(frozen=True, slots=True)
class RefusalModel:
    model: LinearModel
    threshold: float
    """The least probability of "answerable" at which quoth answers."""
    signals: tuple[str, ...] = SIGNALS
    fitted_on: dict[str, int] = field(default_factory=dict)
    """Question file name -> questions used, so a stored fit says where it came from."""
    reranker: str = PASSAGE_MODEL
    """The reranker whose scores the fit reads (fits stored before this was kept: the
    passage model, then the only one)."""
    phrase_threshold: float = NEVER_SHOWN
    """The least probability at which the answer phrase is underlined (fitted on the
    development files with the rest; a model with no phrase head never reaches it)."""
    claim_threshold: float = 0.0
    """The least confidence at which the best quote is claimed as the answer (bold); below
    it, down to ``threshold``, quoth shows the closest passages and claims nothing. Never
    below ``threshold`` where it is read (:attr:`claim`)."""

    read_further: tuple[float, float] | None = None
    """Where a first read's confidence sends the reranker reading further: the cuts fitted on
    first reads alone (the state's own cuts are then fitted on what that reading gives, so
    neither depends on the other). None: between this model's own cuts."""

    @property
    def claim(self) -> float:
        return max(self.threshold, self.claim_threshold)

    def unsure(self, confidence: float) -> bool:
        """Whether a first read this confident is read further: between the cuts, neither
        refused nor claimed, where more candidates may settle it."""
        low, high = self.read_further or (self.threshold, self.claim)
        return low <= confidence < high

    def confidence(self, signals: dict[str, float]) -> float:
        row = np.array([[signals.get(name, 0.0) for name in self.signals]])
        return float(self.model.probability(row)[0])

    def to_json(self) -> dict[str, Any]:
        return {
            "signals": list(self.signals),
            "threshold": self.threshold,
            "model": asdict(self.model),
            "fitted_on": self.fitted_on,
            "reranker": self.reranker,
            "phrase_threshold": self.phrase_threshold,
            "claim_threshold": self.claim_threshold,
            **({"read_further": list(self.read_further)} if self.read_further else {}),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RefusalModel:
        model = data["model"]
        return cls(
            model=LinearModel(
                weights=tuple(model["weights"]),
                bias=float(model["bias"]),
                mean=tuple(model["mean"]),
                scale=tuple(model["scale"]),
            ),
            threshold=float(data["threshold"]),
            signals=tuple(data["signals"]),
            fitted_on=dict(data.get("fitted_on", {})),
            reranker=str(data.get("reranker", PASSAGE_MODEL)),
            phrase_threshold=float(data.get("phrase_threshold", NEVER_SHOWN)),
            claim_threshold=float(data.get("claim_threshold", 0.0)),
            read_further=(
                (float(data["read_further"][0]), float(data["read_further"][1]))
                if data.get("read_further")
                else None
            ),
        )

    def save(self, path: Path) -> None:
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(self.to_json(), indent=2) + "\n", encoding="utf-8")
        temporary.replace(path)


def default_refusal(reranker: Reranker | None = None) -> RefusalModel:
    """The fit that ships with ``reranker``: its folder's ``refusal.json``, else the passage
    model's (a folder of someone's own model without one is read on that scale)."""
    own = None if reranker is None else reranker.folder / STORED_NAME
    if own is not None and own.is_file():
        model = RefusalModel.from_json(json.loads(own.read_text(encoding="utf-8")))
    else:
        text = (resources.files("quoth.retrieval") / DEFAULT_NAME).read_text(encoding="utf-8")
        model = RefusalModel.from_json(json.loads(text))
    return model if reranker is None else replace(model, reranker=reranker.name)


def load_refusal(index_dir: Path, reranker: Reranker | None = None) -> RefusalModel:
    """The operator's calibration stored beside the index when it was fitted with
    ``reranker``, else that reranker's packaged default.

    A stored file that cannot be read is ignored rather than fatal: answering with the
    default beats not starting.
    """
    path = index_dir / STORED_NAME
    if path.is_file():
        try:
            model = RefusalModel.from_json(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError):
            return default_refusal(reranker)
        same = reranker is None or model.reranker == reranker.name
        if same and set(model.signals) <= set(AVAILABLE_SIGNALS):
            return model
    return default_refusal(reranker)


ROUNDING_MARGIN = 1e-9
"""How far below the least kept confidence a threshold sits at the least: a million times a
probability's rounding error, so another BLAS kernel's last bit cannot flip a decision."""


def threshold_for(
    probabilities: dict[str, list[float]],
    target: float = TARGET_FALSE_REFUSALS,
    others: Sequence[float] = (),
) -> float:
    """A threshold refusing at most ``target`` of each group's answerable questions (given
    their probabilities): the strictest setting no group pays for.

    It sits between the least kept confidence and the next one below it (any answerable
    one, or ``others``: the unanswerable questions' confidences), never on a sample: a
    threshold placed on a sample keeps it on one machine and refuses it on another whose
    arithmetic differs in the last bit.
    """
    cuts = []
    for values in probabilities.values():
        ordered = np.sort(np.asarray(values))
        if len(ordered):
            allowed = int(np.floor(target * len(ordered)))
            cuts.append(float(ordered[allowed]))
    if not cuts:
        raise CalibrationError("No answerable question among the probes: nothing to keep.")
    return between(min(cuts), [v for values in probabilities.values() for v in values], others)


def between(kept: float, *confidences: Iterable[float]) -> float:
    """The midpoint between ``kept`` and the highest of ``confidences`` below it, at least
    :data:`ROUNDING_MARGIN` below ``kept``: the cut every fitted threshold in quoth uses."""
    below = [v for values in confidences for v in values if v < kept - ROUNDING_MARGIN]
    if not below:
        return kept - ROUNDING_MARGIN
    return min((kept + max(below)) / 2, kept - ROUNDING_MARGIN)


def claim_threshold_for(
    unanswerable: dict[str, list[float]],
    limits: dict[str, float],
    others: Sequence[float] = (),
) -> float:
    """The lowest confidence at which no group claims (answers in bold) more than its limit
    of its unanswerable questions (``limits``, per group; a group not named gets
    :data:`TARGET_FALSE_CLAIMS`).

    Like :func:`threshold_for`, it sits between samples: halfway between the highest
    unanswerable confidence that must not be claimed and the next confidence above it (any
    of ``unanswerable`` or ``others``), at least :data:`ROUNDING_MARGIN` above the former.
    """
    excluded = []
    for group, values in unanswerable.items():
        ordered = np.sort(np.asarray(values))[::-1]
        allowed = int(np.floor(limits.get(group, TARGET_FALSE_CLAIMS) * len(ordered)))
        if allowed < len(ordered):
            excluded.append(float(ordered[allowed]))
    if not excluded:
        raise CalibrationError("No unanswerable question among the probes: nothing to hold back.")
    return above(max(excluded), [v for values in unanswerable.values() for v in values], others)


def above(excluded: float, *confidences: Iterable[float]) -> float:
    """The midpoint between ``excluded`` and the lowest of ``confidences`` above it, at least
    :data:`ROUNDING_MARGIN` above ``excluded``: :func:`between` mirrored, for a cut that
    must leave ``excluded`` out rather than keep it."""
    higher = [v for values in confidences for v in values if v > excluded + ROUNDING_MARGIN]
    if not higher:
        return excluded + ROUNDING_MARGIN
    return max((excluded + min(higher)) / 2, excluded + ROUNDING_MARGIN)


def fit_claim(
    model: RefusalModel, samples: list[Sample], limits: dict[str, float] | None = None
) -> RefusalModel:
    """``model`` with its claim threshold fitted on ``samples`` (each group's limit in
    ``limits``, else :data:`TARGET_FALSE_CLAIMS`), never below its refusal threshold."""
    unanswerable: dict[str, list[float]] = {}
    answerable: list[float] = []
    for sample in samples:  # read as serving reads them
        p = model.confidence(sample.signals)
        if sample.answerable:
            answerable.append(p)
        else:
            unanswerable.setdefault(sample.group, []).append(p)
    claim = claim_threshold_for(unanswerable, limits or {}, answerable)
    return replace(model, claim_threshold=max(claim, model.threshold))


def fit_refusal(
    samples: list[Sample],
    target: float = TARGET_FALSE_REFUSALS,
    l2: float = 1.0,
    reranker: str = PASSAGE_MODEL,
    signals: tuple[str, ...] = SIGNALS,
) -> RefusalModel:
    """Fit the weights (every group weighs the same); set the threshold by :func:`threshold_for`."""
    answerable = sum(s.answerable for s in samples)
    if answerable < 3 or len(samples) - answerable < 3:
        raise CalibrationError(
            "Calibration needs at least 3 answerable and 3 unanswerable probe questions "
            f"(got {answerable} and {len(samples) - answerable})."
        )
    groups = {s.group: 0 for s in samples}
    for s in samples:
        groups[s.group] += 1
    features = np.array([[s.signals.get(name, 0.0) for name in signals] for s in samples])
    labels = np.array([s.answerable for s in samples])
    weights = np.array([1.0 / groups[s.group] for s in samples])
    model = fit_logistic(features, labels, weights, l2=l2)
    unfitted = RefusalModel(model, 0.0, signals, groups, reranker)
    return replace(unfitted, threshold=refusal_cut(unfitted, samples, target))


def refusal_cut(
    model: RefusalModel, samples: list[Sample], target: float = TARGET_FALSE_REFUSALS
) -> float:
    """:func:`threshold_for` on ``model``'s confidence in each of ``samples``."""
    probabilities: dict[str, list[float]] = {}
    refused: list[float] = []
    for sample in samples:  # read as serving reads them: one code path, one rounding
        p = model.confidence(sample.signals)
        if sample.answerable:
            probabilities.setdefault(sample.group, []).append(p)
        else:
            refused.append(p)
    return threshold_for(probabilities, target, refused)
