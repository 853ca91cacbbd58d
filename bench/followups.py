"""What follow-up questions cost: the reading itself, in the same run as the answers it adds
to, and the memory of the conversations kept.

Three timings, each taken in turns (A, B, A, B, ...) so that a busy machine slows both alike:

* ``standalone``: every benchmark question asked alone, and asked after an unrelated turn of
  a conversation (it stands alone, so it is answered the same; the difference is the test
  that says so), and that test alone (``reading_us``: all a question that stands alone pays
  over the release before follow-ups);
* ``resolved``: the development dialogues' follow-ups, asked in their context (read, then
  answered as read), against the same questions as read, asked alone (the difference is
  the reading: rules, and for "What about X?" one small batch through the embedder);
* ``context_store``: 10,000 conversations of three turns in one process's store, measured
  with tracemalloc, and the time to keep and read one.
"""

from __future__ import annotations

import statistics
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.measure import percentiles
from quoth.retrieval import AnsweringService
from quoth.retrieval.evaluation import EvalDialogue, load_items
from quoth.retrieval.followup import CONTEXT_TURNS, Turn
from quoth.state.local import LocalState

REPO = Path(__file__).resolve().parent.parent
UNRELATED = Turn(
    "Who is Pakistan's Army Chief?",
    "answer",
    "Top Pakistani officials, including Army Chief Field Marshal Asim Munir, accompanied the PM.",
    "Asim Munir",
    "000_63560526e918c7bd",
)


def _in_turns(
    first: Callable[[int], object], second: Callable[[int], object], count: int, rounds: int = 3
) -> tuple[list[float], list[float]]:
    """Milliseconds of ``first(i)`` and ``second(i)`` for every i, alternating."""
    a: list[float] = []
    b: list[float] = []
    for _ in range(rounds):
        for i in range(count):
            for call, into in ((first, a), (second, b)):
                started = time.perf_counter()
                call(i)
                into.append((time.perf_counter() - started) * 1000)
    return a, b


def dialogue_follow_ups(service: AnsweringService) -> list[tuple[str, list[Turn], str]]:
    """(follow-up as sent, its context, the question as read) for every development
    dialogue over the reference articles whose follow-up is read otherwise than sent."""
    found = []
    for item in load_items(REPO / "eval" / "dialogues.jsonl"):
        assert isinstance(item, EvalDialogue)
        context = [Turn.of(service.answer(item.turns[0].question))]
        for turn in item.turns[1:]:
            reading = service.read(turn.question, context)
            if reading.resolved:
                found.append((turn.question, list(context), reading.question))
            context.append(Turn.of(service.answer(turn.question, context=context)))
    return found


def context_store(conversations: int = 10_000) -> dict[str, Any]:
    state = LocalState(10, 900.0, conversations)

    def turn(chat: int, number: int) -> Turn:  # strings of their own, as each chat's are
        return Turn(
            f"When did Pakistan and Azerbaijan establish diplomatic ties ({chat}, {number})?",
            "answer",
            f"Pakistan and Azerbaijan formally established diplomatic ties in 1992, a year "
            f"after Pakistan recognised Azerbaijan's independence ({chat}, {number}).",
            f"in 1992 ({chat})",
            f"002_97b8d98da015557d-{number}",
        )

    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    started = time.perf_counter()
    for chat in range(conversations):
        for number in range(CONTEXT_TURNS):
            state.remember(f"{chat:032x}", turn(chat, number))
    kept_s = time.perf_counter() - started
    held = tracemalloc.get_traced_memory()[0] - before
    for chat in range(conversations, 2 * conversations):  # a second flood replaces the first
        for number in range(CONTEXT_TURNS):
            state.remember(f"{chat:032x}", turn(chat, number))
    after_flood = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    started = time.perf_counter()
    for chat in range(conversations, 2 * conversations):
        state.context(f"{chat:032x}")
    read_s = time.perf_counter() - started
    return {
        "conversations": conversations,
        "turns_each": CONTEXT_TURNS,
        "mb": round(held / 2**20, 2),
        "mb_after_as_many_new_chats": round(after_flood / 2**20, 2),
        "remember_us": round(kept_s / (conversations * CONTEXT_TURNS) * 1e6, 2),  # and a turn made
        "read_us": round(read_s / conversations * 1e6, 2),
    }


def run(service: AnsweringService, asked: list[str]) -> dict[str, Any]:
    alone, later = _in_turns(
        lambda i: service.answer(asked[i]),
        lambda i: service.answer(asked[i], context=[UNRELATED]),
        len(asked),
    )
    reading: list[float] = []
    for question in asked * 3:  # what a question pays before it is answered as before
        started = time.perf_counter()
        service.read(question, [UNRELATED])
        reading.append((time.perf_counter() - started) * 1e6)
    cases = dialogue_follow_ups(service)
    resolved, written = _in_turns(
        lambda i: service.answer(cases[i][0], context=cases[i][1]),
        lambda i: service.answer(cases[i][2]),
        len(cases),
    )
    return {
        "standalone": {
            "alone_ms": percentiles(alone),
            "after_a_turn_ms": percentiles(later),
            "p50_added_ms": round(statistics.median(later) - statistics.median(alone), 2),
            "reading_us": percentiles(reading),
        },
        "resolved": {
            "follow_ups": len(cases),
            "in_context_ms": percentiles(resolved),
            "as_read_alone_ms": percentiles(written),
            "p50_added_ms": round(statistics.median(resolved) - statistics.median(written), 2),
        },
        "context_store": context_store(),
    }
