"""Incremental reindex timed in a process of its own, holding what ``quoth serve`` holds.

The benchmark process keeps the whole generated corpus as Python objects (millions of them);
the garbage collector's full passes over those made a reindex measured there take three times
as long as in a server. So the measurement runs here, after loading the index as serving does.

Each named article is changed and reindexed as ``quoth serve`` would (the folder of files
writes a delta over its base, and with a database publishes only that delta); then the same
corpus is written as one whole build (and published whole), as every reindex did before
deltas: the baseline, in the same run. Answers are timed on both versions
(a layered version scores BM25 with its own statistics and searches two layers).

    python -m bench.reindex INDEX_DIR CORPUS_DIR ONNX_DIR ARTICLE_ID...
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from bench.measure import query_stages
from quoth import runtime
from quoth.config import load_settings
from quoth.corpus import load_corpus
from quoth.index import IndexData, build_index
from quoth.index.layered import LayeredIndex
from quoth.retrieval import AnsweringService
from quoth.retrieval.evaluation import load_questions

REPO = Path(__file__).resolve().parent.parent


def questions() -> list[str]:
    return [q.question for q in load_questions(REPO / "eval" / "questions.jsonl")] * 2


def answer_p50(service: AnsweringService, asked: list[str]) -> float:
    service.answer(asked[0])  # warm
    stages: dict[str, Any] = query_stages(service, asked, "rerank")
    return float(stages["total_ms"]["p50"])


def main() -> None:
    index_dir, corpus_dir, onnx_dir = (Path(a) for a in sys.argv[1:4])
    settings = load_settings(
        index_dir=index_dir, corpus_dir=corpus_dir, embedding_backend="onnx", onnx_dir=onnx_dir
    )
    service = runtime.open_service(settings)
    index = service.index
    asked = questions()
    whole_p50 = answer_p50(service, asked)
    seconds, changed, embedded, layered = [], [], [], []
    for article_id in sys.argv[4:]:
        path = corpus_dir / f"{article_id}.md"
        path.write_text(path.read_text() + "\nA correction was added to this report today.\n")
        started = time.perf_counter()
        index, rebuild = runtime.reindex(settings, service.embedder, previous=index)
        seconds.append(round(time.perf_counter() - started, 2))
        changed += rebuild.changed
        embedded.append(rebuild.embedded_texts)
        layered.append(rebuild.layered)
    service.swap(index)
    layered_p50 = answer_p50(service, asked)

    # The baseline: the same corpus written as one whole build (what a reindex wrote before).
    path = corpus_dir / f"{sys.argv[4]}.md"
    path.write_text(path.read_text() + "\nA second correction was added.\n")
    started = time.perf_counter()
    previous = index if isinstance(index, (IndexData, LayeredIndex)) else None
    if previous is None:  # a database serves: the local folder is the cache
        previous = runtime.previous_index(settings, service.embedder.name)
    known = {a.path: a for a in previous.articles} if previous is not None else None
    corpus = load_corpus(corpus_dir, known)
    whole, _ = build_index(
        corpus, service.embedder, index_dir, runtime.chunking(settings), previous, layered=False
    )
    if settings.database_url is not None:  # and published whole, as every change was before
        from quoth.index.postgres import publish

        publish(settings.database_url.get_secret_value(), whole)
    whole_seconds = round(time.perf_counter() - started, 2)
    result = {
        "seconds": statistics.median(seconds),
        "runs_seconds": seconds,
        "changed": changed,
        "texts_embedded": embedded,
        "layered": layered,
        "whole_build_seconds": whole_seconds,
        "whole_build_to_change": round(whole_seconds / statistics.median(seconds), 1),
        "answer_p50_ms": {"whole_build": whole_p50, "layered_version": layered_p50},
        "layered_to_whole_answer_p50": round(layered_p50 / whole_p50, 2),
    }
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
