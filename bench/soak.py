"""A soak: constant questions through the real Telegram bot for N minutes, with links added,
a feed refreshed and articles changed on a schedule; fails if a resource keeps growing or an
answer is lost.

    python -m bench.soak [--minutes 3] [--scale 10k] [--work DIR] [--backend postgres]
        [--only-changes] > bench/results/DATE-soak.json

Over a copy of the benchmark corpus and its index (built here, or reused from ``--work``), a
real python-telegram-bot application with quoth's handlers answers questions pushed into the
local Bot API stand-in at a steady rate (``--rate`` a second). Every ``--every`` seconds one
event takes its turn: a moderator sends a link to a new page of the tests' local web site
(added and indexed in the background), a new entry appears in a followed feed and a feed
round runs (fetched, stored and indexed), or an article file changes and the bot reindexes.
Every ``--sample`` seconds it records the process's resident memory, open files and threads
and the answers' p50 / p99 of that window; with ``--backend postgres`` (the index, feedback,
feeds and shared state in a local pgserver, or ``QUOTH_BENCH_DATABASE_URL``) also the
database connections open to it. With ``--only-changes`` every event is a changed article
and a reindex (merges included, as they fall due): the reindex-heavy mode, which also fails
when memory (its low-water mark, between reindexes) grew more than
:data:`GROWTH_AFTER_WARM_UP_MB` from the first quarter of the samples after the first
:data:`WARM_UP_EVENTS` reindexes to the last. It serves as the Docker image does (the int8
embedder on ONNX Runtime; torch is never imported).

It exits 1 (after printing the JSON) when a question got no reply or two, or when, between
the first and the last quarter of the run (the first sample, taken while caches fill, left
out), memory grew more than :data:`RSS_GROWTH` plus :data:`RSS_SLACK_MB`, open files more than
:data:`FILES_GROWTH`, or threads more than :data:`THREADS_GROWTH`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import shutil
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from tests.telegram_stand_in import TEST_TOKEN, BotApiStandIn
from tests.web_stand_in import PARAGRAPHS, Entry, Resource, Site, news_page, rss, serving

from bench import corpus
from bench.__main__ import SCALES, SHARED, questions
from bench.build import build
from quoth import runtime
from quoth.bot.library import Library
from quoth.bot.telegram import TelegramBot
from quoth.config import Settings, load_settings
from quoth.index import load_embedder, load_index
from quoth.index.postgres import publish

MODERATOR = 4242
CONNECTIONS_GROWTH = 4
RSS_GROWTH = 0.15
RSS_SLACK_MB = 40.0
FILES_GROWTH = 10
THREADS_GROWTH = 4
WARM_UP_EVENTS = 20
GROWTH_AFTER_WARM_UP_MB = 20.0
SECOND_REPLY_WAIT_S = 10.0
"""How long after its answer a question is watched for a second reply before the stand-in
forgets it (its record of every message would otherwise grow the process measured)."""


def resources() -> dict[str, float]:
    """This process's resident memory (MB; anonymous and file-backed apart, where the
    kernel says, so growth can be traced to the heap or to mapped index files), open files
    and threads, from /proc; and the blocks Python's allocator holds, so heap growth can be
    told apart as Python objects or native buffers."""
    status = Path("/proc/self/status").read_text().splitlines()
    fields = dict(line.split(":", 1) for line in status if ":" in line)
    kinds = {
        f"{name}_mb": round(int(fields[key].split()[0]) / 1024, 1)
        for name, key in (("anon", "RssAnon"), ("file", "RssFile"))
        if key in fields
    }
    return {
        "rss_mb": round(int(fields["VmRSS"].split()[0]) / 1024, 1),
        **kinds,
        "open_files": sum(1 for _ in Path("/proc/self/fd").iterdir()),
        "threads": int(fields["Threads"]),
        "python_blocks": sys.getallocatedblocks(),
        "python_threads": threading.active_count(),
    }


def connections(url: str | None) -> int | None:
    """Connections open to the soak's database (its own probe left out)."""
    if url is None:
        return None
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()
    return int(row[0]) if row else 0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1) if ordered else 0.0


class Events:
    """The scheduled changes, taken in turn: a link, a feed entry, a changed article."""

    def __init__(
        self,
        site: Site,
        library: Library,
        server: BotApiStandIn,
        corpus: Path,
        only_changes: bool = False,
    ):
        self.site, self.library, self.server, self.corpus = site, library, server, corpus
        self.only_changes = only_changes
        self.count = 0
        self.done: dict[str, int] = {"link": 0, "feed": 0, "article": 0}
        self.entries: list[Entry] = []

    def page(self, kind: str) -> str:
        self.count += 1
        title = f"Soak {kind} {self.count}"
        text = [f"{p} ({title}.)" for p in PARAGRAPHS]
        path = f"/soak/{kind}/{self.count}"
        return self.site.page(path, news_page(title, text, self.site.url(path), "2026-12-01"))

    async def next(self) -> None:
        kinds = ("article",) if self.only_changes else ("link", "feed", "article")
        kind = kinds[sum(self.done.values()) % len(kinds)]
        if kind == "link":
            message = self.server.push_message(MODERATOR, MODERATOR, self.page("link"))
            await self.server.reply_to(message, timeout=120)
        elif kind == "feed":
            self.entries.append(Entry(f"Soak entry {self.count}", self.page("feed")))
            body = rss("Soak feed", self.entries)
            self.site.resources["/soak.rss"] = Resource(body, "application/rss+xml")
            await self.library.feed_round()
        else:
            article = sorted(self.corpus.glob("*.md"))[self.done["article"]]
            article.write_text(article.read_text() + f"\n\nRevised {self.count}.\n")
            await self.library.reindex_and_describe()
        self.done[kind] += 1


async def soak(
    settings: Settings,
    minutes: float,
    rate: float,
    every: float,
    sample: float,
    only_changes: bool = False,
) -> Any:
    server = BotApiStandIn(TEST_TOKEN, record_calls=False)
    await server.start()
    embedder = runtime.embedder_for(settings)
    settings = settings.model_copy(update={"telegram_api_url": server.root})
    library = Library(
        settings,
        runtime.open_service(settings, embedder),
        runtime.open_state(settings),  # as quoth serve has them: in the database when set
        runtime.open_feedback(settings),
    )
    bot = TelegramBot(settings, library)
    app = bot.application()
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0.0, timeout=1)
    asked = questions()
    replies: dict[int, int] = {}  # question's message id -> replies it got
    latencies: list[float] = []
    samples: list[dict[str, Any]] = []
    with serving() as site:
        events = Events(site, library, server, settings.corpus_dir or Path(), only_changes)
        events.entries.append(Entry("Soak entry 0", events.page("feed")))
        body = rss("Soak feed", events.entries)
        site.resources["/soak.rss"] = Resource(body, "application/rss+xml")
        await asyncio.to_thread(library.follow_feed, site.url("/soak.rss"))
        await library.reindex_and_describe()

        async def one(number: int) -> None:
            started = time.perf_counter()
            chat = 100 + number % 50
            message = server.push_message(chat, chat, asked[number % len(asked)])
            with contextlib.suppress(AssertionError):  # no reply: counted below as lost
                await server.reply_to(message, timeout=120)
                latencies.append((time.perf_counter() - started) * 1000)
                await asyncio.sleep(SECOND_REPLY_WAIT_S)  # a doubled reply would come by now
            replies[message["message_id"]] = server.forget(message)

        async def asking(deadline: float) -> None:
            tasks: set[asyncio.Task[None]] = set()
            number = 0
            while time.monotonic() < deadline:
                task = asyncio.create_task(one(number))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                number += 1
                await asyncio.sleep(1 / rate)
            await asyncio.gather(*tasks)

        async def changing(deadline: float) -> None:
            while time.monotonic() + every < deadline:
                await asyncio.sleep(every)
                await events.next()

        async def sampling(deadline: float, started: float) -> None:
            seen = 0
            while time.monotonic() < deadline:
                await asyncio.sleep(sample)
                window = latencies[seen:]
                seen = len(latencies)
                gc.collect()
                url = settings.database_url
                opened = await asyncio.to_thread(
                    connections, None if url is None else url.get_secret_value()
                )
                samples.append(
                    {
                        "minute": round((time.monotonic() - started) / 60, 2),
                        **resources(),
                        **({} if opened is None else {"database_connections": opened}),
                        "events": sum(events.done.values()),
                        "answers": len(window),
                        "p50_ms": percentile(window, 0.5),
                        "p99_ms": percentile(window, 0.99),
                    }
                )

        started = time.monotonic()
        deadline = started + minutes * 60
        await asyncio.gather(asking(deadline), changing(deadline), sampling(deadline, started))
        await library.reindex_and_describe()  # what the last event started has finished
    await app.updater.stop()
    await app.stop()
    await app.shutdown()
    await server.stop()
    lost = [key for key, count in replies.items() if count != 1]
    return {"events": events.done, "questions": len(replies), "lost_or_doubled": len(lost),
            "samples": samples}  # fmt: skip


def verdict(result: dict[str, Any]) -> list[str]:
    """What grew past its bound, or was lost; empty when the run held."""
    problems = []
    if result["lost_or_doubled"]:
        problems.append(f"{result['lost_or_doubled']} questions got no reply or two")
    samples = result["samples"][1:]
    quarter = max(1, len(samples) // 4)
    if len(samples) < 2:
        return [*problems, "too short a run to judge growth"]
    first, last = samples[:quarter], samples[-quarter:]

    def median(part: list[dict[str, Any]], key: str) -> float:
        return float(statistics.median(s[key] for s in part))

    rss_bound = median(first, "rss_mb") * (1 + RSS_GROWTH) + RSS_SLACK_MB
    result["bounds"] = {"rss_mb": round(rss_bound, 1), "open_files_growth": FILES_GROWTH,
                        "threads_growth": THREADS_GROWTH}  # fmt: skip
    if median(last, "rss_mb") > rss_bound:
        problems.append(f"memory grew to {median(last, 'rss_mb')} MB (bound {rss_bound:.0f})")
    warm = [s for s in samples if s.get("events", 0) >= WARM_UP_EVENTS]
    if len(warm) >= 4:  # what the reindex-heavy mode bounds: growth once the first are done
        # Low-water marks: a sample taken while a reindex builds holds its transient arrays
        # (tens of MB at 10k); what stays between reindexes is what a process keeps.
        part = max(1, len(warm) // 4)
        low = [min(s["rss_mb"] for s in window) for window in (warm[:part], warm[-part:])]
        grown = round(low[1] - low[0], 1)
        result["growth_after_warm_up_mb"] = grown
        if result.get("only_changes") and grown > GROWTH_AFTER_WARM_UP_MB:
            problems.append(
                f"memory grew {grown} MB after {WARM_UP_EVENTS} reindexes "
                f"(bound {GROWTH_AFTER_WARM_UP_MB:.0f})"
            )
    growth = [("open_files", FILES_GROWTH), ("threads", THREADS_GROWTH)]
    if "database_connections" in samples[0]:
        growth.append(("database_connections", CONNECTIONS_GROWTH))
    for key, bound in growth:
        grew = median(last, key) - median(first, key)
        if grew > bound:
            problems.append(f"{key} grew by {grew} (bound {bound})")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--scale", choices=list(SCALES), default="10k")
    parser.add_argument("--work", type=Path, default=Path("/tmp/quoth-soak"))
    parser.add_argument("--rate", type=float, default=4.0, help="questions a second")
    parser.add_argument("--every", type=float, default=20.0, help="seconds between events")
    parser.add_argument("--sample", type=float, default=10.0, help="seconds between samples")
    parser.add_argument("--backend", choices=("files", "postgres"), default="files")
    parser.add_argument(
        "--only-changes", action="store_true", help="every event a changed article (reindexes)"
    )
    args = parser.parse_args()
    onnx_dir = args.work / "onnx"  # only its tokenizer is read, when one was exported there
    embedder = load_embedder("all-MiniLM-L6-v2", "onnx-int8", onnx_dir)
    sources = corpus.real_sentences(SHARED / "corpus" / "articles")
    pool = corpus.sentence_pool(sources, per_sentence=max(40, SCALES[args.scale] // 5000), seed=7)
    built = build(corpus.generate(pool, SCALES[args.scale], seed=2), args.work / args.scale,
                  embedder, reuse=True)  # fmt: skip
    run = args.work / "run"
    shutil.rmtree(run, ignore_errors=True)
    shutil.copytree(built.corpus_dir, run / "corpus")
    shutil.copytree(args.work / args.scale / "index", run / "index", symlinks=True)
    del pool, sources
    gc.collect()
    gc.freeze()
    with contextlib.ExitStack() as stack:
        url = None
        if args.backend == "postgres":
            from bench import postgres

            url = postgres.fresh_database(stack.enter_context(postgres.server(run)), "soak")
            publish(url, load_index(run / "index", embedder.name))
        result = run_soak(args, run, onnx_dir, url)
    problems = verdict(result)
    result["problems"] = problems
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")
    if problems:
        print("soak failed: " + "; ".join(problems), file=sys.stderr)
        raise SystemExit(1)


def run_soak(args: argparse.Namespace, run: Path, onnx_dir: Path, url: str | None) -> Any:
    """The soak over the copy in ``run``, serving from the files or from ``url``."""
    settings = load_settings(
        database_url=url,
        corpus_dir=run / "corpus",
        index_dir=run / "index",
        embedding_backend="onnx-int8",  # as the Docker image serves
        onnx_dir=onnx_dir,
        telegram_token=SecretStr(TEST_TOKEN),
        moderator_ids=[MODERATOR],
        rate_limit_per_minute=1000,
        fetch_allow_private=True,
        feedback_file=run / "state.sqlite3",
        feed_interval=0,
    )
    result = asyncio.run(
        soak(settings, args.minutes, args.rate, args.every, args.sample, args.only_changes)
    )
    return {"scale": args.scale, "minutes": args.minutes, "rate_per_s": args.rate,
            "backend": args.backend, "only_changes": args.only_changes, **result}  # fmt: skip


if __name__ == "__main__":
    main()
