"""Run the benchmark suite and print one JSON document.

    python -m bench                  # 10k passages: a few minutes, what CI runs
    python -m bench --scale 100k     # and 1m: the sizes the targets are set at
    python -m bench --backend postgres --scale 1m   # PostgreSQL against the files
    python -m bench --scale 100k --baseline-reranker DIR   # and another answer model, same run

Every latency is also given as a ratio to the floor measured in the same run (bare query
encoding plus bare FAISS search), so figures from different machines can be compared.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench import corpus, followups, measure
from bench.build import build
from bench.report import run_and_print
from quoth import runtime
from quoth.config import load_settings
from quoth.corpus import load_corpus
from quoth.index import IndexData, build_index, load_embedder, load_index
from quoth.index.builder import Chunking
from quoth.index.onnx_embedder import export_onnx
from quoth.retrieval import AnsweringService
from quoth.retrieval.evaluation import load_questions
from quoth.retrieval.rerank import load_reranker

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("QUOTH_SHARED_DIR", REPO.parent / "shared"))
SCALES = {"10k": 10_000, "100k": 100_000, "1m": 1_000_000}


def questions() -> list[str]:
    files = [SHARED / "eval" / "seed_questions.jsonl", REPO / "eval" / "questions.jsonl"]
    return [q.question for f in files for q in load_questions(f)]


def indexing_throughput(
    articles: list[corpus.GeneratedArticle], work: Path, onnx_dir: Path
) -> dict[str, Any]:
    """The real builder (split, embed sentences and passages, BM25, write) per back-end."""
    sample = work / "throughput-corpus"
    from bench.build import write_articles

    write_articles(articles, sample)
    loaded = load_corpus(sample)
    result: dict[str, Any] = {"articles": len(loaded.articles)}
    for backend in ("torch", "onnx", "onnx-int8"):
        embedder = load_embedder("all-MiniLM-L6-v2", backend, onnx_dir)
        started = time.perf_counter()
        _, report = build_index(loaded, embedder, work / f"throughput-{backend}", Chunking(3, 2))
        seconds = time.perf_counter() - started
        result[backend] = {
            "passages": report.passages,
            "texts_embedded": report.embedded_texts,
            "seconds": round(seconds, 2),
            "passages_per_s": round(report.passages / seconds, 1),
        }
    return result


def with_ratios(stages: dict[str, Any], floor_ms: float) -> dict[str, Any]:
    total = stages["total_ms"]
    stages["total_p50_to_floor"] = round(total["p50"] / floor_ms, 2)
    stages["total_p99_to_floor"] = round(total["p99"] / floor_ms, 2)
    return stages


def run(
    scale: str, work: Path, skip_serve: bool, backend: str = "files",
    baseline_reranker: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    report: dict[str, Any] = {
        "scale": scale,
        "backend": backend,
        "machine": {"cpus": os.cpu_count()},
    }
    asked = questions() * 4
    onnx_dir = work / "onnx"
    if not (onnx_dir / "model.onnx").is_file():
        export_onnx(onnx_dir)
    embedder = load_embedder("all-MiniLM-L6-v2", "onnx", onnx_dir)

    sources = corpus.real_sentences(SHARED / "corpus" / "articles")
    # More variants at 1M, so that passages repeat about as rarely as at 100k.
    pool = corpus.sentence_pool(sources, per_sentence=max(40, SCALES[scale] // 5000), seed=7)
    if backend == "files":
        report["indexing_throughput"] = indexing_throughput(
            corpus.generate(pool, 600, seed=1), work, onnx_dir
        )

    articles = corpus.generate(pool, SCALES[scale], seed=2)
    started = time.perf_counter()
    built = build(articles, work / scale, embedder, reuse=True)
    report["corpus"] = {
        "articles": len(articles),
        "passages": built.index.manifest.passages,
        "sentences": built.index.manifest.sentences,
        "vector_index": built.index.manifest.vector_index,
        "build_seconds": round(time.perf_counter() - started, 1),
        "build_steps": {k: round(v, 2) for k, v in built.seconds.items()},
        "vectors": "passage = normalised mean of its embedded sentences",
    }
    # From here on the process should hold what a server holds: the generated corpus is
    # millions of Python objects, and the collector's full passes over them showed up as
    # 200 ms pauses in the 1M latency tails. What is left is exempted from collection.
    ids = [a.doc_id for a in articles]
    del articles, pool, sources
    gc.collect()
    gc.freeze()

    index = load_index(work / scale / "index", embedder.name)
    assert isinstance(index, IndexData)  # as bench.build wrote it: one whole build
    settings = load_settings(
        index_dir=work / scale / "index",
        corpus_dir=built.corpus_dir,
        embedding_backend="onnx",
        onnx_dir=onnx_dir,
    )
    service = AnsweringService(
        index, embedder, runtime.retrieval_options(settings), load_reranker(settings.reranker)
    )
    floor = measure.floor(embedder, index, asked)
    report["floor"] = floor
    if backend == "postgres":
        from bench import postgres

        def reindex(url: str) -> Any:
            return postgres.one_article_reindex(
                url, work / scale / "index", built.corpus_dir, onnx_dir, [ids[len(ids) // 2]]
            )

        with postgres.server(work) as url:
            report["postgres"] = postgres.run(
                url, index, service, embedder, asked, reindex, work, SHARED
            )
        return report
    report["query"] = {
        mode: with_ratios(measure.query_stages(service, asked, mode), floor["floor_p50_ms"])
        for mode in ("rerank", "hybrid")
    }
    report["query"]["read_further_against_first_read"] = against_first_read(service, asked)
    if baseline_reranker is not None:  # another answer model, timed in this same run
        report["query"]["rerank_against_baseline"] = against_baseline(
            service, baseline_reranker, asked
        )
    report["metrics_overhead"] = measure.metrics_overhead(service, asked[: len(asked) // 4])
    report["follow_ups"] = followups.run(service, asked[: len(asked) // 4])
    query_vectors = embedder.encode(asked[: len(asked) // 4])
    report["ivf_recall_at_10"] = measure.ivf_recall(index, query_vectors)
    report["codes_recall_at_10"] = measure.codes_recall(index, query_vectors)

    e2e = asyncio.run(measure.telegram_e2e(settings, service, asked, count=500, chats=50))
    e2e["sequential_p50_to_floor"] = round(e2e["sequential_ms"]["p50"] / floor["floor_p50_ms"], 2)
    report["telegram_e2e"] = e2e
    if not skip_serve:
        report["serve"] = asyncio.run(
            measure.serve_process(
                work / scale / "index",
                {"QUOTH_EMBEDDING_BACKEND": "onnx", "QUOTH_ONNX_DIR": str(onnx_dir)},
                asked,
            )
        )

    report["incremental_reindex"] = incremental_reindex(
        work / scale / "index", built.corpus_dir, onnx_dir, ids
    )
    return report


def against_baseline(
    service: AnsweringService, baseline: str, asked: list[str], rounds: int = 3
) -> dict[str, Any]:
    """The answer p50 with the configured reranker and with ``baseline``, measured in turns."""
    other = AnsweringService(
        service.index, service.embedder, service.options, load_reranker(baseline)
    )
    return {"baseline": baseline, **in_turns(service, other, asked, rounds)}


def against_first_read(
    service: AnsweringService, asked: list[str], rounds: int = 3
) -> dict[str, Any]:
    """The answer with reading further where unsure (``QUOTH_READ_FURTHER``) against the
    same service reading the first candidates only, measured in turns; and how many of the
    questions read further."""
    first = replace(service.options, read_further=0)
    other = AnsweringService(service.index, service.embedder, first, service.reranker)
    further = sum(service.rank(q).first_signals is not None for q in asked)
    return {
        "read_further_share": round(further / len(asked), 3),
        **in_turns(service, other, asked, rounds),
    }


def in_turns(
    service: AnsweringService, baseline: AnsweringService, asked: list[str], rounds: int
) -> dict[str, Any]:
    """p50 and p99 of ``service`` and ``baseline``, measured in turns (this one, the
    baseline, this one, ...): on a shared machine one measurement after the other differed
    by a fifth either way, more than the changes measured do."""
    runs: dict[str, list[dict[str, float]]] = {"configured": [], "baseline": []}
    for _ in range(rounds):
        for name, each in (("configured", service), ("baseline", baseline)):
            runs[name].append(measure.query_stages(each, asked, "rerank")["total_ms"])

    def median(name: str, key: str) -> float:
        return statistics.median(r[key] for r in runs[name])

    return {
        "p50_ms_by_round": {name: [r["p50"] for r in rs] for name, rs in runs.items()},
        "p99_ms_by_round": {name: [r["p99"] for r in rs] for name, rs in runs.items()},
        "p50_to_baseline": round(median("configured", "p50") / median("baseline", "p50"), 3),
        "p99_to_baseline": round(median("configured", "p99") / median("baseline", "p99"), 3),
    }


def incremental_reindex(index_dir: Path, corpus_dir: Path, onnx_dir: Path, ids: list[str]) -> Any:
    """One changed article reindexed, three times over (a different article each time,
    because one figure on a shared disk says little), in a process like a server's."""
    chosen = [ids[len(ids) // 2], ids[len(ids) // 3], ids[2 * len(ids) // 3]]
    folders = [str(index_dir), str(corpus_dir), str(onnx_dir)]
    output = subprocess.run(
        [sys.executable, "-m", "bench.reindex", *folders, *chosen],
        check=True,
        capture_output=True,
        text=True,
        cwd=REPO,
    ).stdout
    return json.loads(output)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--scale", choices=list(SCALES), default="10k")
    parser.add_argument("--work", type=Path, help="keep generated corpora and indexes here")
    parser.add_argument("--skip-serve", action="store_true", help="skip the quoth serve process")
    parser.add_argument(
        "--baseline-reranker", default=None,
        help="also time answers with this reranker (a folder, say the previous answer model)",
    )  # fmt: skip
    parser.add_argument(
        "--backend",
        choices=["files", "postgres"],
        default="files",
        help="postgres: publish into PostgreSQL and measure it against the files",
    )
    args = parser.parse_args()
    run_and_print(
        args.work,
        "quoth-bench-",
        lambda work: run(args.scale, work, args.skip_serve, args.backend, args.baseline_reranker),
    )


if __name__ == "__main__":
    main()
