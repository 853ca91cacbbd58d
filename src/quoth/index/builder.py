"""Build an index from a loaded corpus, re-embedding only articles whose content changed.

Embedding is the slow part of indexing; an article whose content hash matches the previous
build (same model, same passage settings) reuses its stored vectors, so a moderator who edits
one article waits for one article.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt

from quoth.corpus.loader import CorpusError
from quoth.corpus.models import Article, LoadedCorpus, SkippedFile
from quoth.corpus.splitting import split_passages, split_sentences
from quoth.index.embedder import Embedder
from quoth.index.lexical import LexicalIndex, TermRows, Vocabulary
from quoth.index.store import (
    FORMAT_VERSION,
    STORED_VECTORS,
    ArticleRecord,
    IndexData,
    Manifest,
    build_lock,
    write_index,
)
from quoth.index.vectors import choose_kind

PASSAGE_ID = "<U16"
BuildProgress = Callable[[int, int], None]
"""Called with (texts embedded so far, texts to embed in total)."""


@dataclass(frozen=True, slots=True)
class Chunking:
    sentences: int
    overlap: int


@dataclass(slots=True)
class BuildReport:
    """What a build did, for the CLI and the moderator's chat."""

    articles: int
    passages: int
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    reused: int = 0
    embedded_texts: int = 0
    seconds: float = 0.0
    skipped: list[SkippedFile] = field(default_factory=list)


@dataclass(slots=True)
class _Planned:
    """One article's rows as arrays: sentences (start, end); passages (start, end, first
    sentence, last sentence) with sentence numbers counted within the article."""

    record: ArticleRecord
    sentences: npt.NDArray[np.int64]
    passages: npt.NDArray[np.int64]
    passage_ids: npt.NDArray[np.str_]
    reuse_row: int | None


def _reusable_rows(previous: IndexData | None, model: str, chunking: Chunking) -> dict[str, int]:
    """Article hash -> row in the previous build, when that build's vectors are compatible."""
    if previous is None:
        return {}
    manifest = previous.manifest
    if (
        manifest.format_version != FORMAT_VERSION
        or manifest.model != model
        or (manifest.passage_sentences, manifest.passage_overlap)
        != (chunking.sentences, chunking.overlap)
    ):
        return {}
    return {article.hash: row for row, article in enumerate(previous.articles)}


def article_record(article: Article) -> ArticleRecord:
    """What the index stores about an article (its text, metadata and both hashes)."""
    meta = article.meta
    return ArticleRecord(
        id=article.id, title=meta.title, url=meta.url, published=meta.published,
        source=meta.source, path=article.path, hash=article.hash, text=article.text,
        source_hash=article.source_hash,
    )  # fmt: skip


def _plan(article: Article, chunking: Chunking) -> _Planned:
    sentences = split_sentences(article.id, article.text)
    passages = split_passages(
        article.id, article.text, sentences, chunking.sentences, chunking.overlap
    )
    return _Planned(
        article_record(article),
        np.asarray([(s.start, s.end) for s in sentences], dtype=np.int64).reshape(-1, 2),
        np.asarray([(p.start, p.end, p.first, p.last) for p in passages], dtype=np.int64).reshape(
            -1, 4
        ),
        np.asarray([p.id for p in passages], dtype=PASSAGE_ID),
        None,
    )


class _Previous:
    """Row ranges of each article in the previous build (rows are stored article by article)."""

    def __init__(self, index: IndexData) -> None:
        self.index = index
        count = len(index.articles)
        articles = np.arange(count)
        self.sentences = (
            np.searchsorted(index.sentences[:, 0], articles, "left"),
            np.searchsorted(index.sentences[:, 0], articles, "right"),
        )
        self.passages = (
            np.searchsorted(index.passages[:, 0], articles, "left"),
            np.searchsorted(index.passages[:, 0], articles, "right"),
        )

    def rows(self, row: int) -> tuple[slice, slice]:
        return (
            slice(int(self.sentences[0][row]), int(self.sentences[1][row])),
            slice(int(self.passages[0][row]), int(self.passages[1][row])),
        )

    def plan(self, article: Article, row: int) -> _Planned:
        """An unchanged article keeps its sentences and passages: no re-splitting."""
        sentence_rows, passage_rows = self.rows(row)
        passages = self.index.passages[passage_rows, 1:5].astype(np.int64)
        passages[:, 2:] -= sentence_rows.start
        return _Planned(
            article_record(article),
            self.index.sentences[sentence_rows, 1:3].astype(np.int64),
            passages,
            self.index.passage_ids[passage_rows],
            row,
        )


def _rows(
    planned: list[_Planned],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.str_]]:
    """The build's sentence rows (article, start, end), passage rows (article, start, end,
    first sentence row, last sentence row) and passage ids, stacked from the plans."""
    sentence_counts = np.fromiter((len(p.sentences) for p in planned), np.int64, len(planned))
    passage_counts = np.fromiter((len(p.passages) for p in planned), np.int64, len(planned))
    articles = np.arange(len(planned), dtype=np.int64)
    sentences = np.concatenate([p.sentences for p in planned] or [np.zeros((0, 2), np.int64)])
    passages = np.concatenate([p.passages for p in planned] or [np.zeros((0, 4), np.int64)])
    first_rows = np.repeat(np.cumsum(sentence_counts) - sentence_counts, passage_counts)
    passages[:, 2:] += first_rows[:, None]
    ids = np.concatenate([p.passage_ids for p in planned] or [np.zeros(0, PASSAGE_ID)])
    return (
        np.column_stack([np.repeat(articles, sentence_counts), sentences]),
        np.column_stack([np.repeat(articles, passage_counts), passages]),
        ids.astype(PASSAGE_ID),
    )


def _positions(runs: list[tuple[int, int, int]]) -> tuple[npt.NDArray[np.int64], ...]:
    """(target start, source start, count) runs -> matching target and source row arrays."""
    if not runs:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    starts = np.asarray(runs, dtype=np.int64).reshape(-1, 3)
    counts = starts[:, 2]
    within = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    return np.repeat(starts[:, 0], counts) + within, np.repeat(starts[:, 1], counts) + within


def _lexical(
    planned: list[_Planned], earlier: _Previous | None, passage_rows: npt.NDArray[np.int64]
) -> LexicalIndex:
    """BM25 for the new build: unchanged articles keep their sentences' term counts (the
    vocabulary only grows, so their term ids stay valid); only new text is tokenized."""
    vocabulary = Vocabulary(earlier.index.lexical.vocabulary.terms if earlier else ())
    fresh_texts = [
        item.record.text[s:e]
        for item in planned
        if item.reuse_row is None
        for s, e in item.sentences.tolist()
    ]
    fresh = TermRows.count(fresh_texts, vocabulary)
    parts: list[TermRows] = []
    cursor = 0
    for item in planned:
        if item.reuse_row is not None and earlier is not None:
            old_sentences, _ = earlier.rows(item.reuse_row)
            parts.append(
                earlier.index.lexical.sentence_terms.rows(old_sentences.start, old_sentences.stop)
            )
        else:
            parts.append(fresh.rows(cursor, cursor + len(item.sentences)))
            cursor += len(item.sentences)
    return LexicalIndex.build(vocabulary, TermRows.concat(parts), passage_rows[:, 3:5])


def build_index(
    corpus: LoadedCorpus,
    embedder: Embedder,
    index_dir: Path,
    chunking: Chunking,
    previous: IndexData | None = None,
    progress: BuildProgress | None = None,
) -> tuple[IndexData, BuildReport]:
    """Embed what changed, write a new build and publish it atomically.

    Holds the folder's build lock throughout, so two reindexes never race; a second one
    fails at once with :class:`IndexBusyError` instead of waiting on the first.
    """
    if not corpus.articles:
        raise CorpusError("No articles to index (supported files: .txt, .md, .html).")
    with build_lock(index_dir):
        started = time.perf_counter()
        reusable = _reusable_rows(previous, embedder.name, chunking)
        earlier = _Previous(previous) if previous is not None and reusable else None
        planned = [
            earlier.plan(a, reusable[a.hash])
            if earlier is not None and a.hash in reusable
            else _plan(a, chunking)
            for a in corpus.articles
        ]

        # Everything that needs embedding goes through the model in one stream.
        texts: list[str] = []
        for item in planned:
            if item.reuse_row is None:
                text = item.record.text
                texts += [text[s:e] for s, e in item.sentences.tolist()]
                texts += [text[s:e] for s, e in item.passages[:, :2].tolist()]
        done = 0

        def advance(n: int) -> None:
            nonlocal done
            done += n
            if progress is not None:
                progress(done, len(texts))

        if progress is not None:
            progress(0, len(texts))
        fresh = embedder.encode(texts, progress=advance)

        dim = embedder.dimension
        sentence_rows, passage_rows, passage_ids = _rows(planned)
        # Where each new row's vector comes from: a row of the previous build, or of `fresh`,
        # as runs of (new start, source start, count); copied in one gather each below.
        reused_s: list[tuple[int, int, int]] = []
        reused_p: list[tuple[int, int, int]] = []
        fresh_s: list[tuple[int, int, int]] = []
        fresh_p: list[tuple[int, int, int]] = []
        cursor = base = passage_base = 0
        for item in planned:
            n_s, n_p = len(item.sentences), len(item.passages)
            if item.reuse_row is not None and earlier is not None:
                old_sentences, old_passages = earlier.rows(item.reuse_row)
                reused_s.append((base, old_sentences.start, n_s))
                reused_p.append((passage_base, old_passages.start, n_p))
            else:
                fresh_s.append((base, cursor, n_s))
                fresh_p.append((passage_base, cursor + n_s, n_p))
                cursor += n_s + n_p
            base, passage_base = base + n_s, passage_base + n_p
        # Sentence vectors are only copied to disk, so they stay in the stored type; passage
        # vectors are also filed in the vector index, which wants float32.
        sentence_vectors = np.empty((len(sentence_rows), dim), dtype=STORED_VECTORS)
        passage_vectors = np.empty((len(passage_rows), dim), dtype=np.float32)
        for target, runs in ((sentence_vectors, fresh_s), (passage_vectors, fresh_p)):
            new, old = _positions(runs)
            target[new] = fresh[old]
        known_cells = None
        if earlier is not None:
            earlier_cells = earlier.index.vectors.cells_of_rows()
            if earlier_cells is not None:
                known_cells = np.full(len(passage_rows), -1, dtype=np.int64)
                new, old = _positions(reused_p)
                known_cells[new] = earlier_cells[old]
            for target, runs, stored in (
                (sentence_vectors, reused_s, earlier.index.sentence_vectors),
                (passage_vectors, reused_p, earlier.index.passage_vectors),
            ):
                new, old = _positions(runs)
                target[new] = stored.rows(old, target.dtype)

        lexical = _lexical(planned, earlier, passage_rows)
        old_hashes = previous.manifest.articles if previous is not None else {}
        new_hashes = {item.record.id: item.record.hash for item in planned}
        manifest = Manifest(
            format_version=FORMAT_VERSION,
            model=embedder.name,
            dimension=dim,
            built_at=datetime.now(UTC),
            passage_sentences=chunking.sentences,
            passage_overlap=chunking.overlap,
            vector_index=choose_kind(len(passage_rows)),
            articles=new_hashes,
            passages=len(passage_rows),
            sentences=len(sentence_rows),
            files={},
        )
        data = write_index(
            index_dir,
            manifest,
            [item.record for item in planned],
            sentence_rows.astype(np.int32),
            passage_rows.astype(np.int32),
            passage_ids,
            passage_vectors,
            sentence_vectors,
            lexical,
            earlier.index.vectors.centroids() if earlier is not None else None,
            known_cells,
        )
        report = BuildReport(
            articles=len(planned),
            passages=len(passage_rows),
            added=sorted(set(new_hashes) - set(old_hashes)),
            changed=sorted(
                k for k in new_hashes if k in old_hashes and old_hashes[k] != new_hashes[k]
            ),
            removed=sorted(set(old_hashes) - set(new_hashes)),
            reused=sum(item.reuse_row is not None for item in planned),
            embedded_texts=len(texts),
            seconds=time.perf_counter() - started,
            skipped=list(corpus.skipped),
        )
        return data, report
