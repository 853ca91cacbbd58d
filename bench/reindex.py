"""Incremental reindex timed in a process of its own, holding what ``quoth serve`` holds.

The benchmark process keeps the whole generated corpus as Python objects (millions of them);
the garbage collector's full passes over those made a reindex measured there take three times
as long as in a server. So the measurement runs here, after loading the index as serving does.

    python -m bench.reindex INDEX_DIR CORPUS_DIR ONNX_DIR ARTICLE_ID...
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

from quoth import runtime
from quoth.config import load_settings


def main() -> None:
    index_dir, corpus_dir, onnx_dir = (Path(a) for a in sys.argv[1:4])
    settings = load_settings(
        index_dir=index_dir, corpus_dir=corpus_dir, embedding_backend="onnx", onnx_dir=onnx_dir
    )
    service = runtime.open_service(settings)
    index = service.index
    seconds, changed, embedded = [], [], []
    for article_id in sys.argv[4:]:
        path = corpus_dir / f"{article_id}.md"
        path.write_text(path.read_text() + "\nA correction was added to this report today.\n")
        started = time.perf_counter()
        index, rebuild = runtime.reindex(settings, service.embedder, previous=index)
        seconds.append(round(time.perf_counter() - started, 2))
        changed += rebuild.changed
        embedded.append(rebuild.embedded_texts)
    result = {
        "seconds": statistics.median(seconds),
        "runs_seconds": seconds,
        "changed": changed,
        "texts_embedded": embedded,
    }
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
