"""What users tell quoth about its answers, kept durably: the answers shown (so their
buttons work after a restart and on every replica), votes on them, and the log of questions
it could not answer or that were voted down (to find the gaps in the corpus).

One small interface with one module per backend, chosen in :func:`quoth.runtime.open_feedback`:
:mod:`quoth.feedback.sqlite` (a file in the data volume, the default) and
:mod:`quoth.feedback.postgres` (the database replicas share); the SQL both run is in
:mod:`quoth.feedback.sql`. User ids are never stored: a voter is a hash of who they are *and*
the answer, enough for one vote per person per answer and useless for following a person
from one answer to the next.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Protocol

from quoth.errors import QuothError
from quoth.messages import N_

REFUSED = "refused"
CLOSEST = "closest"
"""A gap of its own: the articles hold related passages, none stating the answer clearly."""
UP, DOWN = "up", "down"
REASONS = {
    "wrong_quote": N_("wrong quote"),
    "not_covered": N_("not covered"),
    "outdated": N_("outdated"),
}
"""Why an answer was voted down: codes (stored, and in button data) and what people read."""


class FeedbackStoreError(QuothError):
    """The feedback store cannot be opened or written; the message names the setting."""


@dataclass(frozen=True, slots=True)
class Gap:
    """One question (by its normalised form) that went unanswered, over every platform."""

    key: str
    question: str
    """The latest wording asked."""
    count: int
    first_seen: datetime
    last_seen: datetime
    reasons: tuple[str, ...]
    where: tuple[str, ...]
    """platform/chat kind pairs it was asked from."""


@dataclass(frozen=True, slots=True)
class ShownAnswer:
    """An answer as a chat showed it: what its buttons refer to, and what a vote is about."""

    id: str
    question: str
    passage_ids: tuple[str, ...]
    sentences: tuple[str, ...]
    """The marked sentence of each quote shown, verbatim."""
    index_version: str
    platform: str
    chat_kind: str
    next_offset: int | None
    """Where its "More" continues, or None."""
    state: str = "answer"
    """``answer`` (bold) or ``closest``: what a reply to it may take as its context."""
    phrase: str | None = None
    """The answer phrase underlined in the first quote, where there was one."""
    document_id: str | None = None
    """The first quote's article."""


class VoteOutcome(Enum):
    UNKNOWN_ANSWER = "unknown"
    NEW = "new"
    CHANGED = "changed"
    SAME = "same"


@dataclass(frozen=True, slots=True)
class VoteCounts:
    up: int
    down: int
    reasons: dict[str, int]


class FeedbackStore(Protocol):
    def record_answer(self, answer: ShownAnswer) -> None: ...

    def shown_answer(self, answer_id: str) -> ShownAnswer | None: ...

    def vote(self, answer_id: str, voter: str, vote: str, reason: str | None) -> VoteOutcome:
        """One vote per voter per answer; a second one replaces the first."""
        ...

    def vote_counts(self, days: int) -> VoteCounts: ...

    def liked(self, days: int, limit: int) -> list[ShownAnswer]:
        """Answers with more 👍 than 👎 shown in the last ``days``, one per question."""
        ...

    def record_gap(self, question: str, reason: str, platform: str, chat_kind: str) -> None: ...

    def gaps(self, days: int, limit: int, offset: int = 0) -> list[Gap]:
        """The most asked questions refused or voted down in the last ``days``, most asked
        first."""
        ...

    def prune(self, retention_days: int) -> int:
        """Forget what was last seen longer ago than the retention; returns rows removed."""
        ...

    def close(self) -> None: ...


_NOT_WORD = re.compile(r"[^\w]+")


def question_key(question: str) -> str:
    """The form questions are counted under: case, accents, punctuation and spacing do not
    make another question ("Who is X?" and "who is x" count together)."""
    folded = unicodedata.normalize("NFKD", question.casefold())
    bare = "".join(c for c in folded if not unicodedata.combining(c))
    return " ".join(_NOT_WORD.sub(" ", bare).split())


def merge_gaps(rows: list[tuple[object, ...]], limit: int, offset: int) -> list[Gap]:
    """Rows of (key, reason, platform, chat kind, question, count, first, last seen), ordered
    by key then last seen, merged into one gap per key: most asked first."""
    merged: dict[str, Gap] = {}
    for key, reason, platform, chat_kind, question, count, first, last in rows:
        first_seen, last_seen = _time(first), _time(last)
        earlier = merged.get(str(key))
        where = f"{platform}/{chat_kind}"
        if earlier is None:
            merged[str(key)] = Gap(
                str(key), str(question), int(str(count)), first_seen, last_seen,
                (str(reason),), (where,),
            )  # fmt: skip
            continue
        merged[str(key)] = Gap(
            earlier.key,
            str(question) if last_seen >= earlier.last_seen else earlier.question,
            earlier.count + int(str(count)),
            min(earlier.first_seen, first_seen),
            max(earlier.last_seen, last_seen),
            tuple(dict.fromkeys((*earlier.reasons, str(reason)))),
            tuple(dict.fromkeys((*earlier.where, where))),
        )
    ordered = sorted(merged.values(), key=lambda g: (-g.count, -g.last_seen.timestamp(), g.key))
    return ordered[offset : offset + limit]


def _time(value: object) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def describe_gaps(gaps: list[Gap], days: int, first: int = 1) -> str:
    """The plain-text list moderators read in the chat and on the command line."""
    if not gaps:
        return f"No unanswered questions in the last {days} days."
    lines = [
        f"Unanswered, only closest passages, or voted-down questions, last {days} days "
        "(most asked first):"
    ]
    for number, gap in enumerate(gaps, start=first):
        where = ", ".join(gap.where)
        why = ", ".join(describe_reason(reason) for reason in gap.reasons)
        lines.append(
            f"{number}. ({gap.count}×) {gap.question} — {why}; "
            f"last {gap.last_seen:%Y-%m-%d}, {where}"
        )
    return "\n".join(lines)


def describe_reason(reason: str) -> str:
    """``refused``, ``closest``, ``down`` or ``down:wrong_quote`` as moderators read them."""
    if reason == REFUSED:
        return "refused"
    if reason == CLOSEST:
        return "closest passages only"
    code = reason.partition(":")[2]
    return f"👎 {REASONS[code]}" if code in REASONS else "👎"


def as_eval_questions(
    gaps: Sequence[Gap], liked: Sequence[ShownAnswer] = ()
) -> list[dict[str, object]]:
    """Real users' questions in ``quoth eval`` format: refused ones as unanswerable (a
    moderator who adds the missing article flips the ones it answers), 👍'd answers as
    answerable with the sentence they were shown as evidence. A question that was both
    refused once and answered to a 👍 later counts as answerable."""
    questions: list[dict[str, object]] = []
    answered = {question_key(answer.question) for answer in liked}
    for number, answer in enumerate(liked, start=1):
        questions.append(
            {
                "id": f"liked-{number:04d}",
                "question": answer.question,
                "answerable": True,
                "evidence": [answer.sentences[0]],
            }
        )
    refused = [g for g in gaps if REFUSED in g.reasons and g.key not in answered]
    for number, gap in enumerate(refused, start=1):
        questions.append({"id": f"gap-{number:04d}", "question": gap.question, "answerable": False})
    return questions
