"""Plain-text measuring and cutting shared by every chat renderer.

Both Telegram and Discord cap message length; cutting plain text *before* it is escaped
means a cut can never land inside an entity, a tag or a Markdown escape. Length is counted
in UTF-16 code units: Telegram's own measure, and never less than the code points Discord
counts, so a text within the limit here is within it on both platforms.
"""

from __future__ import annotations

from collections.abc import Callable

ELLIPSIS = "…"


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
