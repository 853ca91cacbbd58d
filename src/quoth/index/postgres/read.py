"""Answering from a published version: :class:`PostgresIndex` implements
:class:`quoth.index.reader.IndexReader` over the version's segments, and
:func:`watch_versions` follows the versions other replicas publish."""

from __future__ import annotations

import asyncio
import bisect
import functools
import logging
import threading
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, overload

import numpy as np
import numpy.typing as npt

from quoth.database import first_line, shared_pool
from quoth.index import postings_codec
from quoth.index.embedder import Vectors
from quoth.index.errors import (
    IndexMismatchError,
    IndexNotFoundError,
    IndexStoreError,
)
from quoth.index.lexical import K1, B
from quoth.index.postgres.caches import (
    ABSENT,
    ARTICLES_KEPT,
    PASSAGES_KEPT,
    POSTINGS,
    SCORE_CACHE,
    SENTENCES_KEPT,
    VECTORS_KEPT,
    Bounded,
    passage_lengths,
)
from quoth.index.postgres.schema import SEGMENT_FORMAT, VERSION_CHANNEL, table
from quoth.index.reader import PassageSpan, SentenceSpan, top_positive
from quoth.index.store import ArticleRecord

log = logging.getLogger("quoth.index")


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


class PostgresIndex:
    """A published version, read through the process's connection pool (an
    :class:`IndexReader`). Queries name the version's segments' tables, so a reader keeps
    answering from its version while a newer one is published."""

    def __init__(self, url: str, model: str) -> None:
        self.url = url
        self._pool = shared_pool(url)
        self._score_cache: dict[tuple[str, ...], Vectors] = {}
        self._cache_lock = threading.Lock()
        self._passages: Bounded = Bounded(PASSAGES_KEPT)
        self._sentences: Bounded = Bounded(SENTENCES_KEPT)
        self._article_cache: Bounded = Bounded(ARTICLES_KEPT)
        self._vector_cache = {kind: Bounded(size) for kind, size in VECTORS_KEPT.items()}
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
                s.name: self._norm("passages", passage_lengths(self._pool, url, s.name))
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
                    f"SELECT row, {columns} FROM {table(segment.name, kind)} WHERE row = ANY(%s)",
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
                f"SELECT record FROM {table(segment.name, 'articles')} WHERE row = %s",
                (local,),
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
                        f"SELECT row, record FROM {table(segment.name, 'articles')} ORDER BY row"
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
                f"SELECT doc, start_char, end_char FROM {table(segment.name, 'sentences')} "
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
                        f"SELECT row, vector FROM {table(segment.name, kind)} WHERE row = ANY(%s)",
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
                        f"FROM {table(segment.name, 'passages')} "
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
            kept = POSTINGS.get((self.url, segment.name, term))
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
                f"SELECT term, {columns} FROM {table(segment.name, 'passage_postings')} "
                "WHERE term = ANY(%s)",
                (missing,),
                binary=True,
            ).fetchall()
        read = {term: decode(*fields) for term, *fields in rows}
        for term in missing:
            found[term] = read.get(term, ABSENT)
            POSTINGS.keep((self.url, segment.name, term), found[term])
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
                        f"{table(segment.name, 'sentence_terms')} "
                        "WHERE term = ANY(%s) AND row = ANY(%s)",
                        (unique, grouped[segment.name]),
                    ).fetchall():
                        entries.setdefault(term, []).append(
                            (int(row) + segment.starts[1], float(count), float(length))
                        )
                for term, count in conn.execute(
                    f"SELECT term, sentences FROM {table(segment.name, 'terms')} "
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
