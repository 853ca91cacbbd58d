"""From ranked passages to quotes: merge overlaps, mark the answering sentence.

Overlapping windows mean the best few passages are often neighbours in one article; quoting
them separately would repeat sentences, so passages of one article that overlap or touch are
merged into one quote (up to a size a chat message can carry).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from quoth.corpus.pages import page_at
from quoth.index.embedder import Vectors
from quoth.index.reader import IndexReader
from quoth.retrieval.answer import Quote
from quoth.retrieval.ranking import Hit

MAX_QUOTE_SENTENCES = 6
CONTEXT_SENTENCES = 1
DUPLICATE_SIMILARITY = 0.9
"""Marked sentences this similar (cosine) say the same thing: only the better source is kept."""


@dataclass(slots=True)
class _Group:
    doc: int
    first: int
    last: int
    score: float
    best_sentence: int
    passage_row: int


def _touches(group: _Group, doc: int, first: int, last: int) -> bool:
    return group.doc == doc and first <= group.last + 1 and last >= group.first - 1


def _repeats(vectors: dict[int, Vectors], groups: list[_Group], sentence: int) -> bool:
    earlier = np.stack([vectors[g.best_sentence] for g in groups])
    return bool(np.any(earlier @ vectors[sentence] >= DUPLICATE_SIMILARITY))


def group_hits(index: IndexReader, hits: list[Hit], min_score: float) -> list[_Group]:
    """Merge touching passages of one article; a new quote must itself clear ``min_score``
    and must not repeat, near word for word, a better quote from another article."""
    groups: list[_Group] = []
    index.prefetch([hit.row for hit in hits])  # spans and articles: one database trip
    marked = sorted({hit.best_sentence for hit in hits})  # read at once: one database trip
    vectors = dict(zip(marked, index.sentence_vectors_at(marked), strict=True)) if hits else {}
    for hit in hits:
        doc, _, _, first, last = index.passage_span(hit.row)
        first, last = min(first, hit.best_sentence), max(last, hit.best_sentence)
        owner = next((g for g in groups if _touches(g, doc, first, last)), None)
        if owner is None:
            if not groups or (
                hit.score >= min_score and not _repeats(vectors, groups, hit.best_sentence)
            ):
                groups.append(_Group(doc, first, last, hit.score, hit.best_sentence, hit.row))
            continue
        merged_first, merged_last = min(owner.first, first), max(owner.last, last)
        if merged_last - merged_first + 1 <= MAX_QUOTE_SENTENCES:
            owner.first, owner.last = merged_first, merged_last
    return groups


def build_quote(index: IndexReader, group: _Group) -> Quote:
    """Cut the verbatim quote: best sentence with a neighbour on each side, within the group."""
    article = index.article(group.doc)
    text = article.text
    best = group.best_sentence
    _, s_start, s_end = index.sentence_span(best)
    ctx_start = index.sentence_span(max(group.first, best - CONTEXT_SENTENCES)).start
    ctx_end = index.sentence_span(min(group.last, best + CONTEXT_SENTENCES)).end
    start, end = index.sentence_span(group.first).start, index.sentence_span(group.last).end
    return Quote(
        passage_id=index.passage_id(group.passage_row),
        document_id=article.id,
        title=article.title,
        url=article.url,
        published=article.published,
        score=group.score,
        sentence=text[s_start:s_end],
        before=text[ctx_start:s_start].rstrip(),
        after=text[s_end:ctx_end].lstrip(),
        passage=text[start:end],
        start=start,
        end=end,
        page=page_at(article.pages, s_start),
    )
