"""Sentence boundaries and passage windows, as character spans of the cleaned article.

Quotes must be verbatim, so nothing here rewrites text: sentences and passages are offsets
into the article, and the text shown to a user is always a slice of what was indexed.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

import pysbd
from pysbd.languages import LANGUAGE_CODES

from quoth.corpus.models import Passage, Sentence
from quoth.language import detect, latin_share


@lru_cache(maxsize=8)
def _segmenter(language: str = "en") -> pysbd.Segmenter:
    return pysbd.Segmenter(language=language, clean=False, char_span=False)


def segmenter_language(text: str) -> str:
    """Which sentence rules to split ``text`` with. Latin-script text keeps the English ones
    (English articles split exactly as before; pysbd has no Turkish or Azerbaijani rules,
    and the English ones serve them well). Other scripts take their language's rules when
    pysbd has them: Urdu ends sentences with "۔", Russian abbreviates "г." and "т.е."."""
    sample = text[:500]
    if latin_share(sample) >= 0.5:
        return "en"
    code = detect(sample).code
    return code if code in LANGUAGE_CODES else "en"


def _glued(previous: tuple[int, int], following: tuple[int, int], text: str) -> bool:
    """pysbd splits inside ".txt" or "3.5"; no space before a lower-case or digit start
    means the "sentence" goes on."""
    return following[0] == previous[1] and (
        text[following[0]].islower() or text[following[0]].isdigit()
    )


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Sentence spans within ``text``; paragraphs (lines) never share a sentence."""
    spans: list[tuple[int, int]] = []
    offset = 0
    segmenter = _segmenter(segmenter_language(text))
    for paragraph in text.split("\n"):
        cursor = 0
        pieces: list[tuple[int, int]] = []
        if paragraph.strip():
            for piece in segmenter.segment(paragraph):
                sentence = piece.strip()
                if not sentence:
                    continue
                found = paragraph.find(sentence, cursor)
                if found < 0:  # pysbd normalised something; fall back to the remaining text
                    found, sentence = cursor, paragraph[cursor:].strip()
                span = (found, found + len(sentence))
                if pieces and _glued(pieces[-1], span, paragraph):
                    pieces[-1] = (pieces[-1][0], span[1])
                else:
                    pieces.append(span)
                cursor = span[1]
        spans += [(offset + start, offset + end) for start, end in pieces if end > start]
        offset += len(paragraph) + 1
    return spans


def split_sentences(doc_id: str, text: str) -> list[Sentence]:
    return [Sentence(doc_id, start, end) for start, end in sentence_spans(text)]


def passage_id(doc_id: str, passage_text: str) -> str:
    """Stable across runs and machines; changes exactly when the passage's text changes."""
    digest = hashlib.sha256(f"{doc_id}\n{passage_text}".encode()).hexdigest()
    return digest[:16]


def split_passages(
    doc_id: str, text: str, sentences: list[Sentence], size: int, overlap: int
) -> list[Passage]:
    """Windows of ``size`` sentences sharing ``overlap`` with the next, covering every sentence.

    Overlap keeps an answer that straddles a window boundary whole in at least one passage.
    """
    if not sentences:
        return []
    step = max(1, size - overlap)
    passages: list[Passage] = []
    first = 0
    while True:
        last = min(first + size, len(sentences)) - 1
        start, end = sentences[first].start, sentences[last].end
        passages.append(
            Passage(passage_id(doc_id, text[start:end]), doc_id, start, end, first, last)
        )
        if last == len(sentences) - 1:
            return passages
        first += step
