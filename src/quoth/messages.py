"""What quoth says, in the asker's language.

Every sentence a chat user may read is written in English in the code, marked with
:func:`N_` where it is defined, and translated where it is sent, from gettext catalogues
(``locale/LANG/LC_MESSAGES/quoth.po``, compiled to ``.mo`` by ``scripts/compile_messages.py``).
Quotes are never translated: they stay verbatim in the article's language. What moderators
read (reindex reports, /gaps, /stats) stays in English: they run the bot.

The language is the person's platform setting (Telegram's ``language_code``, Discord's
locale) when quoth speaks it, else the question's, else English.
"""

from __future__ import annotations

import functools
import gettext
from collections.abc import Callable
from pathlib import Path

DOMAIN = "quoth"
LOCALE_DIR = Path(__file__).parent / "locale"
LANGUAGES = ("en", "ru", "tr", "az", "ur")
RIGHT_TO_LEFT = frozenset({"ur"})
MARKED: list[str] = []
"""Every message marked with :func:`N_` (the catalogue test checks each is translated)."""

Translate = Callable[[str], str]


def N_(message: str) -> str:  # noqa: N802 (gettext's conventional name)
    """Mark a message for the catalogues; it is translated where it is sent."""
    MARKED.append(message)
    return message


def choose(*candidates: str | None) -> str:
    """The first candidate quoth speaks (``ru-RU`` and ``ru_RU`` count as ``ru``), else
    English."""
    for candidate in candidates:
        if candidate:
            code = candidate.replace("_", "-").split("-")[0].lower()
            if code in LANGUAGES:
                return code
    return "en"


@functools.cache
def translator(language: str) -> Translate:
    """``gettext`` for one language; a message without a translation stays English."""
    catalogue = gettext.translation(DOMAIN, LOCALE_DIR, languages=[language], fallback=True)
    return catalogue.gettext


MORE_LABEL = N_("More")
NOT_IN_SOURCES = N_(
    "I couldn't find that in my sources. Try other words, or see /sources for what I have."
)
CLOSEST_LEAD = N_("My sources don't state this directly. Closest passages:")
"""Said before the closest passages, where quoth is not sure any of them answers."""
READ_AS = N_("Read as: {question}")
"""Said above an answer to a follow-up that quoth resolved from the conversation, so the
person sees how it read the question (and can ask again in full when it read it wrong)."""
READ_AS_LIMIT = 300
"""The longest question shown in the line (a resolved question can outgrow the one asked)."""
