"""Faults on the Bot API: every question is still answered exactly once, and the bot lives."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from pathlib import Path

import pytest

from quoth.retrieval import AnsweringService

from .conftest import settings_for
from .telegram_stand_in import BotApiStandIn
from .test_telegram import TOKEN, bot_settings, running_bot

QUESTIONS = {
    "Which Turkish naval ship arrived in Karachi?": "Büyükada",
    "When did Heydar Aliyev visit Pakistan?": "1996",
    "When were the Washington agreements signed?": "8 August",
}


@pytest.fixture
def server(telegram_api: BotApiStandIn) -> BotApiStandIn:
    return telegram_api


async def test_answers_survive_api_faults(
    server: BotApiStandIn,
    service: AnsweringService,
    shared_index_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = bot_settings(server, settings_for(shared_index_dir), rate_limit_per_minute=1000)
    send_faults = ["429", "500", "drop", "slow", "502", "drop", "503", "429", "drop", "500"]
    poll_faults = ["500", "drop", "409", "slow", "502", "409"]
    server.inject("sendMessage", *send_faults)
    server.inject("getUpdates", *poll_faults)
    asked = list(QUESTIONS.items()) * 7  # 21 questions, one chat each
    async with running_bot(server, settings, service) as harness:
        messages = [
            harness.server.push_message(1000 + n, 1000 + n, question)
            for n, (question, _) in enumerate(asked)
        ]
        replies = [await server.reply_to(message, timeout=120) for message in messages]
        await asyncio.sleep(2.0)  # time for a duplicate to show up, if there were one
        assert not server.faults["sendMessage"] and not server.faults["getUpdates"]
        late = await harness.ask("Which Turkish naval ship arrived in Karachi?", 9999, 9999)
    for (_, evidence), reply in zip(asked, replies, strict=True):
        assert evidence in reply.text, reply.text
    per_chat = Counter(s.chat_id for s in server.sent if s.method == "sendMessage")
    assert all(per_chat[1000 + n] == 1 for n in range(len(asked))), per_chat  # no duplicates
    assert "Büyükada" in late.text
    assert len(server.faults_served) == len(send_faults) + len(poll_faults)
    assert TOKEN not in caplog.text and TOKEN.split(":")[1] not in caplog.text
