"""Load a folder of articles into cleaned :class:`Article` objects.

A bad file never stops the others: it is reported in ``skipped`` with a reason a moderator
can act on, and the rest of the corpus is indexed.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from quoth.corpus.cleaning import clean_page
from quoth.corpus.formats import SUPPORTED_SUFFIXES, ArticleFormatError, parse_article
from quoth.corpus.models import Article, ArticleMeta, LoadedCorpus, SkippedFile
from quoth.corpus.splitting import sentence_spans
from quoth.errors import QuothError

log = logging.getLogger(__name__)

MAX_ARTICLE_BYTES = 5 * 1024 * 1024
TITLE_MAX_CHARS = 90
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


class CorpusError(QuothError):
    """The corpus as a whole cannot be used (missing folder, nothing readable)."""


def article_id(root: Path, path: Path) -> str:
    """The file name without suffix, with sub-folders joined by ``--`` to stay unique."""
    relative = path.relative_to(root).with_suffix("")
    return _ID_UNSAFE.sub("-", "--".join(relative.parts)).strip("-") or "article"


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


def source_hash(path: Path, data: bytes) -> str:
    """What decides whether a file must be parsed again: its bytes and its sidecar's."""
    sidecar = path.with_name(f"{path.stem}.meta.json")
    digest = hashlib.sha256(data)
    digest.update(b"\0sidecar\0")
    if sidecar.is_file():
        digest.update(sidecar.read_bytes())
    return digest.hexdigest()


def build_article(doc_id: str, path: Path, data: bytes) -> Article:
    """Parse, clean and title one article; raises :class:`ArticleFormatError` when unusable."""
    raw = parse_article(path, data)
    page = clean_page(raw.text)
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
        id=doc_id, meta=meta, text=page.text, path=str(path), source_hash=source_hash(path, data)
    )


def iter_article_files(root: Path) -> list[Path]:
    return sorted(
        path
        for path in root.rglob("*")
        if path.is_file()
        and path.suffix.lower() in SUPPORTED_SUFFIXES
        and not any(part.startswith(".") for part in path.relative_to(root).parts)
    )


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


def load_corpus(root: Path, known: Mapping[str, KnownArticle] | None = None) -> LoadedCorpus:
    """Read every supported file under ``root``; unreadable ones are skipped with a reason.

    ``known`` maps file paths to what the previous index holds for them: a file whose bytes
    are unchanged is taken from there instead of being parsed and cleaned again.
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
            if path.stat().st_size > MAX_ARTICLE_BYTES:
                raise ArticleFormatError(f"is larger than {MAX_ARTICLE_BYTES // 1024 // 1024} MB")
            data = path.read_bytes()
            previous = known.get(str(path)) if known else None
            if (
                previous is not None
                and previous.id == doc_id
                and previous.source_hash == source_hash(path, data)
            ):
                meta = ArticleMeta(
                    previous.title, previous.url, previous.published, previous.source
                )
                article = Article(doc_id, meta, previous.text, str(path), previous.source_hash)
            else:
                article = build_article(doc_id, path, data)
        except (ArticleFormatError, OSError) as error:
            reason = error.strerror if isinstance(error, OSError) and error.strerror else error
            corpus.skipped.append(SkippedFile(str(path), str(reason)))
            log.info("Skipped %s: %s", path, reason)
            continue
        seen[doc_id] = path
        corpus.articles.append(article)
    return corpus
