"""Training pairs for the answer model, made from SQuAD-format articles.

Each question gives one positive (the sentence holding its answer, with the neighbours quoth
shows) and negatives of the kinds a chat user actually meets:

- ``paragraph``: another sentence of the answer's own paragraph (the one sharing most terms
  with the question first): marking the sentence *beside* the answer is the commonest error;
- ``article``: the sentence of another paragraph sharing most (stemmed) terms with the question;
- ``removed``: the answering sentence taken out of its article, the question against the
  sentence beside it, its neighbours joined up as if the sentence had never been written: the
  article is on the question's topic and does not answer it;
- ``perturbed``: the question with a name or number swapped for another of the same article,
  against the original answering sentence, as SQuAD 2.0's adversarial questions were written
  ("What did Iran say about the ceasefire?" against what Pakistan said about it);
- ``negated``: the question turned to its negation ("What are Turing machines *not* used
  for?") against the answering sentence, which says no such thing;
- ``opposite``: a word of the question that the answering sentence uses swapped for its
  opposite or another number word ("the *last* ruler", "*three* basic resources"): with
  ``negated``, the commonest kinds of SQuAD 2.0's written-to-mislead unanswerable questions;
- ``impossible``: SQuAD's own unanswerable questions against the sentence holding their
  plausible answer, else their paragraph's best sentence.

No sentence holding the answer text is ever used as a negative. An answering pair also
carries where its answer phrase lies in the sentence (``span``), the target of the model's
second head.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from quoth.corpus.splitting import sentence_spans
from quoth.errors import QuothError
from quoth.index.lexical import tokenize

KINDS = (
    "answer", "paragraph", "article", "removed", "perturbed", "negated", "opposite", "impossible",
)  # fmt: skip


class TrainingDataError(QuothError):
    """The training file cannot be read as SQuAD-format JSON; the message says why."""


@dataclass(frozen=True, slots=True)
class Pair:
    """One (question, candidate sentence) example; ``label`` 1.0 when the sentence answers."""

    question: str
    sentence: str
    before: str
    after: str
    label: float
    kind: str
    article: str
    span: tuple[int, int] | None = None
    """Where the answer phrase lies in ``sentence`` (character offsets), for answering pairs
    whose sentence holds a given answer whole; None for every negative, so an unanswerable
    question's plausible span is never a target."""


@dataclass(frozen=True, slots=True)
class Question:
    text: str
    answers: tuple[tuple[int, str], ...]
    """(start in the paragraph, text) of each given answer; plausible ones when impossible."""
    impossible: bool


@dataclass(frozen=True, slots=True)
class Paragraph:
    start: int
    """Where the paragraph begins in the article's text."""
    questions: tuple[Question, ...]


@dataclass(frozen=True, slots=True)
class Article:
    """An article's paragraphs joined by newlines, as quoth's splitter sees a cleaned article."""

    title: str
    text: str
    paragraphs: tuple[Paragraph, ...]


def load_articles(path: Path) -> list[Article]:
    """Every article of a SQuAD 2.0 JSON file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))["data"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise TrainingDataError(f"{path}: not a SQuAD-format file ({error}).") from error
    articles = []
    for entry in data:
        text, paragraphs = "", []
        for paragraph in entry["paragraphs"]:
            context = paragraph["context"].replace("\n", " ")
            start = len(text) + (1 if text else 0)
            text = f"{text}\n{context}" if text else context
            questions = []
            for qa in paragraph["qas"]:
                impossible = bool(qa.get("is_impossible", False))
                given = qa.get("plausible_answers", []) if impossible else qa["answers"]
                answers = tuple((int(a["answer_start"]), a["text"]) for a in given)
                if answers or impossible:
                    questions.append(Question(qa["question"].strip(), answers, impossible))
            paragraphs.append(Paragraph(start, tuple(questions)))
        articles.append(Article(entry["title"], text, tuple(paragraphs)))
    return articles


def split_articles(
    articles: list[Article], validation: int, seed: int
) -> tuple[list[Article], list[Article]]:
    """(training, validation): ``validation`` whole articles drawn with ``seed``."""
    order = list(range(len(articles)))
    random.Random(seed).shuffle(order)
    held = set(order[:validation])
    return (
        [a for i, a in enumerate(articles) if i not in held],
        [a for i, a in enumerate(articles) if i in held],
    )


@dataclass(frozen=True, slots=True)
class _Sentences:
    spans: list[tuple[int, int]]
    terms: list[set[str]]
    texts: list[str]

    def index_at(self, offset: int) -> int:
        for i, (start, end) in enumerate(self.spans):
            if start <= offset < end:
                return i
        return -1


def _sentences(article: Article) -> _Sentences:
    spans = sentence_spans(article.text)
    texts = [article.text[s:e] for s, e in spans]
    return _Sentences(spans, [set(t) for t in tokenize(texts)], texts)


def _overlap(question: set[str], sentence: set[str]) -> float:
    return len(question & sentence) / (len(question) ** 0.5 + 1e-9) if question else 0.0


def _same_line(sentences: _Sentences, text: str, i: int, j: int) -> bool:
    """Whether sentences ``i`` and ``j`` are in the same paragraph (line of text)."""
    low, high = sorted((sentences.spans[i][0], sentences.spans[j][0]))
    return "\n" not in text[low:high]


def _neighbour(sentences: _Sentences, text: str, i: int, step: int, skip: int = -1) -> str:
    """The sentence next to ``i`` in the same paragraph, passing over ``skip``."""
    j = i + step
    if j == skip:
        j += step
    if not 0 <= j < len(sentences.spans) or not _same_line(sentences, text, i, j):
        return ""
    return sentences.texts[j]


_ENTITY = re.compile(r"\b(?:[A-Z][\w'-]+(?:\s+[A-Z][\w'-]+)*|\d[\d,.]*)\b")


def perturb(question: str, sentence: str, article: str, rng: random.Random) -> str | None:
    """``question`` with one name or number it shares with ``sentence`` replaced by another
    of the same form from the article that the sentence does not contain; None if none fits."""
    shared = [
        m
        for m in _ENTITY.finditer(question)
        if m.group() in sentence and m.start() > 0 and len(m.group()) > 1
    ]
    if not shared:
        return None
    target = rng.choice(shared)
    numeric = target.group()[0].isdigit()
    pool = sorted(
        {
            m.group()
            for m in _ENTITY.finditer(article)
            if m.group()[0].isdigit() == numeric
            and m.group() not in sentence
            and m.group() not in question
            and len(m.group()) > 1
        }
    )
    if not pool:
        return None
    return question[: target.start()] + rng.choice(pool) + question[target.end() :]


_AUXILIARY = re.compile(
    r"^((?:\w+\s+){0,3}\w+)\s+(is|are|was|were|do|does|did|can|could|will|would|has|have|"
    r"had|should)\s+",
    re.IGNORECASE,
)
_CONTRACTED = {"can": "can't", "will": "won't"}
_NEGATION = re.compile(r"\b(?:not|no|never|none|nor|cannot)\b|n't\b", re.IGNORECASE)


def negate(question: str, sentence: str) -> str | None:
    """``question`` with its auxiliary verb negated ("What did X say" -> "What didn't X say");
    None when it has none, is negated already, or ``sentence`` itself negates."""
    found = _AUXILIARY.match(question)
    if found is None or _NEGATION.search(question) or _NEGATION.search(sentence):
        return None
    verb = found.group(2)
    negated = _CONTRACTED.get(verb.lower(), f"{verb}n't")
    if verb[0].isupper():
        negated = negated.capitalize()
    return f"{question[: found.start(2)]}{negated}{question[found.end(2) :]}"


_PAIRS = (
    ("first", "last"), ("earliest", "latest"), ("largest", "smallest"), ("biggest", "smallest"),
    ("highest", "lowest"), ("most", "least"), ("before", "after"), ("increase", "decrease"),
    ("increased", "decreased"), ("north", "south"), ("east", "west"), ("more", "less"),
    ("maximum", "minimum"), ("best", "worst"), ("longest", "shortest"), ("oldest", "youngest"),
    ("larger", "smaller"), ("higher", "lower"), ("major", "minor"), ("began", "ended"),
    ("won", "lost"), ("above", "below"), ("inside", "outside"), ("positive", "negative"),
    ("rise", "fall"), ("rose", "fell"), ("early", "late"), ("strongest", "weakest"),
)  # fmt: skip
_OPPOSITE = dict(_PAIRS) | {b: a for a, b in _PAIRS}
_NUMBERS = ("two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "twelve")
_WORD = re.compile(r"\b[A-Za-z]+\b")


def opposite(question: str, sentence: str, rng: random.Random) -> str | None:
    """``question`` with one word the sentence also uses swapped for its opposite (or a number
    word for another) that the sentence does not use; None when no word fits."""
    used = {w.lower() for w in _WORD.findall(sentence)}
    choices = []
    for match in _WORD.finditer(question):
        word = match.group().lower()
        if word not in used:
            continue
        if word in _OPPOSITE and _OPPOSITE[word] not in used:
            choices.append((match, [_OPPOSITE[word]]))
        elif word in _NUMBERS:
            choices.append((match, [n for n in _NUMBERS if n not in used]))
    if not choices:
        return None
    match, replacements = rng.choice(choices)
    new = rng.choice(replacements)
    if match.group()[0].isupper():
        new = new.capitalize()
    return question[: match.start()] + new + question[match.end() :]


def _pair(
    question: str, sentences: _Sentences, text: str, i: int, label: float, kind: str, title: str,
    skip: int = -1, span: tuple[int, int] | None = None,
) -> Pair:  # fmt: skip
    return Pair(
        question,
        sentences.texts[i],
        _neighbour(sentences, text, i, -1, skip),
        _neighbour(sentences, text, i, 1, skip),
        label,
        kind,
        title,
        span,
    )


def answer_span(
    sentences: _Sentences, i: int, paragraph_start: int, answers: tuple[tuple[int, str], ...]
) -> tuple[int, int] | None:
    """Where a given answer lies whole in sentence ``i``: at its own offset when that falls in
    the sentence, else its text's first occurrence there; None when no answer is inside."""
    sentence, first = sentences.texts[i], sentences.spans[i][0]
    for start, answer in answers:
        offset = paragraph_start + start - first
        if answer and sentence[offset : offset + len(answer)] == answer and offset >= 0:
            return offset, offset + len(answer)
    for _, answer in answers:
        found = sentence.find(answer) if answer else -1
        if found >= 0:
            return found, found + len(answer)
    return None


def article_pairs(
    article: Article, rng: random.Random, questions_per_article: int | None = None,
    perturbed: int = 1, contrasts: bool = False,
) -> Iterator[Pair]:  # fmt: skip
    """The pairs of one article (at most ``questions_per_article`` questions, drawn by ``rng``),
    with up to ``perturbed`` distinct perturbed questions per question, and with
    ``contrasts`` its negated and opposite forms."""
    sentences = _sentences(article)
    if not sentences.spans:
        return
    asked = [(p, q) for p in article.paragraphs for q in p.questions]
    if questions_per_article is not None and len(asked) > questions_per_article:
        asked = rng.sample(asked, questions_per_article)
    for paragraph, question in asked:
        terms = set(tokenize([question.text])[0])
        answers = [text for _, text in question.answers]
        located = [sentences.index_at(paragraph.start + start) for start, _ in question.answers]
        home = next((i for i in located if i >= 0), -1)
        if home >= 0:  # offsets can point at the answer text's first occurrence, not its own
            holding = [
                i
                for i in range(len(sentences.spans))
                if _same_line(sentences, article.text, i, home)
                and any(answer in sentences.texts[i] for answer in answers)
            ]
            home = max(holding or [home], key=lambda i: _overlap(terms, sentences.terms[i]))
        if home < 0:
            home = sentences.index_at(paragraph.start)
            if home < 0:
                continue

        def clean(i: int, answers: list[str] = answers) -> bool:
            return not any(answer in sentences.texts[i] for answer in answers)

        others = [i for i in range(len(sentences.spans)) if i != home and clean(i)]
        in_paragraph = [i for i in others if _same_line(sentences, article.text, i, home)]
        elsewhere = [i for i in others if not _same_line(sentences, article.text, i, home)]
        by_overlap = sorted(in_paragraph, key=lambda i: -_overlap(terms, sentences.terms[i]))
        best_elsewhere = max(
            elsewhere, key=lambda i: _overlap(terms, sentences.terms[i]), default=None
        )
        title = article.title
        if question.impossible:
            target = home if question.answers else (by_overlap or [home])[0]
            yield _pair(question.text, sentences, article.text, target, 0.0, "impossible", title)
            continue
        span = answer_span(sentences, home, paragraph.start, question.answers)
        yield _pair(question.text, sentences, article.text, home, 1.0, "answer", title, span=span)
        if by_overlap:
            yield _pair(question.text, sentences, article.text, by_overlap[0], 0.0, "paragraph",
                        title)  # fmt: skip
            rest = by_overlap[1:]
            if rest:
                yield _pair(question.text, sentences, article.text, rng.choice(rest), 0.0,
                            "paragraph", title)  # fmt: skip
        adjacent = [i for i in (home - 1, home + 1) if i in in_paragraph]
        if adjacent:  # the answer taken out: its neighbours now stand side by side
            nearest = max(adjacent, key=lambda i: _overlap(terms, sentences.terms[i]))
            yield _pair(question.text, sentences, article.text, nearest, 0.0, "removed", title,
                        skip=home)  # fmt: skip
        if best_elsewhere is not None:
            yield _pair(question.text, sentences, article.text, best_elsewhere, 0.0, "article",
                        title)  # fmt: skip
        made: set[str] = set()
        for _ in range(perturbed):  # several names or numbers swapped, one at a time
            changed = perturb(question.text, sentences.texts[home], article.text, rng)
            if changed is not None and changed not in made:
                made.add(changed)
                yield _pair(changed, sentences, article.text, home, 0.0, "perturbed", title)
        if contrasts:
            negated = negate(question.text, sentences.texts[home])
            if negated is not None:
                yield _pair(negated, sentences, article.text, home, 0.0, "negated", title)
            swapped = opposite(question.text, sentences.texts[home], rng)
            if swapped is not None:
                yield _pair(swapped, sentences, article.text, home, 0.0, "opposite", title)


def build_pairs(
    articles: list[Article], seed: int, questions_per_article: int | None = None,
    perturbed: int = 1, contrasts: bool = False,
) -> list[Pair]:  # fmt: skip
    """Every article's pairs, reproducibly: each article draws from its own generator, seeded
    with ``seed`` and its title, so articles can be built apart (:func:`build_pairs_parallel`)
    and still give the same pairs."""
    return [
        pair
        for article in articles
        for pair in article_pairs(
            article, random.Random(f"{seed}/{article.title}"), questions_per_article, perturbed,
            contrasts,
        )
    ]  # fmt: skip


def build_pairs_parallel(
    articles: list[Article], seed: int, questions_per_article: int | None = None,
    perturbed: int = 1, contrasts: bool = False, processes: int | None = None,
) -> list[Pair]:  # fmt: skip
    """:func:`build_pairs` on every core: sentence splitting dominates a full training file."""
    from concurrent.futures import ProcessPoolExecutor
    from functools import partial

    if processes == 1 or len(articles) < 2:
        return build_pairs(articles, seed, questions_per_article, perturbed, contrasts)
    build = partial(
        build_pairs, seed=seed, questions_per_article=questions_per_article,
        perturbed=perturbed, contrasts=contrasts,
    )  # fmt: skip
    with ProcessPoolExecutor(processes) as pool:
        parts = pool.map(build, [[a] for a in articles], chunksize=4)
        return [pair for part in parts for pair in part]


@dataclass(frozen=True, slots=True)
class Candidate:
    sentence: str
    before: str
    after: str


@dataclass(frozen=True, slots=True)
class ValidationCase:
    """One answerable question with every sentence of its paragraph, for measuring a model.

    ``removed`` is the same paragraph with the answering sentence taken out (its neighbours
    joined); ``perturbed`` the question with a name or number swapped, when one could be."""

    question: str
    candidates: tuple[Candidate, ...]
    answer: int
    removed: tuple[Candidate, ...]
    perturbed: str | None


def _candidate(sentences: _Sentences, text: str, i: int, skip: int = -1) -> Candidate:
    return Candidate(
        sentences.texts[i],
        _neighbour(sentences, text, i, -1, skip),
        _neighbour(sentences, text, i, 1, skip),
    )


def validation_cases(articles: list[Article], per_article: int, seed: int) -> list[ValidationCase]:
    """Up to ``per_article`` answerable questions of each article, drawn with ``seed``."""
    rng = random.Random(seed)
    cases = []
    for article in articles:
        sentences = _sentences(article)
        if not sentences.spans:
            continue
        asked = [(p, q) for p in article.paragraphs for q in p.questions if not q.impossible]
        for paragraph, question in rng.sample(asked, min(per_article, len(asked))):
            start, answer = question.answers[0]
            home = sentences.index_at(paragraph.start + start)
            if home < 0:
                continue
            row = [
                i
                for i in range(len(sentences.spans))
                if _same_line(sentences, article.text, i, home)
            ]
            if len(row) < 2 or any(answer in sentences.texts[i] for i in row if i != home):
                continue

            cases.append(
                ValidationCase(
                    question.text,
                    tuple(_candidate(sentences, article.text, i) for i in row),
                    row.index(home),
                    tuple(_candidate(sentences, article.text, i, home) for i in row if i != home),
                    perturb(question.text, sentences.texts[home], article.text, rng),
                )
            )
    return cases
