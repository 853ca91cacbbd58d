"""Shared state, the same tests on both backends: in the process, and in a real PostgreSQL."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator

import psycopg
import pytest

from quoth.retrieval.followup import CONTEXT_TURNS, Turn
from quoth.state import Claim, SharedState
from quoth.state.local import LocalState
from quoth.state.postgres import PostgresState

from .conftest import fresh_database

_databases = itertools.count()
StateFactory = Callable[[int], SharedState]


@pytest.fixture(params=["local", "postgres"])
def make_state(request: pytest.FixtureRequest) -> Iterator[StateFactory]:
    """States of one deployment: each call is another process (replica) sharing it."""
    opened: list[SharedState] = []
    context_s = 900.0
    if request.param == "local":
        shared = LocalState
        yield lambda limit: shared(limit, context_s)
        return
    url = fresh_database(request.getfixturevalue("postgres_url"), f"state{next(_databases)}")

    def open_replica(limit: int) -> SharedState:
        state = PostgresState(url, limit, context_s=context_s)
        opened.append(state)
        return state

    yield open_replica
    for state in opened:
        state.close()


def test_the_question_budget_is_spent_then_refused_with_a_wait(make_state: StateFactory) -> None:
    state = make_state(3)
    assert [state.acquire("telegram:1") for _ in range(3)] == [0, 0, 0]
    wait = state.acquire("telegram:1")
    assert 0 < wait <= 60
    assert state.acquire("telegram:2") == 0  # another user has their own budget
    assert state.acquire("discord:1") == 0  # the same number on another platform too


def test_an_update_is_handled_once(make_state: StateFactory) -> None:
    state = make_state(10)
    assert state.claim_update("telegram", 41) is Claim.MINE
    assert state.claim_update("telegram", 41) is Claim.BUSY  # still being answered
    state.finish_update("telegram", 41)
    assert state.claim_update("telegram", 41) is Claim.DONE
    assert state.claim_update("telegram", 42) is Claim.MINE


def test_counters(make_state: StateFactory) -> None:
    state = make_state(10)
    for outcome in ("answered", "answered", "closest", "refused"):
        state.count_answer(outcome)
    counts = state.counters()
    assert (counts.answered, counts.closest, counts.refused) == (2, 1, 1)


def test_replicas_share_budgets_claims_and_counters(postgres_url: str) -> None:
    url = fresh_database(postgres_url, "replicas")
    first, second = PostgresState(url, 2), PostgresState(url, 2)
    try:
        assert first.acquire("telegram:7") == 0 and second.acquire("telegram:7") == 0
        assert first.acquire("telegram:7") > 0 and second.acquire("telegram:7") > 0
        assert first.claim_update("telegram", 1) is Claim.MINE
        assert second.claim_update("telegram", 1) is Claim.BUSY  # the first one is alive
        first.finish_update("telegram", 1)
        assert second.claim_update("telegram", 1) is Claim.DONE
        first.count_answer("answered")
        second.count_answer("refused")
        first.count_answer("closest")
        counts = second.counters()
        assert (counts.answered, counts.closest, counts.refused) == (1, 1, 1)
        assert counts.scope == "all replicas"
    finally:
        first.close()
        second.close()


def test_an_update_claimed_by_a_dead_replica_is_taken_over(postgres_url: str) -> None:
    url = fresh_database(postgres_url, "takeover")
    dead, alive = PostgresState(url, 10), PostgresState(url, 10)
    try:
        assert dead.claim_update("telegram", 9) is Claim.MINE
        dead.close()  # its liveness lock goes with its connection, as when a process dies
        assert alive.claim_update("telegram", 9) is Claim.TAKEN_OVER
        assert dead.owner != alive.owner
    finally:
        alive.close()


def test_a_replica_whose_lock_was_lost_takes_it_again(postgres_url: str) -> None:
    url = fresh_database(postgres_url, "relock")
    replica, other = PostgresState(url, 10), PostgresState(url, 10)
    try:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' "
                "AND objid = %s::int8::oid AND objsubid = 2",
                (replica.owner,),
            )
        assert replica.claim_update("telegram", 5) is Claim.MINE  # and holds its lock again
        assert other.claim_update("telegram", 5) is Claim.BUSY
    finally:
        replica.close()
        other.close()


def _turn(number: int) -> Turn:
    return Turn(f"Question {number}?", "answer", f"Sentence {number}.", f"phrase {number}", "doc")


def test_a_conversation_keeps_its_last_turns_apart_from_others(make_state: StateFactory) -> None:
    state = make_state(10)
    for number in range(CONTEXT_TURNS + 2):
        state.remember("conversation-a", _turn(number))
    state.remember("conversation-b", _turn(99))
    kept = state.context("conversation-a")
    assert kept == [_turn(n) for n in range(2, CONTEXT_TURNS + 2)]  # the last few, in order
    assert state.context("conversation-b") == [_turn(99)]
    assert state.context("never-seen") == []
    state.forget("conversation-a")  # /new
    assert state.context("conversation-a") == [] and state.context("conversation-b")


def test_a_replica_reads_the_context_another_kept(postgres_url: str) -> None:
    url = fresh_database(postgres_url, "shared_context")
    first, second = PostgresState(url, 10), PostgresState(url, 10)
    try:
        first.remember("conversation", _turn(1))
        second.remember("conversation", _turn(2))
        assert first.context("conversation") == second.context("conversation")
        assert first.context("conversation") == [_turn(1), _turn(2)]
    finally:
        first.close()
        second.close()


@pytest.mark.parametrize("backend", ["local", "postgres"])
def test_a_stale_conversation_is_forgotten(backend: str, request: pytest.FixtureRequest) -> None:
    if backend == "local":
        state: SharedState = LocalState(10, context_s=0.2)
    else:
        url = fresh_database(request.getfixturevalue("postgres_url"), "stale_context")
        state = PostgresState(url, 10, context_s=0.2)
    state.remember("conversation", _turn(1))
    assert state.context("conversation") == [_turn(1)]
    time.sleep(0.4)
    assert state.context("conversation") == []
    state.remember("conversation", _turn(2))  # a new start, without the stale turn
    assert state.context("conversation") == [_turn(2)]
    state.close()


def test_the_kept_conversations_are_bounded_however_many_chats_write() -> None:
    state = LocalState(10, conversations=100)
    for chat in range(10_000):
        state.remember(f"chat-{chat}", _turn(chat))
    assert state.context("chat-9999") == [_turn(9999)]
    assert state.context("chat-0") == []  # the least recently active went first
    assert sum(bool(state.context(f"chat-{chat}")) for chat in range(10_000)) == 100


def test_a_context_of_zero_minutes_keeps_nothing() -> None:
    state = LocalState(10, context_s=0)
    state.remember("conversation", _turn(1))
    assert state.context("conversation") == []
