"""Which language a question is in, and whether it takes the English pipeline.

py3langid (the maintained fork of langid.py; its model ships inside the package) names one
of 97 languages in well under a millisecond. Short questions full of foreign names fool any
detector ("When did Heydar Aliyev visit Pakistan?" reads as Turkish), so a question in Latin
script leaves the English pipeline only when the detector is sure; Cyrillic, Arabic and
other scripts are not English whatever it says.
"""

from __future__ import annotations

import functools
import unicodedata
from dataclasses import dataclass
from typing import Any

ENGLISH = "en"
SURE = 0.9
"""Least probability for a Latin-script question to count as not English."""


@dataclass(frozen=True, slots=True)
class Language:
    code: str
    """ISO 639-1 code, as the detector names it."""
    probability: float
    latin: bool

    @property
    def english(self) -> bool:
        return self.code == ENGLISH or (self.latin and self.probability < SURE)


@functools.cache
def _identifier() -> Any:
    from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_modelpath(MODEL_DIR / MODEL_FILE, norm_probs=True)


def latin_share(text: str) -> float:
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return 1.0
    latin = sum("LATIN" in unicodedata.name(c, "") for c in letters)
    return latin / len(letters)


def detect(text: str) -> Language:
    code, probability = _identifier().classify(text)
    return Language(str(code), float(probability), latin_share(text) >= 0.5)


_URDU_LETTERS = frozenset("ٹڈڑںےۓہھ")


def script_language(text: str) -> str | None:
    """The language a question's script alone gives away, without loading the detector:
    Cyrillic is read as Russian, Arabic script with Urdu's own letters as Urdu; anything
    else (Latin above all: English, Turkish, Azerbaijani) is left undecided."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return None
    cyrillic = sum("CYRILLIC" in unicodedata.name(c, "") for c in letters)
    if cyrillic * 2 > len(letters):
        return "ru"
    if any(c in _URDU_LETTERS for c in letters):
        return "ur"
    return None


def article_language(text: str) -> str:
    """An article's language: its script's where that tells (Cyrillic, Urdu), else the
    detector's over its opening where it is sure, else English."""
    opening = text[:2000]
    by_script = script_language(opening)
    if by_script is not None:
        return by_script
    found = detect(opening)
    return ENGLISH if found.english else found.code
