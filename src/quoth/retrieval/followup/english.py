"""The English a follow-up is read with: word lists, and the shapes of a question (its
question phrase, its names, its subject and object, its plural nouns), by rule, without a
parser or a model: cheap enough to run on every question."""

from __future__ import annotations

import re
from dataclasses import dataclass

_TOKEN = re.compile(r"[A-Za-z0-9][\w'’.-]*[\w]|[A-Za-z0-9]")


AUX = frozenset((
    "is", "are", "was", "were", "am", "do", "does", "did", "can", "could", "will", "would",
    "shall", "should", "may", "might", "must", "has", "have", "had", "be", "been",
))  # fmt: skip


WH = frozenset(("who", "whom", "whose", "what", "which", "when", "where", "why", "how"))


PREPOSITIONS = frozenset((
    "in", "on", "at", "by", "for", "from", "to", "since", "during", "after", "before", "until",
    "with", "into", "about", "of", "under", "over", "through", "between", "against", "near",
))  # fmt: skip


PLACE_PREPOSITIONS = frozenset(("in", "to", "at", "from", "into", "near", "visit", "visited"))


PERSON = {"he": "", "him": "", "his": "'s", "she": "", "her": "", "hers": "'s"}


THING = {"it": "", "its": "'s", "they": "", "them": "", "their": "'s", "theirs": "'s"}


MOTION = frozenset((
    "go", "goes", "went", "gone", "going", "travel", "travelled", "traveled", "come", "came",
    "fly", "flew", "return", "returned", "move", "moved", "head", "headed", "send", "sent",
))  # fmt: skip


QUANTITY = frozenset(("many", "much", "long", "far", "often", "old", "big", "large"))


VERBS = frozenset((
    "happen", "happens", "say", "says", "said", "go", "goes", "went", "mean", "means", "do",
    "does", "make", "makes", "made", "take", "takes", "took", "come", "came", "get", "got",
    "know", "knew", "think", "see", "saw", "want", "need", "win", "won", "lose", "lost",
))  # fmt: skip


_NOT_PLURAL = frozenset(("does", "was", "has", "this", "its", "his", "hers", "yours", "always"))


STOP = frozenset(("the", "a", "an", "that", "this", "these", "those", "some", "any", "all"))


_CONNECTORS = frozenset(("of", "the", "'s", "’s", "de", "al", "bin", "and"))


_NOT_NAMES = AUX | WH | frozenset(("i", "the", "a", "an", "and", "or", "in", "on", "did"))


@dataclass(frozen=True, slots=True)
class Word:
    text: str
    start: int
    end: int

    @property
    def lower(self) -> str:
        return self.text.lower()


def words_of(text: str) -> list[Word]:
    return [Word(m.group(0), m.start(), m.end()) for m in _TOKEN.finditer(text)]


def without_mark(question: str) -> str:
    """The question without its closing punctuation and outer space."""
    return question.strip().rstrip("?!.… ").strip()


def lower_first(text: str) -> str:
    words = text.split(" ", 1)
    first = words[0]
    if (first.isupper() and len(first) > 1) or first[:1].islower():
        return text  # an acronym, or lower already
    if len(first) > 1 and any(c.isupper() for c in first[1:]):
        return text  # a name like "McDonald"
    if first.lower() in AUX | WH | PREPOSITIONS:
        return first.lower() + (" " + words[1] if len(words) > 1 else "")
    return text


def upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def name_spans(question: str) -> list[tuple[int, int, str]]:
    """Spans of capitalised words (joined across *of*, *the*, *'s*), in order: the names a
    pronoun or a "What about X?" may stand for. A sentence's first word counts only when it
    is no question word."""
    words = words_of(question)
    spans: list[tuple[int, int, str]] = []
    current: list[Word] = []

    def close() -> None:
        while current and current[-1].lower in _CONNECTORS:
            current.pop()
        if current:
            start, end = current[0].start, current[-1].end
            spans.append((start, end, question[start:end]))
        current.clear()

    for position, word in enumerate(words):
        capital = word.text[:1].isupper() and not (position == 0 and word.lower in _NOT_NAMES)
        if (capital and word.lower != "i") or (current and word.lower in _CONNECTORS):
            current.append(word)
        else:
            close()
    close()
    return spans


CONJUNCTIONS = frozenset(("if", "when", "while", "because", "unless", "and", "or", "but", "so"))


FUNCTION_WORDS = (
    AUX | WH | PREPOSITIONS | STOP | CONJUNCTIONS | frozenset(PERSON) | frozenset(THING)
)


def object_phrase(question: str) -> str | None:
    """The last phrase with an article after the verb ("the index" of "How do I rebuild the
    index?"): what *it* most often means after a question about doing something to it."""
    words = words_of(without_mark(question))
    first_after_aux = next((i + 1 for i, w in enumerate(words) if w.lower in AUX), None)
    found = None
    for position, word in enumerate(words):
        if word.lower not in ("the", "a", "an") or position == first_after_aux:
            continue
        end = position + 1
        while end < len(words) and end - position < 5 and words[end].lower not in FUNCTION_WORDS:
            end += 1
        if end > position + 1:
            found = " ".join(w.text for w in words[position:end])
    return found


def _modifier(word: str) -> bool:
    """A word that looks like it qualifies the noun after it (a name, a compound, an
    adjective), rather than a verb taking it ("add articles")."""
    return "-" in word or word[:1].isupper() or word.endswith(_ADJECTIVE_ENDINGS)


_ADJECTIVE_ENDINGS = ("al", "ic", "ive", "ous", "ary", "ent", "ant", "ible", "able")


def plural_noun(question: str) -> str | None:
    """The last plural noun of a question with the word before it ("NP-intermediate
    problems"): what *they* means when no answer phrase or names say."""
    words = words_of(without_mark(question))
    for position in range(len(words) - 1, 0, -1):
        word = words[position].lower
        if (
            len(word) > 3
            and word.endswith("s")
            and not word.endswith(("ss", "us", "is"))
            and word not in AUX | VERBS | _NOT_PLURAL
        ):
            before = words[position - 1]
            if _modifier(before.text) and before.lower not in FUNCTION_WORDS:
                return f"{before.text} {words[position].text}"
            return words[position].text
    return None


def subject_phrase(question: str) -> str | None:
    """What a *what/why/how* question is about, between its auxiliary and its verb ("a
    decision problem" of "What does a decision problem ask?"; all of "What is X?")."""
    split = wh_phrase(question)
    if split is None:
        return None
    rest = split[1].split()
    if len(rest) < 2 or rest[0].lower() not in AUX:
        return None
    if rest[0].lower() in ("is", "are", "was", "were"):
        if len(rest) > 2 and rest[-1].lower().endswith("ed"):
            rest = rest[:-1]  # "What is a sidecar file called": the verb goes
        return " ".join(rest[1:])
    while len(rest) > 2 and rest[-1].lower() in PREPOSITIONS:
        rest = rest[:-1]  # "Who did X talk to": the verb is before the preposition
    return " ".join(rest[1:-1]) if len(rest) >= 3 else None


def wh_phrase(question: str) -> tuple[str, str] | None:
    """A wh-question split into its question phrase and the rest ("Which problems" / "does
    complexity theory classify"), or None for a question that does not start with one."""
    words = words_of(without_mark(question))
    if not words:
        return None
    position = 0
    if words[0].lower in PREPOSITIONS and len(words) > 1 and words[1].lower in WH:
        position = 1
    if words[position].lower not in WH:
        return None
    end = position + 1
    if words[position].lower in ("what", "which", "whose", "how") and end < len(words):
        if words[position].lower == "how" and words[end].lower in ("many", "much", "long", "far"):
            end += 1
        while end < len(words) and words[end].lower not in AUX and end - position < 4:
            if words[position].lower == "how" and end > position + 1:
                break
            end += 1
            if words[position].lower == "how" and words[end - 1].lower not in (
                "many",
                "much",
                "long",
                "far",
                "often",
                "old",
            ):
                break
    bare = without_mark(question)
    cut = words[end - 1].end
    return bare[:cut], bare[cut:].strip()


def wh_noun(question: str) -> str | None:
    """The noun a *which/what* question asks about ("problems" of "Which problems ..."),
    the thing a later *it* or *they* may stand for when no answer phrase was claimed."""
    split = wh_phrase(question)
    if split is None:
        return None
    words = split[0].split()
    if len(words) < 2 or words[0].lower() not in ("which", "what", "whose"):
        return None
    noun = " ".join(words[1:])
    return noun if noun.lower() not in ("kind", "sort", "type") else None


def is_fragment(text: str) -> bool:
    """A question phrase with no verb of its own: "When?", "In which year?", "How many?",
    "By whom?", "Why was that?"."""
    words = [w.lower for w in words_of(text)]
    if not words or len(words) > 4:
        return False
    position = 1 if words[0] in PREPOSITIONS else 0
    if position >= len(words) or words[position] not in WH:
        return False
    wh, rest = words[position], words[position + 1 :]
    if any(word in AUX or word in VERBS or word.endswith("ed") for word in rest):
        return False
    if wh == "how":
        return not rest or (rest[0] in QUANTITY and len(rest) <= 2)
    if wh in ("what", "which", "whose"):
        return len(rest) <= 2
    return all(word in ("else", "exactly", "then", "now") for word in rest)


MAX_SPANS = 10
"""Spans of the last question a "What about X?" may replace (each is embedded once)."""


def phrase_spans(question: str) -> list[tuple[int, int, str]]:
    """Runs of one or two content words (no question word, auxiliary, preposition or
    article): what "And civilians?" or "And the average case?" may take the place of."""
    words = words_of(question)
    runs: list[list[Word]] = [[]]
    for position, word in enumerate(words):
        skip = word.lower in AUX | WH | PREPOSITIONS | STOP | VERBS or position == 0
        if skip or word.lower.endswith("'s"):
            runs.append([])
        else:
            runs[-1].append(word)
    spans: list[tuple[int, int, str]] = []
    for run in runs:
        for size in (2, 1):
            for first in range(len(run) - size + 1):
                start, end = run[first].start, run[first + size - 1].end
                spans.append((start, end, question[start:end]))
    return spans[:MAX_SPANS]
