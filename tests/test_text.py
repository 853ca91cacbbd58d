"""Measuring and cutting text for chat limits, escaped or not."""

from __future__ import annotations

from quoth.bot.text import ELLIPSIS, fit_escaped, shorten, visible_length


def test_shorten_cuts_at_words_and_counts_utf16() -> None:
    assert shorten("one two three", 100) == "one two three"
    assert shorten("one two three four", 10) == "one two…"
    cut = shorten("🇦🇿" * 10, 9)
    assert visible_length(cut) <= 9 and cut.endswith(ELLIPSIS)
    assert shorten("anything", 0) == ""


def test_fit_escaped_counts_the_escapes() -> None:
    def double(text: str) -> str:  # an escaper that doubles every star
        return text.replace("*", "**")

    text = "*" * 50 + " plain words follow here"
    fitted = fit_escaped(text, 30, double)
    assert visible_length(fitted) <= 30 and fitted.endswith(ELLIPSIS)
    assert fit_escaped("short", 30, double) == "short"
