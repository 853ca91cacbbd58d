"""The picture of docs/operators/monitoring.md: a real Prometheus scraping a real bot, its
graph captured.

    .venv/bin/python scripts/monitoring_picture.py OUT.png [--minutes 3]

Runs the Telegram bot over the reference articles against the Bot API stand-in of the tests,
with metrics on; people ask the seed and own questions for a few minutes (a reindex and some
votes among them) while Prometheus (Debian's package) scrapes every 2 s; then headless
Chromium captures Prometheus's graph of questions a minute by outcome and of answer time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

from tests.telegram_stand_in import TEST_TOKEN, BotApiStandIn  # noqa: E402

from quoth import runtime  # noqa: E402
from quoth.bot.library import Library  # noqa: E402
from quoth.bot.serve import serve_until_stopped  # noqa: E402
from quoth.bot.telegram import TelegramBot  # noqa: E402
from quoth.config import load_settings  # noqa: E402
from quoth.retrieval.evaluation import load_questions  # noqa: E402

SHARED = Path(os.environ.get("QUOTH_SHARED_DIR", REPO.parent / "shared"))
MODERATOR = 4242


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def ask_for(server: BotApiStandIn, minutes: float, corpus: Path) -> None:
    questions = [
        q.question
        for f in (SHARED / "eval" / "seed_questions.jsonl", REPO / "eval" / "questions.jsonl")
        for q in load_questions(f)
    ]
    rng = random.Random(7)
    ends = time.monotonic() + minutes * 60
    asked = 0
    while time.monotonic() < ends:
        user = 100 + rng.randrange(40)
        sent = await server.reply_to(server.push_message(user, user, rng.choice(questions)))
        asked += 1
        if asked % 9 == 0 and server.buttons(sent):
            label = "👍" if rng.random() < 0.7 else "👎"
            await server.callback_answer(server.push_button(user, sent, label))
        if asked == 120:
            (corpus / "extra.md").write_text("# Ferry\n\nThe Gull Island ferry runs at noon.")
            await server.reply_to(server.push_message(MODERATOR, MODERATOR, "/reindex"))
        await asyncio.sleep(rng.uniform(0.1, 0.9))


async def main(out: Path, minutes: float) -> None:
    work = Path(tempfile.mkdtemp(prefix="quoth-picture-"))
    corpus = work / "corpus"
    shutil.copytree(SHARED / "corpus" / "articles", corpus)
    port, web = free_port(), free_port()
    (work / "prometheus.yml").write_text(
        "global: {scrape_interval: 2s}\nscrape_configs:\n"
        f"  - {{job_name: quoth, static_configs: [{{targets: ['127.0.0.1:{port}']}}]}}\n"
    )
    prometheus = subprocess.Popen(
        ["prometheus", f"--config.file={work / 'prometheus.yml'}",
         f"--storage.tsdb.path={work / 'tsdb'}", f"--web.listen-address=127.0.0.1:{web}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    async with BotApiStandIn(TEST_TOKEN) as server:
        settings = load_settings(
            index_dir=work / "index",
            corpus_dir=corpus,
            telegram_token=TEST_TOKEN,
            telegram_api_url=server.root,
            moderator_ids=[MODERATOR],
            metrics_port=port,
            health_file=work / "health.json",
        )
        embedder = runtime.embedder_for(settings)
        runtime.reindex(settings, embedder)
        library = Library(settings, runtime.open_service(settings, embedder))
        serving = asyncio.create_task(
            serve_until_stopped(library, [TelegramBot(settings, library)])
        )
        try:
            await ask_for(server, minutes, corpus)
            await asyncio.sleep(5)
            graph = {
                "g0.expr": "sum by (outcome) (rate(quoth_questions_total[30s])) * 60",
                "g0.tab": "0",
                "g0.range_input": f"{int(minutes) + 1}m",
                "g1.expr": "histogram_quantile(0.95, sum by (le, stage) "
                "(rate(quoth_stage_seconds_bucket[30s])))",
                "g1.tab": "0",
                "g1.range_input": f"{int(minutes) + 1}m",
            }
            url = f"http://127.0.0.1:{web}/graph?{urlencode(graph)}"
            subprocess.run(
                ["chromium", "--headless", "--no-sandbox", "--disable-gpu",
                 "--hide-scrollbars", f"--screenshot={out.resolve()}",
                 "--window-size=1280,1700", "--virtual-time-budget=15000", url],
                check=True, capture_output=True,
            )  # fmt: skip
        finally:
            prometheus.terminate()
            os.kill(os.getpid(), signal.SIGTERM)
            await serving
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("--minutes", type=float, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.out, args.minutes))
