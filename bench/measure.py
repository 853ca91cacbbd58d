"""Measurements over a built index; each returns plain numbers for the JSON report."""

from __future__ import annotations

import asyncio
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import SecretStr
from tests.telegram_stand_in import BotApiStandIn

from quoth.bot import telegram_html
from quoth.bot.library import Library
from quoth.bot.telegram import TelegramBot
from quoth.config import Settings
from quoth.index import Embedder, IndexData
from quoth.index.vectors import FaissIndex
from quoth.retrieval import AnsweringService

TOKEN = "123456:bench-token"


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return {
        "p50": round(statistics.median(ordered), 2),
        "p95": round(at(0.95), 2),
        "p99": round(at(0.99), 2),
        "n": len(ordered),
    }


def floor(embedder: Embedder, index: IndexData, questions: list[str]) -> dict[str, Any]:
    """Bare query encoding plus bare FAISS search: what no answer can beat."""
    encode, search = [], []
    embedder.encode(questions[:1])
    for question in questions:
        started = time.perf_counter()
        vector = embedder.encode([question])
        encoded = time.perf_counter()
        index.vectors.search(vector, 20)
        searched = time.perf_counter()
        encode.append((encoded - started) * 1000)
        search.append((searched - encoded) * 1000)
    return {
        "encode_ms": percentiles(encode),
        "search_ms": percentiles(search),
        "floor_p50_ms": round(statistics.median(encode) + statistics.median(search), 2),
    }


def query_stages(service: AnsweringService, questions: list[str], mode: str) -> dict[str, Any]:
    stages: dict[str, list[float]] = {}
    totals = []
    for question in questions:
        started = time.perf_counter()
        answer = service.answer(question, mode=mode)
        render_started = time.perf_counter()
        telegram_html.render_answer(answer, "quoth_bot")
        now = time.perf_counter()
        totals.append((now - started) * 1000)
        for stage, ms in {**answer.timings, "render": (now - render_started) * 1000}.items():
            stages.setdefault(stage, []).append(ms)
    return {
        "total_ms": percentiles(totals),
        **{f"{k}_ms": percentiles(v) for k, v in stages.items()},
    }


def exact_top(vectors: Any, queries: np.ndarray, k: int) -> np.ndarray:
    """Rows of the ``k`` best inner products, by exact search in blocks of 100k."""
    scores = np.full((len(queries), 0), -np.inf, dtype=np.float32)
    rows = np.zeros((len(queries), 0), dtype=np.int64)
    for start in range(0, len(vectors), 100_000):
        block = np.asarray(vectors[start : start + 100_000], dtype=np.float32)
        block_scores = queries @ block.T
        scores = np.concatenate([scores, block_scores], axis=1)
        numbers = np.broadcast_to(np.arange(start, start + len(block)), block_scores.shape)
        rows = np.concatenate([rows, numbers], axis=1)
        keep = np.argsort(-scores, axis=1)[:, :k]
        scores = np.take_along_axis(scores, keep, axis=1)
        rows = np.take_along_axis(rows, keep, axis=1)
    return rows


def _recall_and_time(
    vectors: FaissIndex, queries: np.ndarray, truth: np.ndarray, k: int
) -> dict[str, float]:
    """recall@k of ``vectors`` as served against ``truth``, and a single query's search time."""
    found = np.stack([vectors.search(q[None, :], k)[1][0] for q in queries])
    timings = []
    for q in queries:
        started = time.perf_counter()
        vectors.search(q[None, :], k)
        timings.append((time.perf_counter() - started) * 1000)
    hits = sum(len(set(a) & set(b)) for a, b in zip(truth.tolist(), found.tolist(), strict=True))
    return {
        "recall": round(hits / (k * len(queries)), 4),
        "search_p50_ms": round(float(np.percentile(timings, 50)), 3),
    }


def ivf_recall(index: IndexData, queries: np.ndarray, k: int = 10) -> dict[str, Any]:
    """recall@k of the served IVF index against exact search, and single-query search time,
    at the served number of probed cells and around it."""
    vectors = index.vectors
    if not isinstance(vectors, FaissIndex) or vectors.kind != "ivf":
        return {}
    truth = exact_top(index.passage_vectors, queries, k)
    served = vectors.probes
    result: dict[str, Any] = {"cells": vectors.cells, "probes_served": served}
    for probes in sorted({16, 32, 64, 128, 256, served}):
        vectors.probes = probes
        result[f"probes_{probes}"] = _recall_and_time(vectors, queries, truth, k)
    vectors.probes = served
    return result


def codes_recall(index: IndexData, queries: np.ndarray, k: int = 10) -> dict[str, Any]:
    """recall@k of a served ``sq8`` index (8-bit codes, re-scored) against exact search."""
    vectors = index.vectors
    if not isinstance(vectors, FaissIndex) or vectors.kind != "sq8":
        return {}
    truth = exact_top(index.passage_vectors, queries, k)
    return _recall_and_time(vectors, queries, truth, k)


async def telegram_e2e(
    settings: Settings, service: AnsweringService, questions: list[str], count: int, chats: int
) -> dict[str, Any]:
    """Question injected at the Bot API stand-in -> sendMessage received, through real PTB."""
    server = BotApiStandIn(TOKEN)
    await server.start()
    settings = settings.model_copy(
        update={
            "telegram_token": SecretStr(TOKEN),
            "telegram_api_url": server.root,
            "rate_limit_per_minute": 1000,
        }
    )
    bot = TelegramBot(settings, Library(settings, service))
    app = bot.application()
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0.0, timeout=1)
    try:
        latencies = []
        for number in range(count):
            started = time.perf_counter()
            message = server.push_message(
                1000 + number, 1000 + number, questions[number % len(questions)]
            )
            await server.reply_to(message, timeout=60)
            latencies.append((time.perf_counter() - started) * 1000)
            # Paced at 12 questions/s, well under the flood limiter's 30 requests/s.
            await asyncio.sleep(max(0.0, 1 / 12 - (time.perf_counter() - started)))
        started = time.perf_counter()
        burst = [
            server.push_message(5000 + c, 5000 + c, questions[c % len(questions)])
            for c in range(chats)
        ]
        waits = [server.reply_to(m, timeout=120) for m in burst]
        await asyncio.gather(*waits)
        elapsed = time.perf_counter() - started
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
        await server.stop()
    return {
        "sequential_ms": percentiles(latencies),
        "concurrent_chats": chats,
        "concurrent_seconds": round(elapsed, 2),
        "concurrent_answers_per_s": round(chats / elapsed, 2),
    }


async def serve_process(
    index_dir: Path, extra_env: dict[str, str], questions: list[str]
) -> dict[str, Any]:
    """``quoth serve`` as a process: start-to-ready and resident memory while answering."""
    server = BotApiStandIn(TOKEN)
    await server.start()
    env = {
        **os.environ,
        **extra_env,
        "QUOTH_TELEGRAM_TOKEN": TOKEN,
        "QUOTH_TELEGRAM_API_URL": server.root,
        "QUOTH_INDEX_DIR": str(index_dir),
    }
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "quoth", "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while "default" not in server.commands:
            if process.poll() is not None:
                raise RuntimeError("quoth serve exited early")
            await asyncio.sleep(0.01)
        ready = time.perf_counter() - started
        first = server.push_message(77, 77, questions[0])
        await server.reply_to(first, timeout=60)
        first_answer = time.perf_counter() - started
        for number, question in enumerate(questions[1:50]):
            await server.reply_to(
                server.push_message(100 + number, 100 + number, question), timeout=60
            )
        status = Path(f"/proc/{process.pid}/status").read_text()
        memory = {
            line.split(":")[0]: int(line.split()[1]) // 1024
            for line in status.splitlines()
            if line.startswith(("VmRSS", "VmHWM", "RssAnon", "RssFile"))
        }
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        await server.stop()
    return {
        "start_to_ready_s": round(ready, 2),
        "start_to_first_answer_s": round(first_answer, 2),
        "rss_mb": memory.get("VmRSS"),
        "peak_rss_mb": memory.get("VmHWM"),
        "rss_anonymous_mb": memory.get("RssAnon"),
        "rss_file_backed_mb": memory.get("RssFile"),
    }


def metrics_overhead(service: AnsweringService, questions: list[str]) -> dict[str, Any]:
    """What recording metrics adds to an answer, against the answer's own time in this run.

    The calls a served question makes (its outcome counter, the answer and stage histograms,
    the send stage around the reply) are timed over many repetitions with the real timings of
    the answers; a scrape's rendering is timed too (Prometheus asks every 15 s or so, not per
    answer). An A/B of two p50s could not resolve a cost this small from noise."""
    from quoth import metrics

    answers = [service.answer(q) for q in questions]
    totals = []
    for question in questions:
        started = time.perf_counter()
        service.answer(question)
        totals.append((time.perf_counter() - started) * 1000)

    async def nothing() -> None:
        return None

    async def record(rounds: int) -> float:
        started = time.perf_counter()
        for number in range(rounds):
            answer = answers[number % len(answers)]
            metrics.QUESTIONS.labels("bench", "private", answer.state.outcome).inc()
            metrics.observe_answer("bench", answer.timings, 0.05)
            await metrics.sent("bench", nothing())
        return (time.perf_counter() - started) * 1000 / rounds

    per_answer_ms = asyncio.run(record(20_000))
    scrapes = []
    for _ in range(50):
        started = time.perf_counter()
        metrics.exposition("bench")
        scrapes.append((time.perf_counter() - started) * 1000)
    p50 = statistics.median(totals)
    return {
        "answer_p50_ms": round(p50, 2),
        "metrics_per_answer_ms": round(per_answer_ms, 4),
        "with_metrics_to_without": round((p50 + per_answer_ms) / p50, 4),
        "scrape_ms": percentiles(scrapes),
    }
