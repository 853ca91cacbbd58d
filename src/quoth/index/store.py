"""The on-disk index: a folder of plain files, published by swapping one symlink.

Layout::

    INDEX_DIR/current -> builds/<build-id>/   (the index being served)
    INDEX_DIR/builds/<build-id>/manifest.json, articles.json, *.npy, passages.faiss
        (a flat index: passages.flat.npy)

A build is written completely into a fresh folder, flushed to disk, and only then made
current by atomically replacing the ``current`` symlink. A crash at any point leaves either
the old index or the new one, never a mixture; readers that opened the old build keep their
files until they let go of them.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import TypeAdapter, ValidationError

from quoth.disk import full_error, is_full
from quoth.index.embedder import Vectors
from quoth.index.errors import (
    IndexBusyError,
    IndexCorruptError,
    IndexMismatchError,
    IndexNotFoundError,
)
from quoth.index.lexical import LexicalIndex
from quoth.index.reader import top_positive
from quoth.index.records import ArticleRecord as ArticleRecord
from quoth.index.records import Manifest as Manifest
from quoth.index.records import PassageSpan, SentenceSpan
from quoth.index.rows import StoredVectors
from quoth.index.vectors import (
    FAISS_FILE,
    VectorIndex,
    build_vector_index,
    load_vector_index,
    vector_file,
)

FORMAT_VERSION = 4
CURRENT = "current"
BUILDS = "builds"
KEEP_OLD_BUILDS = 1
_ARRAY_FILES = ("sentences.npy", "passages.npy", "passage_ids.npy")
_VECTOR_FILES = ("passage_vectors.npy", "sentence_vectors.npy")
STORED_VECTORS = np.float16
"""See :data:`quoth.index.rows.STORED_DTYPES`."""


@dataclass(slots=True)
class IndexData:
    """Everything retrieval needs, in memory.

    ``sentences`` rows are (article row, start, end); ``passages`` rows are
    (article row, start, end, first sentence row, last sentence row).
    """

    manifest: Manifest
    articles: list[ArticleRecord]
    sentences: npt.NDArray[np.int32]
    passages: npt.NDArray[np.int32]
    passage_ids: npt.NDArray[np.str_]
    passage_vectors: StoredVectors
    sentence_vectors: StoredVectors
    vectors: VectorIndex
    lexical: LexicalIndex
    folder: Path | None = None

    @property
    def built_at(self) -> datetime:
        return self.manifest.built_at

    # -- the IndexReader interface (quoth.index.reader) -----------------------------------

    @property
    def sentence_count(self) -> int:
        return len(self.sentences)

    @property
    def passage_count(self) -> int:
        return len(self.passages)

    @property
    def live_passages(self) -> int:
        return len(self.passages)

    def removed_passage_rows(self) -> npt.NDArray[np.int64]:
        return np.zeros(0, dtype=np.int64)

    def article(self, row: int) -> ArticleRecord:
        return self.articles[row]

    def prefetch(self, rows: Sequence[int]) -> None:
        """Nothing to do: every span is already in memory (mapped from the build's files)."""

    def passage_span(self, row: int) -> PassageSpan:
        return PassageSpan(*(int(v) for v in self.passages[row]))

    def sentence_span(self, sentence: int) -> SentenceSpan:
        return SentenceSpan(*(int(v) for v in self.sentences[sentence]))

    def passage_id(self, row: int) -> str:
        return str(self.passage_ids[row])

    def passage_vectors_at(self, rows: Sequence[int]) -> Vectors:
        return self.passage_vectors.rows(list(rows))

    def sentence_vectors_at(self, rows: Sequence[int] | slice) -> Vectors:
        return self.sentence_vectors[rows]

    def dense_search(self, vector: Vectors, n: int) -> list[int]:
        _, rows = self.vectors.search(vector.reshape(1, -1), n)
        return [int(row) for row in rows[0] if row >= 0]

    def bm25_top_passages(self, terms: list[str], n: int) -> list[tuple[int, float]]:
        scores = self.lexical.passages.scores(terms)
        return [(row, float(scores[row])) for row in top_positive(scores, n)]

    def bm25_passage_scores(self, terms: list[str], rows: Sequence[int]) -> Vectors:
        return self.lexical.passages.scores_of(terms, list(rows))

    def bm25_sentence_scores(self, terms: list[str], rows: Sequence[int]) -> Vectors:
        return self.lexical.sentences.scores_of(terms, list(rows))


FULL_HASH_LIMIT = 64 * 1024 * 1024
SAMPLED_BLOCKS = 32
SAMPLE_BYTES = 64 * 1024


def _digest(path: Path) -> str:
    """A content digest checked at every start.

    Files up to 64 MB are hashed whole. Larger ones (the vectors of a big corpus) are hashed by
    size plus 32 blocks spread over the file: hashing gigabytes would make a restart take
    many seconds, while truncation, a torn write or a zeroed region still shows up.
    """
    size = path.stat().st_size
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        if size <= FULL_HASH_LIMIT:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
            return f"sha256:{digest.hexdigest()}"
        digest.update(str(size).encode())
        for number in range(SAMPLED_BLOCKS):
            handle.seek((size - SAMPLE_BYTES) * number // (SAMPLED_BLOCKS - 1))
            digest.update(handle.read(SAMPLE_BYTES))
    return f"sampled:{digest.hexdigest()}"


_ARTICLES = TypeAdapter(list[ArticleRecord])
"""Reads and writes articles.json in pydantic's compiled core: 4x faster than json + models."""


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_file(path: Path, write: object) -> None:
    """Write through a callback and flush to disk before the build can be published."""
    with path.open("wb") as handle:
        write(handle)  # type: ignore[operator]
        handle.flush()
        os.fsync(handle.fileno())


def current_build(index_dir: Path) -> Path:
    link = index_dir / CURRENT
    if not link.exists():
        raise IndexNotFoundError(f"No index in {index_dir} yet. Build one with: quoth index")
    return link.resolve()


@contextlib.contextmanager
def build_lock(index_dir: Path) -> Iterator[None]:
    """One builder at a time per index folder, across processes."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with (index_dir / ".lock").open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise IndexBusyError(f"Another reindex of {index_dir} is running.") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def write_index(
    index_dir: Path,
    manifest: Manifest,
    articles: list[ArticleRecord],
    sentences: npt.NDArray[np.int32],
    passages: npt.NDArray[np.int32],
    passage_ids: npt.NDArray[np.str_],
    passage_vectors: npt.NDArray[np.floating[Any]],
    sentence_vectors: npt.NDArray[np.floating[Any]],
    lexical: LexicalIndex,
    reuse_cells: Vectors | None = None,
    known_cells: npt.NDArray[np.int64] | None = None,
    base: IndexData | None = None,
) -> IndexData:
    """Write a complete build and atomically make it current; returns it ready to serve.

    ``base``: set when this build is a delta over it (its vocabulary extends the base's);
    ``reuse_cells``: the previous build's IVF centroids, so a rebuild skips k-means;
    ``known_cells``: each passage's cell in that build (-1 for new passages)."""
    builds = index_dir / BUILDS
    builds.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=builds))
    try:
        arrays = dict(
            zip(
                _ARRAY_FILES + _VECTOR_FILES,
                (sentences, passages, passage_ids, passage_vectors, sentence_vectors),
                strict=True,
            )
        )
        for name in _VECTOR_FILES:
            arrays[name] = np.asarray(arrays[name], dtype=STORED_VECTORS)
        for name, array in arrays.items():
            _write_file(staging / name, lambda h, a=array: np.save(h, a, allow_pickle=False))
        vectors = build_vector_index(
            passage_vectors, manifest.vector_index, reuse_cells, known_cells
        )
        vectors.save(staging / vector_file(manifest.vector_index))
        lexical.save(staging)
        payload = _ARTICLES.dump_json(articles)
        _write_file(staging / "articles.json", lambda h: h.write(payload))
        files = {
            path.relative_to(staging).as_posix(): _digest(path)
            for path in sorted(staging.rglob("*"))
            if path.is_file()
        }
        manifest = manifest.model_copy(update={"files": files})
        _write_file(
            staging / "manifest.json",
            lambda h: h.write(manifest.model_dump_json(indent=2).encode()),
        )
        _fsync_dir(staging)

        build_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        final = builds / build_id
        staging.rename(final)
        _fsync_dir(builds)
        link_tmp = index_dir / f".{CURRENT}.{build_id}"
        link_tmp.symlink_to(Path(BUILDS) / build_id)
        _unlink_copied_current(index_dir / CURRENT)
        link_tmp.replace(index_dir / CURRENT)
        _fsync_dir(index_dir)
    except BaseException as error:
        full = is_full(error, builds)  # asked before the half-written build frees its space
        shutil.rmtree(staging, ignore_errors=True)
        if full:
            raise full_error("The new index", index_dir) from error
        raise
    prune_builds(index_dir)
    # Served from the files just written, as after a restart: the build's large arrays are
    # freed and memory stays what a fresh start would use.
    return _open_build(final, manifest, articles, sentences, passages, base)


def _unlink_copied_current(current: Path) -> None:
    """A folder copied by a tool that follows links holds ``current`` as a real folder, not
    a link; it is an old build's copy, and the new link takes its place."""
    if current.is_dir() and not current.is_symlink():
        shutil.rmtree(current)


def _open_build(
    build: Path,
    manifest: Manifest,
    articles: list[ArticleRecord],
    sentences: npt.NDArray[np.int32],
    passages: npt.NDArray[np.int32],
    base: IndexData | None = None,
) -> IndexData:
    # Memory-mapped (a plain view, so indexing stays fast): an answer reads a few ids of
    # 64 bytes each, and at 1M passages the array is 64 MB.
    passage_ids = np.asarray(np.load(build / "passage_ids.npy", mmap_mode="r"))
    if len(passage_ids) != len(passages):
        raise IndexCorruptError(f"Index {build} is inconsistent. Rebuild with: quoth index")
    passage_vectors, sentence_vectors = (StoredVectors(build / name) for name in _VECTOR_FILES)
    stored = build / vector_file(manifest.vector_index)
    if not stored.exists():  # a flat build written before flat scans: a FAISS file
        stored = build / FAISS_FILE
    vectors = load_vector_index(stored, manifest.vector_index, passage_vectors)
    parent = base.lexical.vocabulary if base is not None else None
    lexical = LexicalIndex.load(build, manifest.passages, manifest.sentences, parent)
    if vectors.size != len(passages) or passage_vectors.shape != (
        len(passages),
        manifest.dimension,
    ):
        raise IndexCorruptError(f"Index {build} is inconsistent. Rebuild with: quoth index")
    return IndexData(
        manifest, articles, sentences, passages, passage_ids,
        passage_vectors, sentence_vectors, vectors, lexical, build,
    )  # fmt: skip


def _with_base(builds: Path, build: Path) -> set[Path]:
    """A build and the base it layers on (if it is a delta): what serving it needs."""
    try:
        base = read_manifest(build).base
    except IndexCorruptError:
        return {build}
    return {build} if base is None else {build, builds / base}


def prune_builds(index_dir: Path) -> None:
    """Remove builds older than the current one (keeping one spare, and the bases both layer
    on) and dead staging folders."""
    builds = index_dir / BUILDS
    current = (index_dir / CURRENT).resolve()
    finished = sorted(p for p in builds.iterdir() if p.is_dir() and not p.name.startswith("."))
    older = [p for p in finished if p != current and p.name < current.name]
    kept = _with_base(builds, current)
    for spare in older[len(older) - KEEP_OLD_BUILDS :] if KEEP_OLD_BUILDS else []:
        kept |= _with_base(builds, spare)
    for stale in older:
        if stale not in kept:
            shutil.rmtree(stale, ignore_errors=True)
    for staging in builds.glob(".staging-*"):
        with contextlib.suppress(OSError):
            if staging.stat().st_mtime < current.stat().st_mtime:
                shutil.rmtree(staging, ignore_errors=True)


def read_manifest(build: Path) -> Manifest:
    try:
        return Manifest.model_validate_json((build / "manifest.json").read_bytes())
    except FileNotFoundError:
        raise IndexCorruptError(
            f"Index {build} has no manifest.json. Rebuild with: quoth index"
        ) from None
    except ValidationError:
        raise IndexCorruptError(
            f"Index manifest {build / 'manifest.json'} is damaged. Rebuild with: quoth index"
        ) from None


def check_compatible(manifest: Manifest, model: str) -> None:
    if manifest.format_version != FORMAT_VERSION:
        raise IndexMismatchError(
            f"The index uses format {manifest.format_version}; this quoth reads format "
            f"{FORMAT_VERSION}. Rebuild it with: quoth index"
        )
    if manifest.model != model:
        raise IndexMismatchError(
            f"The index was built with model {manifest.model!r} but QUOTH_MODEL is {model!r}. "
            "Rebuild it with: quoth index, or set QUOTH_MODEL back."
        )


def load_build(build: Path, manifest: Manifest, base: IndexData | None = None) -> IndexData:
    for name, expected in manifest.files.items():
        path = build / name
        if not path.is_file() or _digest(path) != expected:
            raise IndexCorruptError(
                f"Index file {path} is missing or damaged. Rebuild with: quoth index"
            )
    try:
        sentences, passages = (
            np.load(build / name, allow_pickle=False) for name in _ARRAY_FILES[:2]
        )
        articles = _ARTICLES.validate_json((build / "articles.json").read_bytes())
        return _open_build(build, manifest, articles, sentences, passages, base)
    except (OSError, ValueError, RuntimeError) as error:
        raise IndexCorruptError(
            f"Index {build} cannot be read ({error}). Rebuild with: quoth index"
        ) from None
