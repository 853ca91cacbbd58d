"""Write a generated corpus to disk and index it through quoth's own store.

The corpus files are real files that ``quoth index`` would read; the index is written with
:func:`quoth.index.store.write_index` (real BM25, real FAISS index of the size-chosen kind),
with passage vectors composed from embedded sentences (see :mod:`bench.corpus`).
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from bench.corpus import GeneratedArticle
from quoth.corpus import load_corpus
from quoth.corpus.splitting import passage_id
from quoth.index import Embedder, IndexData, IndexStoreError, load_index
from quoth.index.builder import article_record
from quoth.index.embedder import normalise
from quoth.index.lexical import LexicalIndex
from quoth.index.store import FORMAT_VERSION, ArticleRecord, Manifest, write_index
from quoth.index.vectors import choose_kind

SIZE, OVERLAP = 3, 2


@dataclass(slots=True)
class BuiltCorpus:
    corpus_dir: Path
    index: IndexData
    seconds: dict[str, float]


WRITTEN_AGO_S = 3600


def write_articles(articles: list[GeneratedArticle], folder: Path) -> None:
    """The generated articles as files, dated an hour back: a real corpus's files are older
    than the index built from them, and a file written a moment ago gets no stamp (quoth
    reads it again at the next reindex; see ``quoth.corpus.loader.file_stamp``)."""
    folder.mkdir(parents=True, exist_ok=True)
    then = time.time() - WRITTEN_AGO_S
    for article in articles:
        path = folder / f"{article.doc_id}.md"
        path.write_text(article.markdown(), encoding="utf-8")
        os.utime(path, (then, then))


def build(
    articles: list[GeneratedArticle], folder: Path, embedder: Embedder, reuse: bool = False
) -> BuiltCorpus:
    """Write and index the corpus; with ``reuse``, a corpus and index already built in
    ``folder`` by an earlier run (same seed, same articles) are used as they are."""
    if reuse and (folder / "index" / "current").exists():
        try:
            index = load_index(folder / "index", embedder.name)
        except IndexStoreError:  # written by an earlier format: built again below
            shutil.rmtree(folder / "index")
        else:
            # bench.reindex leaves a whole build behind; one written before file stamps
            # were recorded would read every file at each reindex: built again below.
            stamped = index.articles[0].source_stamp if len(index.articles) else ""
            if isinstance(index, IndexData) and stamped:
                return BuiltCorpus(folder / "corpus", index, {"reused": 1.0})
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    corpus_dir = folder / "corpus"
    write_articles(articles, corpus_dir)
    loaded = {a.id: a for a in load_corpus(corpus_dir).articles}
    seconds["write_and_load_corpus"] = time.perf_counter() - started

    started = time.perf_counter()
    distinct = sorted({s for a in articles for s in a.sentences})
    vectors = embedder.encode(distinct)
    row_of = {s: i for i, s in enumerate(distinct)}
    seconds["embed_sentence_pool"] = time.perf_counter() - started
    seconds["sentence_pool"] = len(distinct)

    started = time.perf_counter()
    records: list[ArticleRecord] = []
    sentence_rows: list[tuple[int, int, int]] = []
    passage_rows: list[tuple[int, int, int, int, int]] = []
    ids: list[str] = []
    pool_rows: list[int] = []
    for doc, generated in enumerate(articles):
        article = loaded[generated.doc_id]
        text, cursor, base = article.text, 0, len(sentence_rows)
        for sentence in generated.sentences:
            start = text.index(sentence, cursor)
            cursor = start + len(sentence)
            sentence_rows.append((doc, start, cursor))
            pool_rows.append(row_of[sentence])
        count = len(sentence_rows) - base
        for first in range(max(1, count - OVERLAP)):
            last = min(first + SIZE, count) - 1
            start, end = sentence_rows[base + first][1], sentence_rows[base + last][2]
            passage_rows.append((doc, start, end, base + first, base + last))
            ids.append(passage_id(article.id, text[start:end]))
        records.append(article_record(article))  # with source_hash: reindexes reuse the parse
    sentences = np.asarray(sentence_rows, dtype=np.int32)
    passages = np.asarray(passage_rows, dtype=np.int32)
    sentence_vectors = vectors[np.asarray(pool_rows)]
    passage_vectors = np.empty((len(passages), vectors.shape[1]), dtype=np.float32)
    for start in range(0, len(passages), 100_000):
        chunk = passages[start : start + 100_000]
        stacked = [sentence_vectors[chunk[:, 3] + offset] for offset in range(SIZE)]
        width = (chunk[:, 4] - chunk[:, 3] + 1)[:, None]
        summed = sum(v * (offset < width) for offset, v in enumerate(stacked))
        passage_vectors[start : start + len(chunk)] = normalise(summed / width)
    seconds["compose_vectors"] = time.perf_counter() - started

    started = time.perf_counter()
    lexical = LexicalIndex.from_texts(
        [records[d].text[s:e] for d, s, e in sentence_rows], passages[:, 3:5]
    )
    seconds["bm25"] = time.perf_counter() - started
    started = time.perf_counter()
    manifest = Manifest(
        format_version=FORMAT_VERSION,
        model=embedder.name,
        dimension=embedder.dimension,
        built_at=datetime.now(UTC),
        passage_sentences=SIZE,
        passage_overlap=OVERLAP,
        vector_index=choose_kind(len(passages)),
        articles={r.id: r.hash for r in records},
        passages=len(passages),
        sentences=len(sentences),
        files={},
    )
    index = write_index(
        folder / "index",
        manifest,
        records,
        sentences,
        passages,
        np.asarray(ids, dtype="<U16"),
        passage_vectors,
        sentence_vectors,
        lexical,
    )
    seconds["write_index"] = time.perf_counter() - started
    return BuiltCorpus(corpus_dir, index, seconds)
