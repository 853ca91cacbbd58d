"""Plain data objects shared by the corpus, index and retrieval layers."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field


def content_hash(text: str) -> str:
    """Hash used to detect changed articles and to derive stable passage ids."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class ArticleMeta:
    """Metadata an article may carry; everything but the title is optional."""

    title: str
    url: str | None = None
    published: str | None = None
    source: str | None = None


@dataclass(frozen=True, slots=True)
class Article:
    """A cleaned article: ``text`` is what quotes are cut from, verbatim."""

    id: str
    meta: ArticleMeta
    text: str
    path: str
    source_hash: str = ""
    """Hash of the file's bytes (and its sidecar's): unchanged files skip parsing next time."""
    source_stamp: str = ""
    """Size and modification time of the file and its sidecar when they were read: a file
    whose stamp is unchanged is not even read again (empty: too fresh to trust, see
    :func:`quoth.corpus.loader.file_stamp`)."""
    pages: tuple[tuple[int, int], ...] = ()
    """For a paged document (PDF): (character offset in ``text``, page number) where each
    page's text starts, so a quote can cite its page; empty for everything else."""
    known_hash: str = field(default="", compare=False)
    """:attr:`hash` as an index stored it, for an article taken from there unchanged."""

    @property
    def hash(self) -> str:
        return self.known_hash or content_hash(f"{self.meta!r}\n{self.text}")


@dataclass(frozen=True, slots=True)
class Sentence:
    """A sentence as a character span of its article's cleaned text."""

    doc_id: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Passage:
    """A window of consecutive sentences; ``first``/``last`` index the article's sentences."""

    id: str
    doc_id: str
    start: int
    end: int
    first: int
    last: int


@dataclass(slots=True)
class SkippedFile:
    """A file that could not be read as an article, with the reason shown to the user."""

    path: str
    reason: str


@dataclass(slots=True)
class LoadedCorpus:
    articles: list[Article] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
