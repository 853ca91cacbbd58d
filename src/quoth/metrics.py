"""What an operator's Prometheus scrapes: counters, latency histograms and the index's state.

Metrics are per process (each replica is scraped on its own) and live in quoth's own registry,
so ``/metrics`` shows quoth's series and the process's, nothing a library registered. Labels
name platforms, chat kinds, stages and outcomes: small fixed sets, never a user id or a
question's text. The replica's identity (``QUOTH_REPLICA``) becomes a label only when the
operator sets one; it is added when the registry is read, so no call site repeats it.

Histogram buckets are set around what ``python -m bench`` reports: answers take tens to a few
hundred milliseconds at 100k-1M passages, each stage a few to a hundred, a reindex of one
article a second or two and a whole build up to minutes.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import TYPE_CHECKING, TypeVar

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

    from quoth.index import BuildReport
    from quoth.index.reader import IndexReader

T = TypeVar("T")
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

ANSWER_BUCKETS = (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 2.0, 5.0)
STAGE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.08, 0.15, 0.3, 0.6, 1.2, 2.5)
REINDEX_BUCKETS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)

REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)

QUESTIONS = Counter(
    "quoth_questions",
    "Questions received, by how they ended: answered (a bold answer), closest (the closest "
    "passages, no claim), refused (the articles do not say), "
    "rate_limited, invalid (empty or too long) or failed (an error on quoth's side).",
    ["platform", "chat", "outcome"],
    registry=REGISTRY,
)
FOLLOW_UPS = Counter(
    "quoth_follow_ups",
    "Questions that depend on the conversation before them (a pronoun, 'there', 'then', a "
    "fragment, 'What about X?'): resolved (read in its context, the reading shown) or "
    "unresolved (no context, or none that fits: answered as sent). No text is kept.",
    ["platform", "outcome"],
    registry=REGISTRY,
)
ANSWER_SECONDS = Histogram(
    "quoth_answer_seconds",
    "Time from a question to its answer being ready to send (the answer stages together).",
    ["platform"],
    buckets=ANSWER_BUCKETS,
    registry=REGISTRY,
)
STAGE_SECONDS = Histogram(
    "quoth_stage_seconds",
    "Time per answer stage: encode, search, rerank (or the reader), quote; and send (the "
    "platform's API call carrying the answer).",
    ["stage"],
    buckets=STAGE_BUCKETS,
    registry=REGISTRY,
)
VOTES = Counter(
    "quoth_votes",
    "Votes on answers (up, down), new or changed; the same vote again is not counted.",
    ["vote"],
    registry=REGISTRY,
)
VOTE_REASONS = Counter(
    "quoth_vote_reasons",
    "Reasons given after a down vote: wrong_quote, not_covered, outdated.",
    ["reason"],
    registry=REGISTRY,
)
SEND_ERRORS = Counter(
    "quoth_send_errors",
    "Messages the platform's API did not take after every retry.",
    ["platform"],
    registry=REGISTRY,
)
SEND_RETRIES = Counter(
    "quoth_send_retries",
    "Platform API calls sent again after a network failure.",
    ["platform"],
    registry=REGISTRY,
)
WEBHOOK_CLAIMS = Counter(
    "quoth_webhook_claims",
    "Webhook deliveries by who answers them: mine, done (already answered), busy (another "
    "replica is answering) or taken_over (from a replica that died).",
    ["outcome"],
    registry=REGISTRY,
)
DATABASE_UP = Gauge(
    "quoth_database_up",
    "1 while the database (QUOTH_DATABASE_URL) answers a probe within its bound, else 0.",
    registry=REGISTRY,
)
DATABASE_DOWN = Counter(
    "quoth_database_down",
    "Times the database was found not answering after it had answered (outages begun).",
    registry=REGISTRY,
)
REINDEXES = Counter(
    "quoth_reindexes",
    "Reindexes by what they wrote (delta, whole, merge) and how they ended (ok, failed).",
    ["kind", "outcome"],
    registry=REGISTRY,
)
REINDEX_SECONDS = Histogram(
    "quoth_reindex_seconds",
    "Time a reindex or merge took, until its version served.",
    ["kind"],
    buckets=REINDEX_BUCKETS,
    registry=REGISTRY,
)
ARTICLES_CHANGED = Counter(
    "quoth_reindex_articles",
    "Articles a reindex found added, changed or removed.",
    ["change"],
    registry=REGISTRY,
)
LINK_REFRESHES = Counter(
    "quoth_link_refreshes",
    "Linked articles checked again, by outcome: changed, unchanged, not_modified, failed.",
    ["outcome"],
    registry=REGISTRY,
)
FEED_REFRESHES = Counter(
    "quoth_feed_refreshes",
    "Followed feeds checked, by outcome: changed (added or updated articles), unchanged, "
    "not_modified (the site said so), failed.",
    ["outcome"],
    registry=REGISTRY,
)
FEED_ENTRIES = Counter(
    "quoth_feed_entries",
    "Feed entries handled, by outcome: added, updated, duplicate, failed.",
    ["outcome"],
    registry=REGISTRY,
)


def observe_answer(platform: str, timings: dict[str, float], seconds: float) -> None:
    """An answer's whole time and its stages (``timings`` in milliseconds, as the service
    measures them)."""
    ANSWER_SECONDS.labels(platform).observe(seconds)
    for stage, ms in timings.items():
        STAGE_SECONDS.labels(stage).observe(ms / 1000)


def _known_series() -> None:
    """Every label set known in advance starts at zero, so a dashboard panel or an alert
    sees the series (and a rate of 0) before the first event rather than no data."""
    from quoth.feedback import REASONS

    for platform in ("telegram", "discord"):
        SEND_ERRORS.labels(platform)
        SEND_RETRIES.labels(platform)
        for outcome in ("resolved", "unresolved"):
            FOLLOW_UPS.labels(platform, outcome)
    for claim in ("mine", "done", "busy", "taken_over"):
        WEBHOOK_CLAIMS.labels(claim)
    for kind in ("delta", "whole", "merge"):
        for outcome in ("ok", "failed"):
            REINDEXES.labels(kind, outcome)
    for change in ("added", "changed", "removed"):
        ARTICLES_CHANGED.labels(change)
    for vote in ("up", "down"):
        VOTES.labels(vote)
    for reason in REASONS:
        VOTE_REASONS.labels(reason)
    for outcome in ("changed", "unchanged", "not_modified", "failed"):
        LINK_REFRESHES.labels(outcome)
    for outcome in ("changed", "unchanged", "not_modified", "failed"):
        FEED_REFRESHES.labels(outcome)
    for outcome in ("added", "updated", "duplicate", "failed"):
        FEED_ENTRIES.labels(outcome)


_known_series()


async def sent(platform: str, sending: Awaitable[T]) -> T:
    """Await a platform API call carrying a reply: its time is the ``send`` stage, and a
    failure (after the adapter's retries) counts as a send error."""
    started = time.perf_counter()
    try:
        result = await sending
    except Exception:
        SEND_ERRORS.labels(platform).inc()
        raise
    STAGE_SECONDS.labels("send").observe(time.perf_counter() - started)
    return result


def observe_reindex(kind: str, report: BuildReport | None, seconds: float) -> None:
    """A finished reindex (``report``), or a failed one (None)."""
    REINDEXES.labels(kind, "failed" if report is None else "ok").inc()
    if report is None:
        return
    REINDEX_SECONDS.labels(kind).observe(seconds)
    for change, ids in (
        ("added", report.added),
        ("changed", report.changed),
        ("removed", report.removed),
    ):
        ARTICLES_CHANGED.labels(change).inc(len(ids))


class Stopwatch:
    """Seconds since it was made; for the histograms above."""

    def __init__(self) -> None:
        self.started = time.perf_counter()

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.started


class IndexCollector(Collector):
    """The served index's version, size and age, read when scraped (so never stale)."""

    def __init__(self, index: Callable[[], IndexReader], version: Callable[[], str]) -> None:
        self._index = index
        self._version = version

    def collect(self) -> Iterable[Metric]:
        index = self._index()
        yield _gauge(
            "quoth_index_passages", "Passages the served index holds.", index.live_passages
        )
        yield _gauge(
            "quoth_index_articles", "Articles the served index holds.", len(index.articles)
        )
        yield _gauge(
            "quoth_index_age_seconds",
            "Seconds since the served index version was built.",
            time.time() - index.built_at.timestamp(),
        )
        info = GaugeMetricFamily(
            "quoth_index_version",
            "The served index version (its label; value 1).",
            labels=["version"],
        )
        info.add_metric([self._version()], 1)
        yield info


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


class _Labelled(Collector):
    """Every sample of ``registry`` with one more label (the replica's identity)."""

    def __init__(self, registry: CollectorRegistry, label: str, value: str) -> None:
        self._registry = registry
        self._label = (label, value)

    def collect(self) -> Iterator[Metric]:
        for metric in self._registry.collect():
            samples = [
                Sample(s.name, {**s.labels, self._label[0]: self._label[1]}, *s[2:])
                for s in metric.samples
            ]
            metric.samples = samples
            yield metric


@functools.cache
def exposition_registry(replica: str | None) -> CollectorRegistry:
    """What ``/metrics`` serves: quoth's registry, with ``replica`` as a label when set (made
    once per name, not at each scrape)."""
    if not replica:
        return REGISTRY
    labelled = CollectorRegistry(auto_describe=False)
    labelled.register(_Labelled(REGISTRY, "replica", replica))
    return labelled


def exposition(replica: str | None) -> bytes:
    """The text Prometheus scrapes."""
    return generate_latest(exposition_registry(replica))


def serve_on_port(port: int, replica: str | None, address: str = "0.0.0.0") -> WSGIServer:
    """``/metrics`` on a port of its own (polling mode and Discord have no web server), in
    a thread; the caller shuts the returned server down."""
    server, _ = start_http_server(port, address, registry=exposition_registry(replica))
    return server


def watch_index(index: Callable[[], IndexReader], version: Callable[[], str]) -> Collector:
    """Register the served index's gauges (one serving process, one index); returns the
    collector so that a test or a second bot in the process can unregister it."""
    collector = IndexCollector(index, version)
    REGISTRY.register(collector)
    return collector


def unwatch(collector: Collector) -> None:
    REGISTRY.unregister(collector)
