"""How sure quoth may be that a sentence answers a question asked in another language.

Raw cross-lingual similarities mean different things per pair of languages: a Russian
question scores its English answer higher than an Azerbaijani one does, and scores *any*
Russian sentence higher than English ones. Fixed sentences written for quoth and shipped
with it (``crosslingual.json``) put them on one scale:

- *Background* sentences about unrelated things, in English and in each language quoth has
  them for, give the level an irrelevant sentence *in the article's language* reaches for
  this question (mean and spread); a sentence's height above it, in spreads, is its z.
- *Anchors*, questions in each language with the English sentence that answers them, give
  the z a true answer reaches for questions in that language; the confidence is z divided
  by that. Anchors with the answer in the question's own language were tried and set the
  bar too high: a short anchor and its answer share most words, real questions do not.

A sentence in a language without background sentences is measured as English; a question
in a language without anchors takes the median of the languages with them. A language's
background is embedded the first time an article in it is prepared.
"""

from __future__ import annotations

import json
import threading
from importlib import resources

import numpy as np
import numpy.typing as npt

from quoth.index.multilingual_embedder import MultilingualEmbedder
from quoth.language import ENGLISH
from quoth.retrieval.crosslingual_vectors import Embedded, Question, embed_question, embed_sentences


class ConfidenceScale:
    def __init__(self, embedder: MultilingualEmbedder) -> None:
        self._embedder = embedder
        data = json.loads(
            resources.files("quoth.retrieval").joinpath("crosslingual.json").read_text("utf-8")
        )
        self._anchors: list[dict[str, str]] = data["anchors"]
        self._answers = embed_sentences(embedder, [a["passage"] for a in self._anchors])
        self._texts: dict[str, list[str]] = {ENGLISH: data["background"], **data["background_in"]}
        self.asked_in = frozenset(k for k in self._anchors[0] if k != "passage")
        self._backgrounds: dict[str, Embedded] = {}
        self._scales: dict[str, float] = {}
        self._lock = threading.RLock()

    @property
    def written_in(self) -> frozenset[str]:
        """The languages whose sentences are measured against a background of their own."""
        return frozenset(self._texts)

    def _background(self, language: str) -> Embedded:
        with self._lock:
            if language not in self._backgrounds:
                self._backgrounds[language] = embed_sentences(self._embedder, self._texts[language])
            return self._backgrounds[language]

    def z(
        self, question: Question, scores: npt.NDArray[np.float32], written_in: str = ENGLISH
    ) -> npt.NDArray[np.float32]:
        level = self._background(written_in).scores(question)
        z: npt.NDArray[np.float32] = (scores - level.mean()) / max(float(level.std()), 1e-6)
        return z

    def scale(self, asked_in: str) -> float:
        """The z a true answer reaches for a question in ``asked_in`` (anchors' median)."""
        with self._lock:
            if asked_in in self._scales:
                return self._scales[asked_in]
            if asked_in not in self.asked_in:
                value = float(np.median([self.scale(k) for k in self.asked_in - {ENGLISH}]))
            else:
                zs = []
                for row, anchor in enumerate(self._anchors):
                    question = embed_question(self._embedder, anchor[asked_in])
                    answer = self._answers.scores(question)[row : row + 1]
                    zs.append(float(self.z(question, answer)[0]))
                value = float(np.median(zs))
            self._scales[asked_in] = value
            return value

    def confidences(
        self,
        question: Question,
        asked_in: str,
        scores: npt.NDArray[np.float32],
        written_in: npt.NDArray[np.str_],
    ) -> npt.NDArray[np.float32]:
        """Each score's confidence, its sentence written in ``written_in[i]``."""
        out = np.zeros(len(scores), dtype=np.float32)
        for language in set(written_in.tolist()):
            where = written_in == language
            out[where] = self.z(question, scores[where], language) / self.scale(asked_in)
        return out
