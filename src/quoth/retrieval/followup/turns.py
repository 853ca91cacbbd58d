"""What a conversation keeps of each turn, and how a question was read after them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from quoth.retrieval.answer import Answer

Chooser = Callable[[str, Sequence[str]], int]
"""Picks which of several spans of the last question a new one (``X`` of "What about X?")
takes the place of: the index of the most alike. The service passes one that compares their
embeddings; without one, the last span of the same shape is taken."""


@dataclass(frozen=True, slots=True)
class Turn:
    """What quoth keeps of one answered question of a conversation; nothing else."""

    question: str
    """The question as quoth read it (a resolved follow-up is kept resolved, so the next one
    resolves against the full question)."""
    state: str
    """``answer``, ``closest`` or ``refused``."""
    sentence: str | None = None
    """The first quote's marked sentence (bold in the ``answer`` state)."""
    phrase: str | None = None
    """The answer phrase underlined in it, where there was one."""
    document_id: str | None = None

    @classmethod
    def of(cls, answer: Answer) -> Turn:
        """What is kept of an answer: its question as read, its state, and its first quote's
        sentence, phrase and article (the quotes themselves stay in the index)."""
        quote = answer.quotes[0] if answer.shows_quotes else None
        if quote is None:
            return cls(answer.question, answer.state.value)
        phrase = quote.phrase.text if quote.phrase is not None else None
        return cls(answer.question, answer.state.value, quote.sentence, phrase, quote.document_id)

    def to_json(self) -> dict[str, str | None]:
        return {
            "question": self.question,
            "state": self.state,
            "sentence": self.sentence,
            "phrase": self.phrase,
            "document_id": self.document_id,
        }

    @classmethod
    def from_json(cls, data: dict[str, str | None]) -> Turn:
        return cls(
            str(data.get("question") or ""),
            str(data.get("state") or "refused"),
            data.get("sentence"),
            data.get("phrase"),
            data.get("document_id"),
        )


CONTEXT_TURNS = 3
"""The turns a conversation keeps: a follow-up reads the last; a reply, the one it replies to."""


PRONOUN = "pronoun"


PLACE = "there"


TIME = "then"


FRAGMENT = "ellipsis"


SWITCH = "what-about"


KINDS = (PRONOUN, PLACE, TIME, FRAGMENT, SWITCH)
"""What made a question depend on the conversation (metrics count follow-ups by these)."""


@dataclass(frozen=True, slots=True)
class Reading:
    """How a question was read: ``kind`` None means it stands alone."""

    sent: str
    question: str
    """What is answered: the resolved question, or the one sent."""
    kind: str | None = None

    @property
    def follow_up(self) -> bool:
        """The question depends on the conversation (resolved or not)."""
        return self.kind is not None

    @property
    def resolved(self) -> bool:
        return self.question != self.sent
