"""Where a serving process's memory goes, and whether it stays flat over reindexes.

    python -m bench.memory                          # the reference articles
    python -m bench.memory --scale 10k --reindexes 300
    python -m bench.memory --scale 100k --work /tmp/quoth-bench --bots telegram

Each measurement runs in a fresh process configured as the Docker image serves
(``QUOTH_EMBEDDING_BACKEND=onnx-int8``, two threads, the CLI imported, the chat adapters of
``--bots`` made as ``quoth serve`` makes them: both by default, the costlier case), which
records its resident memory (anonymous and file-backed, from ``/proc/self/status``) after each step: the imports, each model, the index, the bots, 50
answers. Then, with ``--reindexes N``, one article is changed and reindexed N times as
``quoth serve`` does (deltas, and merges when they are due), with a few answers after each:
the growth after the first 20 is what the issue's target bounds. Prints one JSON document.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

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
PLATFORMS = {"telegram": ["telegram"], "discord": ["discord"], "both": ["telegram", "discord"]}


def child(
    index_dir: Path, corpus_dir: Path, reindexes: int, changed: str | None, bots: str
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
    library = Library(settings, service)
    adapters = [cli.chat_adapter(name, settings, library) for name in platforms]
    steps["bots"] = resident()
    assert len(adapters) == len(platforms)
    asked = _questions()
    for question in (asked * 2)[:ANSWERS]:
        service.answer(question)
    steps["after_answers"] = resident()
    report: dict[str, Any] = {"bots": platforms, "steps": steps}
    if reindexes and changed is not None:
        report["reindexes"] = asyncio.run(
            _reindexing(library, corpus_dir / changed, asked, reindexes)
        )
    print(json.dumps(report))


async def _reindexing(library: Any, article: Path, asked: list[str], count: int) -> dict[str, Any]:
    original = article.read_text(encoding="utf-8")
    samples: list[float] = []
    try:
        for number in range(count):
            article.write_text(f"{original}\nA correction was added today ({number}).\n")
            await library.reindex_and_describe()
            for question in asked[number % 10 :: 10][:3]:
                library.service.answer(question)
            samples.append(resident()["rss_mb"])
    finally:
        article.write_text(original, encoding="utf-8")
    warm = samples[min(WARM_UP_REINDEXES, len(samples)) - 1]
    return {
        "count": count,
        "rss_mb_after_first": samples[0],
        "rss_mb_after_warm_up": warm,
        "rss_mb_last": samples[-1],
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


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__)
    parser.add_argument("--scale", choices=["reference", "10k", "100k"], default="reference")
    parser.add_argument("--reindexes", type=int, default=0)
    parser.add_argument(
        "--bots", choices=sorted(PLATFORMS), default="both", help="the chat adapters loaded"
    )
    parser.add_argument("--work", type=Path, help="keep generated corpora and indexes here")
    parser.add_argument("--child", nargs=3, metavar=("INDEX", "CORPUS", "CHANGED"))
    args = parser.parse_args()
    if args.child:
        index_dir, corpus_dir, changed = args.child
        child(Path(index_dir), Path(corpus_dir), args.reindexes, changed, args.bots)
        return
    work = args.work or Path(tempfile.mkdtemp(prefix="quoth-memory-"))
    index_dir, corpus_dir, changed = prepare(args.scale, work)
    command = [
        sys.executable, "-m", "bench.memory", "--reindexes", str(args.reindexes),
        "--bots", args.bots,
        "--child", str(index_dir), str(corpus_dir), changed,
    ]  # fmt: skip
    environment = {**os.environ, "ORT_DISABLE_TELEMETRY": "1", "HF_HUB_OFFLINE": "1"}
    output = subprocess.run(
        command, check=True, capture_output=True, text=True, cwd=REPO, env=environment
    ).stdout
    report = {"scale": args.scale, **json.loads(output.strip().splitlines()[-1])}
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
