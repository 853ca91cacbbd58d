"""Discord Markdown for answers, articles and source lists, always within Discord's limits.

Answers go out as an embed: its description holds 4096 characters (a plain message only
2000), renders ``>`` quotes, bold and masked links, and never pings anyone. Every piece of
article text is escaped completely rather than heuristically (every inline Markdown character
gets a backslash, which Discord hides, and so does what would start a quote, heading or list
at the start of a line), because a quote is spliced between our own ``**`` markers and a stray
``*`` in it would otherwise pair with ours. Mentions are broken with a zero-width
space as well, and every send also carries ``allowed_mentions`` that allow none.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

import discord
from discord.utils import escape_mentions

from quoth.bot.text import NO_TEXT, UNTITLED, fit_escaped, safe_url, shorten, visible_length
from quoth.index.store import ArticleRecord
from quoth.messages import CLOSEST_LEAD, NOT_IN_SOURCES, READ_AS, READ_AS_LIMIT, Translate
from quoth.retrieval import Answer, Quote

MESSAGE_LIMIT = 2000
DESCRIPTION_LIMIT = 4096
TITLE_LIMIT = 256
EMBED_TOTAL_LIMIT = 6000
COLOUR = discord.Colour(0x3B7DD8)
MIN_SHARE = 120  # below this a quote block is mostly its source line
NO_MENTIONS = discord.AllowedMentions.none()

_MARKDOWN = re.compile(r"([\\*_~|`\[\]<])")
_LINE_START = re.compile(r"^(\s*)([>#+-])", re.MULTILINE)  # quotes, headings, lists
_NUMBERED = re.compile(r"^(\s*\d+)\.", re.MULTILINE)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def escape(text: str) -> str:
    """Plain text that Discord shows as typed: no formatting, links, mentions or controls."""
    escaped = _MARKDOWN.sub(r"\\\1", _CONTROL.sub("", text))
    escaped = _NUMBERED.sub(r"\1\\.", _LINE_START.sub(r"\1\\\2", escaped))
    return escape_mentions(escaped)


def flat(text: str) -> str:
    """One line: a newline inside a ``>`` quote would end the quote and start a new block."""
    return " ".join(text.split())


@dataclass(frozen=True, slots=True)
class Reply:
    """One Discord message: text content, or an embed (never both)."""

    content: str | None = None
    embed: discord.Embed | None = None
    view: discord.ui.View | None = None


def text_reply(text: str) -> Reply:
    return Reply(content=fit_escaped(text, MESSAGE_LIMIT, escape))


def _source_line(quote: Quote, budget: int) -> str:
    title = fit_escaped(flat(quote.title), min(budget, 200), escape)
    target = safe_url(quote.url)
    line = f"— [{title}]({target})" if target else f"— **{title}**"
    if quote.published:
        line += f" · {fit_escaped(flat(quote.published), 40, escape)}"
    if quote.page is not None:
        line += f" · p. {quote.page}"
    if not target:
        line += f" · /source id:{article_id(quote.document_id)}"
    return line


def article_id(doc_id: str, limit: int = 100) -> str:
    """Inline code, so that the id copies exactly as ``/source`` and ``/remove`` expect it."""
    shown = shorten(doc_id, min(limit, 100) - 2)  # Discord's option values stop at 100 anyway
    if "`" in shown or not shown.strip():
        return fit_escaped(shown, limit, escape)
    return f"`{escape_mentions(_CONTROL.sub('', shown))}`"  # a code span shows the rest as is


def _quote_block(quote: Quote, budget: int, context: bool, claimed: bool = True) -> str:
    source = _source_line(quote, budget // 3)
    room = max(40, budget - visible_length(source) - 8)  # "> ", "**" twice, spaces, newline
    sentence = fit_escaped(flat(quote.sentence), room, escape)
    room -= visible_length(sentence)
    before = after = ""
    if context and quote.before:
        before = fit_escaped(flat(quote.before), room // 2, escape)
    if context and quote.after:
        after = fit_escaped(flat(quote.after), room - visible_length(before), escape)
    marked = f"**{_underlined(quote, sentence)}**" if claimed else sentence
    body = " ".join(part for part in (before, marked, after) if part)
    return f"> {body}\n{source}"


def _underlined(quote: Quote, sentence: str) -> str:
    """The escaped sentence with its answer phrase in ``__`` (underline), when the sentence
    was not cut to fit and the model found a phrase; else the sentence as it was."""
    if quote.phrase is None or sentence != escape(flat(quote.sentence)):
        return sentence
    start, end = quote.phrase.start, quote.phrase.end
    lead = flat(quote.sentence[:start]) + (
        " " if quote.sentence[start - 1 : start].isspace() else ""
    )
    tail = (" " if quote.sentence[end : end + 1].isspace() else "") + flat(quote.sentence[end:])
    phrase = flat(quote.sentence[start:end])
    return f"{escape(lead)}__{escape(phrase)}__{escape(tail)}"


def render_answer(
    answer: Answer, limit: int = DESCRIPTION_LIMIT, translate: Translate = str
) -> Reply:
    """Quotes with the answering sentence in bold and a linked source under each; the
    closest passages (no claim) after a lead line saying so, with nothing bold; the refusal
    and the lead in the asker's language (``translate``); a follow-up quoth resolved from
    the conversation opens with how it read it, in italics."""
    read = ""
    if answer.read_as:
        line = translate(READ_AS).format(question=flat(answer.read_as))
        read = f"*{fit_escaped(line, READ_AS_LIMIT + 40, escape).strip()}*\n"
    if not answer.shows_quotes:
        refusal = text_reply(translate(NOT_IN_SOURCES))
        return Reply(content=read + (refusal.content or "")) if read else refusal
    separator = "\n\n"
    count = len(answer.quotes)
    claimed = answer.answered
    closest = "" if claimed else fit_escaped(translate(CLOSEST_LEAD), 200, escape) + separator
    lead = read + closest
    room = limit - visible_length(lead)
    for context in (True, False):
        blocks = [_quote_block(q, room, context, claimed) for q in answer.quotes]
        description = lead + separator.join(blocks)
        if visible_length(description) <= limit:
            return Reply(embed=discord.Embed(description=description, colour=COLOUR))
    share = (room - len(separator) * (count - 1)) // count
    while share >= MIN_SHARE:  # an even share each; shrink until the escapes stop overshooting
        blocks = [_quote_block(q, share, False, claimed) for q in answer.quotes]
        description = lead + separator.join(blocks)
        if visible_length(description) <= limit:
            return Reply(embed=discord.Embed(description=description, colour=COLOUR))
        share -= max(1, (visible_length(description) - limit) // count)
    # Sources too long to share the space (huge titles and ids): show fewer quotes.
    return render_answer(replace(answer, quotes=answer.quotes[:-1]), limit, translate)


def render_article(article: ArticleRecord) -> Reply:
    """An article shown in the chat, for sources that have no URL to link to."""
    title = fit_escaped(flat(article.title), TITLE_LIMIT, escape).strip() or UNTITLED
    footer = shorten(flat(article.published or ""), 100)
    room = min(DESCRIPTION_LIMIT, EMBED_TOTAL_LIMIT - visible_length(title + footer))
    text = fit_escaped(article.text.strip(), room, escape) or NO_TEXT
    embed = discord.Embed(title=title, description=text, colour=COLOUR)
    if footer:
        embed.set_footer(text=footer)
    return Reply(embed=embed)


def render_sources(articles: Sequence[ArticleRecord], page: int, per_page: int) -> Reply:
    """One page of the article list: linked titles, and ids for ``/source``."""
    pages = max(1, -(-len(articles) // per_page))
    page = min(max(page, 0), pages - 1)
    first = page * per_page
    lines = []
    room = (DESCRIPTION_LIMIT - 100) // max(1, min(per_page, len(articles)))
    for number, article in enumerate(articles[first : first + per_page], start=first + 1):
        title = fit_escaped(flat(article.title), min(150, room // 3), escape).strip() or UNTITLED
        ident = article_id(article.id, room // 3)
        target = safe_url(article.url)
        line = f"{number}. [{title}]({target}) · id {ident}" if target else ""
        if not line or visible_length(line) > room:  # a long URL: list the title unlinked
            line = f"{number}. **{title}** · id {ident}"
        lines.append(line)
    heading = f"My sources ({len(articles)} articles, page {page + 1}/{pages})"
    description = "\n".join(lines) or "No articles yet."
    return Reply(embed=discord.Embed(title=heading, description=description, colour=COLOUR))
