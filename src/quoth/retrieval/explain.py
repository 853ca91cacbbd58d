"""Why quoth answered or refused one question: each stage's candidates and the deciding signal.

A moderator who sees a question go unanswered needs to know whether the passage was never
found, found but not judged an answer, or judged one too weakly to pass the threshold.
"""

from __future__ import annotations

from dataclasses import dataclass

from quoth.index.reader import article_text
from quoth.retrieval.answer_type import question_type
from quoth.retrieval.question import clean_question
from quoth.retrieval.ranking import JudgedSentence
from quoth.retrieval.refusal import SIGNALS
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
    answered: bool
    reason: str


def _sentence_text(service: AnsweringService, sentence: int) -> tuple[str, str]:
    index = service.index
    span = index.sentence_span(sentence)
    return index.article(span.doc).id, article_text(index, span)


def _reason(answered: bool, confidence: float, threshold: float, signals: dict[str, float]) -> str:
    relation = ">=" if answered else "<"
    verdict = "answered" if answered else "refused"
    if not signals:
        return (
            f"{verdict}: best passage score {confidence:.3f} {relation} threshold {threshold:.3f}"
        )
    weakest = min(SIGNALS, key=lambda name: signals.get(name, 0.0))
    return (
        f"{verdict}: confidence {confidence:.3f} {relation} threshold {threshold:.3f} "
        f"(answer_score {signals.get('answer_score', 0):.2f} for the sentence alone, "
        f"window_score {signals.get('window_score', 0):.2f} with its neighbours, "
        f"phrase_score {signals.get('phrase_score', 0):.2f} for the answer phrase in it; "
        f"weakest: {weakest})"
    )


def explain(service: AnsweringService, question: str, mode: str | None = None) -> Explanation:
    """Run one question through the stages ``answer`` runs, keeping what each one saw."""
    index = service.index
    cleaned = clean_question(question, service.options.max_question_chars)
    ranked = service.rank(cleaned, mode, index)
    confidence = service.confidence(ranked, mode)
    threshold = service.threshold(mode)
    answered = bool(ranked.hits) and confidence >= threshold
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
        answered=answered,
        reason=_reason(answered, confidence, threshold, ranked.signals),
    )
