"""Answering a question asked in another language from English articles, with the quotes
left as they are.

The English pipeline cannot: its embedder, BM25 and cross-encoder know English only. Here
the multilingual embedder (:mod:`quoth.index.multilingual_embedder`) puts the question and
every passage and sentence in one space; a passage ranks by its own similarity plus its best
sentence's, and that sentence is the one marked. A sentence's similarity reads both of the
model's views: the pooled vectors, and the latent terms at half weight (they catch the names,
numbers and rare words the pooled vector blurs; they lifted the sentence choice of every
language in development, English included, and lowered none).

Whether to answer at all needs a score that means the same in every language, and raw
cross-lingual similarities do not: a Russian question scores its English answer higher than
an Azerbaijani one does. Two fixed sets of sentences, written for quoth and shipped with it
(``crosslingual.json``), put them on one scale. *Background* sentences about unrelated
things give, per question, the level an irrelevant sentence reaches (mean and spread); the
best sentence's distance above it, in spreads, is its z. *Anchors* (a question in each
language with the English sentence that answers it) give, per language, the z a true answer
reaches; the confidence is z divided by that. A language without anchors takes the median
of those with them.

What the model makes of an index is cached beside it
(:mod:`quoth.index.multilingual_cache`), so a rebuild embeds only new text.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from importlib import resources

import numpy as np
import numpy.typing as npt

from quoth.index.embedder import Vectors
from quoth.index.multilingual_cache import VectorCache
from quoth.index.multilingual_embedder import LatentTerms, MultilingualEmbedder
from quoth.index.reader import IndexReader
from quoth.language import latin_share
from quoth.retrieval.answer_type import holds_answer_type, question_type
from quoth.retrieval.ranking import Hit

log = logging.getLogger("quoth.crosslingual")

THRESHOLD = 1.11
"""Least confidence to answer; fitted by scripts/fit_crosslingual.py (see the README)."""
SHORTLIST = 50
TERMS_WEIGHT = 0.5
"""How much the latent terms' cosine counts beside the pooled vectors' (which counts 1)."""
TYPE_PENALTY = 0.05
"""Taken off the similarity of an English sentence without the kind of thing the question
asks for (a date for *when*, a number for *how many*, a name for *who* and *where*), as the
English pipeline does when it marks: enough that such a sentence seldom wins or answers."""


@dataclass(frozen=True, slots=True)
class Question:
    vector: Vectors
    terms: npt.NDArray[np.float32]
    """Latent terms as a dense vector over the sparse space, to index into."""


@dataclass(frozen=True, slots=True)
class Embedded:
    """Texts as the multilingual model sees them: pooled vectors, and for sentences the latent
    terms too (they lift sentence choice most, and sentences are the cheapest texts to run
    through the sparse head a second time)."""

    vectors: Vectors
    terms: LatentTerms | None = None

    def scores(self, question: Question) -> npt.NDArray[np.float32]:
        """Similarity with ``question``: the pooled vectors' cosine, plus the latent terms'
        weighted by :data:`TERMS_WEIGHT` where there are terms."""
        dense: npt.NDArray[np.float32] = self.vectors @ question.vector
        if self.terms is None:
            return dense
        return dense + TERMS_WEIGHT * self.terms.scores(question.terms)


def embed_sentences(embedder: MultilingualEmbedder, texts: list[str]) -> Embedded:
    return Embedded(embedder.encode(texts), embedder.latent_terms(texts))


def embed_question(embedder: MultilingualEmbedder, text: str) -> Question:
    vector = embedder.encode_queries([text])[0]
    return Question(vector, embedder.latent_terms([text]).dense(0, embedder.sparse_dimension))


@dataclass(frozen=True, slots=True)
class _Prepared:
    index: IndexReader
    passages: Embedded
    sentences: Embedded
    first: npt.NDArray[np.int64]
    last: npt.NDArray[np.int64]
    sentence_texts: list[str]


class CrossLingual:
    def __init__(self, embedder: MultilingualEmbedder, cache: VectorCache) -> None:
        self.embedder = embedder
        self.cache = cache
        self.threshold = THRESHOLD
        data = json.loads(
            resources.files("quoth.retrieval").joinpath("crosslingual.json").read_text("utf-8")
        )
        self._anchors: list[dict[str, str]] = data["anchors"]
        self._background = embed_sentences(embedder, data["background"])
        self._anchor_passages = embed_sentences(embedder, [a["passage"] for a in self._anchors])
        self._scales: dict[str, float] = {}
        self._prepared: list[_Prepared] = []
        self._lock = threading.Lock()

    # -- the index's vectors -----------------------------------------------------------------

    def prepare(self, index: IndexReader) -> None:
        """Embed (or take from the cache) every passage and sentence of ``index``; call it
        before serving the index, off the event loop: a first build embeds the corpus."""
        if self.ready(index):
            return
        articles = index.articles
        passage_texts, first, last = [], [], []
        for row in range(index.passage_count):
            span = index.passage_span(row)
            passage_texts.append(articles[span.doc].text[span.start : span.end])
            first.append(span.first)
            last.append(span.last)
        sentence_texts = []
        for row in range(index.sentence_count):
            doc, start, end = index.sentence_span(row)
            sentence_texts.append(articles[doc].text[start:end])
        vectors = self.cache.vectors(passage_texts + sentence_texts, self.embedder)
        sentences = Embedded(
            vectors[len(passage_texts) :], self.cache.terms(sentence_texts, self.embedder)
        )
        prepared = _Prepared(
            index,
            Embedded(vectors[: len(passage_texts)]),
            sentences,
            np.array(first, np.int64),
            np.array(last, np.int64),
            sentence_texts,
        )
        with self._lock:
            self._prepared = [*self._prepared[-1:], prepared]  # the one served, and the new one

    def ready(self, index: IndexReader) -> bool:
        return self._for(index) is not None

    def _for(self, index: IndexReader) -> _Prepared | None:
        with self._lock:
            return next((p for p in self._prepared if p.index is index), None)

    # -- the confidence scale ------------------------------------------------------------------

    def _z(self, question: Question, scores: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        level = self._background.scores(question)
        z: npt.NDArray[np.float32] = (scores - level.mean()) / max(float(level.std()), 1e-6)
        return z

    def scale(self, language: str) -> float:
        """The z a true answer reaches for questions in ``language`` (median over anchors)."""
        with self._lock:
            if language in self._scales:
                return self._scales[language]
        known = [lang for lang in self._anchors[0] if lang != "passage"]
        if language not in known:
            others = [self.scale(lang) for lang in known if lang != "en"]
            value = float(np.median(others))
        else:
            zs = []
            for row, anchor in enumerate(self._anchors):
                question = embed_question(self.embedder, anchor[language])
                answer = self._anchor_passages.scores(question)[row : row + 1]
                zs.append(float(self._z(question, answer)[0]))
            value = float(np.median(zs))
        with self._lock:
            self._scales[language] = value
        return value

    # -- asking -----------------------------------------------------------------------------------

    def rank(
        self, index: IndexReader, question: str, language: str, n: int
    ) -> tuple[list[Hit], float]:
        """The best ``n`` passages with their marked sentences, and the confidence that the
        best sentence answers (comparable with :attr:`threshold`)."""
        prepared = self._for(index)
        if prepared is None:
            raise LookupError("the index was not prepared for other languages")
        asked = embed_question(self.embedder, question)
        passage_scores = prepared.passages.scores(asked)
        sentence_scores = prepared.sentences.scores(asked)
        shortlist = np.argsort(-passage_scores)[:SHORTLIST]
        kind = question_type(question, language)
        for row in shortlist:
            for sentence in range(int(prepared.first[row]), int(prepared.last[row]) + 1):
                text = prepared.sentence_texts[sentence]
                english = latin_share(text) >= 0.5  # the check reads English dates and names
                if english and holds_answer_type(kind, text, question) is False:
                    sentence_scores[sentence] -= TYPE_PENALTY
        scale = self.scale(language)
        ranked = []
        for row in shortlist:
            first, last = int(prepared.first[row]), int(prepared.last[row])
            best = first + int(np.argmax(sentence_scores[first : last + 1]))
            ranked.append((float(passage_scores[row] + sentence_scores[best]), int(row), best))
        ranked.sort(reverse=True)
        chosen = ranked[:n]
        confidences = self._z(asked, sentence_scores[[b for _, _, b in chosen]]) / scale
        hits = [
            Hit(row, float(c), best) for (_, row, best), c in zip(chosen, confidences, strict=True)
        ]
        best_anywhere = float(self._z(asked, np.array([sentence_scores.max()]))[0]) / scale
        return hits, best_anywhere
