"""What following feeds costs: an unchanged feed's refresh, and 50 new entries added and
indexed at scale.

    python -m bench.feeds [--scale-dir /tmp/bench100k] > bench/results/DATE-feeds.json

A local web server serves an RSS feed of 50 entries and a news page behind each (text from
the reference articles, ``../shared``), counting requests and bytes. Over a copy of the
benchmark corpus and index (``SCALE_DIR/100k/{corpus,index}`` and ``SCALE_DIR/onnx``, as
``python -m bench --scale 100k --work SCALE_DIR`` leaves them), it measures:

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
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bench.report import run_and_print
from quoth import runtime
from quoth.config import load_settings
from quoth.feeds.refresh import follow, refresh_round
from quoth.feeds.store import SqliteFeeds
from quoth.web.links import save_link

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("QUOTH_SHARED_DIR", REPO.parent / "shared"))
ENTRIES = 50


class Counting:
    """Paths and their bodies; counts requests and bytes sent."""

    def __init__(self) -> None:
        self.bodies: dict[str, tuple[bytes, str]] = {}
        self.requests = 0
        self.bytes = 0
        self.port = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@contextmanager
def serving(site: Counting) -> Iterator[None]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            site.requests += 1
            body, kind = site.bodies.get(self.path, (b"", ""))
            etag = f'"{hash(body) & 0xFFFFFFFF:x}"'
            if not body:
                self.send_error(404)
                return
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("ETag", etag)
            self.end_headers()
            self.wfile.write(body)
            site.bytes += len(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    site.port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()


def pages(site: Counting) -> None:
    """A feed of ENTRIES stories; each page holds a reference article's paragraphs under a
    headline of its own, so no two pages have the same text."""
    sources = []
    for path in sorted((SHARED / "corpus" / "articles").glob("*.txt")):
        lines = [line for line in path.read_text("utf-8").splitlines() if len(line) > 120]
        sources.append(lines[:8])
    items = []
    for number in range(ENTRIES + 1):
        paragraphs = [f"Bulletin {number}: {sources[number % len(sources)][0]}"]
        # the number in every paragraph: no two pages' texts are the same after cleaning
        paragraphs += [
            f"{line} (Bulletin {number}.)" for line in sources[number % len(sources)][1:]
        ]
        body = "".join(f"<p>{p}</p>" for p in paragraphs)
        html = f"<html><head><title>Bulletin {number}</title></head><body><article>"
        html += f"<h1>Bulletin {number}</h1>{body}</article></body></html>"
        site.bodies[f"/news/{number}"] = (html.encode(), "text/html; charset=utf-8")
        if number:  # bulletin 0 is the baseline's single link
            items.append(
                f"<item><title>Bulletin {number}</title><link>{site.url(f'/news/{number}')}"
                f"</link><guid>bulletin-{number}</guid></item>"
            )
    channel = f"<channel><title>Bulletins</title>{''.join(items)}</channel>"
    feed = f'<?xml version="1.0"?><rss version="2.0">{channel}</rss>'
    site.bodies["/feed.rss"] = (feed.encode(), "application/rss+xml")


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
    site = Counting()
    store = SqliteFeeds(settings.feedback_file)
    options = runtime.feed_settings(settings, corpus)
    result: dict[str, Any] = {"passages": service.index.live_passages, "entries": ENTRIES}
    with serving(site):
        pages(site)  # the links name the server's port
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
        requests, sent = site.requests, site.bytes
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
            "requests": site.requests - requests,
            "bytes": site.bytes - sent,
            "fetch_and_store_s": fetched,
            "reindex_s": reindexed,
            "embedded_texts": report.embedded_texts,
            "reindex_ratio_to_one_link": reindexed / base["reindex_s"],
        }
        requests, sent = site.requests, site.bytes
        started = time.perf_counter()
        [again] = refresh_round(store, options) or []
        result["unchanged_feed"] = {
            "not_modified": again.not_modified,
            "requests": site.requests - requests,
            "bytes": site.bytes - sent,
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
