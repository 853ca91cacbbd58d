"""Answering a question asked in another language from the articles, with the quotes left as
they are.

The English pipeline cannot: its embedder, BM25 and cross-encoder know English only. Here
the multilingual embedder (:mod:`quoth.index.multilingual_embedder`) puts the question and
every passage and sentence in one space (:mod:`quoth.retrieval.crosslingual_vectors`); a
passage ranks by its own similarity plus its best sentence's, and that sentence is the one
marked. An English sentence without the kind of thing the question asks for (a date for
*when*) counts for less, as it does when the English pipeline marks. Whether to answer at
all is a confidence on one scale for every pair of languages
(:mod:`quoth.retrieval.crosslingual_scale`), so one threshold serves them all.

What the model makes of an index is cached beside it
(:mod:`quoth.index.multilingual_cache`), so a rebuild embeds only new text.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from quoth.index.multilingual_cache import VectorCache
from quoth.index.multilingual_embedder import MultilingualEmbedder
from quoth.index.reader import IndexReader
from quoth.language import ENGLISH, article_language
from quoth.retrieval.answer_type import holds_answer_type, question_type
from quoth.retrieval.crosslingual_scale import ConfidenceScale
from quoth.retrieval.crosslingual_vectors import Embedded, embed_question
from quoth.retrieval.ranking import Hit

THRESHOLD = 1.11
"""Least confidence to answer; fitted by scripts/fit_crosslingual.py (docs/users/languages.md)."""
SHORTLIST = 50
TYPE_PENALTY = 0.05
"""Taken off the similarity of an English sentence without the kind of thing the question
asks for (a date for *when*, a number for *how many*, a name for *who* and *where*), as the
English pipeline does when it marks: enough that such a sentence seldom wins or answers."""


PREPARE_CHUNK = 1000
"""Passages read at a time when embedding an index's text for other languages."""


@dataclass(frozen=True, slots=True)
class _Prepared:
    index: IndexReader
    passages: Embedded
    sentences: Embedded
    first: npt.NDArray[np.int64]
    last: npt.NDArray[np.int64]
    sentence_texts: list[str]
    languages: npt.NDArray[np.str_]
    """Each sentence's language: its article's, where quoth has a scale for it."""
    removed: npt.NDArray[np.int64]
    """Passage rows no search may return (see IndexReader.removed_passage_rows)."""


class CrossLingual:
    def __init__(self, embedder: MultilingualEmbedder, cache: VectorCache) -> None:
        self.embedder = embedder
        self.cache = cache
        self.threshold = THRESHOLD
        self.scale = ConfidenceScale(embedder)
        self._prepared: list[_Prepared] = []
        self._lock = threading.Lock()

    # -- the index's vectors -----------------------------------------------------------------

    def prepare(self, index: IndexReader) -> None:
        """Embed (or take from the cache) every passage and sentence of ``index``; call it
        before serving the index, off the event loop: a first build embeds the corpus."""
        if self.ready(index):
            return
        passage_texts, first, last = [], [], []
        sentence_texts = [""] * index.sentence_count
        sentence_languages = [""] * index.sentence_count
        written_in: dict[int, str] = {}
        for chunk in range(0, index.passage_count, PREPARE_CHUNK):
            rows = range(chunk, min(chunk + PREPARE_CHUNK, index.passage_count))
            index.prefetch(rows)  # a database backend reads a chunk's rows in one trip
            for row in rows:
                span = index.passage_span(row)
                article = index.article(span.doc)
                passage_texts.append(article.text[span.start : span.end])
                first.append(span.first)
                last.append(span.last)
                if span.doc not in written_in:
                    written_in[span.doc] = self._written_in(article.text)
                for sentence in range(span.first, span.last + 1):  # passages cover them all
                    doc, start, end = index.sentence_span(sentence)
                    sentence_texts[sentence] = index.article(doc).text[start:end]
                    sentence_languages[sentence] = written_in[span.doc]
        sentences = Embedded(
            self.cache.vectors(sentence_texts, self.embedder),
            self.cache.terms(sentence_texts, self.embedder),
        )
        passages = Embedded(self.cache.vectors(passage_texts, self.embedder, as_queries=True))
        prepared = _Prepared(
            index,
            passages,
            sentences,
            np.array(first, np.int64),
            np.array(last, np.int64),
            sentence_texts,
            np.array(sentence_languages),
            index.removed_passage_rows(),
        )
        with self._lock:
            self._prepared = [*self._prepared[-1:], prepared]  # the one served, and the new one

    def _written_in(self, text: str) -> str:
        """An article's language, among those with a scale of their own; else English."""
        found = article_language(text)
        return found if found in self.scale.written_in else ENGLISH

    def ready(self, index: IndexReader) -> bool:
        return self._for(index) is not None

    def _for(self, index: IndexReader) -> _Prepared | None:
        with self._lock:
            return next((p for p in self._prepared if p.index is index), None)

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
        passage_scores[prepared.removed] = -np.inf
        sentence_scores = prepared.sentences.scores(asked)
        shortlist = np.argsort(-passage_scores)[:SHORTLIST]
        kind = question_type(question, language)
        candidates = {  # passages overlap: each sentence once
            sentence
            for row in shortlist
            for sentence in range(int(prepared.first[row]), int(prepared.last[row]) + 1)
            if prepared.languages[sentence] == ENGLISH  # the check reads English
        }
        for sentence in candidates:
            text = prepared.sentence_texts[sentence]
            if holds_answer_type(kind, text, question) is False:
                sentence_scores[sentence] -= TYPE_PENALTY
        confidences = self.scale.confidences(asked, language, sentence_scores, prepared.languages)
        ranked = []
        for row in shortlist:
            first, last = int(prepared.first[row]), int(prepared.last[row])
            best = first + int(np.argmax(sentence_scores[first : last + 1]))
            ranked.append((float(passage_scores[row] + sentence_scores[best]), int(row), best))
        ranked.sort(reverse=True)
        hits = [Hit(row, float(confidences[best]), best) for _, row, best in ranked[:n]]
        return hits, float(confidences.max()) if len(confidences) else 0.0
