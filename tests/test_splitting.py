"""Sentence spans and passage windows: verbatim, complete, stably identified."""

from __future__ import annotations

import itertools

from quoth.corpus import load_corpus, split_passages, split_sentences
from quoth.corpus.splitting import passage_id

from .conftest import ARTICLES


def test_sentences_are_exact_slices_covering_the_text() -> None:
    for article in load_corpus(ARTICLES).articles:
        sentences = split_sentences(article.id, article.text)
        assert sentences
        covered = "".join(article.text[s.start : s.end] for s in sentences)
        assert covered.replace(" ", "") == article.text.replace("\n", "").replace(" ", "")
        for sentence in sentences:
            piece = article.text[sentence.start : sentence.end]
            assert piece == piece.strip() and "\n" not in piece


def test_abbreviations_do_not_split_sentences() -> None:
    text = "Mr. Smith met Dr. Jones in the U.S. on Friday. They talked."
    spans = [text[s.start : s.end] for s in split_sentences("d", text)]
    assert spans == ["Mr. Smith met Dr. Jones in the U.S. on Friday.", "They talked."]


def test_file_extensions_and_decimals_stay_inside_a_sentence() -> None:
    text = "Use files ending in .txt, .md or .html for articles. Version 3.5 came out. It works."
    spans = [text[s.start : s.end] for s in split_sentences("d", text)]
    assert spans == [
        "Use files ending in .txt, .md or .html for articles.",
        "Version 3.5 came out.",
        "It works.",
    ]


def test_windows_overlap_and_cover_every_sentence() -> None:
    article = load_corpus(ARTICLES).articles[0]
    sentences = split_sentences(article.id, article.text)
    passages = split_passages(article.id, article.text, sentences, size=3, overlap=2)
    assert passages[0].first == 0 and passages[-1].last == len(sentences) - 1
    for before, after in itertools.pairwise(passages):
        assert after.first == before.first + 1
    for passage in passages:
        assert passage.last - passage.first + 1 <= 3
        assert article.text[passage.start : passage.end].startswith(
            article.text[sentences[passage.first].start : sentences[passage.first].end]
        )


def test_passage_ids_stable_across_runs_and_change_with_text() -> None:
    first = [p.id for a in load_corpus(ARTICLES).articles for p in _passages(a.id, a.text)]
    second = [p.id for a in load_corpus(ARTICLES).articles for p in _passages(a.id, a.text)]
    assert first == second
    assert len(set(first)) == len(first)
    text = "One fact here. Two facts there. Three facts everywhere."
    edited = text.replace("Two", "2")
    assert passage_id("doc", text) != passage_id("doc", edited)
    assert passage_id("doc", text) != passage_id("other", text)
    original_ids = [p.id for p in _passages("doc", text + " Four. Five. Six.")]
    edited_ids = [p.id for p in _passages("doc", edited + " Four. Five. Six.")]
    assert original_ids[-1] == edited_ids[-1]  # untouched passages keep their id
    assert original_ids[0] != edited_ids[0]


def _passages(doc_id: str, text: str) -> list:  # type: ignore[type-arg]
    return split_passages(doc_id, text, split_sentences(doc_id, text), size=3, overlap=2)
