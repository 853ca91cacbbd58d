"""Two real ``quoth serve`` webhook replicas over one real PostgreSQL.

The test plays Telegram behind a load balancer: each update is POSTed to one replica, and
whatever is not acknowledged (a refused or dropped connection, a 5xx) is delivered again to
the next one, as Telegram re-delivers and the balancer routes around a dead replica.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import time
from pathlib import Path
from typing import Any

import httpx

from quoth.index import IndexData
from quoth.index.postgres import publish

from .conftest import fresh_database
from .telegram_stand_in import BotApiStandIn, SentMessage
from .test_telegram import MODERATOR, TOKEN, free_port, spawn_serve

SECRET = "replica-test-secret"
QUESTIONS = [
    "Which Turkish naval ship arrived in Karachi?",
    "Which water treaty did India suspend?",
    "Where did Shehbaz Sharif meet Ilham Aliyev?",
    "Who is the president of Azerbaijan?",
]


async def deliver(
    client: httpx.AsyncClient, update: dict[str, Any], hooks: list[str], first: int
) -> int:
    """POST ``update`` until a replica acknowledges it, starting at ``hooks[first]``;
    returns the index of the replica that did."""
    deadline = time.monotonic() + 60
    attempt = first
    while time.monotonic() < deadline:
        hook = hooks[attempt % len(hooks)]
        try:
            response = await client.post(
                hook, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
            )
            if response.status_code == 200:
                return attempt % len(hooks)
        except httpx.TransportError:
            pass
        attempt += 1
        await asyncio.sleep(0.1)
    raise AssertionError(f"update {update['update_id']} was never acknowledged")


def replies(server: BotApiStandIn, message_id: int) -> list[SentMessage]:
    return [sent for sent in server.sent if sent.reply_to == message_id]


async def test_two_replicas_answer_every_update_once_through_a_kill_and_a_reindex(
    telegram_api: BotApiStandIn,
    postgres_url: str,
    shared_index: IndexData,
    shared_index_dir: Path,
    corpus_copy: Path,
    tmp_path: Path,
) -> None:
    server = telegram_api
    database = fresh_database(postgres_url, "replicas_serve")
    publish(database, shared_index)
    ports = [free_port(), free_port()]
    hooks = [f"http://127.0.0.1:{port}/hook" for port in ports]

    def start(name: str, port: int) -> Any:
        cache = tmp_path / name
        if not cache.exists():
            shutil.copytree(shared_index_dir, cache)  # each replica's own build cache
        env = {
            **os.environ,
            "QUOTH_DATABASE_URL": database,
            "QUOTH_INDEX_DIR": str(cache),
            "QUOTH_CORPUS_DIR": str(corpus_copy),  # one corpus folder, shared
            "QUOTH_HEALTH_FILE": str(tmp_path / f"{name}-health.json"),
            "QUOTH_TELEGRAM_TOKEN": TOKEN,
            "QUOTH_TELEGRAM_API_URL": server.root,
            "QUOTH_MODERATOR_IDS": str(MODERATOR),
            "QUOTH_WEBHOOK_URL": "http://127.0.0.1:9/hook",  # the balancer's public address
            "QUOTH_WEBHOOK_SECRET": SECRET,
            "QUOTH_WEBHOOK_LISTEN": "127.0.0.1",
            "QUOTH_WEBHOOK_PORT": str(port),
            "QUOTH_THREADS": "1",
            "QUOTH_RATE_LIMIT_PER_MINUTE": "1000",
        }
        return spawn_serve(env)

    async def registered(count: int) -> None:
        for _ in range(900):
            if sum(method == "setWebhook" for method, _ in server.calls) >= count:
                return
            await asyncio.sleep(0.1)
        raise AssertionError("the replicas never registered their webhook")

    processes = [start("a", ports[0]), start("b", ports[1])]
    try:
        await registered(2)
        async with httpx.AsyncClient(timeout=60) as client:
            # 1. Questions to both replicas in turn, some delivered twice (to the other one).
            asked: list[dict[str, Any]] = []
            for number in range(12):
                chat = 5000 + number
                update = server.message_update(chat, chat, QUESTIONS[number % len(QUESTIONS)])
                await deliver(client, update, hooks, number)
                if number % 3 == 0:
                    assert await deliver(client, update, hooks, number + 1) == (number + 1) % 2
                asked.append(update["message"])
            # 2. A replica killed mid-answer: its reply never reached Telegram, and the update
            # (never acknowledged) is answered by the other replica, once.
            victim_chat = 6000
            held, release = server.hold(victim_chat)
            update = server.message_update(victim_chat, victim_chat, QUESTIONS[0])
            delivery = asyncio.create_task(deliver(client, update, hooks, 0))
            await asyncio.wait_for(held.wait(), 60)
            processes[0].send_signal(signal.SIGKILL)
            await asyncio.to_thread(processes[0].wait, 30)
            await asyncio.sleep(0.2)  # the stand-in sees the killed replica's connection close
            release.set()
            assert await delivery == 1
            asked.append(update["message"])
            for message in asked:
                answers = replies(server, message["message_id"])
                assert len(answers) == 1, (message["text"], [a.text[:60] for a in answers])
            assert "TCG Büyükada" in replies(server, update["message"]["message_id"])[0].text

            # 3. A moderator's reindex on one replica is served by the other.
            processes[0] = start("a", ports[0])
            await registered(3)
            (corpus_copy / "garden.txt").write_text(
                "Quoth replica garden\n\nThe replica garden grows exactly seventeen blue tulips."
            )
            reindex = server.message_update(MODERATOR, MODERATOR, "/reindex")
            await deliver(client, reindex, hooks, 0)
            report = await server.wait_for(
                lambda sent: sent.chat_id == MODERATOR and sent.text.startswith("Indexed"), 120
            )
            assert "1 new" in report.text
            question = "How many blue tulips does the replica garden grow?"
            for attempt in range(20):  # the other replica switches on the database's notice
                update = server.message_update(7000 + attempt, 7000, question)
                assert await deliver(client, update, hooks, 1) == 1
                answer = replies(server, update["message"]["message_id"])[0]
                if "seventeen blue tulips" in answer.text:
                    break
                await asyncio.sleep(0.25)
            assert "seventeen blue tulips" in answer.text, answer.text
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        outputs = [await asyncio.to_thread(p.communicate, timeout=30) for p in processes]
    assert processes[1].returncode == 0, outputs[1][0][-2000:]
    assert "now serving index version" in outputs[1][0]
    assert "already answered" in outputs[0][0] + outputs[1][0]
    assert "Traceback" not in outputs[1][0]
