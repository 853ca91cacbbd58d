"""Reading a follow-up against the last turn: what a pronoun, *there* or *then* points
to, a question phrase completed from the last question, "What about X?" put in place."""

from __future__ import annotations

import re
from collections.abc import Sequence

from quoth.retrieval.answer_type import _DATE, QuestionType, question_type
from quoth.retrieval.followup.english import (
    AUX,
    FUNCTION_WORDS,
    MOTION,
    PERSON,
    PLACE_PREPOSITIONS,
    PREPOSITIONS,
    THING,
    VERBS,
    WH,
    Word,
    is_fragment,
    lower_first,
    name_spans,
    object_phrase,
    phrase_spans,
    plural_noun,
    subject_phrase,
    upper_first,
    wh_noun,
    wh_phrase,
    without_mark,
    words_of,
)
from quoth.retrieval.followup.turns import (
    FRAGMENT,
    PLACE,
    PRONOUN,
    SWITCH,
    TIME,
    Chooser,
    Reading,
    Turn,
)

_LEADS = ("and ", "but ", "so ", "also ", "then ", "ok ", "okay ")


_SWITCH_LEADS = ("what about ", "how about ", "what of ", "and what about ", "and how about ")


_NOT_SWITCHED = frozenset(("if", "when", "then", "there", "unless", "because", "so")) | (
    AUX | WH | frozenset(PERSON) | frozenset(THING)
)
"""Words that make "And ...?" a clause of its own rather than a thing put in place."""


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


_BOUNDARY = re.compile(
    r",|;|\b(?:and|but|after|before|when|while|because|that|if|whether|assuming|unless|"
    r"said|say|says|claimed|what|which|who|where)\b",
    re.I,
)


_POSSESSIVES = frozenset(("his", "its", "their", "hers", "theirs"))


_SUBJECTS = frozenset(("he", "she", "they"))


def _points_inside(question: str, words: list[Word], position: int) -> bool:
    """Whether the pronoun at ``position`` may point to something in its own question.

    A possessive or a subject points back to any word of substance before it ("Did Sharif
    meet his counterpart?", "Did Pakistan say it shot them down?"); an object, to a name
    across a clause boundary ("When did Sharif land and who met him?"): in one clause the
    subject is not what *it* or *him* stands for ("When did India suspend it?")."""
    word = words[position]
    lower = word.lower
    split = wh_phrase(question)
    asked = len(split[0]) if split is not None else 0  # "Which party does he chair?"
    before = [w for w in words[:position] if w.lower not in FUNCTION_WORDS and w.start >= asked]
    if lower in _POSSESSIVES or (lower == "her" and _modifies(words, position)):
        return bool(before)
    subject = lower in _SUBJECTS or (lower == "it" and _starts_clause(words, position))
    if subject:
        return bool(before)
    return any(
        end <= word.start and _BOUNDARY.search(question, end, word.start)
        for _, end, _ in name_spans(question)
    )


def _modifies(words: list[Word], position: int) -> bool:
    """*her* before a noun is a possessive ("her visit"), else an object ("met her")."""
    following = words[position + 1].lower if position + 1 < len(words) else ""
    return bool(following) and following not in FUNCTION_WORDS | {"too", "also", "again"}


def _starts_clause(words: list[Word], position: int) -> bool:
    """*it* as a subject: right after an auxiliary or a boundary, or before a verb."""
    previous = words[position - 1].lower if position else ""
    following = words[position + 1].lower if position + 1 < len(words) else ""
    verb = following.endswith(("ed", "s")) and following not in FUNCTION_WORDS
    return previous in AUX or following in AUX or verb or not previous


def _wanted(turn: Turn) -> QuestionType:
    return question_type(turn.question)


def _phrase(turn: Turn) -> str | None:
    """The last answer's phrase, where it was claimed: closest passages claim nothing."""
    if turn.state != "answer" or not turn.phrase:
        return None
    return turn.phrase.strip().rstrip(".,;:") or None


def _after_place_word(question: str, start: int) -> bool:
    before = question[:start].split()
    return bool(before) and before[-1].lower() in PLACE_PREPOSITIONS


def _person_referent(turn: Turn) -> str | None:
    phrase = _phrase(turn)
    if phrase and _wanted(turn) is QuestionType.who and phrase[:1].isupper():
        return phrase
    names = [(s, text) for s, _, text in name_spans(turn.question)]
    people = [text for s, text in names if not _after_place_word(turn.question, s)]
    return people[0] if people else None


def _thing_referent(turn: Turn) -> str | None:
    phrase = _phrase(turn)
    subject = subject_phrase(turn.question) if _DEFINITION.match(turn.question) else None
    if subject and not (phrase and _DESCRIPTION.search(subject)):
        return subject  # "What is the graph isomorphism problem?": *it* is that problem
    if phrase and _wanted(turn) in (QuestionType.what, QuestionType.who):
        return phrase
    noun = wh_noun(turn.question)
    if noun:
        return f"the {noun}"
    taken = object_phrase(turn.question) or subject_phrase(turn.question)
    if taken:
        return taken
    names = [text for _, _, text in name_spans(turn.question)]
    return names[-1] if names else None


def _people(turn: Turn) -> str | None:
    """What *they* stands for: a plural answer phrase; the answer's person and the people
    the last question named ("Ishaq Dar and Ararat Mirzoyan"); its plural noun; one thing."""
    phrase = _phrase(turn)
    wanted = _wanted(turn)
    if phrase and wanted is QuestionType.what:
        return phrase
    named = [t for s, _, t in name_spans(turn.question) if not _after_place_word(turn.question, s)]
    if phrase and wanted is QuestionType.who:
        if " and " in phrase or "," in phrase:
            return phrase
        if phrase[:1].isupper():
            named = [phrase, *(name for name in named if name not in phrase)]
    if len(named) >= 2:
        return f"{named[0]} and {named[1]}"
    return plural_noun(turn.question) or (named[0] if named else _thing_referent(turn))


def _place_referent(turn: Turn) -> str | None:
    phrase = _phrase(turn)
    if phrase and _wanted(turn) is QuestionType.where:
        return phrase
    if phrase and _PLACE_QUESTION.match(turn.question):
        return phrase
    places = [t for s, _, t in name_spans(turn.question) if _after_place_word(turn.question, s)]
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


def _with_question_of(fragment: str, turn: Turn) -> str | None:
    """A question phrase completed from the last question: "When?" after "Did India
    suspend the treaty?" reads "When did India suspend the treaty?"."""
    last = without_mark(turn.question)
    words = words_of(last)
    if not words:
        return None
    fragment = upper_first(fragment)
    if words[0].lower in AUX:
        return f"{fragment} {lower_first(last)}?"
    split = wh_phrase(last)
    if split is None:
        return f"{fragment} {lower_first(last)}?" if len(words) > 1 else None
    rest = split[1]
    if not rest:
        return None
    filler = _phrase(turn) or wh_noun(last) or ""
    rest_words = rest.split()
    if rest_words[0].lower() in AUX:  # "What did India suspend" -> "... did India suspend X"
        tail = f" {filler}" if filler and rest_words[0].lower() not in ("is", "are") else ""
        return f"{fragment} {rest}{tail}?"
    return f"{fragment} {filler + ' ' if filler else ''}{rest}?"  # the asked was the subject


def _switched(new: str, turn: Turn, choose: Chooser | None) -> str | None:
    """The last question with ``new`` ("Turkey", "in 2017") where it had a thing of the
    same shape ("Azerbaijan", "in 2016")."""
    last = without_mark(turn.question)
    if not last:
        return None
    first = new.split()[0].lower()
    if first in PREPOSITIONS:  # a phrase: replace the last question's phrase of that preposition
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
    spans = name_spans(last) if named else []
    if choose is not None and not spans:
        spans = phrase_spans(last)
    elif not spans:
        spans = [span for span in phrase_spans(last) if span[2] == wh_noun(last)]
    if not spans:
        return None
    chosen = len(spans) - 1 if choose is None else choose(new, [span[2] for span in spans])
    start, end, old = spans[chosen]
    if old.endswith(("'s", "’s")) and not new.endswith(("'s", "’s")):
        new += old[-2:]  # "Pakistan's foreign minister" -> "Armenia's foreign minister"
    if new.lower().startswith("the ") and last[:start].lower().endswith(("the ", "'s ")):
        new = new[4:]
    return f"{last[:start]}{new}{last[end:]}?"


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
            return without_mark(text[len(lead) :])
    if lowered.startswith("and "):
        rest = without_mark(text[4:])
        words = [w.lower for w in words_of(rest)]
        if words and len(words) <= 4 and not any(w in _NOT_SWITCHED | VERBS for w in words):
            return rest
    return None


def _replace_references(question: str, turn: Turn) -> tuple[str, str | None, bool]:
    """The question with its pronouns, *there* and *then* replaced where they point back;
    also the kind found, and whether anything pointed back at all."""
    words = words_of(question)
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
        if lower in PERSON or lower in THING:
            if (lower in ("it", "its") and expletive_it) or _points_inside(
                question, words, position
            ):
                continue
            found = PRONOUN
            person = lower in PERSON
            name = _person_referent(turn) if person else None
            if lower in ("they", "them", "their", "theirs"):
                name = _people(turn)
            elif not person:
                name = _thing_referent(turn)
            if name is not None:
                suffix = (PERSON | THING)[lower]
                referent = name + suffix if not name.endswith("'s") or not suffix else name
                base = name
        elif lower == "there" and word.start not in existential_there:
            if _points_inside(question, words, position) and position > 0:
                previous = words[position - 1].lower
                if previous not in MOTION:
                    continue
            found = PLACE
            place = _place_referent(turn)
            if place is not None:
                previous = words[position - 1].lower if position else ""
                referent = f"to {place}" if previous in MOTION else f"in {place}"
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
            referent = upper_first(referent)
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
    tail = _FRAGMENT_TAIL.search(without_mark(core))
    fragment = without_mark(core)[: tail.start()] if tail is not None else without_mark(core)
    if is_fragment(fragment):
        resolved = _with_question_of(fragment, last) if last is not None else None
        return Reading(text, resolved or text, FRAGMENT)
    if last is None:
        _, kind, _ = _replace_references(text, Turn("", "refused"))
        return Reading(text, text, kind)
    replaced, kind, pointed = _replace_references(text, last)
    if not pointed:
        return Reading(text, text)
    return Reading(text, replaced, kind)
