"""Measuring and cutting text for chat limits, escaped or not."""

from __future__ import annotations

from quoth.bot.text import ELLIPSIS, fit_escaped, safe_url, shorten, visible_length


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


def test_safe_url_is_http_and_cannot_break_out() -> None:
    assert safe_url("https://e.org/a (b)<c>") == "https://e.org/a%20%28b%29%3Cc%3E"
    assert safe_url(" HTTP://e.org/x ") == "http://e.org/x"
    assert safe_url("javascript:alert(1)") is None
    assert safe_url("ftp://e.org/x") is None
    assert safe_url("https:///no-host") is None
    assert safe_url("https://e.org/" + "x" * 600) is None
    assert safe_url(None) is None
    assert safe_url("https://e.org/@everyone") == "https://e.org/%40everyone"
    assert safe_url("https://user:pw@e.org/") is None  # no credentials in links
    assert safe_url("https://münchen.de/a") == "https://xn--mnchen-3ya.de/a"
