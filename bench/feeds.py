"""What following feeds costs: an unchanged feed's refresh, and 50 new entries added and
indexed at scale.

    python -m bench.feeds [--scale-dir /tmp/bench100k] > bench/results/DATE-feeds.json

The tests' local web server (``tests/web_stand_in.py``) serves an RSS feed of 50 entries
and a news page behind each (text from the reference articles, ``../shared``), counting
requests and bytes. Over a copy of the benchmark corpus and index
(``SCALE_DIR/100k/{corpus,index}`` and ``SCALE_DIR/onnx``, as ``python -m bench --scale
100k --work SCALE_DIR`` leaves them), it measures:

- following the feed and refreshing it with all 50 entries new: fetch and store seconds,
  then the delta reindex that follows (seconds, passages embedded);
- the next refresh of the unchanged feed: requests, bytes and seconds;
- the baseline, in the same run: one linked article added and reindexed, so the 50 entries'
  reindex reads as a ratio to a one-article change.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.web_stand_in import Entry, Resource, Site, rss, serving

from bench.report import run_and_print
from quoth import runtime
from quoth.config import load_settings
from quoth.feeds.refresh import follow, refresh_round
from quoth.feeds.store import SqliteFeeds
from quoth.web.links import save_link

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("QUOTH_SHARED_DIR", REPO.parent / "shared"))
ENTRIES = 50


def requests_and_bytes(site: Site) -> tuple[int, int]:
    """Requests the site answered so far, and the body bytes it sent."""
    sent = sum(count * len(site.resources[path].body) for path, count in site.downloads.items())
    return sum(site.hits.values()), sent


def pages(site: Site) -> None:
    """A feed of ENTRIES stories; each page holds a reference article's paragraphs under a
    headline of its own, so no two pages have the same text."""
    sources = []
    for path in sorted((SHARED / "corpus" / "articles").glob("*.txt")):
        lines = [line for line in path.read_text("utf-8").splitlines() if len(line) > 120]
        sources.append(lines[:8])
    entries = []
    for number in range(ENTRIES + 1):
        source = sources[number % len(sources)]
        paragraphs = [f"Bulletin {number}: {source[0]}"]
        # the number in every paragraph: no two pages' texts are the same after cleaning
        paragraphs += [f"{line} (Bulletin {number}.)" for line in source[1:]]
        body = "".join(f"<p>{p}</p>" for p in paragraphs)
        html = f"<html><head><title>Bulletin {number}</title></head><body><article>"
        html += f"<h1>Bulletin {number}</h1>{body}</article></body></html>"
        link = site.page(f"/news/{number}", html)
        if number:  # bulletin 0 is the baseline's single link
            entries.append(Entry(f"Bulletin {number}", link))
    site.resources["/feed.rss"] = Resource(rss("Bulletins", entries), "application/rss+xml")


def measure(work: Path, scale_dir: Path) -> dict[str, Any]:
    corpus, index = work / "corpus", work / "index"
    shutil.copytree(scale_dir / "100k" / "corpus", corpus)
    shutil.copytree(scale_dir / "100k" / "index", index, symlinks=True)
    settings = load_settings(
        corpus_dir=corpus,
        index_dir=index,
        embedding_backend="onnx",
        onnx_dir=scale_dir / "onnx",
        fetch_allow_private=True,
        feedback_file=work / "state.sqlite3",
    )
    service = runtime.open_service(settings)
    store = SqliteFeeds(settings.feedback_file)
    options = runtime.feed_settings(settings, corpus)
    result: dict[str, Any] = {"passages": service.index.live_passages, "entries": ENTRIES}
    with serving() as site:
        pages(site)
        started = time.perf_counter()
        save_link(corpus, site.url("/news/0"), settings.fetch_limits(), options.chunking)
        fetched = time.perf_counter() - started
        started = time.perf_counter()
        index_now, report = runtime.reindex(settings, service.embedder, previous=service.index)
        result["baseline_one_link"] = {
            "fetch_s": fetched,
            "reindex_s": time.perf_counter() - started,
            "embedded_texts": report.embedded_texts,
        }
        requests, sent = requests_and_bytes(site)
        started = time.perf_counter()
        follow(store, site.url("/feed.rss"), settings.fetch_limits())
        [first] = refresh_round(store, options) or []
        fetched = time.perf_counter() - started
        if len(first.added) != ENTRIES:
            raise SystemExit(f"expected {ENTRIES} new articles, got {first}")
        started = time.perf_counter()
        _, report = runtime.reindex(settings, service.embedder, previous=index_now)
        reindexed = time.perf_counter() - started
        base = result["baseline_one_link"]
        result["new_entries"] = {
            "added": len(first.added),
            "requests": requests_and_bytes(site)[0] - requests,
            "bytes": requests_and_bytes(site)[1] - sent,
            "fetch_and_store_s": fetched,
            "reindex_s": reindexed,
            "embedded_texts": report.embedded_texts,
            "reindex_ratio_to_one_link": reindexed / base["reindex_s"],
        }
        requests, sent = requests_and_bytes(site)
        started = time.perf_counter()
        [again] = refresh_round(store, options) or []
        result["unchanged_feed"] = {
            "not_modified": again.not_modified,
            "requests": requests_and_bytes(site)[0] - requests,
            "bytes": requests_and_bytes(site)[1] - sent,
            "seconds": time.perf_counter() - started,
        }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale-dir", type=Path, default=Path(tempfile.gettempdir()) / "bench100k")
    parser.add_argument("--work", type=Path, help="keep the work folder here")
    arguments = parser.parse_args()
    run_and_print(arguments.work, "quoth-bench-feeds-", lambda w: measure(w, arguments.scale_dir))


if __name__ == "__main__":
    main()
