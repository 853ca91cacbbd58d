"""The PostgreSQL backend: one published index in tables that several replicas read.

An index is kept as *segments*: a segment is one local build (a base, or a small delta over
it; see :mod:`quoth.index.layered`) copied into its own tables (``quoth_s<name>_...``) and
shared by every version that uses it. A version is a row of ``quoth_versions`` naming its
segments and the base rows it no longer serves, made current in one transaction, so a reader
sees the old version or the new one, never a mixture. A one-article change copies one small
delta segment; the base, its vectors and its IVFFlat index stay as they are. Segments no
version names any more are dropped. Inside a segment:

- articles, sentence and passage spans: read per answer, the few dozen rows it needs, and
  kept in bounded caches, so a replica holds no copy of the corpus and opening a version reads
  only its settings;
- passage and sentence vectors in pgvector ``halfvec`` columns (half the bytes of ``vector``,
  the same precision the file backend stores), a base's passages under an IVFFlat index for
  inner product above :data:`EXACT_UP_TO` passages (searched exactly below, as deltas are);
- BM25 as term counts (compact, see :mod:`quoth.index.postings_codec`) and the segment's
  passage lengths, weighed when a question is scored with the version's statistics (documents,
  total length, how many hold each term), exactly as the file backend weighs them, so scores
  equal a build from nothing after any number of changes.

Building stays in :mod:`quoth.index.builder` (a local build folder is the cache that makes
re-embedding incremental); :func:`publish` copies what the database lacks of a finished one.
"""

from __future__ import annotations

import asyncio
import bisect
import functools
import hashlib
import json
import logging
import math
import struct
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, overload

import numpy as np
import numpy.typing as npt

from quoth.database import connection, first_line, migrate, shared_pool
from quoth.index import postings_codec
from quoth.index.embedder import Vectors
from quoth.index.errors import (
    IndexBusyError,
    IndexMismatchError,
    IndexNotFoundError,
    IndexStoreError,
)
from quoth.index.layered import LayeredIndex
from quoth.index.lexical import K1, B, LexicalIndex
from quoth.index.reader import PassageSpan, SentenceSpan, top_positive
from quoth.index.rows import StoredVectors
from quoth.index.store import ArticleRecord, IndexData, StoredIndex

log = logging.getLogger("quoth.index")
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
_COPY_BATCH = 5000
SCORE_CACHE = 4
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


@contextmanager
def reindex_lock(url: str) -> Iterator[None]:
    """One reindex at a time across every replica: a session advisory lock, held on its own
    connection for the whole build and publication, released if the process dies."""
    with connection(url) as conn:
        got = conn.execute("SELECT pg_try_advisory_lock(hashtext('quoth-reindex'))").fetchone()
        if not got or not got[0]:
            raise IndexBusyError("A reindex is already running (on this or another replica).")
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(hashtext('quoth-reindex'))")


def _table(segment: str, name: str) -> str:
    return f"quoth_s{segment}_{name}"


def segment_name(build: IndexData) -> str:
    """A segment's name: a digest of its build's files, so the same build is copied once
    however many versions (or replicas' local folders) name it."""
    files = json.dumps([SEGMENT_FORMAT, build.manifest.files], sort_keys=True).encode()
    return hashlib.sha256(files).hexdigest()[:16]


def _layers(index: StoredIndex) -> list[IndexData]:
    return [index.base, index.delta] if isinstance(index, LayeredIndex) else [index]


def publish(
    url: str,
    index: StoredIndex,
    timings: dict[str, float] | None = None,
    exact_up_to: int = EXACT_UP_TO,
) -> int:
    """Copy what the database lacks of a finished build (a whole build, or a delta and, the
    first time, its base) and make it the current version, in one transaction.

    ``timings`` (for the benchmark) receives the seconds of each step."""
    steps = timings if timings is not None else {}
    layers = _layers(index)
    with connection(url) as conn:
        migrate(conn)
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('quoth-publish'))")
            segments = []
            for depth, layer in enumerate(layers):
                name = segment_name(layer)
                search = _segment_search(conn, name)
                if search is None:
                    with _timed(steps, "copy_s"):
                        _create_tables(conn, name, layer.manifest.dimension)
                        _copy_segment(conn, name, layer)
                    with _timed(steps, "vector_index_s"):
                        limit = exact_up_to if depth == 0 else -1  # deltas: exact
                        search = _create_vector_index(conn, name, layer.passage_count, limit)
                    with _timed(steps, "postings_index_s"):
                        conn.execute(
                            f"CREATE INDEX ON {_table(name, 'sentence_terms')} (term, row)"
                        )
                    conn.execute(
                        "INSERT INTO quoth_segments (name, search) VALUES (%s, %s)",
                        (name, json.dumps(search)),
                    )
                segments.append(
                    {
                        "name": name,
                        "articles": len(layer.articles),
                        "sentences": layer.sentence_count,
                        "passages": layer.passage_count,
                        "search": search,
                    }
                )
            manifest = index.manifest.model_dump(mode="json")
            manifest["segments"] = segments
            manifest["segment_format"] = SEGMENT_FORMAT
            manifest["removed"] = _removed_rows(index)
            manifest["collections"] = _collections(index)
            manifest["removed_terms"] = _removed_terms(index)
            inserted = conn.execute(
                "INSERT INTO quoth_versions (manifest, search) VALUES (%s, %s) RETURNING id",
                (json.dumps(manifest), json.dumps(segments[0]["search"])),
            ).fetchone()
            assert inserted is not None
            version = int(inserted[0])
            conn.execute("UPDATE quoth_versions SET current = (id = %s)", (version,))
            conn.execute("SELECT pg_notify(%s, %s)", (VERSION_CHANNEL, str(version)))
            for old in _droppable(conn, version):
                _drop_version(conn, old)
            _drop_unused_segments(conn)
            started = time.perf_counter()
        steps["commit_s"] = time.perf_counter() - started
        return version


def _segment_search(conn: Any, name: str) -> dict[str, Any] | None:
    """How a segment already in the database is searched, or None when it is not there."""
    row = conn.execute("SELECT search FROM quoth_segments WHERE name = %s", (name,)).fetchone()
    if row is None:
        return None
    found: dict[str, Any] = row[0]
    return found


def _removed_rows(index: StoredIndex) -> dict[str, list[int]]:
    if not isinstance(index, LayeredIndex):
        return {"articles": [], "sentences": [], "passages": []}
    return {
        "articles": index.removed_articles.tolist(),
        "sentences": index.removed_sentences.tolist(),
        "passages": index.removed_passages.tolist(),
    }


def _collections(index: StoredIndex) -> dict[str, list[float]]:
    """Each BM25 collection's documents and total length, as the version weighs them."""
    if isinstance(index, LayeredIndex):
        found = index.collections()
    else:
        found = {
            "passages": index.lexical.passages.collection,
            "sentences": index.lexical.sentences.collection,
        }
    return {kind: [c.documents, c.length] for kind, c in found.items()}


def _removed_terms(index: StoredIndex) -> dict[str, list[int]]:
    """How many of the base's removed passages and sentences hold each term: what the
    version's term frequencies subtract from its segments' (a version of one build: none).
    Kept in the version's row and read when it opens, so a reader needs only its segments."""
    counts: dict[str, list[int]] = {}
    if not isinstance(index, LayeredIndex):
        return counts
    vocabulary = index.delta.lexical.vocabulary
    for position, postings in enumerate(index.removed_postings()):
        frequency = np.diff(postings.starts)
        for term, count in zip(postings.terms.tolist(), frequency.tolist(), strict=True):
            counts.setdefault(vocabulary.term(term), [0, 0])[position] = count
    return counts


def ivf_lists(passages: int) -> int:
    return max(1, round(IVF_LISTS_PER_ROOT * math.sqrt(passages)))


def _create_vector_index(
    conn: Any, segment: str, passages: int, exact_up_to: int
) -> dict[str, Any]:
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
        f"CREATE INDEX ON {_table(segment, 'passages')} USING ivfflat "
        f"(vector halfvec_ip_ops) WITH (lists = {lists})"
    )
    probes = max(1, min(lists // IVF_PROBE_SHARE, IVF_PROBE_CEILING))
    return {"index": "ivfflat", "lists": lists, "probes": probes}


@contextmanager
def _timed(timings: dict[str, float], name: str) -> Iterator[None]:
    started = time.perf_counter()
    yield
    timings[name] = timings.get(name, 0.0) + time.perf_counter() - started


def _droppable(conn: Any, version: int) -> list[int]:
    """Versions older than the one published just before ``version``: a replica that has not
    yet switched still reads that one."""
    rows = conn.execute(
        "SELECT id FROM quoth_versions WHERE id < %s ORDER BY id DESC OFFSET 1", (version,)
    ).fetchall()
    return [int(r[0]) for r in rows]


def _drop_version(conn: Any, version: int) -> None:
    for name in OLD_TABLES:  # tables of a version published by an earlier quoth
        conn.execute(f"DROP TABLE IF EXISTS quoth_v{int(version)}_{name}")
    conn.execute("DELETE FROM quoth_versions WHERE id = %s", (version,))


def _drop_unused_segments(conn: Any) -> None:
    """Drop the tables of segments no remaining version names."""
    named = {
        segment["name"]
        for (manifest,) in conn.execute("SELECT manifest FROM quoth_versions").fetchall()
        for segment in manifest.get("segments", [])
    }
    for (name,) in conn.execute("SELECT name FROM quoth_segments").fetchall():
        if name not in named:
            for part in TABLES:
                conn.execute(f"DROP TABLE IF EXISTS {_table(name, part)}")
            conn.execute("DELETE FROM quoth_segments WHERE name = %s", (name,))


def _create_tables(conn: Any, segment: str, dimension: int) -> None:
    conn.execute(
        f"""CREATE TABLE {_table(segment, "articles")} (
            row int PRIMARY KEY, record jsonb NOT NULL)"""
    )
    conn.execute(
        f"""CREATE TABLE {_table(segment, "sentences")} (
            row int PRIMARY KEY, doc int NOT NULL, start_char int NOT NULL,
            end_char int NOT NULL, vector halfvec({dimension}) NOT NULL)"""
    )
    conn.execute(
        f"""CREATE TABLE {_table(segment, "passages")} (
            row int PRIMARY KEY, doc int NOT NULL, start_char int NOT NULL,
            end_char int NOT NULL, first_sentence int NOT NULL, last_sentence int NOT NULL,
            passage_id text NOT NULL, vector halfvec({dimension}) NOT NULL)"""
    )
    # Passages: every question sums whole postings lists (BM25 over all passages), read
    # fastest as one row per term of compact little-endian arrays, stored uncompressed; the
    # passages' lengths once, in one row.
    conn.execute(
        f"CREATE TABLE {_table(segment, 'passage_postings')} (term text PRIMARY KEY, "
        "bitmap boolean NOT NULL, rows bytea NOT NULL, counts bytea NOT NULL)"
    )
    conn.execute(f"CREATE TABLE {_table(segment, 'passage_lengths')} (lengths bytea NOT NULL)")
    for table, column in (
        ("passage_postings", "rows"), ("passage_postings", "counts"),
        ("passage_lengths", "lengths"),
    ):  # fmt: skip
        conn.execute(
            f"ALTER TABLE {_table(segment, table)} ALTER COLUMN {column} SET STORAGE EXTERNAL"
        )
    # Sentences: a question scores a few dozen given sentences, found by (term, row).
    conn.execute(
        f"CREATE TABLE {_table(segment, 'sentence_terms')} (term text NOT NULL, "
        "row int NOT NULL, count real NOT NULL, length real NOT NULL)"
    )
    # How many sentences of the segment hold each term (a sentence's idf needs it).
    conn.execute(
        f"CREATE TABLE {_table(segment, 'terms')} (term text PRIMARY KEY, sentences int NOT NULL)"
    )


PGCOPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
PGCOPY_TRAILER = struct.pack(">h", -1)
_WRITE_BYTES = 8 * 1024 * 1024


def _binary_rows(
    ints: npt.NDArray[Any], texts: npt.NDArray[Any] | None, vectors: npt.NDArray[Any]
) -> bytes:
    """Rows of (int4 columns, optional fixed-width text, halfvec) in PostgreSQL's binary COPY
    format, built by NumPy: formatting a million vectors as text took minutes. Each field is
    its length then its big-endian value; a halfvec is its dimension, an unused int16, then
    float16s."""
    count, columns = ints.shape
    dimension = vectors.shape[1]
    fields: list[Any] = [("fields", ">i2")]
    for column in range(columns):
        fields += [(f"len{column}", ">i4"), (f"int{column}", ">i4")]
    if texts is not None:
        fields += [("text_len", ">i4"), ("text", texts.dtype)]
    fields += [("vec_len", ">i4"), ("dim", ">i2"), ("unused", ">i2"), ("vec", ">f2", (dimension,))]
    out = np.zeros(count, dtype=fields)
    out["fields"] = columns + (texts is not None) + 1
    for column in range(columns):
        out[f"len{column}"] = 4
        out[f"int{column}"] = ints[:, column]
    if texts is not None:
        out["text_len"] = texts.dtype.itemsize
        out["text"] = texts
    out["vec_len"] = 4 + 2 * dimension
    out["dim"] = dimension
    out["vec"] = vectors
    return out.tobytes()


def _copy_spans(
    cursor: Any,
    command: str,
    spans: npt.NDArray[Any],
    vectors: StoredVectors,
    texts: npt.NDArray[Any] | None = None,
) -> None:
    """Rows of (row, span columns, text, vector), a batch at a time."""
    with cursor.copy(f"{command} FROM STDIN (FORMAT binary)") as copy:
        copy.write(PGCOPY_HEADER)
        for start in range(0, len(spans), _COPY_BATCH):
            stop = min(start + _COPY_BATCH, len(spans))
            rows = np.arange(start, stop, dtype=np.int64)[:, None]
            ints = np.concatenate([rows, np.asarray(spans[start:stop], dtype=np.int64)], axis=1)
            batch = None if texts is None else texts[start:stop]
            copy.write(_binary_rows(ints, batch, np.asarray(vectors[start:stop])))
        copy.write(PGCOPY_TRAILER)


def _copy_sentence_terms(cursor: Any, table: str, lexical: LexicalIndex) -> None:
    """(term, row, count, length) rows in binary COPY format, one NumPy batch per term."""
    postings, vocabulary = lexical.sentence_postings, lexical.vocabulary
    with cursor.copy(f"COPY {table} (term, row, count, length) FROM STDIN (FORMAT binary)") as copy:
        copy.write(PGCOPY_HEADER)
        pending: list[bytes] = []
        size = 0
        for term in postings.terms.tolist():
            rows, counts = postings.column(term)
            word = vocabulary.term(term).encode()
            out = np.zeros(
                len(rows),
                dtype=[
                    ("fields", ">i2"), ("term_len", ">i4"), ("term", f"S{len(word)}"),
                    ("row_len", ">i4"), ("row", ">i4"), ("count_len", ">i4"), ("count", ">f4"),
                    ("length_len", ">i4"), ("length", ">f4"),
                ],
            )  # fmt: skip
            out["fields"], out["term_len"], out["term"] = 4, len(word), word
            out["row_len"], out["row"], out["count_len"], out["count"] = 4, rows, 4, counts
            out["length_len"], out["length"] = 4, postings.lengths[rows]
            pending.append(out.tobytes())
            size += out.nbytes
            if size >= _WRITE_BYTES:
                copy.write(b"".join(pending))
                pending, size = [], 0
        copy.write(b"".join(pending) + PGCOPY_TRAILER)


def _copy_segment(conn: Any, segment: str, index: IndexData) -> None:
    with conn.cursor() as cursor:
        with cursor.copy(f"COPY {_table(segment, 'articles')} (row, record) FROM STDIN") as copy:
            for row, article in enumerate(index.articles):
                copy.write_row((row, article.model_dump_json()))
        _copy_spans(
            cursor,
            f"COPY {_table(segment, 'sentences')} (row, doc, start_char, end_char, vector)",
            np.asarray(index.sentences),
            index.sentence_vectors,
        )
        ids = np.array([str(pid).encode() for pid in index.passage_ids], dtype="S")
        if len(ids) and int(np.char.str_len(ids).min()) != ids.dtype.itemsize:
            raise IndexStoreError("Passage ids differ in length; the index cannot be published.")
        _copy_spans(
            cursor,
            f"COPY {_table(segment, 'passages')} (row, doc, start_char, end_char, "
            "first_sentence, last_sentence, passage_id, vector)",
            np.asarray(index.passages),
            index.passage_vectors,
            ids,
        )
        lexical = index.lexical
        passages = lexical.passage_postings
        with cursor.copy(
            f"COPY {_table(segment, 'passage_postings')} (term, bitmap, rows, counts) FROM STDIN"
        ) as copy:
            for term in passages.terms.tolist():
                rows, counts = passages.column(term)
                encoded = postings_codec.encode(rows, counts, index.passage_count)
                copy.write_row((lexical.vocabulary.term(term), *encoded))
        cursor.execute(
            f"INSERT INTO {_table(segment, 'passage_lengths')} (lengths) VALUES (%s)",
            (postings_codec.encode_lengths(passages.lengths),),
        )
        _copy_sentence_terms(cursor, _table(segment, "sentence_terms"), lexical)
        sentences = lexical.sentence_postings
        with cursor.copy(f"COPY {_table(segment, 'terms')} (term, sentences) FROM STDIN") as copy:
            for term, count in zip(
                sentences.terms.tolist(), np.diff(sentences.starts).tolist(), strict=True
            ):
                copy.write_row((lexical.vocabulary.term(term), count))


def current_version(url: str) -> int | None:
    """The published version every replica should serve, or None before the first."""
    with shared_pool(url).connection() as conn:
        row = conn.execute("SELECT id FROM quoth_versions WHERE current").fetchone()
    return None if row is None else int(row[0])


def published_articles(url: str) -> dict[str, str] | None:
    """The current version's articles (id to content hash), or None before the first: what
    a merge checks its local build against before replacing the version."""
    with shared_pool(url).connection() as conn:
        row = conn.execute(
            "SELECT manifest -> 'articles' FROM quoth_versions WHERE current"
        ).fetchone()
    return None if row is None else dict(row[0])


class _Bounded(OrderedDict[Hashable, Any]):
    """A least-recently-used map of what was read: an answer's rows and the popular ones, or a
    segment's passage lengths."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def keep(self, key: Hashable, value: Any) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.size:
            self.popitem(last=False)

    def get_recent(self, key: Hashable) -> Any:
        value = self.get(key)
        if value is not None:
            self.move_to_end(key)
        return value


PASSAGES_KEPT = 20_000
SENTENCES_KEPT = 100_000
ARTICLES_KEPT = 256
VECTORS_KEPT = {"sentences": 8192, "passages": 4096}
"""Bounded caches of rows read per answer: about ten MB at most, whatever the corpus size. An
answer reads the same vectors more than once (a passage found by its vector is scored by it;
the sentences scored for the search are weighed again for the rerank and the quote)."""


class _Articles(Sequence[ArticleRecord]):
    """A version's live articles, read by position when asked for: quoting reads articles by
    row (two or three an answer), and only a moderator's listing reads them all."""

    def __init__(self, index: PostgresIndex, count: int) -> None:
        self._index = index
        self._count = count

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, row: int) -> ArticleRecord: ...

    @overload
    def __getitem__(self, row: slice) -> Sequence[ArticleRecord]: ...

    def __getitem__(self, row: int | slice) -> ArticleRecord | Sequence[ArticleRecord]:
        if isinstance(row, slice):
            return [self[i] for i in range(*row.indices(self._count))]
        if row < 0:
            row += self._count
        if not 0 <= row < self._count:
            raise IndexError(row)
        return self._index.article(self._index.live_article_row(row))

    def __iter__(self) -> Iterator[ArticleRecord]:
        yield from self._index.all_articles()


@dataclass(frozen=True, slots=True)
class _Segment:
    """One segment of a version: its tables' name, where its rows start in the version's
    numbering (articles, sentences, passages), and how its vectors are searched."""

    name: str
    starts: tuple[int, int, int]
    counts: tuple[int, int, int]
    search: dict[str, Any]


_KINDS = {"articles": 0, "sentences": 1, "passages": 2}
POSTINGS_KEPT_BYTES = 32 * 1024 * 1024
"""The most used terms' postings a process keeps, decoded: every question weighs whole lists,
and the terms in many passages are both the longest to read and the most often asked.
Segments never change, so what is kept stays right across versions that share a segment."""


_ENTRY_BYTES = 256
"""What keeping a list costs beyond its arrays (key, object): a term a segment lacks is kept
too, and questions bring new words without end."""


class _Postings:
    """A least-recently-used map of decoded postings lists, bounded by their bytes."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self._kept: OrderedDict[tuple[str, str, str], postings_codec.StoredList] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str, str]) -> postings_codec.StoredList | None:
        with self._lock:
            found = self._kept.get(key)
            if found is not None:
                self._kept.move_to_end(key)
            return found

    def keep(self, key: tuple[str, str, str], postings: postings_codec.StoredList) -> None:
        with self._lock:
            size = postings.nbytes + _ENTRY_BYTES
            if key in self._kept or size > self.budget:
                return
            self._kept[key] = postings
            self._bytes += size
            while self._bytes > self.budget:
                _, dropped = self._kept.popitem(last=False)
                self._bytes -= dropped.nbytes + _ENTRY_BYTES


_POSTINGS = _Postings(POSTINGS_KEPT_BYTES)
_ABSENT = postings_codec.StoredList(0, listed=np.zeros(0, np.int64), counts=np.zeros(0, np.float32))
_LENGTHS = _Bounded(8)
_lengths_lock = threading.Lock()


def _passage_lengths(pool: Any, url: str, segment: str) -> npt.NDArray[np.float32]:
    """A segment's passage lengths (BM25's normalisation), read once per process: segments
    never change, so a version that keeps the base reuses them."""
    key = (url, segment)
    with _lengths_lock:
        kept: npt.NDArray[np.float32] | None = _LENGTHS.get_recent(key)
    if kept is not None:
        return kept
    with pool.connection() as conn:
        row = conn.execute(
            f"SELECT lengths FROM {_table(segment, 'passage_lengths')}", binary=True
        ).fetchone()
    if row is None:
        raise IndexStoreError(f"Segment {segment} has no passage lengths; publish it again.")
    lengths = postings_codec.decode_lengths(bytes(row[0]))
    with _lengths_lock:
        _LENGTHS.keep(key, lengths)
    return lengths


class PostgresIndex:
    """A published version, read through the process's connection pool (an
    :class:`IndexReader`). Queries name the version's segments' tables, so a reader keeps
    answering from its version while a newer one is published."""

    def __init__(self, url: str, model: str) -> None:
        self.url = url
        self._pool = shared_pool(url)
        self._score_cache: dict[tuple[str, ...], Vectors] = {}
        self._cache_lock = threading.Lock()
        self._passages: _Bounded = _Bounded(PASSAGES_KEPT)
        self._sentences: _Bounded = _Bounded(SENTENCES_KEPT)
        self._article_cache: _Bounded = _Bounded(ARTICLES_KEPT)
        self._vector_cache = {kind: _Bounded(size) for kind, size in VECTORS_KEPT.items()}
        self._rows_lock = threading.Lock()
        with self._pool.connection() as conn:
            row = conn.execute("SELECT id, manifest FROM quoth_versions WHERE current").fetchone()
        if row is None:
            raise IndexNotFoundError(
                "The database holds no published index yet. Build one with: quoth index"
            )
        self.version = int(row[0])
        manifest = row[1]
        if manifest["model"] != model:
            raise IndexMismatchError(
                f"The database index was built with {manifest['model']!r}, not {model!r}: "
                "rebuild it with quoth index, or set QUOTH_MODEL to match."
            )
        if "segments" not in manifest:
            raise IndexMismatchError(
                "The database index was published by an older quoth: publish it again "
                "with quoth index."
            )
        self.segment_format = int(manifest.get("segment_format", 1))
        if self.segment_format > SEGMENT_FORMAT:
            raise IndexMismatchError(
                "The database index was published by a newer quoth: upgrade this replica."
            )
        self._built_at = datetime.fromisoformat(manifest["built_at"])
        self._dimension = int(manifest["dimension"])
        starts = [0, 0, 0]
        self._segments: list[_Segment] = []
        for entry in manifest["segments"]:
            counts = (int(entry["articles"]), int(entry["sentences"]), int(entry["passages"]))
            begins = (starts[0], starts[1], starts[2])
            self._segments.append(_Segment(entry["name"], begins, counts, entry["search"]))
            starts = [a + b for a, b in zip(starts, counts, strict=True)]
        self._totals = starts
        removed = manifest["removed"]
        self._removed_articles: list[int] = sorted(removed["articles"])
        self._removed_sentences = np.asarray(removed["sentences"], dtype=np.int64)
        self._removed_passages = np.asarray(removed["passages"], dtype=np.int64)
        self._removed_terms: dict[str, list[int]] = manifest["removed_terms"]
        self._collections = {
            k: (int(v[0]), float(v[1])) for k, v in manifest["collections"].items()
        }
        self._articles = _Articles(self, starts[0] - len(self._removed_articles))
        self._passage_norms = (
            {
                s.name: self._norm("passages", _passage_lengths(self._pool, url, s.name))
                for s in self._segments
            }
            if self.segment_format >= 2
            else {}  # the first form keeps lengths with each posting
        )
        self.search: dict[str, Any] = self._segments[0].search
        probes = self.search.get("probes")
        self.probes: int | None = None if probes is None else int(probes)

    # -- rows: where each lives ------------------------------------------------------------

    def _segment_of(self, kind: str, row: int) -> tuple[_Segment, int]:
        """The segment holding a row of the version's numbering, and the row within it."""
        at = _KINDS[kind]
        if not 0 <= row < self._totals[at]:
            raise IndexError(row)
        for segment in reversed(self._segments):
            if row >= segment.starts[at]:
                return segment, row - segment.starts[at]
        raise IndexError(row)

    def _by_segment(self, kind: str, rows: Sequence[int]) -> list[tuple[_Segment, list[int]]]:
        """Rows grouped by segment (local numbers), segments in order."""
        grouped: dict[str, list[int]] = {}
        for row in rows:
            segment, local = self._segment_of(kind, int(row))
            grouped.setdefault(segment.name, []).append(local)
        return [(s, grouped[s.name]) for s in self._segments if s.name in grouped]

    def live_article_row(self, position: int) -> int:
        """The row of the ``position``-th live article (the base's removed ones skipped)."""
        removed = self._removed_articles
        row = position
        while True:  # the smallest row with ``position`` live rows before it
            moved = position + bisect.bisect_right(removed, row)
            if moved == row:
                return row
            row = moved

    def _fetch(
        self, query: str, params: Sequence[Any] = (), binary: bool = False
    ) -> list[tuple[Any, ...]]:
        with self._pool.connection() as conn:
            rows: list[tuple[Any, ...]] = conn.execute(query, params, binary=binary).fetchall()
            return rows

    def _send(
        self, conn: Any, kind: str, columns: str, rows: Sequence[int]
    ) -> list[tuple[_Segment, Any]]:
        """One query per segment holding some of ``rows`` (sent at once inside a pipeline);
        each returns (local row, ``columns``)."""
        return [
            (
                segment,
                conn.execute(
                    f"SELECT row, {columns} FROM {_table(segment.name, kind)} WHERE row = ANY(%s)",
                    (local,),
                ),
            )
            for segment, local in self._by_segment(kind, rows)
        ]

    def prefetch(self, rows: Sequence[int]) -> None:
        """Read the passages at ``rows``, every sentence they hold and the one on each side
        (a quote's and a window's neighbours), and their articles: two round trips."""
        with self._rows_lock:
            wanted = [int(r) for r in rows if self._passages.get_recent(int(r)) is None]
        if not wanted:
            return
        with self._pool.connection() as conn:
            passage_rows: list[tuple[Any, ...]] = []
            with conn.pipeline():
                columns = "doc, start_char, end_char, first_sentence, last_sentence, passage_id"
                for segment, cursor in self._send(conn, "passages", columns, wanted):
                    a, s, p = segment.starts
                    passage_rows += [
                        (r + p, doc + a, start, end, first + s, last + s, pid)
                        for r, doc, start, end, first, last, pid in cursor.fetchall()
                    ]
            # The rows wanted are listed here, not joined in SQL: a join let the planner scan
            # the whole sentence table (vectors included) for every answer. Primary-key
            # lookups, sent together; what an earlier answer already read is not read again.
            with self._rows_lock:
                sentence_wanted = sorted(
                    {
                        s
                        for row in passage_rows
                        for s in range(max(0, row[4] - 1), min(row[5] + 2, self._totals[1]))
                        if s not in self._sentences
                    }
                )
                docs = sorted(
                    {int(row[1]) for row in passage_rows} - set(self._article_cache.keys())
                )
            sentence_rows: list[tuple[Any, ...]] = []
            article_rows: list[tuple[Any, ...]] = []
            with conn.pipeline():
                sentence_cursors = self._send(
                    conn, "sentences", "doc, start_char, end_char", sentence_wanted
                )
                article_cursors = self._send(conn, "articles", "record", docs)
                for segment, cursor in sentence_cursors:
                    a, s, _ = segment.starts
                    sentence_rows += [
                        (r + s, doc + a, start, end) for r, doc, start, end in cursor.fetchall()
                    ]
                for segment, cursor in article_cursors:
                    a = segment.starts[0]
                    article_rows += [(r + a, record) for r, record in cursor.fetchall()]
        with self._rows_lock:
            for r, *span, pid in passage_rows:
                self._passages.keep(int(r), (PassageSpan(*span), str(pid)))
            for r, *span in sentence_rows:
                self._sentences.keep(int(r), SentenceSpan(*span))
            for r, record in article_rows:
                self._article_cache.keep(int(r), ArticleRecord.model_validate(record))

    def _passage(self, row: int) -> tuple[PassageSpan, str]:
        with self._rows_lock:
            known = self._passages.get_recent(row)
        if known is None:
            if not 0 <= row < self._totals[2]:
                raise IndexError(row)
            self.prefetch([row])
            with self._rows_lock:
                known = self._passages.get_recent(row)
        if known is None:
            raise IndexStoreError(f"Passage {row} is missing from index version {self.version}.")
        result: tuple[PassageSpan, str] = known
        return result

    def article(self, row: int) -> ArticleRecord:
        """An article by row (a cached one, else read alone: a listing, an explanation)."""
        with self._rows_lock:
            known = self._article_cache.get_recent(row)
        if known is None:
            segment, local = self._segment_of("articles", row)
            found = self._fetch(
                f"SELECT record FROM {_table(segment.name, 'articles')} WHERE row = %s", (local,)
            )
            if not found:
                raise IndexError(row)
            known = ArticleRecord.model_validate(found[0][0])
            with self._rows_lock:
                self._article_cache.keep(row, known)
        record: ArticleRecord = known
        return record

    def all_articles(self) -> Iterator[ArticleRecord]:
        """Every live article in row order, streamed (a moderator's listing, not an answer)."""
        removed = set(self._removed_articles)
        with self._pool.connection() as conn, conn.transaction():  # server-side cursors
            for segment in self._segments:
                with conn.cursor(name="quoth_articles") as cursor:
                    cursor.itersize = 100
                    cursor.execute(
                        f"SELECT row, record FROM {_table(segment.name, 'articles')} ORDER BY row"
                    )
                    for row, record in cursor:
                        if row + segment.starts[0] not in removed:
                            yield ArticleRecord.model_validate(record)

    @property
    def articles(self) -> Sequence[ArticleRecord]:
        return self._articles

    @property
    def built_at(self) -> datetime:
        return self._built_at

    @property
    def sentence_count(self) -> int:
        return self._totals[1]

    @property
    def passage_count(self) -> int:
        return self._totals[2]

    @property
    def live_passages(self) -> int:
        return self._totals[2] - len(self._removed_passages)

    def removed_passage_rows(self) -> npt.NDArray[np.int64]:
        return self._removed_passages

    def passage_span(self, row: int) -> PassageSpan:
        return self._passage(int(row))[0]

    def sentence_span(self, sentence: int) -> SentenceSpan:
        sentence = int(sentence)
        with self._rows_lock:
            known = self._sentences.get_recent(sentence)
        if known is None:
            segment, local = self._segment_of("sentences", sentence)
            found = self._fetch(
                f"SELECT doc, start_char, end_char FROM {_table(segment.name, 'sentences')} "
                "WHERE row = %s",
                (local,),
            )
            if not found:
                raise IndexError(sentence)
            doc, start, end = found[0]
            known = SentenceSpan(doc + segment.starts[0], start, end)
            with self._rows_lock:
                self._sentences.keep(sentence, known)
        span: SentenceSpan = known
        return span

    def passage_id(self, row: int) -> str:
        return self._passage(int(row))[1]

    # -- vectors -----------------------------------------------------------------------------

    def _vectors(self, kind: str, rows: list[int]) -> Vectors:
        """Rows' vectors in pgvector's binary form (dimension, unused, big-endian float16s),
        which is read without parsing text."""
        if not rows:
            return np.zeros((0, self._dimension), dtype=np.float32)
        cache = self._vector_cache[kind]
        with self._rows_lock:
            found: dict[int, bytes] = {r: v for r in rows if (v := cache.get_recent(r)) is not None}
        missing = [r for r in dict.fromkeys(rows) if r not in found]
        if missing:
            at = _KINDS[kind]
            read: dict[int, bytes] = {}
            with self._pool.connection() as conn:
                for segment, local in self._by_segment(kind, missing):
                    for row, vector in conn.execute(
                        f"SELECT row, vector FROM {_table(segment.name, kind)} WHERE row = ANY(%s)",
                        (local,),
                        binary=True,
                    ).fetchall():
                        read[row + segment.starts[at]] = bytes(vector)
            self._keep_vectors(kind, read)
            found.update(read)
        raw = b"".join(found[row][4:] for row in rows)
        return np.frombuffer(raw, dtype=">f2").astype(np.float32).reshape(len(rows), -1)

    def _keep_vectors(self, kind: str, vectors: dict[int, bytes]) -> None:
        cache = self._vector_cache[kind]
        with self._rows_lock:
            for row, vector in vectors.items():
                cache.keep(row, vector)

    def passage_vectors_at(self, rows: Sequence[int]) -> Vectors:
        return self._vectors("passages", [int(r) for r in rows])

    def sentence_vectors_at(self, rows: Sequence[int] | slice) -> Vectors:
        if isinstance(rows, slice):
            rows = range(*rows.indices(self.sentence_count))
        return self._vectors("sentences", [int(r) for r in rows])

    def dense_search(self, vector: Vectors, n: int) -> list[int]:
        """Each segment searched (a base through its IVFFlat index, its removed rows filtered
        in the scan; a delta exactly), merged by inner product."""
        literal = "[" + ",".join(f"{float(v):.6g}" for v in vector.ravel()) + "]"
        found: list[tuple[float, int]] = []
        vectors: dict[int, bytes] = {}
        with self._pool.connection() as conn:
            sent = []
            with conn.pipeline():  # every segment's settings and search: one round trip
                for segment in self._segments:
                    start, stop = segment.starts[2], segment.starts[2] + segment.counts[2]
                    removed = self._removed_passages
                    local = (removed[(removed >= start) & (removed < stop)] - start).tolist()
                    probes = segment.search.get("probes")
                    if probes is not None:  # per segment: the pool's connections serve all
                        conn.execute(f"SET ivfflat.probes = {int(probes)}")
                        # with removed rows filtered, the scan goes on until n rows are found
                        conn.execute(
                            "SET ivfflat.iterative_scan = " + ("relaxed_order" if local else "off")
                        )
                    where = "WHERE NOT (row = ANY(%s))" if local else ""
                    params: tuple[Any, ...] = (
                        (literal, local, literal, n) if local else (literal, literal, n)
                    )
                    cursor = conn.execute(
                        f"SELECT row, vector <#> %s::halfvec, vector "
                        f"FROM {_table(segment.name, 'passages')} "
                        f"{where} ORDER BY vector <#> %s::halfvec LIMIT %s",
                        params,
                        binary=True,
                    )
                    sent.append((start, cursor))
                for start, cursor in sent:
                    for row, distance, stored in cursor.fetchall():
                        found.append((float(distance), int(row) + start))
                        vectors[int(row) + start] = bytes(stored)
        self._keep_vectors("passages", vectors)  # what is found is scored next
        found.sort()
        return [row for _, row in found[:n]]

    # -- BM25 --------------------------------------------------------------------------------

    def _idf(self, kind: str, frequency: npt.NDArray[np.int64]) -> Vectors:
        documents, _ = self._collections[kind]
        return np.log1p((documents - frequency + 0.5) / (frequency + 0.5)).astype(np.float32)

    def _norm(self, kind: str, lengths: npt.NDArray[Any]) -> Vectors:
        documents, length = self._collections[kind]
        mean = length / documents if documents else 0.0
        average = mean if mean > 0 else 1.0
        return (K1 * (1 - B + B * np.asarray(lengths, np.float64) / average)).astype(np.float32)

    def _removed_frequencies(self, kind: str, terms: list[str]) -> dict[str, int]:
        at = 0 if kind == "passages" else 1
        return {t: self._removed_terms[t][at] for t in terms if t in self._removed_terms}

    def _passage_scores(self, terms: list[str]) -> Vectors:
        """Every passage's BM25 for ``terms``, summed term by term in the question's order
        (a term asked twice counts twice) in float32, weighed as the file backend weighs. The
        last few questions' scores are kept: ranking asks for the top rows, then for the
        scores of others, with the same terms."""
        key = tuple(terms)
        with self._cache_lock:
            cached = self._score_cache.get(key)
        if cached is not None:
            return cached
        unique = sorted(set(terms))
        columns = [self._postings(segment, unique) for segment in self._segments]
        removed = self._removed_frequencies("passages", unique)
        frequency = np.array(
            [sum(len(c[t]) for c in columns if t in c) - removed.get(t, 0) for t in terms],
            dtype=np.int64,
        )
        scores = np.zeros(self.passage_count, dtype=np.float32)
        for term, idf in zip(terms, self._idf("passages", frequency).tolist(), strict=True):
            for segment, found in zip(self._segments, columns, strict=True):
                stored, start = found[term], segment.starts[2]
                if not len(stored):
                    continue
                if stored.lengths is not None:  # published before compact postings
                    rows, counts = stored.rows_and_counts()
                    norm = self._norm("passages", stored.lengths)
                    scores[rows + start] += np.float32(idf) * counts / (counts + norm)
                    continue
                stored.add_weights(
                    scores[start : start + segment.counts[2]],
                    np.float32(idf),
                    self._passage_norms[segment.name],
                )
        scores[self._removed_passages] = 0
        with self._cache_lock:
            self._score_cache[key] = scores
            while len(self._score_cache) > SCORE_CACHE:
                self._score_cache.pop(next(iter(self._score_cache)))
        return scores

    def _postings(
        self, segment: _Segment, terms: list[str]
    ) -> dict[str, postings_codec.StoredList]:
        """The segment's postings of ``terms`` (an empty list for a term it lacks): the kept
        ones, and the others read in one query and kept."""
        found: dict[str, postings_codec.StoredList] = {}
        missing = []
        for term in terms:
            kept = _POSTINGS.get((self.url, segment.name, term))
            if kept is None:
                missing.append(term)
            else:
                found[term] = kept
        if not missing:
            return found
        passages = segment.counts[2]
        if self.segment_format >= 2:
            columns = "bitmap, rows, counts"
            decode: Callable[..., postings_codec.StoredList] = functools.partial(
                postings_codec.decode, passages=passages
            )
        else:  # raw arrays with each posting's length: read while replicas are upgraded
            columns, decode = "rows, counts, lengths", postings_codec.decode_first_form
        with self._pool.connection() as conn:
            rows = conn.execute(
                f"SELECT term, {columns} FROM {_table(segment.name, 'passage_postings')} "
                "WHERE term = ANY(%s)",
                (missing,),
                binary=True,
            ).fetchall()
        read = {term: decode(*fields) for term, *fields in rows}
        for term in missing:
            found[term] = read.get(term, _ABSENT)
            _POSTINGS.keep((self.url, segment.name, term), found[term])
        return found

    def bm25_top_passages(self, terms: list[str], n: int) -> list[tuple[int, float]]:
        if not terms or n <= 0:
            return []
        scores = self._passage_scores(terms)
        return [(row, float(scores[row])) for row in top_positive(scores, n)]

    def bm25_passage_scores(self, terms: list[str], rows: Sequence[int]) -> Vectors:
        wanted = [int(r) for r in rows]
        if not terms or not wanted:
            return np.zeros(len(wanted), dtype=np.float32)
        return self._passage_scores(terms)[wanted]

    def bm25_sentence_scores(self, terms: list[str], rows: Sequence[int]) -> Vectors:
        """The given sentences' BM25, from their term counts and the version's statistics;
        a term asked twice counts twice, as in the file backend."""
        wanted = [int(r) for r in rows]
        out = np.zeros(len(wanted), dtype=np.float32)
        if not terms or not wanted:
            return out
        unique = sorted(set(terms))
        entries: dict[str, list[tuple[int, float, float]]] = {}
        frequency: dict[str, int] = {}
        with self._pool.connection() as conn:
            grouped = {s.name: local for s, local in self._by_segment("sentences", wanted)}
            for segment in self._segments:
                if segment.name in grouped:
                    for term, row, count, length in conn.execute(
                        "SELECT term, row, count, length FROM "
                        f"{_table(segment.name, 'sentence_terms')} "
                        "WHERE term = ANY(%s) AND row = ANY(%s)",
                        (unique, grouped[segment.name]),
                    ).fetchall():
                        entries.setdefault(term, []).append(
                            (int(row) + segment.starts[1], float(count), float(length))
                        )
                for term, count in conn.execute(
                    f"SELECT term, sentences FROM {_table(segment.name, 'terms')} "
                    "WHERE term = ANY(%s)",
                    (unique,),
                ).fetchall():
                    frequency[term] = frequency.get(term, 0) + int(count)
        for term, count in self._removed_frequencies("sentences", unique).items():
            frequency[term] = frequency.get(term, 0) - count
        positions: dict[int, list[int]] = {}
        for i, row in enumerate(wanted):  # a row may be asked for twice
            positions.setdefault(row, []).append(i)
        idf = self._idf("sentences", np.array([frequency.get(t, 0) for t in terms], np.int64))
        for term, weight in zip(terms, idf.tolist(), strict=True):
            found = entries.get(term)
            if not found:
                continue
            rows = [r for r, _, _ in found]
            counts = np.array([c for _, c, _ in found], dtype=np.float32)
            lengths = np.array([length for _, _, length in found], dtype=np.float32)
            weights = np.float32(weight) * counts / (counts + self._norm("sentences", lengths))
            for row, value in zip(rows, weights.tolist(), strict=True):
                for i in positions[row]:
                    out[i] += np.float32(value)
        if len(self._removed_sentences):
            out[np.isin(np.asarray(wanted), self._removed_sentences)] = 0
        return out


async def watch_versions(
    url: str, serve: Callable[[int], Awaitable[None]], retry_s: float = 1.0
) -> None:
    """LISTEN for publications and call ``serve`` with each new version number; also with
    the current one after every (re)connection, so a notice missed while disconnected is not
    a version missed. Runs until cancelled."""
    import psycopg

    while True:
        try:
            conn = await psycopg.AsyncConnection.connect(url, autocommit=True)
            async with conn:
                await conn.execute(f"LISTEN {VERSION_CHANNEL}")
                cursor = await conn.execute("SELECT id FROM quoth_versions WHERE current")
                row = await cursor.fetchone()
                if row is not None:
                    await serve(int(row[0]))
                async for notice in conn.notifies():
                    await serve(int(notice.payload))
        except psycopg.Error as error:
            log.warning("index version notices lost (%s); reconnecting", first_line(error))
            await asyncio.sleep(retry_s)
