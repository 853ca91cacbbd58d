"""One normalising step for questions, whatever front end they came from.

Chats deliver more than the words a person means to ask: zero-width and direction marks
pasted from other apps, the bot's own mention, Discord mention and emoji tokens, Markdown
emphasis and spoilers. Left in, they reach the embedder and BM25 as noise (a question of
invisible characters was answered with quotes; markup turned an answer into a refusal), so
every path to retrieval goes through :func:`clean_question` before the length check.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from quoth.messages import N_
from quoth.retrieval.answer import QuestionError

EMPTY_QUESTION = N_("Please type a question.")
TOO_LONG = N_("That question is {length} characters long; please keep it under {limit}.")
_DROPPED_CATEGORIES = frozenset({"Cf", "Cc", "Co", "Cs"})
_VARIATION_SELECTORS = (range(0xFE00, 0xFE10), range(0xE0100, 0xE01F0), range(0x180B, 0x1810))

_CHAT_TOKENS = re.compile(
    r"<@[!&]?\d+>"  # Discord user and role mentions
    r"|<#\d+>"  # Discord channel mentions
    r"|<a?:\w+:\d+>"  # Discord custom emoji
    r"|(?<!\w)@(?:everyone|here)\b"
    r"|(?:^|(?<=\s))/\w+@\w+"  # Telegram /command@bot
)
_MARKUP = re.compile(
    r"\*\*|__|~~|\|\||`+"  # paired emphasis, strikethrough, spoiler and code markers
    r"|(?<![^\W_])[*_]+(?=\S)|(?<=\S)[*_]+(?![^\W_])"  # at a word's edge, not in snake_case
)
_QUOTE_MARKERS = re.compile(r"^[ \t]*(?:>>>|>)[ \t]?", re.MULTILINE)


def _kept(char: str) -> bool:
    if char in "\n\t\r":
        return True
    code = ord(char)
    if any(code in selectors for selectors in _VARIATION_SELECTORS):
        return False
    return unicodedata.category(char) not in _DROPPED_CATEGORIES


def normalise_question(text: str, own_names: Iterable[str] = ()) -> str:
    """The words a person asked: invisible characters, chat tokens and markup removed.

    ``own_names`` are the bot's own handles (``quothbot`` for ``@quothbot``): a mention of
    the bot addresses it rather than asks about it, while other ``@handles`` stay.
    """
    text = unicodedata.normalize("NFKC", "".join(char for char in text if _kept(char)))
    for name in own_names:
        if name:
            text = re.sub(rf"(?<!\w)@{re.escape(name)}\b", " ", text, flags=re.IGNORECASE)
    text = _CHAT_TOKENS.sub(" ", text)
    text = _QUOTE_MARKERS.sub("", text)
    text = _MARKUP.sub("", text)
    return " ".join(text.split())


def clean_question(question: str, max_chars: int, own_names: Iterable[str] = ()) -> str:
    """The normalised question, or :class:`QuestionError` with a reason to show the asker."""
    cleaned = normalise_question(question, own_names)
    if not any(char.isalnum() for char in cleaned):
        raise QuestionError(EMPTY_QUESTION)
    if len(cleaned) > max_chars:
        raise QuestionError(TOO_LONG, length=len(cleaned), limit=max_chars)
    return cleaned
