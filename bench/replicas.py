"""Questions per second of one and of two Telegram webhook replicas over one PostgreSQL.

    python -m bench.replicas [--questions 240] [--concurrency 16]

Each replica is a real process (``bench.replica``: what ``quoth serve`` runs) behind the
test's Bot API stand-in; this process plays Telegram behind a round-robin balancer, keeping
``--concurrency`` updates in flight, and counts an update done when its POST is acknowledged
(a replica acknowledges after answering). Measured twice: with the real models, where every
replica shares this machine's 2 cores, and with the model stages replaced by their measured
latency (see :mod:`bench.replica`), which is what replicas on machines of their own do.
Prints one JSON document.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from tests.telegram_stand_in import BotApiStandIn

from bench.postgres import fresh_database, server
from quoth import runtime
from quoth.config import load_settings

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("QUOTH_SHARED_DIR", REPO.parent / "shared"))
TOKEN = "123456:bench-replicas"
SECRET = "bench-replicas-secret"


def questions() -> list[str]:
    from quoth.retrieval.evaluation import load_questions

    files = [SHARED / "eval" / "seed_questions.jsonl", REPO / "eval" / "questions.jsonl"]
    return [q.question for f in files for q in load_questions(f)]


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def load(
    stand_in: BotApiStandIn, hooks: list[str], asked: list[str], concurrency: int
) -> dict[str, Any]:
    """Deliver every question once, ``concurrency`` in flight, round robin over ``hooks``."""
    pending = list(enumerate(asked))
    latencies: list[float] = []
    retries = 0

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal retries
        while pending:
            number, question = pending.pop()
            user = 10_000 + number
            update = stand_in.message_update(user, user, question)
            attempt = number
            started = time.perf_counter()
            while True:
                hook = hooks[attempt % len(hooks)]
                response = await client.post(
                    hook, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
                )
                if response.status_code == 200:
                    break
                retries += 1
                attempt += 1
            latencies.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    async with httpx.AsyncClient(timeout=120) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    seconds = time.perf_counter() - started
    latencies.sort()
    return {
        "questions": len(asked),
        "seconds": round(seconds, 2),
        "answers_per_s": round(len(asked) / seconds, 2),
        "latency_p50_ms": round(latencies[len(latencies) // 2], 1),
        "latency_p95_ms": round(latencies[int(len(latencies) * 0.95)], 1),
        "retries": retries,
    }


async def measure(
    replicas: int, env: dict[str, str], asked: list[str], concurrency: int, work: Path
) -> dict[str, Any]:
    import psycopg

    with psycopg.connect(env["QUOTH_DATABASE_URL"], autocommit=True) as conn:
        conn.execute("TRUNCATE quoth_updates, quoth_rate")  # each stand-in counts from 1 again
    async with BotApiStandIn(TOKEN) as stand_in:
        ports = [free_port() for _ in range(replicas)]
        processes = []
        for number, port in enumerate(ports):
            replica_env = {
                **env,
                "QUOTH_TELEGRAM_API_URL": stand_in.root,
                "QUOTH_WEBHOOK_PORT": str(port),
                "QUOTH_HEALTH_FILE": str(work / f"health-{number}.json"),
            }
            command = [sys.executable, "-m", "bench.replica"]
            processes.append(
                subprocess.Popen(command, env=replica_env, cwd=REPO, stdout=subprocess.DEVNULL)
            )
        try:
            deadline = time.monotonic() + 300
            while sum(m == "setWebhook" for m, _ in stand_in.calls) < replicas:
                if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
                    raise RuntimeError("a replica did not start")
                await asyncio.sleep(0.2)
            hooks = [f"http://127.0.0.1:{port}/hook" for port in ports]
            await load(stand_in, hooks, asked[:concurrency], concurrency)  # warm up
            sent_before = len(stand_in.sent)
            result = await load(stand_in, hooks, asked, concurrency)
            answers = stand_in.sent[sent_before:]
            result["replies"] = len(answers)
            if len(answers) != len(asked):
                raise RuntimeError(f"{len(answers)} replies to {len(asked)} questions")
            result["failed_replies"] = sum("went wrong" in s.text for s in answers)
            return result
        finally:
            for process in processes:
                process.send_signal(signal.SIGTERM)
            for process in processes:
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()


async def main_async(count: int, concurrency: int, work: Path) -> dict[str, Any]:
    asked = (questions() * (count // len(questions()) + 1))[:count]
    report: dict[str, Any] = {"machine": {"cpus": os.cpu_count()}, "concurrency": concurrency}
    with server(work) as url:
        database = fresh_database(url, "quoth_replicas")
        settings = load_settings(
            index_dir=work / "index",
            corpus_dir=SHARED / "corpus" / "articles",
            database_url=database,
        )
        runtime.reindex(settings, runtime.embedder_for(settings))
        stub_file = work / "questions.json"
        stub_file.write_text(json.dumps(sorted(set(asked))))
        env = {
            **os.environ,
            "QUOTH_DATABASE_URL": database,
            "QUOTH_INDEX_DIR": str(work / "index"),
            "QUOTH_CORPUS_DIR": str(SHARED / "corpus" / "articles"),
            "QUOTH_TELEGRAM_TOKEN": TOKEN,
            "QUOTH_WEBHOOK_URL": "https://balancer.invalid/hook",
            "QUOTH_WEBHOOK_SECRET": SECRET,
            "QUOTH_WEBHOOK_LISTEN": "127.0.0.1",
            "QUOTH_RATE_LIMIT_PER_MINUTE": "1000",
            "QUOTH_THREADS": "1",
            "PYTHONPATH": str(REPO),
        }
        stub = {"BENCH_STUB_MODELS": str(stub_file)}
        for label, extra in (("real_models", {}), ("models_stubbed", stub)):
            one = await measure(1, {**env, **extra}, asked, concurrency, work)
            two = await measure(2, {**env, **extra}, asked, concurrency, work)
            report[label] = {
                "one_replica": one,
                "two_replicas": two,
                "two_to_one": round(two["answers_per_s"] / one["answers_per_s"], 2),
            }
    return report


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.replicas", description=__doc__)
    parser.add_argument("--questions", type=int, default=240)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="quoth-replicas-") as work:
        report = asyncio.run(main_async(args.questions, args.concurrency, Path(work)))
    json.dump(report, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
