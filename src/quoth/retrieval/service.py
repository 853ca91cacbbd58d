"""The answering service: the one entry point every front end (CLI, Telegram, Discord) uses.

It holds the loaded index, the embedder and the optional reranker; ``swap`` replaces the
index in one reference assignment, so a reindex never interrupts questions being answered
from the old one.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from quoth.index.embedder import Embedder, normalise
from quoth.index.reader import IndexReader
from quoth.index.vectors import search_on_one_thread
from quoth.language import detect
from quoth.retrieval.answer import Answer, AnswerState, Quote
from quoth.retrieval.followup import Reading, Turn, read_in_context
from quoth.retrieval.phrase import Phrase, shown_phrase
from quoth.retrieval.question import clean_question
from quoth.retrieval.quotes import build_quote, group_hits
from quoth.retrieval.ranking import (
    CALIBRATION,
    MODES,
    Calibration,
    Hit,
    Query,
    Reranked,
    dense_hits,
    hybrid_hits,
    lexical_hits,
    make_query,
    rerank_hits,
)
from quoth.retrieval.refusal import RefusalModel, default_refusal
from quoth.retrieval.rerank import Reranker

if TYPE_CHECKING:
    from quoth.retrieval.crosslingual import CrossLingual

log = logging.getLogger("quoth.retrieval")
WARM_QUESTIONS = 16
"""Recent questions searched on a new index before it serves: its pages are read then (a
database's vector lists and postings, the files' mapped pages), not by the first askers."""
SECONDARY_MARGIN = 0.5
"""Across languages, further first-page quotes must be this close to the best confidence."""


@dataclass(frozen=True, slots=True)
class RetrievalOptions:
    top_k: int = 3
    candidates: int = 20
    mode: str = "rerank"
    fusion: str = "rrf"
    rerank_candidates: int = 4
    read_further: int = 4
    """More sentences read where the first read leaves the confidence between the cuts."""
    min_score: float | None = None
    """Refusal threshold in the active mode's units (in ``rerank`` mode the least confidence,
    0 to 1); None uses the calibrated one."""
    min_claim: float | None = None
    """The least confidence (``rerank`` mode, 0 to 1) at which the best quote is shown as the
    answer rather than as the closest passage; None uses the calibrated one."""
    max_question_chars: int = 500


class AnsweringService:
    """Question in, quotes (or a refusal) out; safe to call from several threads."""

    def __init__(
        self,
        index: IndexReader,
        embedder: Embedder,
        options: RetrievalOptions,
        reranker: Reranker | None = None,
        refusal: RefusalModel | None = None,
        crosslingual: CrossLingual | None = None,
    ) -> None:
        self._index = index
        self._embedder = embedder
        self.reranker = reranker
        self.refusal = refusal or default_refusal(reranker)
        self.options = options
        self.crosslingual = crosslingual
        self._recent: deque[Query] = deque(maxlen=WARM_QUESTIONS)
        self.reads_further: Callable[[dict[str, float]], bool] = self.unsure
        """When the reranker reads further: :meth:`unsure` (calibration reads both ways)."""
        search_on_one_thread()

    def prepare(self, index: IndexReader) -> None:
        """Get ``index`` ready to serve, before :meth:`swap`, in a worker thread: questions in
        other languages (embeds what the cache lacks), and the recent questions' searches run
        on it once, so that what answers read is warm when the first askers arrive."""
        if self.crosslingual is not None:
            self.crosslingual.prepare(index)
        self.warm(index)

    def warm(self, index: IndexReader) -> int:
        """Search ``index`` with the recent questions (vectors and terms kept in memory, never
        written anywhere); returns how many. A failure only loses the warming."""
        recent = list(self._recent)
        try:
            for query in recent:
                hybrid_hits(index, query, self.options.candidates, self.options.fusion)
        except Exception as error:  # a database error too: the index still serves, colder
            log.warning("warming the new index failed: %s", type(error).__name__)
            return 0
        return len(recent)

    @property
    def index(self) -> IndexReader:
        return self._index

    @property
    def embedder(self) -> Embedder:
        return self._embedder

    def swap(self, index: IndexReader) -> None:
        """Serve from ``index`` from now on; answers already running finish on the old one."""
        self._index = index

    def effective_mode(self, mode: str | None = None) -> str:
        mode = mode or self.options.mode
        if mode not in MODES:
            raise ValueError(f"unknown retrieval mode {mode!r}; use one of {', '.join(MODES)}")
        return "hybrid" if mode == "rerank" and self.reranker is None else mode

    def calibration(self, mode: str | None = None) -> Calibration:
        default = CALIBRATION[self.effective_mode(mode)]
        if self.options.min_score is None or self.effective_mode(mode) == "rerank":
            return default
        return Calibration(self.options.min_score, default.secondary_margin)

    def threshold(self, mode: str | None = None) -> float:
        """The score an answer must reach: in ``rerank`` mode, the refusal model's confidence."""
        if self.effective_mode(mode) != "rerank":
            return self.calibration(mode).min_score
        if self.options.min_score is not None:
            return self.options.min_score
        return self.refusal.threshold

    def claim_threshold(self, mode: str | None = None) -> float:
        """The confidence at which the best quote is claimed as the answer (bold): in
        ``rerank`` mode the refusal model's claim cut, never below the refusal threshold;
        other modes have no calibrated confidence, so whatever is not refused is claimed."""
        refuse = self.threshold(mode)
        if self.effective_mode(mode) != "rerank":
            return refuse
        claim = self.options.min_claim
        return max(refuse, self.refusal.claim_threshold if claim is None else claim)

    def state(self, confidence: float, mode: str | None = None) -> AnswerState:
        """The answer state a confidence earns: refused, closest passages, or the answer."""
        if confidence < self.threshold(mode):
            return AnswerState.REFUSED
        if confidence < self.claim_threshold(mode):
            return AnswerState.CLOSEST
        return AnswerState.ANSWER

    def unsure(self, signals: dict[str, float]) -> bool:
        """Whether a first read's signals fall between the cuts (closest passages; the
        fit's own range for that, unless the cuts are set by hand): only then does the
        reranker read further. A question refused on its first read stays
        refused: read further, unanswerable ones rose into the closest passages as often
        as answerable ones were saved."""
        confidence = self.refusal.confidence(signals)
        if self.options.min_score is None and self.options.min_claim is None:
            return self.refusal.unsure(confidence)
        return self.threshold("rerank") <= confidence < self.claim_threshold("rerank")

    def rank(
        self,
        question: str,
        mode: str | None = None,
        index: IndexReader | None = None,
        timings: dict[str, float] | None = None,
    ) -> Reranked:
        """Ranked candidate passages, with what reranking judged (in ``rerank`` mode).

        ``timings``, when given, receives the milliseconds spent per stage.
        """
        index = index or self._index
        mode = self.effective_mode(mode)
        clock = _Stopwatch(timings)
        cleaned = clean_question(question, self.options.max_question_chars)
        query = make_query(cleaned, self._embedder.encode([cleaned])[0])
        self._recent.append(Query("", query.vector, query.terms))
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
            reranked = rerank_hits(
                index,
                query,
                hits,
                self.reranker,
                self.options.rerank_candidates,
                self.options.read_further,
                self.reads_further,
            )
            clock.lap("rerank")
            return reranked
        return Reranked(hits, [], {})

    def search(self, question: str, mode: str | None = None) -> list[Hit]:
        """Ranked candidate passages for a question (evaluation finds the evidence's rank)."""
        return self.rank(question, mode).hits

    def confidence(self, ranked: Reranked, mode: str | None = None) -> float:
        """How sure quoth is that the corpus answers: the refusal model's probability where
        reranking ran, else the best hit's score in the mode's units."""
        if self.effective_mode(mode) == "rerank" and ranked.signals:
            return self.refusal.confidence(ranked.signals)
        return ranked.hits[0].score if ranked.hits else 0.0

    def read(self, question: str, context: Sequence[Turn] = ()) -> Reading:
        """How ``question`` reads after the turns of ``context`` (oldest first): a follow-up
        resolved, or the question as sent. "What about X?" puts X in place of the span of
        the last question whose embedding is nearest (a country for a country)."""
        cleaned = clean_question(question, self.options.max_question_chars)
        if not context:
            return read_in_context(cleaned, ())
        return read_in_context(cleaned, context, self._nearest)

    def _nearest(self, new: str, spans: Sequence[str]) -> int:
        vectors = normalise(np.asarray(self._embedder.encode([new, *spans]), dtype=np.float32))
        return int((vectors[1:] @ vectors[0]).argmax())

    def answer(
        self,
        question: str,
        limit: int | None = None,
        offset: int = 0,
        mode: str | None = None,
        context: Sequence[Turn] = (),
    ) -> Answer:
        """Quotes ``offset .. offset+limit`` of the answer, or a refusal when nothing is relevant.

        ``context``: the turns of the conversation before it, oldest first; a follow-up is
        answered as read from them (``Answer.read_as``), a question that stands alone exactly
        as without them. Raises :class:`QuestionError` for input that is not a question.
        """
        reading = self.read(question, context)
        if not reading.follow_up:
            return self._answer(question, limit, offset, mode)
        answer = self._answer(reading.question, limit, offset, mode)
        read_as = reading.question if reading.resolved else None
        return replace(answer, read_as=read_as, follow_up=reading.kind)

    def _answer(self, question: str, limit: int | None, offset: int, mode: str | None) -> Answer:
        index = self._index  # one snapshot for the whole answer, even if swapped meanwhile
        calibration = self.calibration(mode)
        cleaned = clean_question(question, self.options.max_question_chars)
        crosslingual = self.crosslingual
        if crosslingual is not None and crosslingual.ready(index):
            language = detect(cleaned)
            if not language.english:
                return self._answer_across(
                    crosslingual, index, cleaned, language.code, limit, offset
                )
        timings: dict[str, float] = {}
        ranked = self.rank(cleaned, mode, index, timings)
        hits = ranked.hits
        confidence = self.confidence(ranked, mode)
        state = self.state(confidence, mode) if hits else AnswerState.REFUSED
        if state is AnswerState.REFUSED:
            return Answer(
                cleaned, state, top_score=confidence, timings=timings, signals=ranked.signals
            )
        clock = _Stopwatch(timings)
        limit = limit or self.options.top_k
        groups = group_hits(index, hits, calibration.min_score)
        chosen = groups[offset : offset + limit]
        if offset == 0:  # the first page shows only quotes nearly as good as the best
            floor = hits[0].score - calibration.secondary_margin
            chosen = [chosen[0], *(g for g in chosen[1:] if g.score >= floor)]
        next_offset = offset + len(chosen)
        # a phrase is underlined only in a claimed answer: closest passages claim nothing
        claimed = state is AnswerState.ANSWER
        phrases = {j.sentence: j.phrase for j in ranked.judged} if claimed else {}
        quotes = [
            self._underlined(build_quote(index, group), phrases.get(group.best_sentence))
            for group in chosen
        ]
        clock.lap("quote")
        return Answer(
            question=cleaned,
            state=state,
            quotes=quotes,
            top_score=confidence,
            next_offset=next_offset if len(groups) > next_offset else None,
            timings=timings,
            signals=ranked.signals,
        )

    def _underlined(self, quote: Quote, phrase: Phrase | None) -> Quote:
        """The quote with its answer phrase, where the answer model found one it is sure of."""
        shown = shown_phrase(quote.sentence, phrase, self.refusal.phrase_threshold)
        return quote if shown is None else replace(quote, phrase=shown)

    def _answer_across(
        self,
        crosslingual: CrossLingual,
        index: IndexReader,
        question: str,
        language: str,
        limit: int | None,
        offset: int,
    ) -> Answer:
        """A question in another language than English: see :mod:`quoth.retrieval.crosslingual`."""
        timings: dict[str, float] = {}
        clock = _Stopwatch(timings)
        hits, confidence = crosslingual.rank(index, question, language, self.options.candidates)
        clock.lap("search")
        if not hits or confidence < crosslingual.threshold:
            refused = AnswerState.REFUSED
            return Answer(
                question, refused, top_score=confidence, timings=timings, language=language
            )
        groups = group_hits(index, hits, crosslingual.threshold)
        chosen = groups[offset : offset + (limit or self.options.top_k)]
        if offset == 0:
            floor = hits[0].score - SECONDARY_MARGIN
            chosen = [chosen[0], *(g for g in chosen[1:] if g.score >= floor)]
        next_offset = offset + len(chosen)
        quotes = [build_quote(index, group) for group in chosen]
        clock.lap("quote")
        return Answer(
            question,
            AnswerState.ANSWER,  # its own calibrated cut: answers across languages stay opt-in
            quotes,
            confidence,
            next_offset if len(groups) > next_offset else None,
            timings,
            language,
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
