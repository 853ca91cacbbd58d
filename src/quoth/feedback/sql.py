"""The feedback store's SQL, run the same on SQLite and PostgreSQL.

Each backend supplies only a connection (:meth:`SqlFeedback._run`: statements in one
transaction) and how it writes a time; the tables have the same names and columns on both,
so a moderator's ``/gaps`` and the export mean the same whichever store is configured.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from quoth.feedback import (
    DOWN,
    UP,
    Gap,
    ShownAnswer,
    VoteCounts,
    VoteOutcome,
    merge_gaps,
    question_key,
)
from quoth.state_sql import Rows, Statement

_ANSWER_COLUMNS = "id, question, quotes, index_version, platform, chat_kind, next_offset"
_GAPS = """
SELECT key, reason, platform, chat_kind, question, count, first_seen, last_seen
FROM quoth_gaps WHERE last_seen >= %s
UNION ALL
SELECT a.key, CASE WHEN v.reason IS NULL THEN 'down' ELSE 'down:' || v.reason END,
       a.platform, a.chat_kind, max(a.question), count(*), min(v.voted_at), max(v.voted_at)
FROM quoth_votes v JOIN quoth_answers a ON a.id = v.answer_id
WHERE v.vote = 'down' AND v.voted_at >= %s
GROUP BY a.key, v.reason, a.platform, a.chat_kind
ORDER BY 1, 8
"""
_LIKED = f"""
SELECT {_ANSWER_COLUMNS} FROM quoth_answers
WHERE shown_at >= %s AND id IN (
    SELECT answer_id FROM quoth_votes GROUP BY answer_id
    HAVING sum(CASE WHEN vote = 'up' THEN 1 ELSE -1 END) > 0)
ORDER BY shown_at DESC
"""


class SqlFeedback(ABC):
    @abstractmethod
    def _run(self, statements: Sequence[Statement]) -> Rows:
        """Run the statements in one transaction; the rows each returned (or [])."""

    @abstractmethod
    def _time(self, moment: datetime) -> object:
        """A time as this database stores it."""

    def _since(self, days: int) -> object:
        return self._time(datetime.now(UTC) - timedelta(days=days))

    def _one(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        return self._run([(query, params)])[0]

    # -- answers and votes ---------------------------------------------------------------------

    def record_answer(self, answer: ShownAnswer) -> None:
        shown: list[dict[str, str | None]] = [
            {"passage_id": passage, "sentence": sentence}
            for passage, sentence in zip(answer.passage_ids, answer.sentences, strict=True)
        ]
        if shown:  # what a reply to the answer reads as its context (no schema change)
            shown[0].update(
                state=answer.state, phrase=answer.phrase, document_id=answer.document_id
            )
        quotes = json.dumps(shown, ensure_ascii=False)
        self._one(
            "INSERT INTO quoth_answers VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            answer.id, question_key(answer.question), answer.question, quotes,
            answer.index_version, answer.platform, answer.chat_kind, answer.next_offset,
            self._time(datetime.now(UTC)),
        )  # fmt: skip

    def shown_answer(self, answer_id: str) -> ShownAnswer | None:
        rows = self._one(f"SELECT {_ANSWER_COLUMNS} FROM quoth_answers WHERE id = %s", answer_id)
        return _shown(rows[0]) if rows else None

    def vote(self, answer_id: str, voter: str, vote: str, reason: str | None) -> VoteOutcome:
        if vote not in (UP, DOWN):
            raise ValueError(f"not a vote: {vote!r}")
        known, earlier = self._run(
            [
                ("SELECT 1 FROM quoth_answers WHERE id = %s", (answer_id,)),
                (
                    "SELECT vote, reason FROM quoth_votes WHERE answer_id = %s AND voter = %s",
                    (answer_id, voter),
                ),
            ]
        )
        if not known:
            return VoteOutcome.UNKNOWN_ANSWER
        if earlier and tuple(earlier[0]) == (vote, reason):
            return VoteOutcome.SAME
        self._one(
            "INSERT INTO quoth_votes VALUES (%s, %s, %s, %s, %s) "
            "ON CONFLICT (answer_id, voter) DO UPDATE SET "
            "vote = excluded.vote, reason = excluded.reason, voted_at = excluded.voted_at",
            answer_id, voter, vote, reason, self._time(datetime.now(UTC)),
        )  # fmt: skip
        return VoteOutcome.CHANGED if earlier else VoteOutcome.NEW

    def vote_counts(self, days: int) -> VoteCounts:
        rows = self._one(
            "SELECT vote, coalesce(reason, ''), count(*) FROM quoth_votes "
            "WHERE voted_at >= %s GROUP BY vote, reason",
            self._since(days),
        )
        up = sum(int(n) for vote, _, n in rows if vote == UP)
        down = sum(int(n) for vote, _, n in rows if vote == DOWN)
        reasons = {str(r): int(n) for vote, r, n in rows if vote == DOWN and r}
        return VoteCounts(up, down, reasons)

    def liked(self, days: int, limit: int) -> list[ShownAnswer]:
        found: dict[str, ShownAnswer] = {}
        for row in self._one(_LIKED, self._since(days)):
            answer = _shown(row)
            found.setdefault(question_key(answer.question), answer)  # the latest per question
        return list(found.values())[:limit]

    # -- the unanswered-questions log ----------------------------------------------------------

    def record_gap(self, question: str, reason: str, platform: str, chat_kind: str) -> None:
        now = self._time(datetime.now(UTC))
        self._one(
            "INSERT INTO quoth_gaps AS g VALUES (%s, %s, %s, %s, %s, 1, %s, %s) "
            "ON CONFLICT (key, reason, platform, chat_kind) DO UPDATE SET "
            "count = g.count + 1, last_seen = excluded.last_seen, question = excluded.question",
            question_key(question), reason, platform, chat_kind, question, now, now,
        )  # fmt: skip

    def gaps(self, days: int, limit: int, offset: int = 0) -> list[Gap]:
        since = self._since(days)
        return merge_gaps(self._one(_GAPS, since, since), limit, offset)

    def prune(self, retention_days: int) -> int:
        """Forget gaps last seen, and answers shown (with their votes), before the retention."""
        before = self._since(retention_days)
        old = "SELECT id FROM quoth_answers WHERE shown_at < %s"
        counts = self._run(
            [
                ("DELETE FROM quoth_gaps WHERE last_seen < %s RETURNING 1", (before,)),
                (f"DELETE FROM quoth_votes WHERE answer_id IN ({old})", (before,)),
                ("DELETE FROM quoth_answers WHERE shown_at < %s RETURNING 1", (before,)),
            ]
        )
        return len(counts[0]) + len(counts[2])


def _shown(row: tuple[Any, ...]) -> ShownAnswer:
    answer_id, question, quotes, version, platform, chat_kind, next_offset = row
    shown = json.loads(quotes)
    return ShownAnswer(
        str(answer_id),
        str(question),
        tuple(q["passage_id"] for q in shown),
        tuple(q["sentence"] for q in shown),
        str(version),
        str(platform),
        str(chat_kind),
        None if next_offset is None else int(next_offset),
        str(shown[0].get("state") or "answer") if shown else "answer",
        shown[0].get("phrase") if shown else None,
        shown[0].get("document_id") if shown else None,
    )
