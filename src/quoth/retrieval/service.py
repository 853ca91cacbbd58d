"""The answering service: the one entry point every front end (CLI, Telegram, Discord) uses.

It holds the loaded index and the embedder; ``swap`` replaces the index in one reference
assignment, so a reindex never interrupts questions being answered from the old one.
"""

from __future__ import annotations

from dataclasses import dataclass

from quoth.index.embedder import Embedder
from quoth.index.store import IndexData
from quoth.retrieval.answer import Answer, QuestionError
from quoth.retrieval.quotes import build_quote, group_hits
from quoth.retrieval.ranking import Hit, rank_passages


@dataclass(frozen=True, slots=True)
class RetrievalOptions:
    top_k: int = 3
    candidates: int = 20
    min_score: float = 0.46
    max_question_chars: int = 500
    secondary_margin: float = 0.12
    """Quotes after the first must score within this of the best one to be shown unasked."""


def clean_question(question: str, max_chars: int) -> str:
    """Normalise whitespace and reject what cannot be a question, with a reason to show."""
    cleaned = " ".join(question.split())
    if not cleaned:
        raise QuestionError("Please type a question.")
    if len(cleaned) > max_chars:
        raise QuestionError(
            f"That question is {len(cleaned)} characters long; please keep it under {max_chars}."
        )
    return cleaned


class AnsweringService:
    """Question in, quotes (or a refusal) out; safe to call from several threads."""

    def __init__(self, index: IndexData, embedder: Embedder, options: RetrievalOptions) -> None:
        self._index = index
        self._embedder = embedder
        self.options = options

    @property
    def index(self) -> IndexData:
        return self._index

    @property
    def embedder(self) -> Embedder:
        return self._embedder

    def swap(self, index: IndexData) -> None:
        """Serve from ``index`` from now on; answers already running finish on the old one."""
        self._index = index

    def search(self, question: str, index: IndexData | None = None) -> list[Hit]:
        """Ranked candidate passages for a question (used by answers and by evaluation)."""
        index = index or self._index
        cleaned = clean_question(question, self.options.max_question_chars)
        query = self._embedder.encode([cleaned])[0]
        return rank_passages(index, query, self.options.candidates)

    def answer(self, question: str, limit: int | None = None, offset: int = 0) -> Answer:
        """Quotes ``offset .. offset+limit`` of the answer, or a refusal when nothing is relevant.

        Raises :class:`QuestionError` for input that is not a question.
        """
        index = self._index  # one snapshot for the whole answer, even if swapped meanwhile
        cleaned = clean_question(question, self.options.max_question_chars)
        hits = self.search(cleaned, index)
        top = hits[0].score if hits else 0.0
        if top < self.options.min_score:
            return Answer(question=cleaned, answered=False, top_score=top)
        limit = limit or self.options.top_k
        groups = group_hits(index, hits, self.options.min_score)
        chosen = groups[offset : offset + limit]
        if offset == 0:  # the first page shows only quotes nearly as good as the best
            floor = top - self.options.secondary_margin
            chosen = [chosen[0], *(g for g in chosen[1:] if g.score >= floor)]
        next_offset = offset + len(chosen)
        return Answer(
            question=cleaned,
            answered=True,
            quotes=[build_quote(index, group) for group in chosen],
            top_score=top,
            next_offset=next_offset if len(groups) > next_offset else None,
        )
