"""Ranking passages for a question, in four modes that ``quoth eval --compare`` sets side by side.

- ``dense``: embedding similarity. A passage scores the mean of its own similarity and that of
  its best sentence: the passage vector captures the topic, the sentence vector the fact.
- ``bm25``: term matching over passages (names, dates, rare words).
- ``hybrid``: the two rankings fused (:mod:`quoth.retrieval.fusion`); scored by the dense score.
- ``rerank``: hybrid, then a cross-encoder reads the question with the most promising
  sentences of the top passages and decides both the order and the sentence to mark.

Every hit carries a score in its mode's own units; :data:`CALIBRATION` holds each mode's
refusal threshold, chosen on the question files (see docs/answers/index.md). In ``rerank`` mode the
refusal is decided by :mod:`quoth.retrieval.refusal`, and the threshold here only bars weak
further quotes from the first page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from quoth.index.embedder import Vectors
from quoth.index.lexical import tokenize
from quoth.index.reader import IndexReader, article_text
from quoth.retrieval.answer_type import QuestionType, holds_answer_type, question_type
from quoth.retrieval.fusion import convex_fusion, reciprocal_rank_fusion
from quoth.retrieval.phrase import Phrase
from quoth.retrieval.rerank import Reranker

MODES = ("dense", "bm25", "hybrid", "rerank")
PASSAGE_WEIGHT = 0.5
RERANK_PASSAGES = 8
LEXICAL_SENTENCE_WEIGHT = 0.3
LEXICAL_MARK_WEIGHT = 1.0
TYPE_MARK_WEIGHT = 0.2
"""How much term overlap and the answer type add to the cross-encoder's logit when choosing
the sentence to mark (fitted listwise on every development file; see docs/answers/index.md)."""
NOT_RERANKED = -1e9


@dataclass(frozen=True, slots=True)
class Calibration:
    """Per mode: the score below which quoth refuses, and how far behind the best a further
    quote may score and still be shown with the first page."""

    min_score: float
    secondary_margin: float


CALIBRATION = {
    "dense": Calibration(0.46, 0.12),
    "bm25": Calibration(2.36, 1.5),
    "hybrid": Calibration(0.46, 0.12),
    "rerank": Calibration(-2.0, 4.0),
}
"""In ``rerank`` mode the figures are quoth-answer logits, chosen on every development file at
once for the share of answers whose evidence is on the first page (a model that is surer of
its best sentence scores the others lower, so further quotes need a lower bar)."""


@dataclass(frozen=True, slots=True)
class Hit:
    """A candidate passage (row in the index) with its score and the sentence to mark."""

    row: int
    score: float
    best_sentence: int


@dataclass(frozen=True, slots=True)
class Query:
    text: str
    vector: Vectors
    terms: list[str]


def make_query(text: str, vector: Vectors) -> Query:
    return Query(text, vector, tokenize([text])[0])


def dense_scores(index: IndexReader, query: Query, rows: list[int]) -> list[Hit]:
    """Each passage scored by the dense model, its best sentence marked. The vectors of all
    the passages and their sentences are read at once: one round trip, not two per passage,
    where the index lives in a database."""
    if not rows:
        return []
    index.prefetch(rows)
    spans = [index.passage_span(row) for row in rows]
    sentences = [s for span in spans for s in range(span.first, span.last + 1)]
    sentence_scores = index.sentence_vectors_at(sentences) @ query.vector
    passage_scores = index.passage_vectors_at(rows) @ query.vector
    hits, offset = [], 0
    for row, span, passage in zip(rows, spans, passage_scores, strict=True):
        own = sentence_scores[offset : offset + span.last - span.first + 1]
        offset += len(own)
        best = int(np.argmax(own))
        score = PASSAGE_WEIGHT * float(passage) + (1 - PASSAGE_WEIGHT) * float(own[best])
        hits.append(Hit(row, score, span.first + best))
    return hits


def dense_hits(index: IndexReader, query: Query, n: int) -> list[Hit]:
    hits = dense_scores(index, query, index.dense_search(query.vector, n))
    return sorted(hits, key=lambda hit: -hit.score)


def lexical_hits(index: IndexReader, query: Query, n: int) -> list[Hit]:
    top = index.bm25_top_passages(query.terms, n)
    index.prefetch([row for row, _ in top])
    ranges = [_inclusive(index, row) for row, _ in top]
    sentences = [s for first, stop in ranges for s in range(first, stop)]
    scores = index.bm25_sentence_scores(query.terms, sentences).tolist()
    sentence_scores = dict(zip(sentences, scores, strict=True))
    return [
        Hit(row, score, max(range(first, stop), key=lambda s: sentence_scores[s]))
        for (row, score), (first, stop) in zip(top, ranges, strict=True)
    ]


def hybrid_hits(index: IndexReader, query: Query, n: int, fusion: str) -> list[Hit]:
    """Fused order; each hit scored (and its sentence marked) by the dense model."""
    dense = dense_hits(index, query, n)
    lexical = lexical_hits(index, query, n)
    scored = {hit.row: hit for hit in dense}
    unscored = [hit.row for hit in lexical if hit.row not in scored]
    scored.update((hit.row, hit) for hit in dense_scores(index, query, unscored))
    if fusion == "convex":
        rows = list(scored)
        bm25 = index.bm25_passage_scores(query.terms, rows)
        order = convex_fusion(rows, np.array([scored[r].score for r in rows]), bm25)
    else:
        order = reciprocal_rank_fusion(
            [[h.row for h in dense], [h.row for h in lexical]], tie=index.passage_id
        )
    return [scored[row] for row in order]


def _window(index: IndexReader, sentence: int) -> str:
    """The sentence with its neighbours in the same article, so "he said" keeps its subject."""
    span = index.sentence_span(sentence)
    start, end = span.start, span.end
    if sentence > 0 and (before := index.sentence_span(sentence - 1)).doc == span.doc:
        start = before.start
    if sentence + 1 < index.sentence_count:
        after = index.sentence_span(sentence + 1)
        end = after.end if after.doc == span.doc else end
    return index.article(span.doc).text[start:end]


@dataclass(frozen=True, slots=True)
class JudgedSentence:
    """A candidate sentence as the reranking stage saw it (``quoth ask --explain`` shows these)."""

    sentence: int
    prescore: float
    answer_score: float
    """The cross-encoder's logit for the question and this sentence alone."""
    lexical: float
    """Its BM25 against the question, scaled so the best candidate has 1."""
    type_match: float
    """+1 when it holds the kind of thing the question asks for, -1 when not, 0 when moot."""
    score: float
    phrase: Phrase | None = None
    """Where the answer model's second head puts the answer phrase in this sentence."""


@dataclass(frozen=True, slots=True)
class Reranked:
    hits: list[Hit]
    judged: list[JudgedSentence]
    """Best first."""
    signals: dict[str, float]
    """What the refusal decision reads (see :mod:`quoth.retrieval.refusal`)."""
    first_signals: dict[str, float] | None = None
    """The signals after the first read, where the question was read further (else None)."""


def rerank_hits(
    index: IndexReader,
    query: Query,
    hits: list[Hit],
    reranker: Reranker,
    candidates: int,
    further: int = 0,
    unsure: Callable[[dict[str, float]], bool] | None = None,
) -> Reranked:
    """Cross-encode the ``candidates`` most promising sentences of the top passages, each
    alone; reorder passages by their best sentence and mark it.

    A sentence alone, not a window, decides which sentence is marked: scored with its
    neighbours, the sentence *before* an answer scores as high as the answer itself. The best
    one is then read once more with its neighbours, a second opinion for the refusal
    decision when an answer needs its context.

    ``further``: where ``unsure`` says so of the first read's signals (the service: its
    confidence falls between the cuts), the next ``further`` sentences are read too and the
    question is judged on all of them, so only the questions that need it pay for a longer
    read.
    """
    top = hits[:RERANK_PASSAGES]
    sentences = sorted({s for h in top for s in range(*_inclusive(index, h.row))})
    if not sentences:
        return Reranked(hits, [], {})
    dense = index.sentence_vectors_at(sentences) @ query.vector
    lexical = index.bm25_sentence_scores(query.terms, sentences)
    if lexical.max() > 0:
        lexical = lexical / lexical.max()
    prescore = dense + LEXICAL_SENTENCE_WEIGHT * lexical
    order = np.argsort(-prescore, kind="stable")
    kind = question_type(query.text)
    reading = _Reading(index, query, reranker, kind, sentences, prescore, lexical)
    judged = reading.judge(order[:candidates].tolist())
    signals = reading.signals(judged)
    first_signals = None
    later = order[candidates : candidates + further].tolist()
    if later and unsure is not None and unsure(signals):
        first_signals = signals
        judged = sorted([*judged, *reading.judge(later)], key=lambda j: -j.score)
        signals = reading.signals(judged)
    by_sentence = {j.sentence: j for j in judged}
    reranked = []
    for hit in top:
        inside = [by_sentence[s] for s in range(*_inclusive(index, hit.row)) if s in by_sentence]
        if inside:
            mark = max(inside, key=lambda j: j.score)
            reranked.append(Hit(hit.row, mark.score, mark.sentence))
        else:
            reranked.append(Hit(hit.row, NOT_RERANKED, hit.best_sentence))
    reranked.sort(key=lambda hit: -hit.score)
    rest = [Hit(h.row, NOT_RERANKED, h.best_sentence) for h in hits[RERANK_PASSAGES:]]
    return Reranked(reranked + rest, judged, signals, first_signals)


class _Reading:
    """One question's candidate sentences, read by the reranker in one or two rounds."""

    def __init__(
        self,
        index: IndexReader,
        query: Query,
        reranker: Reranker,
        kind: QuestionType,
        sentences: list[int],
        prescore: Vectors,
        lexical: Vectors,
    ) -> None:
        self.index, self.query, self.reranker, self.kind = index, query, reranker, kind
        self.sentences, self.prescore, self.lexical = sentences, prescore, lexical
        self.texts: dict[int, str] = {}
        self._windows: dict[int, float] = {}

    def judge(self, positions: list[int]) -> list[JudgedSentence]:
        """The sentences at ``positions`` (into the candidate list) judged, best first."""
        chosen = [self.sentences[i] for i in positions]
        texts = [article_text(self.index, self.index.sentence_span(s)) for s in chosen]
        self.texts.update(zip(chosen, texts, strict=True))
        judgement = self.reranker.judge(self.query.text, texts)
        judged = []
        for i, sentence, text, logit, phrase in zip(
            positions, chosen, texts, judgement.scores.tolist(), judgement.phrases, strict=True
        ):
            held = holds_answer_type(self.kind, text, self.query.text)
            match = 0.0 if held is None else (1.0 if held else -1.0)
            lexical = float(self.lexical[i])
            score = logit + LEXICAL_MARK_WEIGHT * lexical + TYPE_MARK_WEIGHT * match
            judged.append(
                JudgedSentence(
                    sentence, float(self.prescore[i]), logit, lexical, match, score, phrase
                )
            )
        judged.sort(key=lambda j: -j.score)
        return judged

    def signals(self, judged: list[JudgedSentence]) -> dict[str, float]:
        """What the refusal decision reads of ``judged`` (best first); the best sentence's
        window is read once, however many rounds it stays the best."""
        best = judged[0].sentence
        if best not in self._windows:
            window = _window(self.index, best)
            self._windows[best] = float(self.reranker.score(self.query.text, [window])[0])
        return {
            "answer_score": judged[0].answer_score,
            "window_score": self._windows[best],
            **phrase_signals(judged, self.texts[best], self.kind, self.query.text),
        }


def phrase_signals(
    judged: list[JudgedSentence], text: str, kind: QuestionType, question: str
) -> dict[str, float]:
    """What the refusal decision may read besides the scores: how sure the answer model is of
    the phrase it found in the best sentence (``text``), whether that phrase is the kind of
    thing the question asks for (+1, -1, or 0 when moot or when there is no phrase), whether
    the sentence is, and how far the best sentence's score stands above the next one's."""
    best = judged[0]
    phrase = best.phrase
    held = (
        None
        if phrase is None
        else holds_answer_type(kind, text[phrase.start : phrase.end], question)
    )
    runner_up = max((j.answer_score for j in judged[1:]), default=best.answer_score)
    return {
        "phrase_score": 0.0 if phrase is None else phrase.probability,
        "phrase_type": 0.0 if held is None else (1.0 if held else -1.0),
        "type_match": best.type_match,
        "answer_margin": best.answer_score - runner_up,
    }


def _inclusive(index: IndexReader, row: int) -> tuple[int, int]:
    span = index.passage_span(row)
    return span.first, span.last + 1
