"""deploy/'s monitoring against real Prometheus tools: the alert rules pass promtool's checks
and tests, and a real Prometheus scraping a real serving process has data for every panel of
the Grafana dashboard."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from quoth import metrics, runtime
from quoth.bot.library import Library
from quoth.bot.serve import serve_until_stopped
from quoth.bot.telegram import TelegramBot
from quoth.index import Embedder

from .conftest import REPO, settings_for, stop_serving
from .telegram_stand_in import BotApiStandIn
from .test_telegram import bot_settings, free_port

DEPLOY = REPO / "deploy"
PROMETHEUS, PROMTOOL = shutil.which("prometheus"), shutil.which("promtool")
needs_prometheus = pytest.mark.skipif(
    PROMETHEUS is None or PROMTOOL is None,
    reason="Prometheus is not installed (Debian: apt-get install prometheus; CI installs it)",
)


def dashboard_queries() -> list[tuple[str, str]]:
    dashboard = json.loads((DEPLOY / "grafana" / "dashboards" / "quoth.json").read_text())
    return [(p["title"], t["expr"]) for p in dashboard["panels"] for t in p["targets"]]


@needs_prometheus
def test_alert_rules_and_the_config_pass_promtool() -> None:
    assert PROMTOOL is not None
    folder = DEPLOY / "prometheus"
    for command in (
        ["check", "rules", "alerts.yml"],
        ["test", "rules", "alerts.test.yml"],
        ["check", "config", "prometheus.yml"],
    ):
        done = subprocess.run(
            [PROMTOOL, *command], cwd=folder, capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stdout + done.stderr


@needs_prometheus
async def test_a_real_prometheus_has_data_for_every_dashboard_panel(
    telegram_api: BotApiStandIn, corpus_copy: Path, tmp_path: Path, embedder: Embedder
) -> None:
    server, port, web = telegram_api, free_port(), free_port()
    indexed = settings_for(tmp_path / "idx", corpus_copy)
    runtime.reindex(indexed, embedder)
    settings = bot_settings(
        server, indexed, metrics_port=port, health_file=tmp_path / "health.json"
    )
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n"
        f"  - {{job_name: quoth, static_configs: [{{targets: ['127.0.0.1:{port}']}}]}}\n"
    )
    assert PROMETHEUS is not None
    prometheus = subprocess.Popen(
        [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{web}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    library = Library(settings, runtime.open_service(settings, embedder))
    serving = asyncio.create_task(serve_until_stopped(library, [TelegramBot(settings, library)]))
    api = f"http://127.0.0.1:{web}/api/v1/query"
    try:
        async with httpx.AsyncClient(timeout=30) as client:

            async def query(expr: str) -> list[object]:
                answer = (await client.get(api, params={"query": expr})).json()
                assert answer["status"] == "success", answer
                return list(answer["data"]["result"])

            async def ask(text: str, user: int = 5_550_001) -> None:
                await server.reply_to(server.push_message(user, user, text))

            await ask("Which water treaty did India suspend?")
            await ask("Who won the 2022 FIFA World Cup?")
            await ask("When did Heydar Aliyev visit Pakistan?", 5_550_002)
            await ask("/reindex", settings.moderator_ids[0])
            await server.wait_for(lambda s: "Indexed" in s.text)
            for _ in range(600):  # enough scrapes after the last event for every rate
                try:
                    scraped = await query('count_over_time(up{job="quoth"}[1m])')
                except httpx.ConnectError:
                    scraped = []
                if scraped and float(scraped[0]["value"][1]) >= 8:  # type: ignore[index]
                    break
                await asyncio.sleep(0.25)
            else:
                raise AssertionError("Prometheus did not scrape the process")
            empty = [title for title, expr in dashboard_queries() if not await query(expr)]
            answered = await query('sum(quoth_questions_total{outcome="answered"})')
    finally:
        prometheus.terminate()
        prometheus.wait(timeout=30)
        await stop_serving(serving)
    assert not empty, f"panels without data: {empty}"
    counted = sum(  # the process's own count (other tests of this process answered too)
        sample.value
        for family in metrics.REGISTRY.collect()
        for sample in family.samples
        if sample.name == "quoth_questions_total" and sample.labels["outcome"] == "answered"
    )
    assert float(answered[0]["value"][1]) == counted >= 2  # type: ignore[index]
