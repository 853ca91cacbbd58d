"""Telegram HTML for answers, articles and source lists, always within Telegram's limits.

Messages are assembled from escaped text pieces and tags we write ourselves, so a cut for
length only ever shortens plain text before it is escaped: never inside a tag or an entity.
Length is counted the way Telegram counts it, in UTF-16 code units of the visible text.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from quoth.bot.text import (
    NO_TEXT,
    UNTITLED,
    phrase_parts,
    safe_url,
    shorten,
    visible_length,
)
from quoth.index.store import ArticleRecord
from quoth.messages import CLOSEST_LEAD, NOT_IN_SOURCES, READ_AS, READ_AS_LIMIT, Translate
from quoth.retrieval import Answer, Quote

MESSAGE_LIMIT = 4096
_DEEP_LINK_SAFE = re.compile(r"[A-Za-z0-9_-]{1,60}")
SOURCE_PREFIX = "src_"


def escape(text: str) -> str:
    return html.escape(text, quote=False)


@dataclass(slots=True)
class Html:
    """An HTML message under construction, tracking its visible length."""

    parts: list[str] = field(default_factory=list)
    length: int = 0

    def text(self, value: str) -> Html:
        self.parts.append(escape(value))
        self.length += visible_length(value)
        return self

    def tag(self, name: str, value: str, href: str | None = None) -> Html:
        opening = f'<a href="{html.escape(href, quote=True)}">' if href else f"<{name}>"
        closing = "</a>" if href else f"</{name}>"
        self.parts.append(f"{opening}{escape(value)}{closing}")
        self.length += visible_length(value)
        return self

    def raw(self, markup: str, visible: int) -> Html:
        self.parts.append(markup)
        self.length += visible
        return self

    def render(self) -> str:
        return "".join(self.parts)


def source_key(doc_id: str) -> str:
    """A deep-link-safe key for an article (Telegram allows 64 chars of [A-Za-z0-9_-])."""
    if _DEEP_LINK_SAFE.fullmatch(doc_id):
        return doc_id
    return "h" + hashlib.sha256(doc_id.encode()).hexdigest()[:20]


def find_article(articles: Sequence[ArticleRecord], key: str) -> ArticleRecord | None:
    return next((a for a in articles if source_key(a.id) == key), None)


def source_link(bot_username: str, doc_id: str, url: str | None) -> str:
    if target := safe_url(url):
        return target
    return f"https://t.me/{bot_username}?start={SOURCE_PREFIX}{source_key(doc_id)}"


def _quote_block(
    quote: Quote,
    bot_username: str,
    budget: int,
    context: bool,
    folded: bool = False,
    claimed: bool = True,
) -> Html:
    before, after = (quote.before, quote.after) if context else ("", "")
    title = shorten(quote.title, 120)
    meta = f" · {shorten(quote.published, 40)}" if quote.published else ""
    if quote.page is not None:
        meta += f" · p. {quote.page}"
    fixed = visible_length(title + meta) + 5  # "\n— " and the spaces around the sentence
    room = max(20, budget - fixed)
    sentence = shorten(quote.sentence, room)
    room -= visible_length(sentence)
    before = shorten(before, room // 2) if before else ""
    after = shorten(after, room - visible_length(before)) if after else ""
    block = Html().raw("<blockquote expandable>" if folded else "<blockquote>", 0)
    if before:
        block.text(before + " ")
    lead, phrase, rest = phrase_parts(quote.sentence, sentence, quote.phrase)
    if not claimed:  # a closest passage: no sentence is presented as the answer
        block.text(sentence)
    elif phrase:  # the answer phrase underlined inside the bold sentence
        block.raw("<b>", 0).text(lead).tag("u", phrase).text(rest).raw("</b>", 0)
    else:
        block.tag("b", sentence)
    if after:
        block.text(" " + after)
    block.raw("</blockquote>", 0)
    block.text("\n— ").tag("a", title, href=source_link(bot_username, quote.document_id, quote.url))
    if meta:
        block.text(meta)
    return block


def render_answer(
    answer: Answer, bot_username: str, limit: int = MESSAGE_LIMIT, translate: Translate = str
) -> str:
    """Quotes as blockquotes with the answering sentence in bold, each with its source. The
    first is shown in full; the others are folded (expandable), so a group is not flooded.
    The closest passages (no claim) come after a lead line saying so, with nothing bold.
    ``translate`` says quoth's own words (the refusal, the lead) in the asker's language.
    A follow-up quoth resolved from the conversation opens with how it read it, in italics."""
    separator = "\n\n"
    read = ""
    if answer.read_as:
        question = shorten(answer.read_as, READ_AS_LIMIT)
        read = Html().tag("i", translate(READ_AS).format(question=question)).render() + "\n"
        limit -= visible_length(read)
    if not answer.shows_quotes:
        return read + escape(translate(NOT_IN_SOURCES))
    head = "" if answer.answered else translate(CLOSEST_LEAD)
    lead = read + (escape(head) + separator if head else "")
    limit -= visible_length(head) + len(separator) if head else 0
    claimed = answer.answered
    for context in (True, False):
        blocks = [
            _quote_block(q, bot_username, limit, context, number > 0, claimed)
            for number, q in enumerate(answer.quotes)
        ]
        total = sum(b.length for b in blocks) + len(separator) * (len(blocks) - 1)
        if total <= limit:
            return lead + separator.join(b.render() for b in blocks)
    # Still too long: share the budget evenly and cut each quote to fit.
    share = (limit - len(separator) * (len(answer.quotes) - 1)) // len(answer.quotes)
    blocks = [
        _quote_block(q, bot_username, share, False, number > 0, claimed)
        for number, q in enumerate(answer.quotes)
    ]
    return lead + separator.join(b.render() for b in blocks)


def render_article(article: ArticleRecord, limit: int = MESSAGE_LIMIT) -> str:
    """An article shown inside the chat (deep links for sources without a URL)."""
    message = Html().tag("b", shorten(article.title.strip(), 200) or UNTITLED)
    if article.published:
        message.text("\n").tag("i", shorten(article.published, 60))
    message.text("\n\n")
    message.text(shorten(article.text.strip(), limit - message.length) or NO_TEXT)
    return message.render()


def render_sources(
    articles: Sequence[ArticleRecord], bot_username: str, page: int, per_page: int
) -> str:
    first = page * per_page
    shown = articles[first : first + per_page]
    pages = max(1, -(-len(articles) // per_page))
    message = Html().text(f"My sources ({len(articles)} articles, page {page + 1}/{pages}):\n")
    for number, article in enumerate(shown, start=first + 1):
        message.text(f"\n{number}. ").tag(
            "a",
            shorten(article.title, 150),
            href=source_link(bot_username, article.id, article.url),
        )
    return message.render()
