"""The multilingual model's two views of a text, and the similarity that reads both.

A sentence's similarity to a question is the pooled vectors' cosine plus the latent terms'
at :data:`TERMS_WEIGHT` (they catch the names, numbers and rare words the pooled vector
blurs). Passages are compared by their pooled vectors only: running the sparse head over
every passage too would double the indexing cost for no gain seen in development.

Passages are embedded with E5's ``query: `` prefix, like the question, sentences with
``passage: ``. The model card keeps ``query: `` on both sides for symmetric tasks (bitext
mining among them); for questions in Turkish and Azerbaijani it ranked the right passage
first more often in development, and changed nothing for English questions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from quoth.index.embedder import Vectors
from quoth.index.multilingual_embedder import LatentTerms, MultilingualEmbedder

TERMS_WEIGHT = 0.5
"""How much the latent terms' cosine counts beside the pooled vectors' (which counts 1)."""


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
