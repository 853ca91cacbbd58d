"""The answering service: the one entry point every front end (CLI, Telegram, Discord) uses.

It holds the loaded index, the embedder and the optional reranker; ``swap`` replaces the
index in one reference assignment, so a reindex never interrupts questions being answered
from the old one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from quoth.index.embedder import Embedder
from quoth.index.store import IndexData
from quoth.index.vectors import search_on_one_thread
from quoth.retrieval.answer import Answer
from quoth.retrieval.question import clean_question
from quoth.retrieval.quotes import build_quote, group_hits
from quoth.retrieval.ranking import (
    CALIBRATION,
    MODES,
    Calibration,
    Hit,
    dense_hits,
    hybrid_hits,
    lexical_hits,
    make_query,
    rerank_hits,
)
from quoth.retrieval.rerank import Reranker


@dataclass(frozen=True, slots=True)
class RetrievalOptions:
    top_k: int = 3
    candidates: int = 20
    mode: str = "rerank"
    fusion: str = "rrf"
    rerank_candidates: int = 4
    min_score: float | None = None
    """Refusal threshold in the active mode's units; None uses the calibrated default."""
    max_question_chars: int = 500


class AnsweringService:
    """Question in, quotes (or a refusal) out; safe to call from several threads."""

    def __init__(
        self,
        index: IndexData,
        embedder: Embedder,
        options: RetrievalOptions,
        reranker: Reranker | None = None,
    ) -> None:
        self._index = index
        self._embedder = embedder
        self.reranker = reranker
        self.options = options
        search_on_one_thread()

    @property
    def index(self) -> IndexData:
        return self._index

    @property
    def embedder(self) -> Embedder:
        return self._embedder

    def swap(self, index: IndexData) -> None:
        """Serve from ``index`` from now on; answers already running finish on the old one."""
        self._index = index

    def effective_mode(self, mode: str | None = None) -> str:
        mode = mode or self.options.mode
        if mode not in MODES:
            raise ValueError(f"unknown retrieval mode {mode!r}; use one of {', '.join(MODES)}")
        return "hybrid" if mode == "rerank" and self.reranker is None else mode

    def calibration(self, mode: str | None = None) -> Calibration:
        default = CALIBRATION[self.effective_mode(mode)]
        if self.options.min_score is None:
            return default
        return Calibration(self.options.min_score, default.secondary_margin)

    def search(
        self,
        question: str,
        mode: str | None = None,
        index: IndexData | None = None,
        timings: dict[str, float] | None = None,
    ) -> list[Hit]:
        """Ranked candidate passages for a question (used by answers and by evaluation).

        ``timings``, when given, receives the milliseconds spent per stage.
        """
        index = index or self._index
        mode = self.effective_mode(mode)
        clock = _Stopwatch(timings)
        cleaned = clean_question(question, self.options.max_question_chars)
        query = make_query(cleaned, self._embedder.encode([cleaned])[0])
        clock.lap("encode")
        n = self.options.candidates
        if mode == "dense":
            hits = dense_hits(index, query, n)
        elif mode == "bm25":
            hits = lexical_hits(index, query, n)
        else:
            hits = hybrid_hits(index, query, n, self.options.fusion)
        clock.lap("search")
        if mode == "rerank" and self.reranker is not None:
            hits = rerank_hits(index, query, hits, self.reranker, self.options.rerank_candidates)
            clock.lap("rerank")
        return hits

    def answer(
        self, question: str, limit: int | None = None, offset: int = 0, mode: str | None = None
    ) -> Answer:
        """Quotes ``offset .. offset+limit`` of the answer, or a refusal when nothing is relevant.

        Raises :class:`QuestionError` for input that is not a question.
        """
        index = self._index  # one snapshot for the whole answer, even if swapped meanwhile
        calibration = self.calibration(mode)
        cleaned = clean_question(question, self.options.max_question_chars)
        timings: dict[str, float] = {}
        hits = self.search(cleaned, mode, index, timings)
        clock = _Stopwatch(timings)
        top = hits[0].score if hits else 0.0
        if top < calibration.min_score:
            return Answer(question=cleaned, answered=False, top_score=top, timings=timings)
        limit = limit or self.options.top_k
        groups = group_hits(index, hits, calibration.min_score)
        chosen = groups[offset : offset + limit]
        if offset == 0:  # the first page shows only quotes nearly as good as the best
            floor = top - calibration.secondary_margin
            chosen = [chosen[0], *(g for g in chosen[1:] if g.score >= floor)]
        next_offset = offset + len(chosen)
        quotes = [build_quote(index, group) for group in chosen]
        clock.lap("quote")
        return Answer(
            question=cleaned,
            answered=True,
            quotes=quotes,
            top_score=top,
            next_offset=next_offset if len(groups) > next_offset else None,
            timings=timings,
        )


class _Stopwatch:
    """Adds the milliseconds since the previous lap to a named stage, when asked to."""

    def __init__(self, timings: dict[str, float] | None) -> None:
        self._timings = timings
        self._last = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        if self._timings is not None:
            self._timings[stage] = self._timings.get(stage, 0.0) + (now - self._last) * 1000
        self._last = now
