"""The answer phrase: the best span of the sentence's tokens, when it is shown, how it scores."""

from __future__ import annotations

import numpy as np
import pytest

from quoth.retrieval.phrase import (
    MAX_PHRASE_TOKENS,
    NEVER_SHOWN,
    Phrase,
    best_phrase,
    exact_match,
    shown_phrase,
    token_f1,
)

SENTENCE = "It flows east for 212 kilometres."
# tokens: [CLS] q q [SEP] It flows east for 212 kilometres . [SEP]
OFFSETS = [(0, 0), (0, 3), (4, 8), (0, 0), (0, 2), (3, 8), (9, 13), (14, 17), (18, 21),
           (22, 32), (32, 33), (0, 0)]  # fmt: skip
ALLOWED = [False] * 4 + [True] * 7 + [False]


def logits(peaks: dict[int, float]) -> np.ndarray:
    values = np.zeros(len(OFFSETS))
    for position, value in peaks.items():
        values[position] = value
    return values


def test_the_best_span_of_the_sentence_tokens_in_characters() -> None:
    phrase = best_phrase(logits({8: 9.0}), logits({9: 9.0}), ALLOWED, OFFSETS)
    assert phrase is not None
    assert SENTENCE[phrase.start : phrase.end] == "212 kilometres"
    assert 0.9 < phrase.probability <= 1.0


def test_the_question_and_special_tokens_never_hold_the_phrase() -> None:
    """The question's tokens score highest here, yet only the sentence may hold the phrase;
    and an end before the start is no span."""
    phrase = best_phrase(logits({1: 20.0, 7: 3.0}), logits({2: 20.0, 5: 5.0, 9: 4.0}), ALLOWED,
                         OFFSETS)  # fmt: skip
    assert phrase is not None and SENTENCE[phrase.start : phrase.end] == "for 212 kilometres"
    assert best_phrase(logits({}), logits({}), [False] * len(OFFSETS), OFFSETS) is None


def test_a_phrase_is_never_longer_than_the_limit() -> None:
    many = [(i, i + 1) for i in range(2 * MAX_PHRASE_TOKENS)]
    start, end = np.zeros(len(many)), np.zeros(len(many))
    start[0], end[-1] = 10.0, 10.0
    phrase = best_phrase(start, end, [True] * len(many), many)
    assert phrase is not None and phrase.end - phrase.start <= MAX_PHRASE_TOKENS


def test_shown_only_above_the_threshold() -> None:
    sure, unsure = Phrase(18, 32, 0.8), Phrase(18, 32, 0.2)
    shown = shown_phrase(SENTENCE, sure, 0.5)
    assert shown is not None and (shown.text, shown.start, shown.end) == ("212 kilometres", 18, 32)
    assert shown_phrase(SENTENCE, unsure, 0.5) is None
    assert shown_phrase(SENTENCE, None, 0.0) is None
    assert shown_phrase(SENTENCE, Phrase(2, 3, 1.0), 0.0) is None  # only a space
    assert shown_phrase(SENTENCE, Phrase(18, 32, 1.0), NEVER_SHOWN) is None


@pytest.mark.parametrize(
    ("found", "answers", "exact", "f1"),
    [
        ("the 212 kilometres", ["212 kilometres"], True, 1.0),
        ("212", ["212 kilometres"], False, 2 / 3),
        ("Marrow", ["212 kilometres", "Marrow."], True, 1.0),
        ("east", ["212 kilometres"], False, 0.0),
    ],
)
def test_scored_as_squad_scores_answers(
    found: str, answers: list[str], exact: bool, f1: float
) -> None:
    assert exact_match(found, answers) is exact
    assert token_f1(found, answers) == pytest.approx(f1)
