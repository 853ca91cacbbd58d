"""What users tell quoth about its answers, kept durably: the log of questions it could not
answer (to find the gaps in the corpus).

One small interface with one module per backend, chosen in :func:`quoth.runtime.open_feedback`:
:mod:`quoth.feedback.sqlite` (a file in the data volume, the default) and
:mod:`quoth.feedback.postgres` (the database replicas share). User ids are never stored.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

REFUSED = "refused"


class FeedbackStoreError(Exception):
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


class FeedbackStore(Protocol):
    def record_gap(self, question: str, reason: str, platform: str, chat_kind: str) -> None: ...

    def gaps(self, days: int, limit: int, offset: int = 0) -> list[Gap]:
        """The most asked unanswered questions seen in the last ``days``, most asked first."""
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
    lines = [f"Unanswered questions, last {days} days (most asked first):"]
    for number, gap in enumerate(gaps, start=first):
        where = ", ".join(gap.where)
        lines.append(
            f"{number}. ({gap.count}×) {gap.question} — last {gap.last_seen:%Y-%m-%d}, {where}"
        )
    return "\n".join(lines)


def as_eval_questions(gaps: list[Gap]) -> list[dict[str, object]]:
    """Refused questions as unanswerable ones in ``quoth eval`` format: real users' questions
    become tests (and a moderator who adds the missing article flips the ones it answers)."""
    return [
        {"id": f"gap-{number:04d}", "question": gap.question, "answerable": False}
        for number, gap in enumerate(gaps, start=1)
        if REFUSED in gap.reasons
    ]
