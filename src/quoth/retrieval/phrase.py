"""The answer phrase inside a marked sentence, read from the answer model's second head.

quoth-answer gives, besides its sentence logit, a start and an end logit for every token. The
phrase is the best-scoring span of the candidate sentence's own tokens (start before end, at
most :data:`MAX_PHRASE_TOKENS` long); its probability is the product of the start and end
probabilities over those tokens. It is shown only above a threshold fitted on the development
files (stored with the refusal decision, ``phrase_threshold``): a phrase that is likely wrong
would underline the wrong words of a right sentence.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

MAX_PHRASE_TOKENS = 30


@dataclass(frozen=True, slots=True)
class Phrase:
    """Where the answer phrase lies in the text the model read (character offsets)."""

    start: int
    end: int
    probability: float


@dataclass(frozen=True, slots=True)
class MarkedPhrase:
    """The answer phrase as shown: its text and where it lies in the quote's marked sentence
    (character offsets into ``Quote.sentence``), with the model's probability for it."""

    text: str
    start: int
    end: int
    probability: float


NEVER_SHOWN = 2.0
"""The phrase threshold of a model with no fitted one: no probability reaches it."""


def shown_phrase(sentence: str, phrase: Phrase | None, threshold: float) -> MarkedPhrase | None:
    """The phrase to underline in ``sentence``, or None when there is none, it is too unsure
    (below ``threshold``), or it is only whitespace."""
    if phrase is None or phrase.probability < threshold:
        return None
    start, end = phrase.start, min(phrase.end, len(sentence))
    if not sentence[start:end].strip():
        return None
    return MarkedPhrase(sentence[start:end], start, end, round(phrase.probability, 4))


def _log_softmax(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    shifted = values - values.max()
    result: npt.NDArray[np.float64] = shifted - np.log(np.exp(shifted).sum())
    return result


def best_phrase(
    start_logits: npt.NDArray[np.floating], end_logits: npt.NDArray[np.floating],
    allowed: list[bool], offsets: list[tuple[int, int]],
) -> Phrase | None:  # fmt: skip
    """The most probable span of the ``allowed`` tokens, as character offsets; None when no
    token may hold one."""
    positions = np.flatnonzero(np.asarray(allowed[: len(start_logits)], dtype=bool))
    if not len(positions):
        return None
    starts = _log_softmax(np.asarray(start_logits, np.float64)[positions])
    ends = _log_softmax(np.asarray(end_logits, np.float64)[positions])
    joint = starts[:, None] + ends[None, :]
    gap = positions[None, :] - positions[:, None]
    joint[(gap < 0) | (gap >= MAX_PHRASE_TOKENS)] = -np.inf
    first, last = np.unravel_index(int(np.argmax(joint)), joint.shape)
    start, end = offsets[positions[first]][0], offsets[positions[last]][1]
    return Phrase(int(start), int(end), float(np.exp(joint[first, last])))


_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = set(string.punctuation)


def normalise_answer(text: str) -> str:
    """SQuAD's answer normalisation: lower case, no punctuation, no articles, single spaces."""
    text = "".join(c for c in text.lower() if c not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(found: str, answers: list[str]) -> bool:
    """Whether the phrase is one of the given answers, as SQuAD scores it."""
    return any(normalise_answer(found) == normalise_answer(a) for a in answers)


def token_f1(found: str, answers: list[str]) -> float:
    """SQuAD's token F1 of the phrase against the best-matching given answer."""
    best = 0.0
    tokens = normalise_answer(found).split()
    for answer in answers:
        gold = normalise_answer(answer).split()
        common = sum((Counter(tokens) & Counter(gold)).values())
        if not tokens or not gold:
            best = max(best, float(tokens == gold))
        elif common:
            precision, recall = common / len(tokens), common / len(gold)
            best = max(best, 2 * precision * recall / (precision + recall))
    return best
