"""Follow-up questions read in the context of the turns before them, without an LLM.

People in a chat ask the way they talk: "Did he go to Lachin too?", "And how?", "What about
Turkey?", "In which year?". Asked alone these lose their subject, so retrieval finds the
wrong passages and the reader cannot judge a sentence against a question with a hole in it.
A rewriting language model is the usual mend; quoth has none and answers in milliseconds on
two cores, so it reads a follow-up with a few rules over the last turn instead:

* a pronoun (*he*, *it*, *their*...), *there* or *then* with nothing in the question it could
  point to is replaced by the last answer's phrase (when the last question asked for that kind
  of thing) or by a name from the last question;
* a fragment with no verb of its own ("In which year?", "And how?", "Why was that?") takes the
  rest of the last question;
* "What about X?" / "And X?" puts X where the last question had a name, a number or a phrase
  of the same shape ("And in 2017?" replaces "in 2016").

A question that shows none of these stands alone and is read exactly as sent, whatever came
before (a new topic must not pick up the old subject), and a follow-up with nothing in the
context that fits is answered as sent too: quoth never invents a subject. The reading is
shown to the person ("Read as: ..."), so a wrong guess is seen and can be asked again in full.

This module knows no chat: a question and the turns before it in, the question as read out.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from quoth.retrieval.answer import Answer
from quoth.retrieval.answer_type import _DATE, QuestionType, question_type

Chooser = Callable[[str, Sequence[str]], int]
"""Picks which of several spans of the last question a new one (``X`` of "What about X?")
takes the place of: the index of the most alike. The service passes one that compares their
embeddings; without one, the last span of the same shape is taken."""


@dataclass(frozen=True, slots=True)
class Turn:
    """What quoth keeps of one answered question of a conversation; nothing else."""

    question: str
    """The question as quoth read it (a resolved follow-up is kept resolved, so the next one
    resolves against the full question)."""
    state: str
    """``answer``, ``closest`` or ``refused``."""
    sentence: str | None = None
    """The first quote's marked sentence (bold in the ``answer`` state)."""
    phrase: str | None = None
    """The answer phrase underlined in it, where there was one."""
    document_id: str | None = None

    @classmethod
    def of(cls, answer: Answer) -> Turn:
        """What is kept of an answer: its question as read, its state, and its first quote's
        sentence, phrase and article (the quotes themselves stay in the index)."""
        quote = answer.quotes[0] if answer.shows_quotes else None
        if quote is None:
            return cls(answer.question, answer.state.value)
        phrase = quote.phrase.text if quote.phrase is not None else None
        return cls(answer.question, answer.state.value, quote.sentence, phrase, quote.document_id)

    def to_json(self) -> dict[str, str | None]:
        return {
            "question": self.question,
            "state": self.state,
            "sentence": self.sentence,
            "phrase": self.phrase,
            "document_id": self.document_id,
        }

    @classmethod
    def from_json(cls, data: dict[str, str | None]) -> Turn:
        return cls(
            str(data.get("question") or ""),
            str(data.get("state") or "refused"),
            data.get("sentence"),
            data.get("phrase"),
            data.get("document_id"),
        )


CONTEXT_TURNS = 3
"""The turns a conversation keeps: a follow-up reads the last; a reply, the one it replies to."""

PRONOUN = "pronoun"
PLACE = "there"
TIME = "then"
FRAGMENT = "ellipsis"
SWITCH = "what-about"
KINDS = (PRONOUN, PLACE, TIME, FRAGMENT, SWITCH)
"""What made a question depend on the conversation (metrics count follow-ups by these)."""


@dataclass(frozen=True, slots=True)
class Reading:
    """How a question was read: ``kind`` None means it stands alone."""

    sent: str
    question: str
    """What is answered: the resolved question, or the one sent."""
    kind: str | None = None

    @property
    def follow_up(self) -> bool:
        """The question depends on the conversation (resolved or not)."""
        return self.kind is not None

    @property
    def resolved(self) -> bool:
        return self.question != self.sent


_TOKEN = re.compile(r"[A-Za-z0-9][\w'’.-]*[\w]|[A-Za-z0-9]")
_AUX = frozenset((
    "is", "are", "was", "were", "am", "do", "does", "did", "can", "could", "will", "would",
    "shall", "should", "may", "might", "must", "has", "have", "had", "be", "been",
))  # fmt: skip
_WH = frozenset(("who", "whom", "whose", "what", "which", "when", "where", "why", "how"))
_PREPOSITIONS = frozenset((
    "in", "on", "at", "by", "for", "from", "to", "since", "during", "after", "before", "until",
    "with", "into", "about", "of", "under", "over", "through", "between", "against", "near",
))  # fmt: skip
_PLACE_PREPOSITIONS = frozenset(("in", "to", "at", "from", "into", "near", "visit", "visited"))
_LEADS = ("and ", "but ", "so ", "also ", "then ", "ok ", "okay ")
_SWITCH_LEADS = ("what about ", "how about ", "what of ", "and what about ", "and how about ")
_PERSON = {"he": "", "him": "", "his": "'s", "she": "", "her": "", "hers": "'s"}
_THING = {"it": "", "its": "'s", "they": "", "them": "", "their": "'s", "theirs": "'s"}
_MOTION = frozenset((
    "go", "goes", "went", "gone", "going", "travel", "travelled", "traveled", "come", "came",
    "fly", "flew", "return", "returned", "move", "moved", "head", "headed", "send", "sent",
))  # fmt: skip
_NOT_SWITCHED = frozenset(("if", "when", "then", "there", "unless", "because", "so")) | (
    _AUX | _WH | frozenset(_PERSON) | frozenset(_THING)
)
"""Words that make "And ...?" a clause of its own rather than a thing put in place."""
_QUANTITY = frozenset(("many", "much", "long", "far", "often", "old", "big", "large"))
_VERBS = frozenset((
    "happen", "happens", "say", "says", "said", "go", "goes", "went", "mean", "means", "do",
    "does", "make", "makes", "made", "take", "takes", "took", "come", "came", "get", "got",
    "know", "knew", "think", "see", "saw", "want", "need", "win", "won", "lose", "lost",
))  # fmt: skip
_NOT_PLURAL = frozenset(("does", "was", "has", "this", "its", "his", "hers", "yours", "always"))
_STOP = frozenset(("the", "a", "an", "that", "this", "these", "those", "some", "any", "all"))
_CONNECTORS = frozenset(("of", "the", "'s", "’s", "de", "al", "bin", "and"))
_NOT_NAMES = _AUX | _WH | frozenset(("i", "the", "a", "an", "and", "or", "in", "on", "did"))
_DEFINITION = re.compile(r"\s*what\s+(?:is|are|was|were)\s+(?:a|an|the)?\b", re.IGNORECASE)
"""A question asking what something is: a later *it* means that thing, not its definition."""
_DESCRIPTION = re.compile(
    r"\b(?:most|least|first|last|main|best|name|same|only|one)\b|\b\w{3,}est\b", re.IGNORECASE
)
"""A thing described rather than named ("the most commonly used reduction"): a question
asking what it is identifies it, and *it* then means the answer."""
_PLACE_QUESTION = re.compile(
    r"\s*(?:in|at|to|from|near)\s+(?:which|what)\s+(?!year|month|day|date|time|decade|century)",
    re.IGNORECASE,
)
"""A question that asks for a place with a preposition ("In which district ...")."""
_EXPLETIVE_IT = re.compile(
    r"\b(?:it\s+(?:is|was|'s|has been|will be)\b.*\b(?:that|to)\b"
    r"|(?:is|was)\s+it\s+(?:true|possible|likely|said|reported|the case)"
    r"|(?:is|was)\s+it\s+\w+ed\s+(?:that|whether)\b"
    r"|\bwhat\s+it\s+(?:means|takes|meant|took)\b"
    r"|is\s+it\s+called|it\s+(?:takes|took)\b)",
    re.IGNORECASE,
)
_EXISTENTIAL_THERE = re.compile(
    r"\b(?:is|are|was|were|be|been|isn't|aren't|wasn't|weren't)\s+there\b"
    r"|\bthere\s+(?:\w+ly\s+)?(?:is|are|was|were|be|been|has|have|had|will|seem|seems|'s"
    r"|exist|exists|existed|remain|remains|appear|appears)\b",
    re.IGNORECASE,
)
_FRAGMENT_TAIL = re.compile(
    r"\s+(?:(?:is|was|did|does|do)\s+(?:that|this|it)(?:\s+happen)?|(?:that|this)"
    r"|(?:did|does|do)\s+(?:he|she|they|it)(?:\s+do\s+(?:that|it|so))?)$",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class _Word:
    text: str
    start: int
    end: int

    @property
    def lower(self) -> str:
        return self.text.lower()


def _words(text: str) -> list[_Word]:
    return [_Word(m.group(0), m.start(), m.end()) for m in _TOKEN.finditer(text)]


def _bare(question: str) -> str:
    """The question without its closing punctuation and outer space."""
    return question.strip().rstrip("?!.… ").strip()


def _lower_first(text: str) -> str:
    words = text.split(" ", 1)
    first = words[0]
    if (first.isupper() and len(first) > 1) or first[:1].islower():
        return text  # an acronym, or lower already
    if len(first) > 1 and any(c.isupper() for c in first[1:]):
        return text  # a name like "McDonald"
    if first.lower() in _AUX | _WH | _PREPOSITIONS:
        return first.lower() + (" " + words[1] if len(words) > 1 else "")
    return text


def _upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def _names(question: str) -> list[tuple[int, int, str]]:
    """Spans of capitalised words (joined across *of*, *the*, *'s*), in order: the names a
    pronoun or a "What about X?" may stand for. A sentence's first word counts only when it
    is no question word."""
    words = _words(question)
    spans: list[tuple[int, int, str]] = []
    current: list[_Word] = []

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


_BOUNDARY = re.compile(
    r",|;|\b(?:and|but|after|before|when|while|because|that|if|whether|assuming|unless|"
    r"said|say|says|claimed|what|which|who|where)\b",
    re.I,
)
_POSSESSIVES = frozenset(("his", "its", "their", "hers", "theirs"))
_SUBJECTS = frozenset(("he", "she", "they"))
_CONJUNCTIONS = frozenset(("if", "when", "while", "because", "unless", "and", "or", "but", "so"))
_FUNCTION_WORDS = (
    _AUX | _WH | _PREPOSITIONS | _STOP | _CONJUNCTIONS | frozenset(_PERSON) | frozenset(_THING)
)


def _points_inside(question: str, words: list[_Word], position: int) -> bool:
    """Whether the pronoun at ``position`` may point to something in its own question.

    A possessive or a subject points back to any word of substance before it ("Did Sharif
    meet his counterpart?", "Did Pakistan say it shot them down?"); an object, to a name
    across a clause boundary ("When did Sharif land and who met him?"): in one clause the
    subject is not what *it* or *him* stands for ("When did India suspend it?")."""
    word = words[position]
    lower = word.lower
    split = _wh_phrase(question)
    asked = len(split[0]) if split is not None else 0  # "Which party does he chair?"
    before = [w for w in words[:position] if w.lower not in _FUNCTION_WORDS and w.start >= asked]
    if lower in _POSSESSIVES or (lower == "her" and _modifies(words, position)):
        return bool(before)
    subject = lower in _SUBJECTS or (lower == "it" and _starts_clause(words, position))
    if subject:
        return bool(before)
    return any(
        end <= word.start and _BOUNDARY.search(question, end, word.start)
        for _, end, _ in _names(question)
    )


def _modifies(words: list[_Word], position: int) -> bool:
    """*her* before a noun is a possessive ("her visit"), else an object ("met her")."""
    following = words[position + 1].lower if position + 1 < len(words) else ""
    return bool(following) and following not in _FUNCTION_WORDS | {"too", "also", "again"}


def _starts_clause(words: list[_Word], position: int) -> bool:
    """*it* as a subject: right after an auxiliary or a boundary, or before a verb."""
    previous = words[position - 1].lower if position else ""
    following = words[position + 1].lower if position + 1 < len(words) else ""
    verb = following.endswith(("ed", "s")) and following not in _FUNCTION_WORDS
    return previous in _AUX or following in _AUX or verb or not previous


def _wanted(turn: Turn) -> QuestionType:
    return question_type(turn.question)


def _phrase(turn: Turn) -> str | None:
    """The last answer's phrase, where it was claimed: closest passages claim nothing."""
    if turn.state != "answer" or not turn.phrase:
        return None
    return turn.phrase.strip().rstrip(".,;:") or None


def _after_place_word(question: str, start: int) -> bool:
    before = question[:start].split()
    return bool(before) and before[-1].lower() in _PLACE_PREPOSITIONS


def _person_referent(turn: Turn) -> str | None:
    phrase = _phrase(turn)
    if phrase and _wanted(turn) is QuestionType.who and phrase[:1].isupper():
        return phrase
    names = [(s, text) for s, _, text in _names(turn.question)]
    people = [text for s, text in names if not _after_place_word(turn.question, s)]
    return people[0] if people else None


def _thing_referent(turn: Turn) -> str | None:
    phrase = _phrase(turn)
    subject = _subject(turn.question) if _DEFINITION.match(turn.question) else None
    if subject and not (phrase and _DESCRIPTION.search(subject)):
        return subject  # "What is the graph isomorphism problem?": *it* is that problem
    if phrase and _wanted(turn) in (QuestionType.what, QuestionType.who):
        return phrase
    noun = _wh_noun(turn.question)
    if noun:
        return f"the {noun}"
    taken = _object(turn.question) or _subject(turn.question)
    if taken:
        return taken
    names = [text for _, _, text in _names(turn.question)]
    return names[-1] if names else None


def _object(question: str) -> str | None:
    """The last phrase with an article after the verb ("the index" of "How do I rebuild the
    index?"): what *it* most often means after a question about doing something to it."""
    words = _words(_bare(question))
    first_after_aux = next((i + 1 for i, w in enumerate(words) if w.lower in _AUX), None)
    found = None
    for position, word in enumerate(words):
        if word.lower not in ("the", "a", "an") or position == first_after_aux:
            continue
        end = position + 1
        while end < len(words) and end - position < 5 and words[end].lower not in _FUNCTION_WORDS:
            end += 1
        if end > position + 1:
            found = " ".join(w.text for w in words[position:end])
    return found


def _people(turn: Turn) -> str | None:
    """What *they* stands for: a plural answer phrase; the answer's person and the people
    the last question named ("Ishaq Dar and Ararat Mirzoyan"); its plural noun; one thing."""
    phrase = _phrase(turn)
    wanted = _wanted(turn)
    if phrase and wanted is QuestionType.what:
        return phrase
    named = [t for s, _, t in _names(turn.question) if not _after_place_word(turn.question, s)]
    if phrase and wanted is QuestionType.who:
        if " and " in phrase or "," in phrase:
            return phrase
        if phrase[:1].isupper():
            named = [phrase, *(name for name in named if name not in phrase)]
    if len(named) >= 2:
        return f"{named[0]} and {named[1]}"
    return _plural(turn.question) or (named[0] if named else _thing_referent(turn))


def _modifier(word: str) -> bool:
    """A word that looks like it qualifies the noun after it (a name, a compound, an
    adjective), rather than a verb taking it ("add articles")."""
    return "-" in word or word[:1].isupper() or word.endswith(_ADJECTIVE_ENDINGS)


_ADJECTIVE_ENDINGS = ("al", "ic", "ive", "ous", "ary", "ent", "ant", "ible", "able")


def _plural(question: str) -> str | None:
    """The last plural noun of a question with the word before it ("NP-intermediate
    problems"): what *they* means when no answer phrase or names say."""
    words = _words(_bare(question))
    for position in range(len(words) - 1, 0, -1):
        word = words[position].lower
        if (
            len(word) > 3
            and word.endswith("s")
            and not word.endswith(("ss", "us", "is"))
            and word not in _AUX | _VERBS | _NOT_PLURAL
        ):
            before = words[position - 1]
            if _modifier(before.text) and before.lower not in _FUNCTION_WORDS:
                return f"{before.text} {words[position].text}"
            return words[position].text
    return None


def _subject(question: str) -> str | None:
    """What a *what/why/how* question is about, between its auxiliary and its verb ("a
    decision problem" of "What does a decision problem ask?"; all of "What is X?")."""
    split = _wh_phrase(question)
    if split is None:
        return None
    rest = split[1].split()
    if len(rest) < 2 or rest[0].lower() not in _AUX:
        return None
    if rest[0].lower() in ("is", "are", "was", "were"):
        if len(rest) > 2 and rest[-1].lower().endswith("ed"):
            rest = rest[:-1]  # "What is a sidecar file called": the verb goes
        return " ".join(rest[1:])
    while len(rest) > 2 and rest[-1].lower() in _PREPOSITIONS:
        rest = rest[:-1]  # "Who did X talk to": the verb is before the preposition
    return " ".join(rest[1:-1]) if len(rest) >= 3 else None


def _place_referent(turn: Turn) -> str | None:
    phrase = _phrase(turn)
    if phrase and _wanted(turn) is QuestionType.where:
        return phrase
    if phrase and _PLACE_QUESTION.match(turn.question):
        return phrase
    places = [t for s, _, t in _names(turn.question) if _after_place_word(turn.question, s)]
    return places[-1] if places else None


def _time_referent(turn: Turn) -> str | None:
    phrase = _phrase(turn)
    if phrase and _wanted(turn) is QuestionType.when:
        return phrase
    found = [match.group(0) for match in _DATE.finditer(turn.question)]
    return found[-1] if found else None


def _time_words(moment: str) -> str:
    first = moment.split()[0].lower()
    if first in ("in", "on", "at", "during", "since", "by", "before", "after"):
        return moment
    return f"in {moment}" if first[:1].isdigit() and len(first) == 4 else f"on {moment}"


def _wh_phrase(question: str) -> tuple[str, str] | None:
    """A wh-question split into its question phrase and the rest ("Which problems" / "does
    complexity theory classify"), or None for a question that does not start with one."""
    words = _words(_bare(question))
    if not words:
        return None
    position = 0
    if words[0].lower in _PREPOSITIONS and len(words) > 1 and words[1].lower in _WH:
        position = 1
    if words[position].lower not in _WH:
        return None
    end = position + 1
    if words[position].lower in ("what", "which", "whose", "how") and end < len(words):
        if words[position].lower == "how" and words[end].lower in ("many", "much", "long", "far"):
            end += 1
        while end < len(words) and words[end].lower not in _AUX and end - position < 4:
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
    bare = _bare(question)
    cut = words[end - 1].end
    return bare[:cut], bare[cut:].strip()


def _wh_noun(question: str) -> str | None:
    """The noun a *which/what* question asks about ("problems" of "Which problems ..."),
    the thing a later *it* or *they* may stand for when no answer phrase was claimed."""
    split = _wh_phrase(question)
    if split is None:
        return None
    words = split[0].split()
    if len(words) < 2 or words[0].lower() not in ("which", "what", "whose"):
        return None
    noun = " ".join(words[1:])
    return noun if noun.lower() not in ("kind", "sort", "type") else None


def _is_fragment(text: str) -> bool:
    """A question phrase with no verb of its own: "When?", "In which year?", "How many?",
    "By whom?", "Why was that?"."""
    words = [w.lower for w in _words(text)]
    if not words or len(words) > 4:
        return False
    position = 1 if words[0] in _PREPOSITIONS else 0
    if position >= len(words) or words[position] not in _WH:
        return False
    wh, rest = words[position], words[position + 1 :]
    if any(word in _AUX or word in _VERBS or word.endswith("ed") for word in rest):
        return False
    if wh == "how":
        return not rest or (rest[0] in _QUANTITY and len(rest) <= 2)
    if wh in ("what", "which", "whose"):
        return len(rest) <= 2
    return all(word in ("else", "exactly", "then", "now") for word in rest)


def _with_question_of(fragment: str, turn: Turn) -> str | None:
    """A question phrase completed from the last question: "When?" after "Did India
    suspend the treaty?" reads "When did India suspend the treaty?"."""
    last = _bare(turn.question)
    words = _words(last)
    if not words:
        return None
    fragment = _upper_first(fragment)
    if words[0].lower in _AUX:
        return f"{fragment} {_lower_first(last)}?"
    split = _wh_phrase(last)
    if split is None:
        return f"{fragment} {_lower_first(last)}?" if len(words) > 1 else None
    rest = split[1]
    if not rest:
        return None
    filler = _phrase(turn) or _wh_noun(last) or ""
    rest_words = rest.split()
    if rest_words[0].lower() in _AUX:  # "What did India suspend" -> "... did India suspend X"
        tail = f" {filler}" if filler and rest_words[0].lower() not in ("is", "are") else ""
        return f"{fragment} {rest}{tail}?"
    return f"{fragment} {filler + ' ' if filler else ''}{rest}?"  # the asked was the subject


def _switched(new: str, turn: Turn, choose: Chooser | None) -> str | None:
    """The last question with ``new`` ("Turkey", "in 2017") where it had a thing of the
    same shape ("Azerbaijan", "in 2016")."""
    last = _bare(turn.question)
    if not last:
        return None
    first = new.split()[0].lower()
    if first in _PREPOSITIONS:  # a phrase: replace the last question's phrase of that preposition
        pattern = re.compile(rf"\b{re.escape(first)}\s+(?:the\s+)?[\w'’-]+(?:\s+\d{{4}})?", re.I)
        found = list(pattern.finditer(last))
        if found:
            match = found[-1]
            return f"{last[: match.start()]}{new}{last[match.end() :]}?"
        return f"{last} {new}?"
    dates = list(_DATE.finditer(last))
    if _DATE.fullmatch(new) and dates:
        match = dates[-1]
        return f"{last[: match.start()]}{new}{last[match.end() :]}?"
    numbers = list(re.finditer(r"\b\d[\d,.]*\b", last))
    if re.fullmatch(r"\d[\d,.]*", new) and numbers:
        match = numbers[-1]
        return f"{last[: match.start()]}{new}{last[match.end() :]}?"
    named = re.sub(r"^the\s+", "", new, flags=re.IGNORECASE)[:1].isupper()
    spans = _names(last) if named else []
    if choose is not None and not spans:
        spans = _phrases(last)
    elif not spans:
        spans = [span for span in _phrases(last) if span[2] == _wh_noun(last)]
    if not spans:
        return None
    chosen = len(spans) - 1 if choose is None else choose(new, [span[2] for span in spans])
    start, end, old = spans[chosen]
    if old.endswith(("'s", "’s")) and not new.endswith(("'s", "’s")):
        new += old[-2:]  # "Pakistan's foreign minister" -> "Armenia's foreign minister"
    if new.lower().startswith("the ") and last[:start].lower().endswith(("the ", "'s ")):
        new = new[4:]
    return f"{last[:start]}{new}{last[end:]}?"


MAX_SPANS = 10
"""Spans of the last question a "What about X?" may replace (each is embedded once)."""


def _phrases(question: str) -> list[tuple[int, int, str]]:
    """Runs of one or two content words (no question word, auxiliary, preposition or
    article): what "And civilians?" or "And the average case?" may take the place of."""
    words = _words(question)
    runs: list[list[_Word]] = [[]]
    for position, word in enumerate(words):
        skip = word.lower in _AUX | _WH | _PREPOSITIONS | _STOP | _VERBS or position == 0
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


def _strip_lead(text: str) -> str:
    lowered = text.lower()
    for lead in _LEADS:
        if lowered.startswith(lead):
            return text[len(lead) :].strip()
    return text


def _switch_target(text: str) -> str | None:
    lowered = text.lower()
    for lead in _SWITCH_LEADS:
        if lowered.startswith(lead):
            return _bare(text[len(lead) :])
    if lowered.startswith("and "):
        rest = _bare(text[4:])
        words = [w.lower for w in _words(rest)]
        if words and len(words) <= 4 and not any(w in _NOT_SWITCHED | _VERBS for w in words):
            return rest
    return None


def _replace_references(question: str, turn: Turn) -> tuple[str, str | None, bool]:
    """The question with its pronouns, *there* and *then* replaced where they point back;
    also the kind found, and whether anything pointed back at all."""
    words = _words(question)
    out: list[str] = []
    kept = 0
    kind: str | None = None
    pointed = False
    used: set[str] = set()
    expletive_it = _EXPLETIVE_IT.search(question) is not None
    existential_there = {
        m.start() + m.group(0).lower().find("there") for m in _EXISTENTIAL_THERE.finditer(question)
    }
    for position, word in enumerate(words):
        lower = word.lower
        referent: str | None = None
        base: str | None = None
        found: str | None = None
        if lower in _PERSON or lower in _THING:
            if (lower in ("it", "its") and expletive_it) or _points_inside(
                question, words, position
            ):
                continue
            found = PRONOUN
            person = lower in _PERSON
            name = _person_referent(turn) if person else None
            if lower in ("they", "them", "their", "theirs"):
                name = _people(turn)
            elif not person:
                name = _thing_referent(turn)
            if name is not None:
                suffix = (_PERSON | _THING)[lower]
                referent = name + suffix if not name.endswith("'s") or not suffix else name
                base = name
        elif lower == "there" and word.start not in existential_there:
            if _points_inside(question, words, position) and position > 0:
                previous = words[position - 1].lower
                if previous not in _MOTION:
                    continue
            found = PLACE
            place = _place_referent(turn)
            if place is not None:
                previous = words[position - 1].lower if position else ""
                referent = f"to {place}" if previous in _MOTION else f"in {place}"
        elif lower == "then" and position > 0 and "if" not in {w.lower for w in words[:position]}:
            found = TIME
            moment = _time_referent(turn)
            if moment is not None:
                referent = _time_words(moment)
        if found is None:
            continue
        pointed = True
        kind = kind or found
        if referent is None or (base or referent) in used:
            continue  # "What did he say at his press conference?": the name once is enough
        used.add(base or referent)
        if position == 0:
            referent = _upper_first(referent)
        out.append(question[kept : word.start])
        out.append(referent)
        kept = word.end
    out.append(question[kept:])
    return "".join(out), kind, pointed


def read_in_context(question: str, turns: Sequence[Turn], choose: Chooser | None = None) -> Reading:
    """How to read ``question`` after ``turns`` (oldest first; a reply passes the one turn
    it replies to). Stands alone, or resolved against the last turn; when it depends on the
    conversation but nothing there fits, it is read as sent (``kind`` still says why)."""
    text = " ".join(question.split())
    last = turns[-1] if turns else None
    core = _strip_lead(text)
    target = _switch_target(text)
    if target is not None:
        resolved = _switched(target, last, choose) if last is not None else None
        return Reading(text, resolved or text, SWITCH)
    tail = _FRAGMENT_TAIL.search(_bare(core))
    fragment = _bare(core)[: tail.start()] if tail is not None else _bare(core)
    if _is_fragment(fragment):
        resolved = _with_question_of(fragment, last) if last is not None else None
        return Reading(text, resolved or text, FRAGMENT)
    if last is None:
        _, kind, _ = _replace_references(text, Turn("", "refused"))
        return Reading(text, text, kind)
    replaced, kind, pointed = _replace_references(text, last)
    if not pointed:
        return Reading(text, text)
    return Reading(text, replaced, kind)
