"""The tables of a published segment and their names, and the sizes of its vector index:
what publishing creates and reading expects."""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

from quoth.index.store import IndexData

EXACT_UP_TO = 30_000
"""Up to this many passages no vector index is built: PostgreSQL compares them all, exactly,
in a few milliseconds (the file backend's flat index covers the same range)."""


IVF_LISTS_PER_ROOT = 2


IVF_PROBE_SHARE = 32
"""IVFFlat, not HNSW: on the benchmark's million passages (news-like text whose sentences
recur with small changes) HNSW missed many of the true nearest even with a large ef_search,
while IVFFlat with these settings kept recall where the file backend has it (figures in
docs/operators/replicas.md). Only a base segment gets the index, built from all its vectors,
so its lists fit its data; deltas are searched exactly."""


IVF_PROBE_CEILING = 40
"""Past 1,280 lists a fixed number of lists is probed, not a share, so a question's scan stops
growing with the corpus; the recall this keeps is measured by ``python -m bench --backend
postgres --scale 1m`` (docs/performance.md)."""


IVF_BUILD_MB_PER_LIST = 0.85
"""pgvector's k-means needs about this much maintenance_work_mem per list (measured)."""


TABLES = (
    "articles", "sentences", "passages", "passage_postings", "passage_lengths",
    "sentence_terms", "terms",
)  # fmt: skip
"""A segment's tables (``quoth_segments`` lists the segments there are)."""


OLD_TABLES = ("articles", "sentences", "passages", "passage_postings", "sentence_terms")
"""A version's own tables, as quoth published them before segments."""


SEGMENT_FORMAT = 2
"""Bumped when a segment's tables change: it is part of a segment's name, so a build is copied
again in the new form rather than read in the old one (2: compact passage postings)."""


VERSION_CHANNEL = "quoth_index"
"""LISTEN/NOTIFY channel: a publication tells every replica its new version number."""


def table(segment: str, name: str) -> str:
    return f"quoth_s{segment}_{name}"


def segment_name(build: IndexData) -> str:
    """A segment's name: a digest of its build's files, so the same build is copied once
    however many versions (or replicas' local folders) name it."""
    files = json.dumps([SEGMENT_FORMAT, build.manifest.files], sort_keys=True).encode()
    return hashlib.sha256(files).hexdigest()[:16]


def ivf_lists(passages: int) -> int:
    return max(1, round(IVF_LISTS_PER_ROOT * math.sqrt(passages)))


def create_vector_index(conn: Any, segment: str, passages: int, exact_up_to: int) -> dict[str, Any]:
    """Index a segment's passage vectors; returns how readers are to search them. Only a
    base gets a vector index (``exact_up_to`` -1 for a delta): its lists are computed once,
    from all its vectors, and the deltas that follow are small enough to compare exactly."""
    if exact_up_to < 0 or passages <= exact_up_to:
        return {"index": "exact"}
    lists = ivf_lists(passages)
    needed = int(lists * IVF_BUILD_MB_PER_LIST) + 64
    row = conn.execute("SELECT pg_size_bytes(current_setting('maintenance_work_mem'))").fetchone()
    if row is None or int(row[0]) < needed * 1024 * 1024:
        conn.execute(f"SET LOCAL maintenance_work_mem = '{needed}MB'")  # this build only
    conn.execute(
        f"CREATE INDEX ON {table(segment, 'passages')} USING ivfflat "
        f"(vector halfvec_ip_ops) WITH (lists = {lists})"
    )
    probes = max(1, min(lists // IVF_PROBE_SHARE, IVF_PROBE_CEILING))
    return {"index": "ivfflat", "lists": lists, "probes": probes}


def create_tables(conn: Any, segment: str, dimension: int) -> None:
    conn.execute(
        f"""CREATE TABLE {table(segment, "articles")} (
            row int PRIMARY KEY, record jsonb NOT NULL)"""
    )
    conn.execute(
        f"""CREATE TABLE {table(segment, "sentences")} (
            row int PRIMARY KEY, doc int NOT NULL, start_char int NOT NULL,
            end_char int NOT NULL, vector halfvec({dimension}) NOT NULL)"""
    )
    conn.execute(
        f"""CREATE TABLE {table(segment, "passages")} (
            row int PRIMARY KEY, doc int NOT NULL, start_char int NOT NULL,
            end_char int NOT NULL, first_sentence int NOT NULL, last_sentence int NOT NULL,
            passage_id text NOT NULL, vector halfvec({dimension}) NOT NULL)"""
    )
    # Passages: every question sums whole postings lists (BM25 over all passages), read
    # fastest as one row per term of compact little-endian arrays, stored uncompressed; the
    # passages' lengths once, in one row.
    conn.execute(
        f"CREATE TABLE {table(segment, 'passage_postings')} (term text PRIMARY KEY, "
        "bitmap boolean NOT NULL, rows bytea NOT NULL, counts bytea NOT NULL)"
    )
    conn.execute(f"CREATE TABLE {table(segment, 'passage_lengths')} (lengths bytea NOT NULL)")
    for part, column in (
        ("passage_postings", "rows"), ("passage_postings", "counts"),
        ("passage_lengths", "lengths"),
    ):  # fmt: skip
        conn.execute(
            f"ALTER TABLE {table(segment, part)} ALTER COLUMN {column} SET STORAGE EXTERNAL"
        )
    # Sentences: a question scores a few dozen given sentences, found by (term, row).
    conn.execute(
        f"CREATE TABLE {table(segment, 'sentence_terms')} (term text NOT NULL, "
        "row int NOT NULL, count real NOT NULL, length real NOT NULL)"
    )
    # How many sentences of the segment hold each term (a sentence's idf needs it).
    conn.execute(
        f"CREATE TABLE {table(segment, 'terms')} (term text PRIMARY KEY, sentences int NOT NULL)"
    )
