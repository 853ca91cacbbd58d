"""Why quoth answered, showed the closest passages, or refused: each stage's candidates, the
confidence and what it was computed from, and both thresholds it was held against.

A moderator who sees a question go unanswered needs to know whether the passage was never
found, found but not judged an answer, or judged one too weakly to pass a threshold.
"""

from __future__ import annotations

from dataclasses import dataclass

from quoth.index.reader import article_text
from quoth.retrieval.answer import AnswerState
from quoth.retrieval.answer_type import question_type
from quoth.retrieval.question import clean_question
from quoth.retrieval.ranking import JudgedSentence, Reranked
from quoth.retrieval.service import AnsweringService

SHOWN_PASSAGES = 8


@dataclass(frozen=True, slots=True)
class PassageLine:
    passage_id: str
    document_id: str
    score: float
    marked: str


@dataclass(frozen=True, slots=True)
class SentenceLine:
    document_id: str
    sentence: str
    judged: JudgedSentence


@dataclass(frozen=True, slots=True)
class Explanation:
    question: str
    question_type: str
    mode: str
    reranker: str | None
    """The model that read the sentences (``QUOTH_RERANKER``), when reranking ran."""
    passages: list[PassageLine]
    sentences: list[SentenceLine]
    signals: dict[str, float]
    confidence: float
    threshold: float
    """Below it: refused."""
    claim_threshold: float
    """From it up: the answer, in bold; between the two, the closest passages."""
    state: AnswerState
    reason: str

    @property
    def answered(self) -> bool:
        return self.state is AnswerState.ANSWER


def _sentence_text(service: AnsweringService, sentence: int) -> tuple[str, str]:
    index = service.index
    span = index.sentence_span(sentence)
    return index.article(span.doc).id, article_text(index, span)


VERDICTS = {
    AnswerState.ANSWER: "answered (bold)",
    AnswerState.CLOSEST: "closest passages, no claim",
    AnswerState.REFUSED: "refused",
}


def _reason(
    state: AnswerState,
    confidence: float,
    cuts: tuple[float, float],
    signals: dict[str, float],
    read: tuple[str, ...],
) -> str:
    """The verdict, the confidence between (or beyond) the two cuts, and the signals the
    confidence was computed from (the fit's own first, then the others it could read)."""
    refuse, claim = cuts
    where = (
        f"< refuse {refuse:.3f}"
        if state is AnswerState.REFUSED
        else f">= claim {claim:.3f}"
        if state is AnswerState.ANSWER
        else f"between refuse {refuse:.3f} and claim {claim:.3f}"
    )
    kind = "confidence" if signals else "best passage score"
    text = f"{VERDICTS[state]}: {kind} {confidence:.3f} {where}"
    if not signals:
        return text
    used = ", ".join(f"{name} {signals.get(name, 0.0):.2f}" for name in read)
    rest = ", ".join(f"{k} {v:.2f}" for k, v in signals.items() if k not in read)
    return f"{text}; computed from {used}" + (f" (also measured: {rest})" if rest else "")


def explain(service: AnsweringService, question: str, mode: str | None = None) -> Explanation:
    """Run one question through the stages ``answer`` runs, keeping what each one saw."""
    index = service.index
    cleaned = clean_question(question, service.options.max_question_chars)
    ranked = service.rank(cleaned, mode, index)
    confidence = service.confidence(ranked, mode)
    threshold = service.threshold(mode)
    claim = service.claim_threshold(mode)
    state = service.state(confidence, mode) if ranked.hits else AnswerState.REFUSED
    passages = []
    for hit in ranked.hits[:SHOWN_PASSAGES]:
        document_id, marked = _sentence_text(service, hit.best_sentence)
        passages.append(
            PassageLine(index.passage_id(hit.row), document_id, round(hit.score, 3), marked)
        )
    sentences = []
    for judged in ranked.judged:
        document_id, text = _sentence_text(service, judged.sentence)
        sentences.append(SentenceLine(document_id, text, judged))
    return Explanation(
        question=cleaned,
        question_type=question_type(cleaned).value,
        mode=service.effective_mode(mode),
        reranker=service.reranker.name if ranked.judged and service.reranker else None,
        passages=passages,
        sentences=sentences,
        signals={name: round(value, 3) for name, value in ranked.signals.items()},
        confidence=round(confidence, 4),
        threshold=round(threshold, 4),
        claim_threshold=round(claim, 4),
        state=state,
        reason=_reason(
            state, confidence, (threshold, claim), ranked.signals, service.refusal.signals
        )
        + _further(service, ranked),
    )


def _further(service: AnsweringService, ranked: Reranked) -> str:
    """Where the reranker read further, what the first read alone would have given."""
    if ranked.first_signals is None:
        return ""
    first = service.refusal.confidence(ranked.first_signals)
    read = service.options.rerank_candidates
    return f"; read {len(ranked.judged)} sentences, as the first {read} gave only {first:.3f}"
