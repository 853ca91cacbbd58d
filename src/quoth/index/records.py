"""The records every layer of the index shares: an article as indexed, a build's manifest,
and the spans of a sentence and a passage. The readers (the files, a layered build, the
database) and the writer all import them from here, and none of them from another.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from pydantic import BaseModel


class SentenceSpan(NamedTuple):
    """A sentence: its article (row in ``articles``) and character offsets in its text."""

    doc: int
    start: int
    end: int


class PassageSpan(NamedTuple):
    """A passage: its article, character offsets, and its first and last sentence rows."""

    doc: int
    start: int
    end: int
    first: int
    last: int


class ArticleRecord(BaseModel):
    """An indexed article: cleaned text (quotes are slices of it) and its metadata."""

    id: str
    title: str
    url: str | None = None
    published: str | None = None
    source: str | None = None
    path: str
    hash: str
    text: str
    source_hash: str = ""
    source_stamp: str = ""
    pages: list[tuple[int, int]] = []
    """(offset in ``text``, page number) where each page starts, for a PDF (see
    :attr:`quoth.corpus.models.Article.pages`)."""


class Manifest(BaseModel):
    """What built this index and how; checked before anything else is read."""

    format_version: int
    model: str
    dimension: int
    built_at: datetime
    passage_sentences: int
    passage_overlap: int
    vector_index: str
    articles: dict[str, str]
    passages: int
    sentences: int
    files: dict[str, str]
    base: str | None = None
    """Set on a delta: the build (folder name) it layers on (quoth.index.layered)."""
    removed_articles: list[int] = []
    """On a delta: the base's article rows this version no longer serves."""
