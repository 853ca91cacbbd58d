"""Measure answer quality on a question file, as moderators do after changing the corpus.

File format (JSON Lines), one question per line::

    {"id": "q1", "question": "...", "answerable": true, "docs": ["article-id"],
     "evidence": ["text a correct quote contains"]}

or one dialogue per line, its turns asked in order as one person in a private chat (each
turn is a question as above, without ``id``; ``kind`` and ``written_out`` are for reports
of follow-ups: what the turn tests, and the same question written out in full by hand)::

    {"id": "d1", "turns": [{"question": "...", "answerable": true, ...}, ...]}
"""

from __future__ import annotations

import json
import statistics
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from quoth.errors import QuothError
from quoth.index.reader import article_text
from quoth.retrieval.answer import Answer
from quoth.retrieval.answer_type import QuestionType, question_type
from quoth.retrieval.followup import CONTEXT_TURNS, Turn
from quoth.retrieval.phrase import MarkedPhrase, exact_match, token_f1
from quoth.retrieval.ranking import MODES
from quoth.retrieval.service import AnsweringService

RANKS = (1, 3, 5)
_QUOTES = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"', "`": "'"})


class EvalFileError(QuothError, ValueError):
    """The question file cannot be read; the message names the line."""


class EvalQuestion(BaseModel):
    id: str
    question: str
    answerable: bool
    docs: list[str] = []
    evidence: list[str] = []
    language: str | None = None
    """The language the question is written in, for the breakdown by language; without it,
    the language quoth detects."""


class EvalTurn(BaseModel):
    question: str
    answerable: bool
    docs: list[str] = []
    evidence: list[str] = []
    kind: str | None = None
    """What the turn tests (pronoun, there, then, ellipsis, what-about, ...), for reports."""
    written_out: str | None = None
    """The same question written out in full by hand, for reports."""


class EvalDialogue(BaseModel):
    id: str
    turns: list[EvalTurn]

    def questions(self) -> list[EvalQuestion]:
        return [
            EvalQuestion(
                id=self.id,
                question=turn.question,
                answerable=turn.answerable,
                docs=turn.docs,
                evidence=turn.evidence,
            )
            for turn in self.turns
        ]


EvalItem = EvalQuestion | EvalDialogue


def normalise_text(text: str) -> str:
    """Case-, quote- and whitespace-insensitive form used to match evidence strings."""
    return " ".join(text.translate(_QUOTES).lower().split())


def contains_evidence(text: str, evidence: list[str]) -> bool:
    haystack = normalise_text(text)
    return any(normalise_text(item) in haystack for item in evidence)


def load_questions(path: Path) -> list[EvalQuestion]:
    """The questions of a file of single questions (what fitting and calibration read)."""
    items = load_items(path)
    questions = [item for item in items if isinstance(item, EvalQuestion)]
    if len(questions) != len(items):
        raise EvalFileError(f"{path} holds dialogues; only quoth eval reads those.")
    return questions


def load_items(path: Path) -> list[EvalItem]:
    """Questions and dialogues, in the file's order (what ``quoth eval`` reads)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise EvalFileError(f"Cannot read {path}: {error}") from None
    questions: list[EvalItem] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            is_dialogue = isinstance(data, dict) and "turns" in data
            model = EvalDialogue if is_dialogue else EvalQuestion
            questions.append(model.model_validate(data))
        except (json.JSONDecodeError, ValidationError) as error:
            first = str(error).splitlines()[0]
            raise EvalFileError(f"{path}:{number}: not a valid question ({first})") from None
    if not questions:
        raise EvalFileError(f"{path} holds no questions.")
    return questions


@dataclass(frozen=True, slots=True)
class ShownQuote:
    """A quote as the chat shows it on the first page: the marked sentence in its context."""

    sentence: str
    before: str
    after: str
    document_id: str
    score: float

    def text(self) -> str:
        return " ".join(part for part in (self.before, self.sentence, self.after) if part)


@dataclass(slots=True)
class QuestionResult:
    id: str
    question: str
    question_type: str
    language: str
    answerable: bool
    answered: bool
    """Given a bold answer (the ``answer`` state)."""
    top_score: float
    evidence_rank: int | None
    quote_hit: bool
    """The answer was claimed (bold) and its marked sentence holds the evidence."""
    answer_on_first_page: bool
    """Some quote of the first page holds the evidence, in its sentence or its context."""
    quoted: str | None
    quotes: list[ShownQuote]
    seconds: float
    phrase: MarkedPhrase | None = None
    """The answer phrase underlined in the first quote's marked sentence, if any."""
    phrase_exact: bool = False
    """The phrase is one of the evidence strings (SQuAD's answers), as SQuAD scores it."""
    phrase_f1: float = 0.0
    state: str = "answer"
    """``answer``, ``closest`` or ``refused``."""
    sentence_hit: bool = False
    """The first quote's sentence holds the evidence, claimed or not: what ranking got right,
    whatever the decision made of it."""
    turn: int | None = None
    """The turn of a dialogue (1, 2, ...); None for a question asked alone."""
    resolved: str | None = None
    """A follow-up as quoth read it from the turns before; None when read as sent."""

    @property
    def refused(self) -> bool:
        return self.state == "refused"


@dataclass(frozen=True, slots=True)
class Breakdown:
    """The user-facing figures for the questions of one type, or of one language."""

    questions: int
    answerable: int
    quote_hit: float
    answer_on_first_page: float
    false_refusal_rate: float
    refusal_accuracy: float | None


@dataclass(slots=True)
class EvalReport:
    questions: int
    answerable: int
    unanswerable: int
    evidence_top1: float
    evidence_top3: float
    evidence_top5: float
    mrr: float
    quote_hit: float
    answer_on_first_page: float
    refusal_accuracy: float
    """Unanswerable questions refused."""
    false_refusal_rate: float
    """Answerable questions refused (not shown even the closest passages)."""
    false_answer_rate: float
    """Unanswerable questions given a bold answer."""
    latency_p50_ms: float
    results: list[QuestionResult]
    phrase_shown: float = 0.0
    """Of the answerable questions whose marked sentence is right, the share with a phrase
    underlined; of those, the phrases that match an evidence string exactly and their F1."""
    phrase_exact: float = 0.0
    phrase_f1: float = 0.0
    claims_right: float = 0.0
    """Of the bold answers given (to any question), the share whose sentence holds the answer."""
    closest_rate: float = 0.0
    """Of all questions, the share shown the closest passages with no claim."""
    sentence_hit: float = 0.0
    """Of the answerable questions, the share whose first quote's sentence holds the answer,
    shown in bold or as a closest passage."""

    def metrics(self) -> dict[str, float | int]:
        data = asdict(self)
        data.pop("results")
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in data.items()}

    def by_type(self) -> dict[str, Breakdown]:
        """The figures per question type, in a fixed order; types with no question are left out."""
        breakdown = {}
        for kind in QuestionType:
            chosen = [r for r in self.results if r.question_type == kind.value]
            if chosen:
                breakdown[kind.value] = _breakdown(chosen)
        return breakdown

    def by_language(self) -> dict[str, Breakdown]:
        """The figures per question language, the most frequent first."""
        counts = Counter(r.language for r in self.results)
        return {
            language: _breakdown([r for r in self.results if r.language == language])
            for language, _ in counts.most_common()
        }

    def to_json(self) -> dict[str, Any]:
        def rounded(groups: dict[str, Breakdown]) -> dict[str, dict[str, Any]]:
            return {
                name: {k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(b).items()}
                for name, b in groups.items()
            }

        return {
            "metrics": self.metrics(),
            "by_type": rounded(self.by_type()),
            "by_language": rounded(self.by_language()),
            "results": [asdict(r) for r in self.results],
        }


def _ratio(part: float, whole: int) -> float:
    return part / whole if whole else 0.0


def _breakdown(results: list[QuestionResult]) -> Breakdown:
    answerable = [r for r in results if r.answerable]
    unanswerable = [r for r in results if not r.answerable]
    n = len(answerable)
    return Breakdown(
        questions=len(results),
        answerable=n,
        quote_hit=_ratio(sum(r.quote_hit for r in answerable), n),
        answer_on_first_page=_ratio(sum(r.answer_on_first_page for r in answerable), n),
        false_refusal_rate=_ratio(sum(r.refused for r in answerable), n),
        refusal_accuracy=(
            _ratio(sum(r.refused for r in unanswerable), len(unanswerable))
            if unanswerable
            else None
        ),
    )


def shown_quotes(answer: Answer) -> list[ShownQuote]:
    return [
        ShownQuote(q.sentence, q.before, q.after, q.document_id, round(q.score, 4))
        for q in answer.quotes
    ]


def first_page_holds(quotes: list[ShownQuote], evidence: list[str]) -> bool:
    """What a reader sees: the evidence anywhere in a quote, its context included."""
    return any(contains_evidence(quote.text(), evidence) for quote in quotes)


def evaluate_question(
    service: AnsweringService,
    item: EvalQuestion,
    mode: str | None = None,
    context: Sequence[Turn] = (),
) -> tuple[QuestionResult, Answer]:
    started = time.perf_counter()
    answer = service.answer(item.question, mode=mode, context=context)
    seconds = time.perf_counter() - started
    quotes = shown_quotes(answer)
    index = service.index
    rank = None
    if item.answerable:
        for position, hit in enumerate(service.search(answer.question, mode)):
            if contains_evidence(article_text(index, index.passage_span(hit.row)), item.evidence):
                rank = position + 1
                break
    quoted = answer.quotes[0].sentence if answer.shows_quotes else None
    phrase = answer.quotes[0].phrase if quoted is not None else None
    result = QuestionResult(
        id=item.id,
        question=answer.question,
        question_type=question_type(answer.question).value,
        language=item.language or answer.language,
        answerable=item.answerable,
        answered=answer.answered,
        top_score=round(answer.top_score, 4),
        evidence_rank=rank,
        quote_hit=answer.answered
        and quoted is not None
        and contains_evidence(quoted, item.evidence),
        answer_on_first_page=item.answerable and first_page_holds(quotes, item.evidence),
        quoted=quoted,
        quotes=quotes,
        seconds=seconds,
        phrase=phrase,
        phrase_exact=phrase is not None and exact_match(phrase.text, item.evidence),
        phrase_f1=0.0 if phrase is None else round(token_f1(phrase.text, item.evidence), 4),
        state=answer.state.value,
        sentence_hit=quoted is not None and contains_evidence(quoted, item.evidence),
        resolved=answer.read_as,
    )
    return result, answer


def evaluate_item(
    service: AnsweringService, item: EvalItem, mode: str | None = None
) -> list[QuestionResult]:
    """One question, or each turn of a dialogue with the turns before it as its context
    (the last :data:`CONTEXT_TURNS`, as a chat keeps them)."""
    if isinstance(item, EvalQuestion):
        return [evaluate_question(service, item, mode)[0]]
    results: list[QuestionResult] = []
    context: list[Turn] = []
    for number, question in enumerate(item.questions(), start=1):
        result, answer = evaluate_question(service, question, mode, context[-CONTEXT_TURNS:])
        result.turn = number
        results.append(result)
        context.append(Turn.of(answer))
    return results


def evaluate(
    service: AnsweringService, questions: Sequence[EvalItem], mode: str | None = None
) -> EvalReport:
    results = [result for item in questions for result in evaluate_item(service, item, mode)]
    answerable = [r for r in results if r.answerable]
    unanswerable = [r for r in results if not r.answerable]
    n = len(answerable)

    def within(k: int) -> float:
        return _ratio(
            sum(r.evidence_rank is not None and r.evidence_rank <= k for r in answerable), n
        )

    top1, top3, top5 = (within(k) for k in RANKS)
    right = [r for r in answerable if r.quote_hit]
    underlined = [r for r in right if r.phrase is not None]
    return EvalReport(
        questions=len(results),
        answerable=n,
        unanswerable=len(unanswerable),
        evidence_top1=top1,
        evidence_top3=top3,
        evidence_top5=top5,
        mrr=_ratio(sum(1.0 / r.evidence_rank for r in answerable if r.evidence_rank), n),
        quote_hit=_ratio(sum(r.quote_hit for r in answerable), n),
        answer_on_first_page=_ratio(sum(r.answer_on_first_page for r in answerable), n),
        refusal_accuracy=_ratio(sum(r.refused for r in unanswerable), len(unanswerable)),
        false_refusal_rate=_ratio(sum(r.refused for r in answerable), n),
        false_answer_rate=_ratio(sum(r.answered for r in unanswerable), len(unanswerable)),
        latency_p50_ms=statistics.median(r.seconds for r in results) * 1000,
        results=results,
        phrase_shown=_ratio(len(underlined), len(right)),
        phrase_exact=_ratio(sum(r.phrase_exact for r in underlined), len(underlined)),
        phrase_f1=_ratio(sum(r.phrase_f1 for r in underlined), len(underlined)),
        claims_right=_ratio(len(right), sum(r.answered for r in results)),
        closest_rate=_ratio(sum(r.state == "closest" for r in results), len(results)),
        sentence_hit=_ratio(sum(r.sentence_hit for r in answerable), n),
    )


def compare(
    service: AnsweringService,
    questions: Sequence[EvalItem],
    modes: tuple[str, ...] = MODES,
    rerankers: dict[str, AnsweringService] | None = None,
) -> dict[str, EvalReport]:
    """The same questions through every retrieval mode, for ``quoth eval --compare``, and
    through the reranking stage of each service in ``rerankers`` (the other packaged
    reranker, each with its own refusal decision), keyed ``rerank:<name>``."""
    for item in questions[:3]:  # warm caches so the first mode's latency is not penalised
        first = item if isinstance(item, EvalQuestion) else item.questions()[0]
        service.answer(first.question, mode=modes[-1])
    reports = {mode: evaluate(service, questions, mode) for mode in modes}
    for name, other in (rerankers or {}).items():
        reports[f"rerank:{name}"] = evaluate(other, questions, "rerank")
    return reports


def comparison_json(reports: dict[str, EvalReport]) -> dict[str, Any]:
    """Metrics per mode, plus what reranking costs over hybrid retrieval."""
    document: dict[str, Any] = {mode: report.metrics() for mode, report in reports.items()}
    if "rerank" in reports and "hybrid" in reports:
        added = reports["rerank"].latency_p50_ms - reports["hybrid"].latency_p50_ms
        document["rerank_added_latency_p50_ms"] = round(added, 1)
    return document
