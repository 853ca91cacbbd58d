"""Measuring an answer model on held-out articles: does it pick the answering sentence, does
its score tell answerable from unanswerable, does it find the answer phrase.

Runs where serving runs (it reads the exported ONNX model through quoth's own reader), so the
figures are those of the shipped file, int8 and all.
"""

from __future__ import annotations

import collections
import math
from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

from quoth.retrieval.answer_input import candidate_text
from quoth.retrieval.phrase import Phrase, exact_match, token_f1
from quoth.training.examples import Candidate, ValidationCase
from quoth.training.train import Row

Scorer = Callable[[str, list[str]], npt.NDArray[np.float32]]
"""(question, candidate texts) -> one logit per text."""
Reader = Callable[[str, list[str]], tuple[npt.NDArray[np.float32], list[Phrase | None]]]
"""(question, candidate texts) -> one logit and one phrase (or None) per text."""


def _texts(candidates: tuple[Candidate, ...]) -> list[str]:
    return [candidate_text(c.sentence, c.before, c.after) for c in candidates]


def roc_auc(positives: list[float], negatives: list[float]) -> float:
    """The chance that a positive outscores a negative (ties count half)."""
    if not positives or not negatives:
        return math.nan
    values = np.concatenate([np.asarray(positives, float), np.asarray(negatives, float)])
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    # each distinct value's average rank (1-based), so ties count half
    average = np.cumsum(counts) - (counts - 1) / 2
    ranks = average[inverse][: len(positives)]
    n_pos, n_neg = len(positives), len(negatives)
    return float((ranks.sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def validate(score: Scorer, cases: list[ValidationCase]) -> dict[str, float]:
    """On held-out articles: how often the answering sentence is the paragraph's best
    (``marked``); how well the best score tells the paragraph from the paragraph without its
    answer (``removed_auc``); how well the answering sentence's score tells the question from
    one with a name or number swapped (``perturbed_auc``)."""
    hits, best_with, best_without, original, swapped = 0, [], [], [], []
    for case in cases:
        scores = score(case.question, _texts(case.candidates))
        hits += int(np.argmax(scores)) == case.answer
        best_with.append(float(scores.max()))
        best_without.append(float(score(case.question, _texts(case.removed)).max()))
        if case.perturbed is not None:
            answer = case.candidates[case.answer]
            original.append(float(scores[case.answer]))
            swapped.append(float(score(case.perturbed, _texts((answer,)))[0]))
    return {
        "questions": len(cases),
        "marked": round(hits / max(1, len(cases)), 4),
        "removed_auc": round(roc_auc(best_with, best_without), 4),
        "perturbed_auc": round(roc_auc(original, swapped), 4),
        "perturbed_questions": len(swapped),
    }


def separation(read: Reader, rows: Sequence[Row], batch: int = 32) -> dict[str, object]:
    """On held-out rows (one question against one sentence each): each negative kind's ROC AUC
    against the answering sentences, real unanswerable questions (``impossible``) first; and the
    phrase found in each answering sentence against its gold span (exact match, token F1)."""
    scores: dict[str, list[float]] = collections.defaultdict(list)
    exact, f1, probabilities = [], [], []
    by_question: dict[str, list[int]] = collections.defaultdict(list)
    for i, row in enumerate(rows):
        by_question[row.question].append(i)
    for question, numbers in by_question.items():
        for first in range(0, len(numbers), batch):
            part = [rows[i] for i in numbers[first : first + batch]]
            logits, phrases = read(question, [r.text for r in part])
            for row, logit, phrase in zip(part, logits.tolist(), phrases, strict=True):
                scores[row.kind].append(logit)
                if row.kind == "answer" and row.span is not None:
                    gold = row.text[row.span[0] : row.span[1]]
                    found = "" if phrase is None else row.text[phrase.start : phrase.end]
                    exact.append(float(exact_match(found, [gold])))
                    f1.append(token_f1(found, [gold]))
                    probabilities.append(0.0 if phrase is None else phrase.probability)
    positives = scores.pop("answer", [])
    kinds = sorted(scores, key=lambda k: (k != "impossible", k))
    return {
        "answers": len(positives),
        "auc": {k: round(roc_auc(positives, scores[k]), 4) for k in kinds},
        "negatives": {k: len(scores[k]) for k in kinds},
        "phrase_exact": round(float(np.mean(exact)), 4) if exact else math.nan,
        "phrase_f1": round(float(np.mean(f1)), 4) if f1 else math.nan,
        "phrases": len(exact),
    }
