"""Linked articles in the corpus folder: one file per link, fetched again on refresh.

A linked web page is an ordinary ``.txt`` article file whose front matter also records where
it came from and the site's cache validators (``link``, ``etag``, ``last_modified``,
``fetched``, and ``feed`` for an article a followed feed added); the corpus loader reads only
the article fields and ignores the rest. A linked PDF or Word file is kept as it came
(``.pdf``, ``.docx``), the same fields in its ``.meta.json`` sidecar. Its name is derived
from the link (``web-HOST-SLUG-HASH.txt``), so the same link again updates the same file,
and ``quoth refresh`` finds every linked article by that prefix. Keeping all of it in the
corpus folder means backups, ``/remove`` and reindexing need nothing new.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml

from quoth.corpus.errors import ArticleFormatError
from quoth.corpus.loader import article_id, build_article
from quoth.corpus.models import Article, content_hash
from quoth.corpus.splitting import split_passages, split_sentences
from quoth.corpus.writing import write_atomically
from quoth.web.extract import Extracted, extract_article
from quoth.web.fetch import FetchError, FetchLimits, Page, fetch_page, normalise_link

PREFIX = "web-"
Outcome = Literal["added", "updated", "unchanged", "duplicate"]
"""``duplicate``: new under its link, but its text is already an article; not written."""
_SLUG = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True, slots=True)
class SavedLink:
    doc_id: str
    path: Path
    title: str
    passages: int
    outcome: Outcome
    text_hash: str = ""
    """The hash of the cleaned text: the same text under another link is the same article
    (:mod:`quoth.feeds` adds it once)."""


@dataclass(slots=True)
class RefreshReport:
    checked: int = 0
    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    not_modified: list[str] = field(default_factory=list)
    """The site said so (ETag / Last-Modified): nothing was downloaded."""
    failed: list[tuple[str, str]] = field(default_factory=list)


LINKED_SUFFIXES = (".txt", ".pdf", ".docx")


def link_file_name(link: str, suffix: str = ".txt") -> str:
    parts = urlsplit(link)
    host = _SLUG.sub("-", (parts.hostname or "site").removeprefix("www.")).strip("-")
    last = [p for p in parts.path.split("/") if p][-1:] or ["index"]
    slug = _SLUG.sub("-", last[0].lower().rsplit(".", 1)[0]).strip("-")[:40] or "page"
    digest = hashlib.sha256(link.encode()).hexdigest()[:8]
    return f"{PREFIX}{host[:40]}-{slug}-{digest}{suffix}"


def linked_path(corpus: Path, link: str) -> Path | None:
    """The file a link is kept in, whichever kind it turned out to be, or None."""
    for suffix in LINKED_SUFFIXES:
        path = corpus / link_file_name(link, suffix)
        if path.is_file():
            return path
    return None


def read_front_matter(path: Path) -> dict[str, Any]:
    """All recorded fields of a linked article file (the loader keeps only some): the front
    matter of a ``.txt``, the sidecar of a document."""
    if path.suffix != ".txt":
        sidecar = path.with_name(f"{path.stem}.meta.json")
        data = json.loads(sidecar.read_text(encoding="utf-8")) if sidecar.is_file() else {}
        return data if isinstance(data, dict) else {}
    text = path.read_text(encoding="utf-8")
    if not text.startswith("---\n"):
        return {}
    head = text[4:].split("\n---\n", 1)[0]
    data = yaml.safe_load(head)
    return data if isinstance(data, dict) else {}


def _fields(
    link: str, page: Page, meta: Mapping[str, str | None], feed: str | None
) -> dict[str, str]:
    front = {
        **meta,
        "link": link,
        "feed": feed,
        "etag": page.etag,
        "last_modified": page.last_modified,
        "fetched": datetime.now(UTC).replace(microsecond=0).isoformat(),
    }
    return {key: value for key, value in front.items() if value}


def _render(link: str, page: Page, extracted: Extracted, feed: str | None) -> bytes:
    meta = {
        "title": extracted.title,
        "url": extracted.url,
        "published": extracted.published,
        "source": extracted.site,
    }
    kept = _fields(link, page, meta, feed)
    head = yaml.safe_dump(kept, allow_unicode=True, sort_keys=False, width=10_000)
    return f"---\n{head}---\n{extracted.text}\n".encode()


def count_passages(article: Article, size: int, overlap: int) -> int:
    sentences = split_sentences(article.id, article.text)
    return len(split_passages(article.id, article.text, sentences, size, overlap))


def store_page(
    corpus: Path,
    link: str,
    page: Page,
    chunking: tuple[int, int],
    feed: str | None = None,
    fields: dict[str, str | None] | None = None,
    known_text: Callable[[str], str | None] | None = None,
) -> SavedLink:
    """Extract, check and write the article (when it changed); say what happened.

    A web page is kept as its extracted text; a PDF or Word file as it came, with a sidecar
    (``fields``: metadata a feed entry gives, used where the file itself has none). A new
    article whose text ``known_text`` names an article for is not written: a duplicate."""
    assert page.body is not None
    suffix = ".txt" if page.suffix == ".html" else page.suffix
    path = corpus / link_file_name(link, suffix)
    sidecar: bytes | None = None
    if suffix == ".txt":
        data = _render(link, page, extract_article(page.body, page.url), feed)
    else:
        data = page.body
        meta = {"url": page.url, **{k: v for k, v in (fields or {}).items() if v}}
        sidecar = json.dumps(_fields(link, page, meta, feed), ensure_ascii=False).encode()
    doc_id = article_id(corpus, path)
    try:
        article = build_article(doc_id, path, data)
    except ArticleFormatError as error:
        raise FetchError(f"That link was not added: it {error}.") from None
    outcome: Outcome = "added"
    text_hash = content_hash(article.text)
    if not path.exists() and known_text is not None and known_text(text_hash) is not None:
        return SavedLink(doc_id, path, article.meta.title, 0, "duplicate", text_hash)
    if path.exists():
        try:
            before = build_article(doc_id, path, path.read_bytes())
        except (OSError, ArticleFormatError):
            before = None
        outcome = "unchanged" if before is not None and before.hash == article.hash else "updated"
    if outcome != "unchanged" or _validators(path) != (page.etag, page.last_modified):
        if sidecar is not None:  # the sidecar first: the loader never sees the file without
            write_atomically(path.with_name(f"{path.stem}.meta.json"), sidecar)
        write_atomically(path, data)  # unchanged text: only the cache validators are new
    if sidecar is not None:
        article = build_article(doc_id, path, data)  # with the sidecar's title and address
    passages = count_passages(article, *chunking)
    return SavedLink(doc_id, path, article.meta.title, passages, outcome, text_hash)


def _validators(path: Path) -> tuple[str | None, str | None]:
    front = read_front_matter(path)
    return front.get("etag"), front.get("last_modified")


def save_link(corpus: Path, url: str, limits: FetchLimits, chunking: tuple[int, int]) -> SavedLink:
    """Fetch a page and keep its article in the corpus (``chunking``: sentences per passage
    and overlap, to tell the moderator how many passages it makes)."""
    link = normalise_link(url)
    return store_page(corpus, link, fetch_page(link, limits), chunking)


def linked_files(corpus: Path) -> list[Path]:
    return sorted(
        p
        for p in corpus.glob(f"{PREFIX}*")
        if p.is_file() and p.suffix in LINKED_SUFFIXES and not p.name.endswith(".meta.json")
    )


def refresh_links(corpus: Path, limits: FetchLimits, chunking: tuple[int, int]) -> RefreshReport:
    """Fetch every linked article again, conditionally; rewrite only those whose article
    changed (a reindex then embeds only their passages). One failing site does not stop
    the others: it keeps its last good copy and is reported."""
    report = RefreshReport()
    for path in linked_files(corpus):
        doc_id = article_id(corpus, path)
        report.checked += 1
        try:
            front = read_front_matter(path)
            link = str(front.get("link") or "")
            if not link:
                raise FetchError("it records no link")
            page = fetch_page(link, limits, front.get("etag"), front.get("last_modified"))
            if page.body is None:
                report.not_modified.append(doc_id)
                continue
            saved = store_page(corpus, link, page, chunking, front.get("feed"), _kept(front))
        except (FetchError, OSError, yaml.YAMLError, json.JSONDecodeError) as error:
            report.failed.append((doc_id, str(error)))
            continue
        (report.unchanged if saved.outcome == "unchanged" else report.changed).append(doc_id)
    return report


def _kept(front: dict[str, Any]) -> dict[str, str | None]:
    return {key: front.get(key) for key in ("title", "published", "source")}


def describe_refresh(report: RefreshReport) -> str:
    """One line per outcome, for the command line and the log."""
    lines = [
        f"Checked {report.checked} linked articles: {len(report.changed)} changed, "
        f"{len(report.unchanged)} unchanged, {len(report.not_modified)} not modified "
        f"(the site said so), {len(report.failed)} failed."
    ]
    if report.changed:
        lines.append(f"Changed: {', '.join(report.changed)}")
    lines.extend(f"Failed {doc_id}: {reason}" for doc_id, reason in report.failed)
    return "\n".join(lines)
