"""Plain-text measuring and cutting shared by every chat renderer.

Both Telegram and Discord cap message length; cutting plain text *before* it is escaped
means a cut can never land inside an entity, a tag or a Markdown escape. Length is counted
in UTF-16 code units: Telegram's own measure, and never less than the code points Discord
counts, so a text within the limit here is within it on both platforms.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import quote as percent_quote
from urllib.parse import urlsplit, urlunsplit

from quoth.retrieval.phrase import MarkedPhrase

ELLIPSIS = "…"
UNTITLED = "(untitled)"  # shown instead of a blank title: platforms refuse empty text
NO_TEXT = "(no text)"
MAX_URL_CHARS = 512
_URL_SAFE = ":/?#!$&'*+,;=%~.-_"  # "@" is encoded too: "/@everyone" must not read as a ping
_HOST = re.compile(r"[A-Za-z0-9.-]+(?::\d{1,5})?")


def visible_length(text: str) -> int:
    """UTF-16 code units (emoji and flags count two or more, as the platforms count them)."""
    return len(text.encode("utf-16-le")) // 2


def shorten(text: str, limit: int) -> str:
    """Cut plain text to ``limit`` UTF-16 units, at a word boundary when one is near."""
    if visible_length(text) <= limit:
        return text
    if limit < 1:
        return ""
    low, high = 0, len(text)
    while low < high:  # the longest prefix that leaves room for the ellipsis
        middle = (low + high + 1) // 2
        if visible_length(text[:middle]) <= limit - 1:
            low = middle
        else:
            high = middle - 1
    cut = text[:low]
    if " " in cut[len(cut) // 2 :]:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip() + ELLIPSIS


def fit_escaped(text: str, limit: int, escape: Callable[[str], str]) -> str:
    """Shorten ``text`` so that its *escaped* form fits in ``limit`` units, and escape it.

    Escaping lengthens text by an amount that depends on where the cut falls, so the budget
    is narrowed by the overshoot until it fits (a few rounds at most: each round removes at
    least the overshoot).
    """
    budget = limit
    while True:
        escaped = escape(shorten(text, budget))
        over = visible_length(escaped) - limit
        if over <= 0:
            return escaped
        budget -= over


def safe_url(url: str | None) -> str | None:
    """An http(s) URL fit to link to, or None (then the source is shown in the chat).

    Other schemes (``javascript:``, ``file:``) are never linked, characters that could end
    a Markdown link or an HTML attribute are percent-encoded, and an absurdly long URL is
    refused rather than allowed to eat the message's length budget.
    """
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:  # e.g. an unbalanced "[" in the host
        return None
    try:
        host = parts.netloc.encode("idna").decode("ascii")  # münchen.de -> xn--mnchen-3ya.de
    except UnicodeError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not _HOST.fullmatch(host):
        return None
    quoted = urlunsplit(
        (parts.scheme, host, *(percent_quote(p, safe=_URL_SAFE) for p in parts[2:]))
    )
    return quoted if len(quoted) <= MAX_URL_CHARS else None


def phrase_parts(sentence: str, shown: str, phrase: MarkedPhrase | None) -> tuple[str, str, str]:
    """(before, phrase, after) of ``shown`` (``sentence`` as cut to fit a message) where the
    answer phrase survived the cut whole; else (``shown``, "", ""), so a renderer underlines
    nothing rather than half a phrase."""
    if phrase is None or not shown.startswith(sentence[: phrase.end]):
        return shown, "", ""
    return shown[: phrase.start], shown[phrase.start : phrase.end], shown[phrase.end :]
