"""The PostgreSQL backend: one published index in tables that several replicas read.

Each published version gets its own tables (``quoth_v<N>_...``), filled and made current in
one transaction, so a reader sees the old version or the new one, never a mixture; readers
still on the old version keep it until the next publication drops it. Inside a version:

- articles, sentence and passage spans: read per answer, the few dozen rows it needs (two
  round trips for the passages a search found, their sentences and their articles), and kept
  in bounded caches, so a replica holds no copy of the corpus and opening a version reads
  only its settings;
- passage and sentence vectors in pgvector ``halfvec`` columns (half the bytes of ``vector``,
  the same precision the file backend stores), passages under an IVFFlat index for inner
  product above :data:`EXACT_UP_TO` passages (searched exactly below);
- BM25 as postings (term, row, weight) whose weights are the file backend's own, idf included,
  so a question's scores are sums over its terms' postings and equal the file backend's.

Building stays in :mod:`quoth.index.builder` (a local build folder is the cache that makes
re-embedding incremental); :func:`publish` copies a finished build into the database.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import struct
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, overload

import numpy as np
import numpy.typing as npt

from quoth.database import connection, first_line, migrate, shared_pool
from quoth.index.embedder import Vectors
from quoth.index.errors import (
    IndexBusyError,
    IndexMismatchError,
    IndexNotFoundError,
    IndexStoreError,
)
from quoth.index.lexical import Bm25
from quoth.index.reader import PassageSpan, SentenceSpan, top_positive
from quoth.index.rows import StoredVectors
from quoth.index.store import ArticleRecord, IndexData

log = logging.getLogger("quoth.index")
EXACT_UP_TO = 30_000
"""Up to this many passages no vector index is built: PostgreSQL compares them all, exactly,
in a few milliseconds (the file backend's flat index covers the same range)."""
IVF_LISTS_PER_ROOT = 2
IVF_PROBE_SHARE = 32
"""IVFFlat, not HNSW: on the benchmark's million passages (news-like text whose sentences
recur with small changes) HNSW missed many of the true nearest even with a large ef_search,
while IVFFlat with these settings kept recall where the file backend has it (figures in the
README). Each publication builds its own index, so the lists always fit the current data."""
IVF_BUILD_MB_PER_LIST = 0.85
"""pgvector's k-means needs about this much maintenance_work_mem per list (measured)."""
_COPY_BATCH = 5000
SCORE_CACHE = 4
TABLES = ("articles", "sentences", "passages", "passage_postings", "sentence_terms")
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


def _table(version: int, name: str) -> str:
    return f"quoth_v{int(version)}_{name}"


def _term_postings(bm25: Bm25) -> Iterator[tuple[str, npt.NDArray[Any], npt.NDArray[Any]]]:
    """(term, rows, weights) for every term of a build's BM25, rows ascending: the weights a
    file-backend question would compute, idf included, stored ready to sum."""
    for term, docs, weights in bm25.weighted_columns():
        if len(docs):
            yield term, np.asarray(docs), np.asarray(weights, dtype=np.float32)


def publish(
    url: str,
    index: IndexData,
    timings: dict[str, float] | None = None,
    exact_up_to: int = EXACT_UP_TO,
) -> int:
    """Copy a finished build into new tables and make it current, in one transaction.

    ``timings`` (for the benchmark) receives the seconds of each step."""
    steps = timings if timings is not None else {}
    with connection(url) as conn:
        migrate(conn)
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('quoth-publish'))")
            manifest = index.manifest.model_dump(mode="json")
            inserted = conn.execute(
                "INSERT INTO quoth_versions (manifest) VALUES (%s) RETURNING id",
                (json.dumps(manifest),),
            ).fetchone()
            assert inserted is not None
            version = int(inserted[0])
            _create_tables(conn, version, index.manifest.dimension)
            with _timed(steps, "copy_s"):
                _copy_version(conn, version, index)
            with _timed(steps, "vector_index_s"):
                search = _create_vector_index(conn, version, index.passage_count, exact_up_to)
            conn.execute(
                "UPDATE quoth_versions SET search = %s WHERE id = %s", (json.dumps(search), version)
            )
            with _timed(steps, "postings_index_s"):
                conn.execute(f"CREATE INDEX ON {_table(version, 'sentence_terms')} (term, row)")
            conn.execute("UPDATE quoth_versions SET current = (id = %s)", (version,))
            conn.execute("SELECT pg_notify(%s, %s)", (VERSION_CHANNEL, str(version)))
            for old in _droppable(conn, version):
                _drop_version(conn, old)
            started = time.perf_counter()
        steps["commit_s"] = time.perf_counter() - started
        return version


def ivf_lists(passages: int) -> int:
    return max(1, round(IVF_LISTS_PER_ROOT * math.sqrt(passages)))


def _create_vector_index(
    conn: Any, version: int, passages: int, exact_up_to: int
) -> dict[str, Any]:
    """Index the passages' vectors; returns how readers are to search them."""
    if passages <= exact_up_to:
        return {"index": "exact"}
    lists = ivf_lists(passages)
    needed = int(lists * IVF_BUILD_MB_PER_LIST) + 64
    row = conn.execute("SELECT pg_size_bytes(current_setting('maintenance_work_mem'))").fetchone()
    if row is None or int(row[0]) < needed * 1024 * 1024:
        conn.execute(f"SET LOCAL maintenance_work_mem = '{needed}MB'")  # this build only
    conn.execute(
        f"CREATE INDEX ON {_table(version, 'passages')} USING ivfflat "
        f"(vector halfvec_ip_ops) WITH (lists = {lists})"
    )
    return {"index": "ivfflat", "lists": lists, "probes": max(1, lists // IVF_PROBE_SHARE)}


@contextmanager
def _timed(timings: dict[str, float], name: str) -> Iterator[None]:
    started = time.perf_counter()
    yield
    timings[name] = time.perf_counter() - started


def _droppable(conn: Any, version: int) -> list[int]:
    """Versions older than the one published just before ``version``: a replica that has not
    yet switched still reads that one."""
    rows = conn.execute(
        "SELECT id FROM quoth_versions WHERE id < %s ORDER BY id DESC OFFSET 1", (version,)
    ).fetchall()
    return [int(r[0]) for r in rows]


def _drop_version(conn: Any, version: int) -> None:
    for name in TABLES:
        conn.execute(f"DROP TABLE IF EXISTS {_table(version, name)}")
    conn.execute("DELETE FROM quoth_versions WHERE id = %s", (version,))


def _create_tables(conn: Any, version: int, dimension: int) -> None:
    conn.execute(
        f"""CREATE TABLE {_table(version, "articles")} (
            row int PRIMARY KEY, record jsonb NOT NULL)"""
    )
    conn.execute(
        f"""CREATE TABLE {_table(version, "sentences")} (
            row int PRIMARY KEY, doc int NOT NULL, start_char int NOT NULL,
            end_char int NOT NULL, vector halfvec({dimension}) NOT NULL)"""
    )
    conn.execute(
        f"""CREATE TABLE {_table(version, "passages")} (
            row int PRIMARY KEY, doc int NOT NULL, start_char int NOT NULL,
            end_char int NOT NULL, first_sentence int NOT NULL, last_sentence int NOT NULL,
            passage_id text NOT NULL, vector halfvec({dimension}) NOT NULL)"""
    )
    # Passages: every question sums whole postings lists (BM25 over all passages), read
    # fastest as one row per term of raw little-endian arrays, stored uncompressed.
    conn.execute(
        f"CREATE TABLE {_table(version, 'passage_postings')} (term text PRIMARY KEY, "
        "rows bytea NOT NULL, weights bytea NOT NULL)"
    )
    for column in ("rows", "weights"):
        conn.execute(
            f"ALTER TABLE {_table(version, 'passage_postings')} "
            f"ALTER COLUMN {column} SET STORAGE EXTERNAL"
        )
    # Sentences: a question scores a few dozen given sentences, found by (term, row).
    conn.execute(
        f"CREATE TABLE {_table(version, 'sentence_terms')} (term text NOT NULL, "
        "row int NOT NULL, weight real NOT NULL)"
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


def _copy_sentence_terms(cursor: Any, table: str, bm25: Bm25) -> None:
    """(term, row, weight) rows in binary COPY format, one NumPy batch per term."""
    with cursor.copy(f"COPY {table} (term, row, weight) FROM STDIN (FORMAT binary)") as copy:
        copy.write(PGCOPY_HEADER)
        pending: list[bytes] = []
        size = 0
        for term, rows, weights in _term_postings(bm25):
            word = term.encode()
            out = np.zeros(
                len(rows),
                dtype=[
                    ("fields", ">i2"), ("term_len", ">i4"), ("term", f"S{len(word)}"),
                    ("row_len", ">i4"), ("row", ">i4"), ("weight_len", ">i4"), ("weight", ">f4"),
                ],
            )  # fmt: skip
            out["fields"], out["term_len"], out["term"] = 3, len(word), word
            out["row_len"], out["row"], out["weight_len"], out["weight"] = 4, rows, 4, weights
            pending.append(out.tobytes())
            size += out.nbytes
            if size >= _WRITE_BYTES:
                copy.write(b"".join(pending))
                pending, size = [], 0
        copy.write(b"".join(pending) + PGCOPY_TRAILER)


def _copy_version(conn: Any, version: int, index: IndexData) -> None:
    with conn.cursor() as cursor:
        with cursor.copy(f"COPY {_table(version, 'articles')} (row, record) FROM STDIN") as copy:
            for row, article in enumerate(index.articles):
                copy.write_row((row, article.model_dump_json()))
        _copy_spans(
            cursor,
            f"COPY {_table(version, 'sentences')} (row, doc, start_char, end_char, vector)",
            np.asarray(index.sentences),
            index.sentence_vectors,
        )
        ids = np.array([str(pid).encode() for pid in index.passage_ids], dtype="S")
        if len(ids) and int(np.char.str_len(ids).min()) != ids.dtype.itemsize:
            raise IndexStoreError("Passage ids differ in length; the index cannot be published.")
        _copy_spans(
            cursor,
            f"COPY {_table(version, 'passages')} (row, doc, start_char, end_char, "
            "first_sentence, last_sentence, passage_id, vector)",
            np.asarray(index.passages),
            index.passage_vectors,
            ids,
        )
        with cursor.copy(
            f"COPY {_table(version, 'passage_postings')} (term, rows, weights) FROM STDIN"
        ) as copy:
            for term, rows, weights in _term_postings(index.lexical.passages):
                copy.write_row(
                    (term, rows.astype("<i4").tobytes(), weights.astype("<f4").tobytes())
                )
        _copy_sentence_terms(cursor, _table(version, "sentence_terms"), index.lexical.sentences)


def current_version(url: str) -> int | None:
    """The published version every replica should serve, or None before the first."""
    with shared_pool(url).connection() as conn:
        row = conn.execute("SELECT id FROM quoth_versions WHERE current").fetchone()
    return None if row is None else int(row[0])


class _Bounded(OrderedDict[int, Any]):
    """A least-recently-used map of rows already read: an answer's rows, and the popular ones."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def keep(self, key: int, value: Any) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.size:
            self.popitem(last=False)

    def get_recent(self, key: int) -> Any:
        value = self.get(key)
        if value is not None:
            self.move_to_end(key)
        return value


PASSAGES_KEPT = 20_000
SENTENCES_KEPT = 100_000
ARTICLES_KEPT = 256
"""Bounded caches of rows read per answer: a few MB at most, whatever the corpus size."""


class _Articles(Sequence[ArticleRecord]):
    """A version's articles, read by row when asked for: quoting needs two or three an answer,
    and only a moderator's listing reads them all."""

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
        return self._index.article(row)

    def __iter__(self) -> Iterator[ArticleRecord]:
        yield from self._index.all_articles()


class PostgresIndex:
    """A published version, read through the process's connection pool (an
    :class:`IndexReader`). Queries name the version's own tables, so a reader keeps
    answering from its version while a newer one is published."""

    def __init__(self, url: str, model: str) -> None:
        self.url = url
        self._pool = shared_pool(url)
        self._score_cache: dict[tuple[str, ...], Vectors] = {}
        self._cache_lock = threading.Lock()
        self._passages: _Bounded = _Bounded(PASSAGES_KEPT)
        self._sentences: _Bounded = _Bounded(SENTENCES_KEPT)
        self._article_cache: _Bounded = _Bounded(ARTICLES_KEPT)
        self._rows_lock = threading.Lock()
        with self._pool.connection() as conn:
            row = conn.execute(
                "SELECT id, manifest, search FROM quoth_versions WHERE current"
            ).fetchone()
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
            layout = conn.execute(
                "SELECT to_regclass(%s)", (_table(self.version, "passage_postings"),)
            ).fetchone()
            if layout is None or layout[0] is None:
                raise IndexMismatchError(
                    "The database index was published by an older quoth: publish it again "
                    "with quoth index."
                )
            self._built_at = datetime.fromisoformat(manifest["built_at"])
            self._dimension = int(manifest["dimension"])
            self._passage_count = int(manifest["passages"])
            self._sentence_count = int(manifest["sentences"])
            self._articles = _Articles(self, len(manifest["articles"]))
            self.search: dict[str, Any] = dict(row[2])
            probes = self.search.get("probes")
            self.probes: int | None = None if probes is None else int(probes)

    def _fetch(
        self, query: str, params: Sequence[Any] = (), binary: bool = False
    ) -> list[tuple[Any, ...]]:
        with self._pool.connection() as conn:
            rows: list[tuple[Any, ...]] = conn.execute(query, params, binary=binary).fetchall()
            return rows

    def prefetch(self, rows: Sequence[int]) -> None:
        """Read the passages at ``rows``, every sentence they hold and the one on each side
        (a quote's and a window's neighbours), and their articles: two round trips."""
        with self._rows_lock:
            wanted = [int(r) for r in rows if self._passages.get_recent(int(r)) is None]
        if not wanted:
            return
        v = self.version
        with self._pool.connection() as conn:
            found_rows = conn.execute(
                f"SELECT row, doc, start_char, end_char, first_sentence, last_sentence, "
                f"passage_id FROM {_table(v, 'passages')} WHERE row = ANY(%s)",
                (wanted,),
            ).fetchall()
            # The rows wanted are listed here, not joined in SQL: a join let the planner scan
            # the whole sentence table (vectors included) for every answer. Two primary-key
            # lookups, sent together.
            with self._rows_lock:  # what an earlier answer already read is not read again
                sentence_wanted = sorted(
                    {
                        s
                        for row in found_rows
                        for s in range(max(0, row[4] - 1), row[5] + 2)
                        if s not in self._sentences
                    }
                )
                docs = sorted({int(row[1]) for row in found_rows} - set(self._article_cache.keys()))
            sentence_rows: list[tuple[Any, ...]] = []
            article_rows: list[tuple[Any, ...]] = []
            with conn.pipeline():
                if sentence_wanted:
                    sentences = conn.execute(
                        f"SELECT row, doc, start_char, end_char FROM {_table(v, 'sentences')} "
                        "WHERE row = ANY(%s)",
                        (sentence_wanted,),
                    )
                if docs:
                    articles = conn.execute(
                        f"SELECT row, record FROM {_table(v, 'articles')} WHERE row = ANY(%s)",
                        (docs,),
                    )
                if sentence_wanted:
                    sentence_rows = sentences.fetchall()
                if docs:
                    article_rows = articles.fetchall()
        with self._rows_lock:
            for r, *span, pid in found_rows:
                self._passages.keep(int(r), (PassageSpan(*span), str(pid)))
            for r, *span in sentence_rows:
                self._sentences.keep(int(r), SentenceSpan(*span))
            for r, record in article_rows:
                self._article_cache.keep(int(r), ArticleRecord.model_validate(record))

    def _one(self, cache: _Bounded, row: int, query: str, make: Callable[..., Any]) -> Any:
        """A cached row, else read alone (a row no search brought: an explanation, a listing)."""
        with self._rows_lock:
            known = cache.get_recent(row)
        if known is None:
            found = self._fetch(query, (row,))
            if not found:
                raise IndexError(row)
            known = make(*found[0])
            with self._rows_lock:
                cache.keep(row, known)
        return known

    def _passage(self, row: int) -> tuple[PassageSpan, str]:
        with self._rows_lock:
            known = self._passages.get_recent(row)
        if known is None:
            if not 0 <= row < self._passage_count:
                raise IndexError(row)
            self.prefetch([row])
            with self._rows_lock:
                known = self._passages.get_recent(row)
        if known is None:
            raise IndexStoreError(f"Passage {row} is missing from index version {self.version}.")
        result: tuple[PassageSpan, str] = known
        return result

    def article(self, row: int) -> ArticleRecord:
        record: ArticleRecord = self._one(
            self._article_cache,
            row,
            f"SELECT record FROM {_table(self.version, 'articles')} WHERE row = %s",
            ArticleRecord.model_validate,
        )
        return record

    def all_articles(self) -> Iterator[ArticleRecord]:
        """Every article in row order, streamed (a moderator's listing, not an answer)."""
        with (
            self._pool.connection() as conn,
            conn.transaction(),  # a server-side cursor lives in a transaction
            conn.cursor(name="quoth_articles") as cursor,
        ):
            cursor.itersize = 100
            cursor.execute(f"SELECT record FROM {_table(self.version, 'articles')} ORDER BY row")
            for (record,) in cursor:
                yield ArticleRecord.model_validate(record)

    @property
    def articles(self) -> Sequence[ArticleRecord]:
        return self._articles

    @property
    def built_at(self) -> datetime:
        return self._built_at

    @property
    def sentence_count(self) -> int:
        return self._sentence_count

    @property
    def passage_count(self) -> int:
        return self._passage_count

    @property
    def live_passages(self) -> int:
        return self._passage_count

    def removed_passage_rows(self) -> npt.NDArray[np.int64]:
        return np.zeros(0, dtype=np.int64)

    def passage_span(self, row: int) -> PassageSpan:
        return self._passage(int(row))[0]

    def sentence_span(self, sentence: int) -> SentenceSpan:
        span: SentenceSpan = self._one(
            self._sentences,
            int(sentence),
            f"SELECT doc, start_char, end_char FROM {_table(self.version, 'sentences')} "
            "WHERE row = %s",
            SentenceSpan,
        )
        return span

    def passage_id(self, row: int) -> str:
        return self._passage(int(row))[1]

    def _vectors(self, table: str, rows: list[int]) -> Vectors:
        """Rows' vectors in pgvector's binary form (dimension, unused, big-endian float16s),
        which is read without parsing text."""
        found = dict(
            self._fetch(
                f"SELECT row, vector FROM {_table(self.version, table)} WHERE row = ANY(%s)",
                (rows,),
                binary=True,
            )
        )
        if not rows:
            return np.zeros((0, self._dimension), dtype=np.float32)
        raw = b"".join(bytes(found[row])[4:] for row in rows)
        return np.frombuffer(raw, dtype=">f2").astype(np.float32).reshape(len(rows), -1)

    def passage_vectors_at(self, rows: Sequence[int]) -> Vectors:
        return self._vectors("passages", [int(r) for r in rows])

    def sentence_vectors_at(self, rows: Sequence[int] | slice) -> Vectors:
        if isinstance(rows, slice):
            rows = range(*rows.indices(self.sentence_count))
        return self._vectors("sentences", [int(r) for r in rows])

    def dense_search(self, vector: Vectors, n: int) -> list[int]:
        literal = "[" + ",".join(f"{float(v):.6g}" for v in vector.ravel()) + "]"
        with self._pool.connection() as conn:
            if self.probes is not None:  # per version: the pool's connections serve them all
                conn.execute(f"SET ivfflat.probes = {self.probes}")
            rows = conn.execute(
                f"SELECT row FROM {_table(self.version, 'passages')} "
                "ORDER BY vector <#> %s::halfvec LIMIT %s",
                (literal, n),
            ).fetchall()
        return [int(r[0]) for r in rows]

    def _passage_scores(self, terms: list[str]) -> Vectors:
        """Every passage's BM25 for ``terms``, summed term by term in the question's order
        (a term asked twice counts twice) in float32, as the file backend sums them. The
        last few questions' scores are kept: ranking asks for the top rows, then for the
        scores of others, with the same terms."""
        key = tuple(terms)
        with self._cache_lock:
            cached = self._score_cache.get(key)
        if cached is not None:
            return cached
        found = {
            term: (np.frombuffer(rows, dtype="<i4"), np.frombuffer(weights, dtype="<f4"))
            for term, rows, weights in self._fetch(
                f"SELECT term, rows, weights FROM {_table(self.version, 'passage_postings')} "
                "WHERE term = ANY(%s)",
                (sorted(set(terms)),),
                binary=True,
            )
        }
        scores = np.zeros(self.passage_count, dtype=np.float32)
        for term in terms:
            if term in found:
                rows, weights = found[term]
                scores[rows] += weights
        with self._cache_lock:
            self._score_cache[key] = scores
            while len(self._score_cache) > SCORE_CACHE:
                self._score_cache.pop(next(iter(self._score_cache)))
        return scores

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
        """Sum of postings per row; a term asked twice counts twice, as in the file backend."""
        wanted = [int(r) for r in rows]
        if not terms or not wanted:
            return np.zeros(len(wanted), dtype=np.float32)
        found = self._fetch(
            f"SELECT p.row, sum(p.weight::float8) FROM unnest(%s::text[]) AS q(term) "
            f"JOIN {_table(self.version, 'sentence_terms')} AS p USING (term) "
            "WHERE p.row = ANY(%s) GROUP BY p.row",
            (terms, wanted),
        )
        scores = {int(r): float(np.float32(s)) for r, s in found}
        return np.array([scores.get(r, 0.0) for r in wanted], dtype=np.float32)


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
