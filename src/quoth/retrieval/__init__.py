"""Turning a question into verbatim quotes, or a refusal, over a loaded index."""

from quoth.retrieval.answer import Answer, AnswerState, QuestionError, Quote
from quoth.retrieval.service import AnsweringService, RetrievalOptions

__all__ = [
    "Answer",
    "AnswerState",
    "AnsweringService",
    "QuestionError",
    "Quote",
    "RetrievalOptions",
]
