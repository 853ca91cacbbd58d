"""Where a serving process's memory goes, and whether it stays flat over reindexes.

    python -m bench.memory                          # the reference articles
    python -m bench.memory --scale 10k --reindexes 300
    python -m bench.memory --scale 100k --work /tmp/quoth-bench --bots telegram
    python -m bench.memory --scale 100k --backend postgres   # a replica

Each measurement runs in a fresh process configured as the Docker image serves
(``QUOTH_EMBEDDING_BACKEND=onnx-int8``, two threads, the CLI imported, the chat adapters of
``--bots`` made as ``quoth serve`` makes them: both by default, the costlier case), which
records its resident memory (anonymous and file-backed, from ``/proc/self/status``) after
each step: the imports, each model, the index, the bots, 50 answers. Then, with
``--reindexes N``, an article is changed and the index reindexed N times as ``quoth serve``
does, with a few answers after each: a different article each time (97 in turn), so
the delta grows and merges fall due as in serving, or with ``--same-article`` one article
again and again. The growth after the first 20 is what the issue's target bounds. With
``--backend postgres`` the index is published into PostgreSQL first and the process serves
from it, with its shared state there, as a replica does. Prints one JSON document, and each
reindex's figure to stderr as it goes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from quoth.config import Platform

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("QUOTH_SHARED_DIR", REPO.parent / "shared"))
WARM_UP_REINDEXES = 20
ANSWERS = 50


def resident() -> dict[str, float]:
    """This process's resident memory in MB: all of it, anonymous, and file-backed."""
    fields = {"VmRSS": "rss_mb", "RssAnon": "anon_mb", "RssFile": "file_mb"}
    found: dict[str, float] = {}
    with Path("/proc/self/status").open(encoding="ascii") as status:
        for line in status:
            name, _, value = line.partition(":")
            if name in fields:
                found[fields[name]] = round(int(value.split()[0]) / 1024, 1)
    return found


def _questions() -> list[str]:
    from quoth.retrieval.evaluation import load_questions

    files = [SHARED / "eval" / "seed_questions.jsonl", REPO / "eval" / "questions.jsonl"]
    return [q.question for f in files for q in load_questions(f)]


BOT_MODULES = {"telegram": "quoth.bot.telegram", "discord": "quoth.bot.discord_bot"}
PLATFORMS: dict[str, list[Platform]] = {
    "telegram": ["telegram"],
    "discord": ["discord"],
    "both": ["telegram", "discord"],
}
IN_TURN = 97
"""Articles changed one after another: enough that deltas pass the merge limit at 10k."""


def child(
    index_dir: Path,
    corpus_dir: Path,
    reindexes: int,
    changed: str | None,
    bots: str,
    same_article: bool,
) -> None:
    """The measured process: one step at a time, printing the JSON report at the end."""
    steps: dict[str, dict[str, float]] = {"python": resident()}
    import importlib

    from quoth import cli, runtime
    from quoth.config import load_settings

    steps["imports"] = resident()
    platforms = PLATFORMS[bots]
    for name in platforms:
        importlib.import_module(BOT_MODULES[name])
    from quoth.bot.library import Library

    steps["bots_imported"] = resident()
    settings = load_settings(
        index_dir=index_dir,
        corpus_dir=corpus_dir,
        embedding_backend="onnx-int8",
        threads=2,
        telegram_token="123456:memory-bench",
        discord_token="memory-bench",
        platforms=platforms,
        feedback_file=index_dir.parent / "feedback.sqlite3",
    )
    embedder = runtime.embedder_for(settings)
    steps["embedder"] = resident()
    index = runtime.open_index(settings, embedder.name)
    steps["index"] = resident()
    service = runtime.serving(settings, index, embedder)
    steps["reranker"] = resident()
    library = Library(settings, service, runtime.open_state(settings))
    adapters = [cli.chat_adapter(name, settings, library) for name in platforms]
    steps["bots"] = resident()
    assert len(adapters) == len(platforms)
    asked = _questions()
    for question in (asked * 2)[:ANSWERS]:
        service.answer(question)
    steps["after_answers"] = resident()
    backend = "postgres" if settings.database_url is not None else "files"
    report: dict[str, Any] = {"backend": backend, "bots": platforms, "steps": steps}
    if reindexes and changed is not None:
        everyone = sorted(path for path in corpus_dir.iterdir() if path.is_file())
        in_turn = everyone[:: max(1, len(everyone) // IN_TURN)][:IN_TURN]
        articles = [corpus_dir / changed] if same_article else in_turn
        report["reindexes"] = asyncio.run(_reindexing(library, articles, asked, reindexes))
    print(json.dumps(report))


class _Merges(logging.Handler):
    """Counts the background merges the library logs."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += record.getMessage().startswith("merged the delta")


async def _reindexing(
    library: Any, articles: list[Path], asked: list[str], count: int
) -> dict[str, Any]:
    """Change an article, reindex as serve does, answer a few; ``articles`` taken in turn."""
    originals = {article: article.read_text(encoding="utf-8") for article in articles}
    merges = _Merges()
    logging.getLogger("quoth.library").addHandler(merges)
    logging.getLogger("quoth.library").setLevel(logging.INFO)
    samples: list[float] = []
    try:
        for number in range(count):
            article = articles[number % len(articles)]
            correction = f"A correction was added today ({number})."
            article.write_text(f"{originals[article]}\n{correction}\n", encoding="utf-8")
            await library.reindex_and_describe()
            for question in asked[number % 10 :: 10][:3]:
                library.service.answer(question)
            now = resident()
            samples.append(now["rss_mb"])
            print(
                f"reindex {number + 1}: {now['rss_mb']} MB"
                f" (anonymous {now['anon_mb']}, file-backed {now['file_mb']})",
                file=sys.stderr,
                flush=True,
            )
        await library.wait_for_merge()
    finally:
        for article, text in originals.items():
            article.write_text(text, encoding="utf-8")
    warm = samples[min(WARM_UP_REINDEXES, len(samples)) - 1]
    return {
        "count": count,
        "articles_changed": min(count, len(articles)),
        "merges": merges.count,
        "rss_mb_after_first": samples[0],
        "rss_mb_after_warm_up": warm,
        "rss_mb_last": samples[-1],
        "rss_mb_highest_after_warm_up": max(samples[WARM_UP_REINDEXES - 1 :], default=warm),
        "growth_after_warm_up_mb": round(samples[-1] - warm, 1),
        "rss_mb_every_10": samples[9::10],
    }


def prepare(scale: str, work: Path) -> tuple[Path, Path, str]:
    """An index and corpus to serve (written in ``work``, reused when already there), and
    the id of the article the reindex loop changes."""
    from quoth import runtime
    from quoth.config import load_settings

    if scale == "reference":
        corpus = work / "reference-corpus"
        if not corpus.is_dir():
            import shutil

            shutil.copytree(SHARED / "corpus" / "articles", corpus)
        index_dir = work / "reference-index"
        settings = load_settings(
            index_dir=index_dir, corpus_dir=corpus, embedding_backend="onnx-int8"
        )
        runtime.reindex(settings, runtime.embedder_for(settings))
        return index_dir, corpus, sorted(p.name for p in corpus.iterdir())[2]
    from bench import corpus as generated
    from bench.__main__ import SCALES
    from bench.build import build
    from quoth.index import load_embedder

    sources = generated.real_sentences(SHARED / "corpus" / "articles")
    pool = generated.sentence_pool(sources, per_sentence=max(40, SCALES[scale] // 5000), seed=7)
    articles = generated.generate(pool, SCALES[scale], seed=2)
    embedder = load_embedder("all-MiniLM-L6-v2", "onnx-int8", work / "onnx", 2)
    built = build(articles, work / scale, embedder, reuse=True)
    return built.corpus_dir.parent / "index", built.corpus_dir, f"{articles[1].doc_id}.md"


@contextlib.contextmanager
def _database(backend: str, work: Path, index_dir: Path) -> Iterator[str | None]:
    """For ``postgres``: a fresh database holding the index, published as ``quoth index``
    publishes it; the server stops when the measurement ends."""
    if backend != "postgres":
        yield None
        return
    from bench.postgres import fresh_database, server
    from quoth.index import load_index
    from quoth.index.postgres import publish
    from quoth.index.store import current_build, read_manifest

    model = read_manifest(current_build(index_dir)).model
    with server(work) as url:
        database = fresh_database(url, "quoth_memory")
        publish(database, load_index(index_dir, model))
        yield database


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__)
    parser.add_argument("--scale", choices=["reference", "10k", "100k"], default="reference")
    parser.add_argument("--reindexes", type=int, default=0)
    parser.add_argument(
        "--bots", choices=sorted(PLATFORMS), default="both", help="the chat adapters loaded"
    )
    parser.add_argument(
        "--same-article",
        action="store_true",
        help="change one article each time (no merge falls due) instead of one in turn",
    )
    parser.add_argument(
        "--backend",
        choices=("files", "postgres"),
        default="files",
        help="serve the index from files, or as a replica does from PostgreSQL (a local "
        "pgserver, or QUOTH_BENCH_DATABASE_URL), the benchmark's index published there",
    )
    parser.add_argument("--work", type=Path, help="keep generated corpora and indexes here")
    parser.add_argument("--child", nargs=3, metavar=("INDEX", "CORPUS", "CHANGED"))
    args = parser.parse_args()
    if args.child:
        index_dir, corpus_dir, changed = args.child
        child(
            Path(index_dir), Path(corpus_dir), args.reindexes, changed, args.bots, args.same_article
        )
        return
    work = args.work or Path(tempfile.mkdtemp(prefix="quoth-memory-"))
    index_dir, corpus_dir, changed = prepare(args.scale, work)
    command = [
        sys.executable, "-m", "bench.memory", "--reindexes", str(args.reindexes),
        "--bots", args.bots, *(["--same-article"] if args.same_article else []),
        "--child", str(index_dir), str(corpus_dir), changed,
    ]  # fmt: skip
    environment = {**os.environ, "ORT_DISABLE_TELEMETRY": "1", "HF_HUB_OFFLINE": "1"}
    with _database(args.backend, work, index_dir) as database:
        if database is not None:
            environment["QUOTH_DATABASE_URL"] = database
        output = subprocess.run(  # the child's progress goes to this process's stderr
            command, check=True, stdout=subprocess.PIPE, text=True, cwd=REPO, env=environment
        ).stdout
    report = {"scale": args.scale, **json.loads(output.strip().splitlines()[-1])}
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
