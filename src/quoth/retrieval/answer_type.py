"""What kind of answer a question wants, and whether a sentence holds one of that kind.

A *who* question is answered by a sentence that names someone, a *when* question by one with
a date, a *how many* question by one with a number. The cross-encoder judges topic and
wording well but often marks the sentence beside the answer (the headline before the byline);
this cheap, corpus-independent check is one of the signals that choose the sentence, and it
gives evaluation its breakdown by question type.

Questions in other languages name their answer type with their own words, listed per
language in ``question_words.json``; the sentences checked are English (the articles').
"""

from __future__ import annotations

import functools
import json
import re
from enum import StrEnum
from importlib import resources


class QuestionType(StrEnum):
    who = "who"
    when = "when"
    where = "where"
    quantity = "how many-much"
    what = "what-which"
    why_how = "why-how"
    yes_no = "yes-no"


_WORDS = re.compile(r"[A-Za-z]+")
_ANY_WORD = re.compile(r"\w+")
_AUXILIARIES = frozenset((
    "is", "are", "was", "were", "am", "do", "does", "did", "can", "could", "will", "would",
    "shall", "should", "may", "might", "must", "has", "have", "had",
))  # fmt: skip
_QUANTITY_AFTER_HOW = frozenset((
    "many", "much", "long", "old", "far", "big", "large", "often", "tall", "fast", "high",
    "deep", "wide", "heavy", "few",
))  # fmt: skip
_TIME_NOUNS = frozenset(
    ("year", "years", "date", "day", "month", "decade", "century", "time", "era", "period")
)
_PLACE_NOUNS = frozenset(
    ("country", "city", "place", "location", "region", "town", "state", "continent")
)
_PERSON_NOUNS = frozenset(
    ("person", "man", "woman", "name", "author", "leader", "president", "minister")
)

_MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december|"
    "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)
_DATE = re.compile(
    rf"\b(?:1[0-9]{{3}}|20[0-9]{{2}})s?\b|\b(?:{_MONTHS})\.?\s+\d|\d\s+(?:{_MONTHS})\b|"
    r"\b(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|yesterday|today|tomorrow)\b|"
    r"\b\w+(?:th|st|nd|rd) century\b|\b(?:last|next|this|earlier|later) "
    r"(?:year|month|week|decade)\b|\b\d+ (?:years?|months?|days?|weeks?) (?:ago|later|after)\b",
    re.IGNORECASE,
)
_NUMBER = re.compile(
    r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|"
    r"forty|fifty|hundred|hundreds|thousand|thousands|million|millions|billion|trillion|dozen|"
    r"dozens|half|percent|single|double|twice|several|few)\b",
    re.IGNORECASE,
)
_NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]+(?:[-' ][A-Z][a-z]+)*")


@functools.cache
def _question_words() -> dict[str, list[tuple[QuestionType, tuple[str, ...]]]]:
    table = json.loads(
        resources.files("quoth.retrieval").joinpath("question_words.json").read_text("utf-8")
    )
    return {
        language: [(QuestionType(kind), tuple(phrases)) for kind, phrases in kinds.items()]
        for language, kinds in table.items()
        if language != "about"
    }


def question_type(question: str, language: str = "en") -> QuestionType:
    """The answer type from the question's first wh-word (or its leading auxiliary); in
    another language, from its question words (``what`` where quoth knows none)."""
    if language != "en":
        text = " " + " ".join(_ANY_WORD.findall(question.lower())) + " "
        for kind, phrases in _question_words().get(language, []):
            if any(f" {phrase} " in text for phrase in phrases):
                return kind
        return QuestionType.what
    words = [word.lower() for word in _WORDS.findall(question)]
    for position, word in enumerate(words):
        following = words[position + 1] if position + 1 < len(words) else ""
        if word in ("who", "whom", "whose"):
            return QuestionType.who
        if word == "when":
            return QuestionType.when
        if word == "where":
            return QuestionType.where
        if word == "how":
            return (
                QuestionType.quantity if following in _QUANTITY_AFTER_HOW else QuestionType.why_how
            )
        if word == "why":
            return QuestionType.why_how
        if word in ("what", "which"):
            if following in _TIME_NOUNS:
                return QuestionType.when
            if following in _PLACE_NOUNS:
                return QuestionType.where
            if following in _PERSON_NOUNS:
                return QuestionType.who
            if following in ("percentage", "percent", "number", "amount"):
                return QuestionType.quantity
            return QuestionType.what
    if words and words[0] in _AUXILIARIES:
        return QuestionType.yes_no
    return QuestionType.what


def _names(text: str) -> set[str]:
    return {match.group(0).lower() for match in _NAME.finditer(text)}


def holds_answer_type(kind: QuestionType, sentence: str, question: str) -> bool | None:
    """Whether ``sentence`` has something of the wanted kind that the question lacks.

    None when the type names no kind of thing (what, why, yes/no): no evidence either way.
    """
    if kind is QuestionType.when:
        asked = {match.group(0).lower() for match in _DATE.finditer(question)}
        return any(match.group(0).lower() not in asked for match in _DATE.finditer(sentence))
    if kind is QuestionType.quantity:
        asked = {match.group(0).lower() for match in _NUMBER.finditer(question)}
        return any(match.group(0).lower() not in asked for match in _NUMBER.finditer(sentence))
    if kind in (QuestionType.who, QuestionType.where):
        return bool(_names(sentence) - _names(question))
    return None
