"""What the answering service returns: quotes with their sources, or an honest refusal."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from quoth.errors import QuothError
from quoth.retrieval.phrase import MarkedPhrase

JSON_SCHEMA_VERSION = 1


class QuestionError(QuothError, ValueError):
    """The question cannot be answered as asked (empty, too long); the message says why.

    ``template`` and ``values`` keep the message apart from its numbers, so a chat can say
    it in the asker's language (:mod:`quoth.messages`)."""

    def __init__(self, template: str, **values: object) -> None:
        super().__init__(template.format(**values))
        self.template = template
        self.values = values


@dataclass(frozen=True, slots=True)
class Quote:
    """A verbatim excerpt: ``sentence`` answers, ``before``/``after`` give its context.

    ``passage`` is the whole (merged) passage the sentence was found in; every string is an
    exact slice of the article's cleaned text at the given offsets.
    """

    passage_id: str
    document_id: str
    title: str
    url: str | None
    published: str | None
    score: float
    sentence: str
    before: str
    after: str
    passage: str
    start: int
    end: int
    phrase: MarkedPhrase | None = None
    """The answer phrase inside ``sentence``, underlined where the model is sure enough."""
    page: int | None = None
    """The page ``sentence`` starts on, for an article from a PDF; None for the rest."""


class AnswerState(StrEnum):
    """How sure quoth is that its quotes answer: what the reader is told, and how.

    A bold sentence promises the answer, so it is kept for ``ANSWER``; where the articles hold
    related passages but quoth is not sure any of them states the answer, they are shown as
    ``CLOSEST`` (no bold, no underline, one lead line saying so); ``REFUSED`` is "not in my
    sources".
    """

    ANSWER = "answer"
    CLOSEST = "closest"
    REFUSED = "refused"

    @property
    def outcome(self) -> str:
        """How metrics and /stats name it ("answered" kept from before there were three)."""
        return "answered" if self is AnswerState.ANSWER else self.value


@dataclass(frozen=True, slots=True)
class Answer:
    question: str
    state: AnswerState
    quotes: list[Quote] = field(default_factory=list)
    top_score: float = 0.0
    next_offset: int | None = None
    """Where the next page of quotes starts ("More"), or None when there are no more."""
    timings: dict[str, float] = field(default_factory=dict, compare=False)
    """Milliseconds per stage (encode, search, rerank, quote), for logs and benchmarks."""
    language: str = "en"
    """The question's language as detected (the quotes keep the articles' own)."""
    signals: dict[str, float] = field(default_factory=dict, compare=False)
    """What the decision read (``rerank`` mode): for calibration and ``--explain``."""
    read_as: str | None = None
    """A follow-up resolved from the conversation: the question as read (``question`` is
    that too), shown to the person so a wrong reading is seen; None when read as sent."""
    follow_up: str | None = None
    """What made the question depend on the conversation (:data:`quoth.retrieval.followup.KINDS`),
    resolved or not; None for a question that stands alone."""

    @property
    def answered(self) -> bool:
        """A quote is shown as *the* answer (bold sentence): the ``ANSWER`` state alone."""
        return self.state is AnswerState.ANSWER

    @property
    def shows_quotes(self) -> bool:
        """Quotes are shown (as the answer or as the closest passages), not a refusal."""
        return self.state is not AnswerState.REFUSED and bool(self.quotes)

    def to_json(self) -> dict[str, Any]:
        """The stable document printed by ``quoth ask --json``."""
        return {
            "schema": JSON_SCHEMA_VERSION,
            "question": self.question,
            "state": self.state.value,
            "answered": self.answered,
            "resolved": self.read_as,
            "top_score": round(self.top_score, 4),
            "quotes": [{**asdict(quote), "score": round(quote.score, 4)} for quote in self.quotes],
        }
