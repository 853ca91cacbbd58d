"""Publishing a local build: copy what the database lacks of it (COPY in binary), make the new
version current in one transaction, and drop the segments no version names any more."""

from __future__ import annotations

import json
import logging
import struct
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import numpy.typing as npt

from quoth.database import connection, migrate, shared_pool
from quoth.index import postings_codec
from quoth.index.errors import (
    IndexBusyError,
    IndexStoreError,
)
from quoth.index.layered import LayeredIndex
from quoth.index.lexical import LexicalIndex
from quoth.index.loading import StoredIndex
from quoth.index.postgres.schema import (
    EXACT_UP_TO,
    OLD_TABLES,
    SEGMENT_FORMAT,
    TABLES,
    VERSION_CHANNEL,
    create_tables,
    create_vector_index,
    segment_name,
    table,
)
from quoth.index.rows import StoredVectors
from quoth.index.store import IndexData

log = logging.getLogger("quoth.index")


_COPY_BATCH = 5000


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
                        create_tables(conn, name, layer.manifest.dimension)
                        _copy_segment(conn, name, layer)
                    with _timed(steps, "vector_index_s"):
                        limit = exact_up_to if depth == 0 else -1  # deltas: exact
                        search = create_vector_index(conn, name, layer.passage_count, limit)
                    with _timed(steps, "postings_index_s"):
                        conn.execute(f"CREATE INDEX ON {table(name, 'sentence_terms')} (term, row)")
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
                conn.execute(f"DROP TABLE IF EXISTS {table(name, part)}")
            conn.execute("DELETE FROM quoth_segments WHERE name = %s", (name,))


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
        with cursor.copy(f"COPY {table(segment, 'articles')} (row, record) FROM STDIN") as copy:
            for row, article in enumerate(index.articles):
                copy.write_row((row, article.model_dump_json()))
        _copy_spans(
            cursor,
            f"COPY {table(segment, 'sentences')} (row, doc, start_char, end_char, vector)",
            np.asarray(index.sentences),
            index.sentence_vectors,
        )
        ids = np.array([str(pid).encode() for pid in index.passage_ids], dtype="S")
        if len(ids) and int(np.char.str_len(ids).min()) != ids.dtype.itemsize:
            raise IndexStoreError("Passage ids differ in length; the index cannot be published.")
        _copy_spans(
            cursor,
            f"COPY {table(segment, 'passages')} (row, doc, start_char, end_char, "
            "first_sentence, last_sentence, passage_id, vector)",
            np.asarray(index.passages),
            index.passage_vectors,
            ids,
        )
        lexical = index.lexical
        passages = lexical.passage_postings
        with cursor.copy(
            f"COPY {table(segment, 'passage_postings')} (term, bitmap, rows, counts) FROM STDIN"
        ) as copy:
            for term in passages.terms.tolist():
                rows, counts = passages.column(term)
                encoded = postings_codec.encode(rows, counts, index.passage_count)
                copy.write_row((lexical.vocabulary.term(term), *encoded))
        cursor.execute(
            f"INSERT INTO {table(segment, 'passage_lengths')} (lengths) VALUES (%s)",
            (postings_codec.encode_lengths(passages.lengths),),
        )
        _copy_sentence_terms(cursor, table(segment, "sentence_terms"), lexical)
        sentences = lexical.sentence_postings
        with cursor.copy(f"COPY {table(segment, 'terms')} (term, sentences) FROM STDIN") as copy:
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
