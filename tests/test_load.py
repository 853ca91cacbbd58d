"""Load: 100 chats asking 20 questions each at once, through the real bot and stand-in.

Every answer must arrive, once, and be the right one for its question. The latency figures
are printed (``-s`` shows them) rather than asserted: this machine's speed is not the test.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections import Counter
from pathlib import Path

import pytest

from quoth.retrieval import AnsweringService

from .conftest import settings_for
from .telegram_stand_in import BotApiStandIn
from .test_telegram import bot_settings, running_bot

CHATS = 100
QUESTIONS_PER_CHAT = 20
QUESTIONS = [
    ("Which Turkish naval ship arrived in Karachi?", "Büyükada"),
    ("When did Heydar Aliyev visit Pakistan?", "1996"),
    ("When were the Washington agreements signed?", "8 August"),
    ("Who won the 2022 FIFA World Cup?", "couldn't find that in my sources"),
]


@pytest.fixture
def server(telegram_api: BotApiStandIn) -> BotApiStandIn:
    return telegram_api


async def test_hundred_chats_answered_correctly(
    server: BotApiStandIn, service: AnsweringService, shared_index_dir: Path
) -> None:
    settings = bot_settings(server, settings_for(shared_index_dir), rate_limit_per_minute=1000)
    latencies: list[float] = []

    async def chat(number: int) -> None:
        chat_id = 700_000 + number
        for turn in range(QUESTIONS_PER_CHAT):
            question, evidence = QUESTIONS[(number + turn) % len(QUESTIONS)]
            started = time.perf_counter()
            message = server.push_message(chat_id, chat_id, question)
            reply = await server.reply_to(message, timeout=600)
            latencies.append(time.perf_counter() - started)
            assert reply.chat_id == chat_id and evidence in reply.text, (question, reply.text)

    async with running_bot(server, settings, service):
        started = time.perf_counter()
        await asyncio.gather(*(chat(n) for n in range(CHATS)))
        elapsed = time.perf_counter() - started
        await asyncio.sleep(1.0)  # a duplicate would arrive by now
    per_chat = Counter(s.chat_id for s in server.sent if s.method == "sendMessage")
    assert set(per_chat.values()) == {QUESTIONS_PER_CHAT} and len(per_chat) == CHATS
    latencies.sort()
    report = {
        "questions": len(latencies),
        "seconds": round(elapsed, 1),
        "answers_per_s": round(len(latencies) / elapsed, 1),
        "latency_ms": {
            "p50": round(statistics.median(latencies) * 1000),
            "p99": round(latencies[int(len(latencies) * 0.99) - 1] * 1000),
            "max": round(latencies[-1] * 1000),
        },
    }
    print("\nload:", json.dumps(report))
