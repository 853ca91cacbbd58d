"""What an operator scrapes and reads: /metrics from a real serving process, JSON log lines."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from quoth import runtime
from quoth.bot.library import Library
from quoth.bot.logs import json_formatter
from quoth.bot.serve import serve_until_stopped
from quoth.bot.telegram import TelegramBot
from quoth.index import Embedder

from .conftest import settings_for, stop_serving
from .telegram_stand_in import BotApiStandIn
from .test_telegram import bot_settings, free_port

ASKER = 918_273_645
MODERATOR = 864_209_753
ANSWERABLE = "Which water treaty did India suspend?"
UNANSWERABLE = "Who won the 2022 FIFA World Cup?"
TEXT_FORMAT = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")


def scrape(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of an exposition, by name and labels (parsed by prometheus-client)."""
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float:
    """The sum of ``name``'s samples whose labels include ``labels``."""
    return sum(
        v for (n, have), v in samples.items() if n == name and set(labels.items()) <= set(have)
    )


async def test_a_serving_process_counts_what_happens_and_never_labels_a_person(
    telegram_api: BotApiStandIn,
    corpus_copy: Path,
    tmp_path: Path,
    embedder: Embedder,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server, port = telegram_api, free_port()
    indexed = settings_for(tmp_path / "idx", corpus_copy)
    runtime.reindex(indexed, embedder)
    settings = bot_settings(
        server,
        indexed,
        metrics_port=port,
        replica="replica-a",
        rate_limit_per_minute=3,
        health_file=tmp_path / "health.json",
        moderator_ids=[MODERATOR],
    )
    library = Library(settings, runtime.open_service(settings, embedder))
    serving = asyncio.create_task(serve_until_stopped(library, [TelegramBot(settings, library)]))
    caplog.set_level(logging.INFO)
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        async with httpx.AsyncClient(timeout=30) as client:
            for _ in range(300):  # the exporter starts with the process, before polling
                try:
                    before = scrape((await client.get(url)).text)
                    break
                except httpx.ConnectError:
                    await asyncio.sleep(0.1)

            async def ask(text: str, user: int = ASKER) -> str:
                return (await server.reply_to(server.push_message(user, user, text))).text

            assert "Indus Waters Treaty" in await ask(ANSWERABLE)
            answer = server.sent[-1]
            assert "sources" in (await ask(UNANSWERABLE)).lower()
            await ask(ANSWERABLE)
            assert "asking quickly" in await ask(ANSWERABLE)  # the fourth in a minute
            await server.callback_answer(server.push_button(ASKER, answer, "👍"))
            (corpus_copy / "extra.md").write_text("# Extra\n\nThe Gull Island ferry runs at noon.")
            await ask("/reindex", MODERATOR)
            await server.wait_for(lambda s: "Indexed" in s.text)
            response = await client.get(url)
    finally:
        await stop_serving(serving)

    assert response.headers["content-type"].startswith("text/plain")
    after = scrape(response.text)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    chat = {"platform": "telegram", "chat": "private"}
    assert moved("quoth_questions_total", **chat, outcome="answered") == 2
    assert moved("quoth_questions_total", **chat, outcome="refused") == 1
    assert moved("quoth_questions_total", **chat, outcome="rate_limited") == 1
    assert moved("quoth_answer_seconds_count", platform="telegram") == 3
    for stage in ("encode", "search", "rerank", "quote", "send"):
        assert moved("quoth_stage_seconds_count", stage=stage) >= 2, stage
    assert moved("quoth_votes_total", vote="up") == 1
    assert moved("quoth_reindexes_total", kind="delta", outcome="ok") == 1
    assert moved("quoth_reindex_articles_total", change="added") == 1
    assert value(after, "quoth_index_articles") == 6
    assert value(after, "quoth_index_passages") > 0
    assert 0 <= value(after, "quoth_index_age_seconds") < 120
    assert value(after, "process_resident_memory_bytes") > 0
    # Every sample names the replica; no label holds a person or a question.
    for (name, labels), _ in after.items():
        assert ("replica", "replica-a") in labels, name
        for _, label_value in labels:
            assert str(ASKER) not in label_value and "treaty" not in label_value.lower()

    # The log lines of all this, as text and as JSON: no user id, no question, no token.
    lines = [r for r in caplog.records if r.levelno >= logging.INFO]
    assert any(r.getMessage().startswith("question ") for r in lines)
    for record in lines:
        for formatted in (TEXT_FORMAT.format(record), json_formatter().format(record)):
            assert str(ASKER) not in formatted and str(MODERATOR) not in formatted
            assert "treaty" not in formatted.lower() and "FIFA" not in formatted
            assert settings.telegram_token is not None
            assert settings.telegram_token.get_secret_value() not in formatted


def test_json_log_lines_carry_the_fields_a_line_logs() -> None:
    record = logging.LogRecord(
        "quoth.conversation", logging.INFO, __file__, 1, "vote %s", ("up",), None
    )
    record.vote, record.outcome = "up", "new"
    line = json.loads(json_formatter().format(record))
    assert line["level"] == "INFO" and line["logger"] == "quoth.conversation"
    assert line["message"] == "vote up" and line["vote"] == "up" and line["outcome"] == "new"
    assert line["time"][:2] == "20" and "T" in line["time"]
