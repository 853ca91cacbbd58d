"""Load a folder of articles into cleaned :class:`Article` objects.

A bad file never stops the others: it is reported in ``skipped`` with a reason a moderator
can act on, and the rest of the corpus is indexed.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import time
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Protocol

from quoth.corpus.cleaning import CleanedPage, clean_page, normalise_whitespace
from quoth.corpus.formats import (
    DOCUMENT_SUFFIXES,
    SUPPORTED_SUFFIXES,
    ArticleFormatError,
    parse_article,
)
from quoth.corpus.models import Article, ArticleMeta, LoadedCorpus, SkippedFile
from quoth.corpus.splitting import sentence_spans
from quoth.errors import QuothError

log = logging.getLogger(__name__)

MAX_ARTICLE_BYTES = 5 * 1024 * 1024
MAX_DOCUMENT_BYTES = 50 * 1024 * 1024
"""PDF and Word files carry fonts and pictures: ten times a text article's limit."""
RACY_NS = 2_000_000_000
"""A file changed this recently (nanoseconds) gets no stamp: see :func:`file_stamp`."""
TITLE_MAX_CHARS = 90
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


class CorpusError(QuothError):
    """The corpus as a whole cannot be used (missing folder, nothing readable)."""


def article_id(root: Path, path: Path) -> str:
    """The file name without suffix, with sub-folders joined by ``--`` to stay unique."""
    base, name = str(root).rstrip(os.sep) + os.sep, str(path)
    # String slicing: pathlib's relative_to cost seconds over a large corpus at each reindex.
    relative = name[len(base) :] if name.startswith(base) else str(path.relative_to(root))
    stem = os.path.splitext(relative)[0]  # noqa: PTH122 (strings, for speed)
    return _ID_UNSAFE.sub("-", "--".join(stem.split(os.sep))).strip("-") or "article"  # noqa: PTH206


def shorten(text: str, limit: int = TITLE_MAX_CHARS) -> str:
    """Cut at a word boundary and mark the cut, for titles derived from a first sentence."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,;:-–—")
    return f"{cut}…"


def derive_title(text: str, fallback: str) -> str:
    spans = sentence_spans(text)
    if not spans:
        return fallback
    start, end = spans[0]
    return shorten(text[start:end])


def sidecar_of(path: Path) -> Path:
    return path.with_name(f"{path.stem}.meta.json")


def source_hash(path: Path, data: bytes) -> str:
    """What decides whether a file must be parsed again: its bytes and its sidecar's."""
    sidecar = sidecar_of(path)
    digest = hashlib.sha256(data)
    digest.update(b"\0sidecar\0")
    if sidecar.is_file():
        digest.update(sidecar.read_bytes())
    return digest.hexdigest()


def file_stamp(path: Path, size: int, mtime_ns: int) -> str:
    """Size and modification time of a file and its sidecar, or "" when either changed too
    recently to be trusted: a write within the same clock tick as the stamp would leave it
    equal (the "racy" case git knows), so such a file is read and hashed again next time."""
    try:
        side = sidecar_of(path).stat()
        side_size, side_mtime = side.st_size, side.st_mtime_ns
    except FileNotFoundError:
        side_size, side_mtime = -1, 0
    if time.time_ns() - max(mtime_ns, side_mtime) < RACY_NS:
        return ""
    return f"{size}:{mtime_ns}:{side_size}:{side_mtime}"


def _document_page(text: str) -> CleanedPage:
    """An office document's text as it is: it has no web furniture, and the web rules (a
    "Comments" heading ends the article) would cut real sections of a report."""
    lines = [normalise_whitespace(line) for line in text.split("\n")]
    return CleanedPage("\n".join(line for line in lines if line), None, None)


def build_article(doc_id: str, path: Path, data: bytes) -> Article:
    """Parse, clean and title one article; raises :class:`ArticleFormatError` when unusable."""
    raw = parse_article(path, data)
    page = _document_page(raw.text) if raw.document else clean_page(raw.text)
    if not page.text.strip():
        raise ArticleFormatError("has no article text after cleaning")
    title = raw.meta.get("title") or page.headline or derive_title(page.text, doc_id)
    meta = ArticleMeta(
        title=shorten(title, 200),
        url=raw.meta.get("url"),
        published=raw.meta.get("published") or page.published,
        source=raw.meta.get("source"),
    )
    return Article(
        id=doc_id,
        meta=meta,
        text=page.text,
        path=str(path),
        source_hash=source_hash(path, data),
        pages=raw.pages if page.text == raw.text else (),
    )


def _suffix(name: str) -> str:
    dot = name.rfind(".")
    return name[dot:].lower() if dot > 0 else ""


def iter_article_files(root: Path) -> list[Path]:
    """Supported files under ``root`` (hidden files and folders left out), in path order.

    A walk over names, not pathlib's glob: at each reindex of a large corpus the glob's Path
    objects, their stats and comparisons cost more than the rest of a one-article change."""
    found: list[str] = []
    for folder, folders, names in os.walk(root, followlinks=True):
        folders[:] = [name for name in folders if not name.startswith(".")]
        found.extend(
            f"{folder}{os.sep}{name}"
            for name in names
            if not name.startswith(".") and _suffix(name) in SUPPORTED_SUFFIXES
        )
    return [Path(name) for name in sorted(found)]


class KnownArticle(Protocol):
    """What a previous index remembers of an article (``quoth.index.store.ArticleRecord``)."""

    id: str
    title: str
    url: str | None
    published: str | None
    source: str | None
    path: str
    text: str
    source_hash: str
    source_stamp: str
    hash: str
    pages: list[tuple[int, int]]


def _as_indexed(previous: KnownArticle, doc_id: str, path: Path, stamp: str) -> Article:
    """An unchanged file's article as the previous index holds it (no parsing, no hashing)."""
    meta = ArticleMeta(previous.title, previous.url, previous.published, previous.source)
    return Article(
        doc_id,
        meta,
        previous.text,
        str(path),
        previous.source_hash,
        stamp,
        tuple(previous.pages),
        previous.hash,
    )


def load_corpus(root: Path, known: Mapping[str, KnownArticle] | None = None) -> LoadedCorpus:
    """Read every supported file under ``root``; unreadable ones are skipped with a reason.

    ``known`` maps file paths to what the previous index holds for them: a file whose size
    and modification time are as recorded is taken from there without being read, one whose
    bytes are unchanged without being parsed and cleaned again.
    """
    if not root.exists():
        raise CorpusError(f"Corpus folder {root} does not exist.")
    if not root.is_dir():
        raise CorpusError(f"Corpus path {root} is not a folder.")
    corpus = LoadedCorpus()
    seen: dict[str, Path] = {}
    for path in iter_article_files(root):
        doc_id = article_id(root, path)
        try:
            if doc_id in seen:
                raise ArticleFormatError(f"has the same id {doc_id!r} as {seen[doc_id].name}")
            status = path.stat()
            limit = (
                MAX_DOCUMENT_BYTES
                if path.suffix.lower() in DOCUMENT_SUFFIXES
                else MAX_ARTICLE_BYTES
            )
            if status.st_size > limit:
                raise ArticleFormatError(f"is larger than {limit // 1024 // 1024} MB")
            stamp = file_stamp(path, status.st_size, status.st_mtime_ns)
            previous = known.get(str(path)) if known else None
            if previous is not None and previous.id != doc_id:
                previous = None
            data = None
            if previous is not None and not (stamp and previous.source_stamp == stamp):
                data = path.read_bytes()  # the stamp cannot tell: the bytes can
                if previous.source_hash != source_hash(path, data):
                    previous = None
            if previous is not None:
                article = _as_indexed(previous, doc_id, path, stamp)
            else:
                data = path.read_bytes() if data is None else data
                article = replace(build_article(doc_id, path, data), source_stamp=stamp)
        except (ArticleFormatError, OSError) as error:
            reason = error.strerror if isinstance(error, OSError) and error.strerror else error
            corpus.skipped.append(SkippedFile(str(path), str(reason)))
            log.info("Skipped %s: %s", path, reason)
            continue
        seen[doc_id] = path
        corpus.articles.append(article)
    return corpus
