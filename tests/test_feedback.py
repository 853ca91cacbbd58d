"""The unanswered-questions log: the same tests on SQLite and on a real PostgreSQL, then
through the conversation layer and the command line."""

from __future__ import annotations

import itertools
import json
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from quoth.bot.conversation import EXPIRED, NOT_A_MODERATOR, Conversation, Person
from quoth.bot.library import Library
from quoth.cli import app
from quoth.feedback import (
    DOWN,
    REFUSED,
    UP,
    FeedbackStore,
    ShownAnswer,
    VoteOutcome,
    as_eval_questions,
    question_key,
)
from quoth.feedback.postgres import PostgresFeedback
from quoth.feedback.sqlite import SqliteFeedback
from quoth.retrieval import AnsweringService

from .conftest import fresh_database, settings_for

_databases = itertools.count()
Ager = Callable[[int], None]
"""Moves everything recorded this many days into the past."""
TIMES = [
    ("quoth_gaps", "first_seen"),
    ("quoth_gaps", "last_seen"),
    ("quoth_answers", "shown_at"),
    ("quoth_votes", "voted_at"),
]


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[FeedbackStore, Ager]]:
    if request.param == "sqlite":
        path = tmp_path / "feedback.sqlite3"
        sqlite_store = SqliteFeedback(path)

        def age_sqlite(days: int) -> None:
            with sqlite3.connect(path) as db:
                for table, column in TIMES:
                    db.execute(
                        f"UPDATE {table} SET {column} = strftime('%Y-%m-%dT%H:%M:%S+00:00', "
                        f"datetime({column}, '-{days} days'))"
                    )

        yield sqlite_store, age_sqlite
        sqlite_store.close()
        return
    url = fresh_database(request.getfixturevalue("postgres_url"), f"gaps{next(_databases)}")

    def age_postgres(days: int) -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            for table, column in TIMES:
                conn.execute(
                    f"UPDATE {table} SET {column} = {column} - %s * interval '1 day'",
                    (days,),
                )

    yield PostgresFeedback(url), age_postgres


def test_question_keys_ignore_case_accents_and_punctuation() -> None:
    assert question_key("Who is  Ilham ALIYEV?") == question_key("who is ilham aliyev")
    assert question_key("Où est Bakou ?") == question_key("ou est bakou")
    assert question_key("Who is Aliyev?") != question_key("Where is Aliyev?")


def test_gaps_are_counted_merged_and_ranked(store: tuple[FeedbackStore, Ager]) -> None:
    feedback, _ = store
    for _ in range(2):
        feedback.record_gap("What is the capital of Mars?", REFUSED, "telegram", "private")
    feedback.record_gap("what is the capital of mars", REFUSED, "discord", "slash")
    feedback.record_gap("Who won the 1990 World Cup?", REFUSED, "telegram", "group")
    found = feedback.gaps(days=7, limit=10)
    assert [(g.count, g.question) for g in found] == [
        (3, "what is the capital of mars"),  # the latest wording
        (1, "Who won the 1990 World Cup?"),
    ]
    assert set(found[0].where) == {"telegram/private", "discord/slash"}
    assert found[0].reasons == (REFUSED,) and found[0].first_seen <= found[0].last_seen
    assert [g.question for g in feedback.gaps(days=7, limit=1, offset=1)] == [
        "Who won the 1990 World Cup?"
    ]
    assert as_eval_questions(found)[0] == {
        "id": "gap-0001",
        "question": "what is the capital of mars",
        "answerable": False,
    }


def test_old_gaps_leave_the_window_then_the_log(store: tuple[FeedbackStore, Ager]) -> None:
    feedback, age = store
    feedback.record_gap("An old question?", REFUSED, "telegram", "private")
    age(40)
    feedback.record_gap("A new question?", REFUSED, "telegram", "private")
    assert [g.question for g in feedback.gaps(days=30, limit=10)] == ["A new question?"]
    assert len(feedback.gaps(days=60, limit=10)) == 2
    assert feedback.prune(retention_days=30) == 1
    assert [g.question for g in feedback.gaps(days=60, limit=10)] == ["A new question?"]


def shown(answer_id: str, question: str, sentence: str) -> ShownAnswer:
    return ShownAnswer(
        answer_id, question, ("p1", "p2"), (sentence, "Another."), "3", "discord", "slash", 5
    )


def test_votes_one_per_voter_changeable_and_counted(store: tuple[FeedbackStore, Ager]) -> None:
    feedback, age = store
    feedback.record_answer(shown("a1", "Who leads Azerbaijan?", "Ilham Aliyev leads it."))
    feedback.record_answer(shown("a2", "Where is Lachin?", "Lachin is in Azerbaijan."))
    assert feedback.shown_answer("a1") == shown(
        "a1", "Who leads Azerbaijan?", "Ilham Aliyev leads it."
    )
    assert feedback.shown_answer("nope") is None
    assert feedback.vote("nope", "ann", UP, None) is VoteOutcome.UNKNOWN_ANSWER
    assert feedback.vote("a1", "ann", UP, None) is VoteOutcome.NEW
    assert feedback.vote("a1", "ann", UP, None) is VoteOutcome.SAME
    assert feedback.vote("a1", "bob", UP, None) is VoteOutcome.NEW
    assert feedback.vote("a2", "ann", UP, None) is VoteOutcome.NEW
    assert feedback.vote("a2", "ann", DOWN, None) is VoteOutcome.CHANGED
    assert feedback.vote("a2", "ann", DOWN, "outdated") is VoteOutcome.CHANGED
    counts = feedback.vote_counts(30)
    assert (counts.up, counts.down, counts.reasons) == (2, 1, {"outdated": 1})

    assert [a.id for a in feedback.liked(30, 10)] == ["a1"]  # a2: one down, no up
    gaps = feedback.gaps(7, 10)
    assert [(g.question, g.count, g.reasons) for g in gaps] == [
        ("Where is Lachin?", 1, ("down:outdated",))
    ]
    exported = as_eval_questions(gaps, feedback.liked(30, 10))
    assert exported == [
        {
            "id": "liked-0001",
            "question": "Who leads Azerbaijan?",
            "answerable": True,
            "evidence": ["Ilham Aliyev leads it."],
        }
    ]
    assert feedback.vote("a2", "ann", UP, None) is VoteOutcome.CHANGED
    assert feedback.gaps(7, 10) == []  # a 👎 taken back leaves the log

    age(100)
    assert feedback.prune(retention_days=90) == 2  # both answers, their votes with them
    assert feedback.shown_answer("a1") is None and feedback.vote_counts(365).up == 0


def test_a_feedback_file_from_before_votes_is_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as db:  # the log as the first quoth with one wrote it
        db.executescript(
            "CREATE TABLE gaps (key text NOT NULL, reason text NOT NULL, platform text NOT NULL, "
            "chat_kind text NOT NULL, question text NOT NULL, count integer NOT NULL, "
            "first_seen text NOT NULL, last_seen text NOT NULL, "
            "PRIMARY KEY (key, reason, platform, chat_kind));"
            "CREATE INDEX gaps_last_seen ON gaps (last_seen);"
        )
        db.execute(
            "INSERT INTO gaps VALUES ('k', 'refused', 'telegram', 'private', 'Why?', 3, "
            "'2026-11-29T10:00:00+00:00', '2026-11-29T10:00:00+00:00')"
        )
    upgraded = SqliteFeedback(path)
    assert [(g.question, g.count) for g in upgraded.gaps(30, 10)] == [("Why?", 3)]
    upgraded.record_answer(shown("a1", "Why?", "Because."))
    upgraded.close()
    again = SqliteFeedback(path)  # opening an upgraded file changes nothing
    assert again.shown_answer("a1") is not None
    again.close()


async def test_votes_outlive_the_process_that_showed_the_answer(
    service: AnsweringService, tmp_path: Path
) -> None:
    settings = settings_for(tmp_path / "unused", feedback_file=tmp_path / "f.sqlite3")
    first = Conversation(Library(settings, service))
    ann = Person("telegram", 1)
    reply = await first.ask(ann, "What did Aliyev say about Pakistan?", "group")
    assert reply.answer_id is not None and reply.answer is not None
    refused = await first.ask(ann, "What is the recipe for lemon cake?", "group")
    assert refused.answer_id is None  # nothing to vote on or page through
    first.library.feedback.close()

    restarted = Conversation(Library(settings, service))
    down = await restarted.vote(ann, reply.answer_id, DOWN)
    assert down.private and [code for code, _ in down.reasons] == [
        "wrong_quote",
        "not_covered",
        "outdated",
    ]
    assert (
        "noted: not covered"
        in (await restarted.vote(ann, reply.answer_id, DOWN, "not_covered")).text
    )
    assert "👍 0 · 👎 1 (not covered 1)" in restarted.library.stats_text()
    assert (await restarted.vote(ann, reply.answer_id, DOWN, "rude")).text == EXPIRED
    more = await restarted.more(ann, reply.answer_id)
    assert more.answer is not None and more.answer.quotes[0] != reply.answer.quotes[0]
    assert more.answer_id not in (None, reply.answer_id)


async def test_refusals_reach_the_moderators_gaps(
    service: AnsweringService, tmp_path: Path
) -> None:
    settings = settings_for(tmp_path / "unused", feedback_file=tmp_path / "f.sqlite3")
    conversation = Conversation(Library(settings, service))
    ann, moderator = Person("telegram", 1), Person("telegram", 2, moderator=True)
    refused = await conversation.ask(ann, "What is the recipe for lemon cake?", "private")
    answered = await conversation.ask(ann, "Which Turkish naval ship arrived in Karachi?", "group")
    assert refused.answer is not None and not refused.answer.answered
    assert answered.answer is not None and answered.answer.answered
    assert (await conversation.gaps(ann)).text == NOT_A_MODERATOR
    listed = await conversation.gaps(moderator, 7)
    assert listed.private and "1. (1×) What is the recipe for lemon cake?" in listed.text
    assert "Karachi" not in listed.text and "telegram/private" in listed.text
    assert "Usage: /gaps" in (await conversation.gaps(moderator, -1)).text
    assert "No unanswered questions" in (await conversation.gaps(moderator, 7, 2)).text


def test_exported_gaps_are_a_question_file_for_eval(
    tmp_path: Path, shared_index_dir: Path, service: AnsweringService
) -> None:
    feedback_file = tmp_path / "f.sqlite3"
    store = SqliteFeedback(feedback_file)
    store.record_gap("What is the recipe for lemon cake?", REFUSED, "discord", "dm")
    liked = service.answer("Which Turkish naval ship arrived in Karachi?")
    sentences = tuple(quote.sentence for quote in liked.quotes)
    passages = tuple(quote.passage_id for quote in liked.quotes)
    shown = ShownAnswer("a1", liked.question, passages, sentences, "1", "telegram", "group", None)
    store.record_answer(shown)
    store.vote("a1", "someone", UP, None)
    store.close()
    env = {"QUOTH_FEEDBACK_FILE": str(feedback_file), "QUOTH_INDEX_DIR": str(shared_index_dir)}
    runner = CliRunner()
    listed = runner.invoke(app, ["gaps", "--json"], env=env)
    assert listed.exit_code == 0, listed.output
    assert json.loads(listed.stdout)[0]["question"] == "What is the recipe for lemon cake?"
    exported = runner.invoke(app, ["gaps", "--export", str(tmp_path / "gaps.jsonl")], env=env)
    assert exported.exit_code == 0 and "Wrote 2 questions" in exported.stdout
    evaluated = runner.invoke(app, ["eval", str(tmp_path / "gaps.jsonl"), "--json"], env=env)
    assert evaluated.exit_code == 0, evaluated.output
    metrics = json.loads(evaluated.stdout)["metrics"]
    assert metrics["refusal_accuracy"] == 1.0 and metrics["quote_hit"] == 1.0
    unwritable = runner.invoke(app, ["gaps"], env={**env, "QUOTH_FEEDBACK_FILE": "/proc/x/f"})
    assert unwritable.exit_code == 1 and "QUOTH_FEEDBACK_FILE" in unwritable.stderr
