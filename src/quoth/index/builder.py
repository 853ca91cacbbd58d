"""Build an index from a loaded corpus, re-embedding only articles whose content changed.

Embedding is the slow part of indexing; an article whose content hash matches the previous
build (same model, same passage settings) reuses its stored vectors, so a moderator who edits
one article waits for one article. Writing is the other part: a small change writes only a
delta over the current base build (:mod:`quoth.index.layered`), and the delta is folded into
a new base when it grows past a share of it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt

from quoth.corpus.loader import CorpusError
from quoth.corpus.models import Article, ArticleMeta, LoadedCorpus, SkippedFile
from quoth.corpus.splitting import split_passages, split_sentences
from quoth.index.embedder import Embedder
from quoth.index.layered import LayeredIndex, article_rows, delta_limit, merge_limit
from quoth.index.lexical import LexicalIndex, TermRows, Vocabulary
from quoth.index.loading import StoredIndex
from quoth.index.store import (
    FORMAT_VERSION,
    STORED_VECTORS,
    ArticleRecord,
    IndexData,
    Manifest,
    build_lock,
    write_index,
)
from quoth.index.vectors import choose_delta_kind, choose_kind

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
    layered: bool = False
    """True when only a delta over the current base was written; False for a whole build
    (the first, a merge of base and delta, or a backend that publishes whole builds)."""
    merge_due: bool = False
    """The delta written is past its merge limit: fold it into a new base soon (in the
    background, :func:`quoth.runtime.merge`), so searches do not slow down."""


@dataclass(slots=True)
class _Planned:
    """One article's rows as arrays: sentences (start, end); passages (start, end, first
    sentence, last sentence) with sentence numbers counted within the article; ``reuse``:
    the stored build and article row its rows and vectors are copied from, if any."""

    record: ArticleRecord
    sentences: npt.NDArray[np.int64]
    passages: npt.NDArray[np.int64]
    passage_ids: npt.NDArray[np.str_]
    reuse: tuple[_Lender, int] | None


def _compatible(manifest: Manifest, model: str, chunking: Chunking) -> bool:
    """Whether a stored build's vectors and rows can be reused by a build with these settings."""
    return (
        manifest.format_version == FORMAT_VERSION
        and manifest.model == model
        and (manifest.passage_sentences, manifest.passage_overlap)
        == (chunking.sentences, chunking.overlap)
    )


def article_record(article: Article) -> ArticleRecord:
    """What the index stores about an article (its text, metadata and both hashes)."""
    meta = article.meta
    return ArticleRecord(
        id=article.id, title=meta.title, url=meta.url, published=meta.published,
        source=meta.source, path=article.path, hash=article.hash, text=article.text,
        source_hash=article.source_hash, source_stamp=article.source_stamp,
        pages=list(article.pages),
    )  # fmt: skip


def stored_corpus(index: StoredIndex) -> LoadedCorpus:
    """The articles a stored version serves, as a corpus: what a merge rebuilds from, so it
    folds exactly that version (every article's vectors are then copied, none embedded)."""
    return LoadedCorpus(
        [
            Article(
                record.id,
                ArticleMeta(record.title, record.url, record.published, record.source),
                record.text,
                record.path,
                record.source_hash,
                record.source_stamp,
                tuple(record.pages),
                record.hash,
            )
            for record in index.articles
        ]
    )


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


class _Lender:
    """A stored build whose rows a new build copies: each article's row ranges (rows are
    stored article by article)."""

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
            (self, row),
        )


def _plan_all(
    articles: Sequence[Article], lenders: Sequence[_Lender], chunking: Chunking
) -> list[_Planned]:
    """Each article copied from the last lender that holds its content, else split afresh."""
    known: dict[str, tuple[_Lender, int]] = {}
    for lender in lenders:
        known.update((a.hash, (lender, row)) for row, a in enumerate(lender.index.articles))
    planned = []
    for article in articles:
        found = known.get(article.hash)
        planned.append(found[0].plan(article, found[1]) if found else _plan(article, chunking))
    return planned


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
    planned: list[_Planned], vocabulary: Vocabulary, passage_rows: npt.NDArray[np.int64]
) -> LexicalIndex:
    """BM25 for the new build: copied articles keep their sentences' term counts (every
    lender's term ids are valid in ``vocabulary``, which only grows); only new text is
    tokenized."""
    fresh_texts = [
        item.record.text[s:e]
        for item in planned
        if item.reuse is None
        for s, e in item.sentences.tolist()
    ]
    fresh = TermRows.count(fresh_texts, vocabulary)
    parts: list[TermRows] = []
    cursor = 0
    for item in planned:
        if item.reuse is not None:
            lender, row = item.reuse
            old_sentences, _ = lender.rows(row)
            parts.append(
                lender.index.lexical.sentence_terms.rows(old_sentences.start, old_sentences.stop)
            )
        else:
            parts.append(fresh.rows(cursor, cursor + len(item.sentences)))
            cursor += len(item.sentences)
    return LexicalIndex.build(vocabulary, TermRows.concat(parts), passage_rows[:, 3:5])


@dataclass(slots=True)
class _Layout:
    """What to write: every article in one build (``base`` None), or a delta over ``base``
    that removes ``removed`` of its articles."""

    planned: list[_Planned]
    vocabulary: Vocabulary
    base: IndexData | None = None
    removed: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    merge_due: bool = False


def _whole(
    articles: Sequence[Article], previous: StoredIndex | None, chunking: Chunking
) -> _Layout:
    """Every article in one new build, copying what any layer of ``previous`` holds."""
    if previous is None:
        return _Layout(_plan_all(articles, [], chunking), Vocabulary())
    layers = [previous.base, previous.delta] if isinstance(previous, LayeredIndex) else [previous]
    vocabulary = Vocabulary(layers[-1].lexical.vocabulary.all_terms())
    return _Layout(_plan_all(articles, [_Lender(i) for i in layers], chunking), vocabulary)


def _delta(
    articles: Sequence[Article], previous: StoredIndex, chunking: Chunking
) -> _Layout | None:
    """A delta over ``previous``'s base: the articles the base does not hold as they are now,
    and the base's articles they replace or that are gone. None when that delta would be
    past :func:`quoth.index.layered.delta_limit` (a whole build is due at once); marked
    ``merge_due`` past :func:`quoth.index.layered.merge_limit`."""
    base = previous.base if isinstance(previous, LayeredIndex) else previous
    # A base row serves on only while its article is the same (content, id and file).
    unused: dict[tuple[str, str, str], list[int]] = {}
    for row, record in enumerate(base.articles):
        unused.setdefault((record.hash, record.id, record.path), []).append(row)
    in_delta = []
    for article in articles:
        rows = unused.get((article.hash, article.id, article.path))
        if rows:
            rows.pop()
        else:
            in_delta.append(article)
    removed = np.asarray(sorted(r for rows in unused.values() for r in rows), dtype=np.int64)
    limit, ceiling = merge_limit(len(base.passages)), delta_limit(len(base.passages))
    removed_passages = len(article_rows(base.passages[:, 0], removed))
    if removed_passages > ceiling:
        return None
    lenders = [_Lender(base)]
    own_terms: list[str] = []
    if isinstance(previous, LayeredIndex):
        lenders.append(_Lender(previous.delta))
        own_terms = previous.delta.lexical.vocabulary.terms
    planned = _plan_all(in_delta, lenders, chunking)
    delta_passages = sum(len(item.passages) for item in planned)
    if delta_passages > ceiling:
        return None
    vocabulary = Vocabulary(own_terms, parent=base.lexical.vocabulary)
    return _Layout(
        planned, vocabulary, base, removed, max(delta_passages, removed_passages) > limit
    )


def build_index(
    corpus: LoadedCorpus,
    embedder: Embedder,
    index_dir: Path,
    chunking: Chunking,
    previous: StoredIndex | None = None,
    progress: BuildProgress | None = None,
    layered: bool = True,
) -> tuple[StoredIndex, BuildReport]:
    """Embed what changed, write a new build (or only a delta over the current base) and
    publish it atomically.

    ``layered``: False writes every article into one build (what a backend that copies whole
    builds, PostgreSQL, publishes). Holds the folder's build lock throughout, so two
    reindexes never race; a second one fails at once with :class:`IndexBusyError`."""
    if not corpus.articles:
        raise CorpusError("No articles to index (supported files: .txt, .md, .html).")
    with build_lock(index_dir):
        started = time.perf_counter()
        if previous is not None and not _compatible(previous.manifest, embedder.name, chunking):
            previous = None
        layout = None
        if layered and previous is not None:
            layout = _delta(corpus.articles, previous, chunking)
        if layout is None:
            layout = _whole(corpus.articles, previous, chunking)
        planned = layout.planned
        texts = _fresh_texts(planned)
        done = 0

        def advance(n: int) -> None:
            nonlocal done
            done += n
            if progress is not None:
                progress(done, len(texts))

        if progress is not None:
            progress(0, len(texts))
        fresh = embedder.encode(texts, progress=advance)

        sentence_rows, passage_rows, passage_ids = _rows(planned)
        sentence_vectors, passage_vectors, lent = _vectors(
            planned, fresh, embedder.dimension, len(sentence_rows), len(passage_rows)
        )
        lexical = _lexical(planned, layout.vocabulary, passage_rows)
        base = layout.base
        live = {item.record.id: item.record.hash for item in planned}
        if base is not None:
            removed = set(layout.removed.tolist())
            live = {
                **{a.id: a.hash for r, a in enumerate(base.articles) if r not in removed},
                **live,
            }
        manifest = Manifest(
            format_version=FORMAT_VERSION,
            model=embedder.name,
            dimension=embedder.dimension,
            built_at=datetime.now(UTC),
            passage_sentences=chunking.sentences,
            passage_overlap=chunking.overlap,
            vector_index=(
                choose_delta_kind(len(passage_rows))
                if base is not None
                else choose_kind(len(passage_rows))
            ),
            articles=live,
            passages=len(passage_rows),
            sentences=len(sentence_rows),
            files={},
            base=base.folder.name if base is not None and base.folder is not None else None,
            removed_articles=layout.removed.tolist(),
        )
        known_cells, centroids = (
            (None, None) if base is not None else _filing(lent, len(passage_rows))
        )
        written = write_index(
            index_dir,
            manifest,
            [item.record for item in planned],
            sentence_rows.astype(np.int32),
            passage_rows.astype(np.int32),
            passage_ids,
            passage_vectors,
            sentence_vectors,
            lexical,
            centroids,
            known_cells,
            base,
        )
        data: StoredIndex = written if base is None else LayeredIndex(base, written, layout.removed)
        old_hashes = previous.manifest.articles if previous is not None else {}
        report = BuildReport(
            articles=len(data.articles),
            passages=data.live_passages,
            added=sorted(set(live) - set(old_hashes)),
            changed=sorted(k for k in live if k in old_hashes and old_hashes[k] != live[k]),
            removed=sorted(set(old_hashes) - set(live)),
            reused=len(corpus.articles) - sum(item.reuse is None for item in planned),
            embedded_texts=len(texts),
            seconds=time.perf_counter() - started,
            skipped=list(corpus.skipped),
            layered=base is not None,
            merge_due=layout.merge_due,
        )
        return data, report


def _fresh_texts(planned: list[_Planned]) -> list[str]:
    """Everything that needs embedding, in one stream: new articles' sentences and passages."""
    texts: list[str] = []
    for item in planned:
        if item.reuse is None:
            text = item.record.text
            texts += [text[s:e] for s, e in item.sentences.tolist()]
            texts += [text[s:e] for s, e in item.passages[:, :2].tolist()]
    return texts


_Runs = list[tuple[int, int, int]]
"""(new start, source start, count) runs of rows copied from one source."""


def _vectors(
    planned: list[_Planned], fresh: npt.NDArray[np.float32], dim: int, sentences: int, passages: int
) -> tuple[npt.NDArray[np.float16], npt.NDArray[np.float32], list[tuple[_Lender, _Runs]]]:
    """The build's sentence and passage vectors, gathered from ``fresh`` and the lenders;
    with them, the passage rows each lender lent (for :func:`_filing`)."""
    # Runs per source, copied in one gather each.
    fresh_s: _Runs = []
    fresh_p: _Runs = []
    lent: dict[int, tuple[_Lender, _Runs, _Runs]] = {}
    cursor = base = passage_base = 0
    for item in planned:
        n_s, n_p = len(item.sentences), len(item.passages)
        if item.reuse is not None:
            lender, row = item.reuse
            old_sentences, old_passages = lender.rows(row)
            _, runs_s, runs_p = lent.setdefault(id(lender), (lender, [], []))
            runs_s.append((base, old_sentences.start, n_s))
            runs_p.append((passage_base, old_passages.start, n_p))
        else:
            fresh_s.append((base, cursor, n_s))
            fresh_p.append((passage_base, cursor + n_s, n_p))
            cursor += n_s + n_p
        base, passage_base = base + n_s, passage_base + n_p
    # Sentence vectors are only copied to disk, so they stay in the stored type; passage
    # vectors are also filed in the vector index, which wants float32.
    sentence_vectors = np.empty((sentences, dim), dtype=STORED_VECTORS)
    passage_vectors = np.empty((passages, dim), dtype=np.float32)
    for target, runs in ((sentence_vectors, fresh_s), (passage_vectors, fresh_p)):
        new, old = _positions(runs)
        target[new] = fresh[old]
    for lender, runs_s, runs_p in lent.values():
        for target, runs, stored in (
            (sentence_vectors, runs_s, lender.index.sentence_vectors),
            (passage_vectors, runs_p, lender.index.passage_vectors),
        ):
            new, old = _positions(runs)
            target[new] = stored.rows(old, target.dtype)
    return sentence_vectors, passage_vectors, [(lender, runs) for lender, _, runs in lent.values()]


def _filing(
    lent: list[tuple[_Lender, _Runs]], passages: int
) -> tuple[npt.NDArray[np.int64] | None, npt.NDArray[np.float32] | None]:
    """For a whole build: the base lender's IVF centroids and each row it lent's cell (-1 for
    the rest), so the new vector index skips k-means and most filing. A delta is searched
    exactly and needs neither (reading every cell's ids costs at each change)."""
    bases = [(lender, runs) for lender, runs in lent if lender.index.manifest.base is None]
    if not bases:
        return None, None
    lender, runs = bases[0]
    cells = lender.index.vectors.cells_of_rows()
    known_cells = None
    if cells is not None:
        known_cells = np.full(passages, -1, dtype=np.int64)
        new, old = _positions(runs)
        known_cells[new] = cells[old]
    return known_cells, lender.index.vectors.centroids()
