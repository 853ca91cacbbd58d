"""BM25 over the real index: the same scores as bm25s, kept up to date from term counts."""

from __future__ import annotations

import subprocess
import sys

import bm25s
import numpy as np
import Stemmer

from quoth.index import IndexData
from quoth.index.lexical import LexicalIndex, Postings, TermRows, Vocabulary, tokenize
from quoth.retrieval.evaluation import load_questions

from .conftest import SEED_QUESTIONS


def passage_texts(index: IndexData) -> list[str]:
    return [index.articles[d].text[s:e] for d, s, e, _, _ in index.passages.tolist()]


def test_bm25_finds_rare_names(shared_index: IndexData) -> None:
    scores = shared_index.lexical.passages.scores(tokenize(["Pahalgam attack"])[0])
    best = int(scores.argmax())
    assert "Pahalgam" in passage_texts(shared_index)[best]
    assert not shared_index.lexical.passages.scores(["zzzunknown"]).any()
    assert len(scores) == len(shared_index.passages)
    assert len(shared_index.lexical.sentences.scores(["pakistan"])) == len(shared_index.sentences)


def test_terms_are_those_bm25s_cuts(shared_index: IndexData) -> None:
    questions = [q.question for q in load_questions(SEED_QUESTIONS)]
    texts = passage_texts(shared_index) + questions
    texts += [
        "",
        "a",
        "Ünïcödé CAFÉ naïve, 1999's",
        "İstanbul ΣΊΣΥΦΟΣ straße",
        "l'été e-mail_x 3.14",
    ]
    english = Stemmer.Stemmer("english")
    cut = bm25s.tokenize(
        texts, stopwords="en", stemmer=english, return_ids=False, show_progress=False
    )
    assert tokenize(texts) == cut


def test_serving_never_loads_scipy() -> None:
    code = "import sys, quoth.runtime, quoth.retrieval.ranking; print('scipy' in sys.modules)"
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert loaded.stdout.strip() == "False"


def test_scores_match_bm25s_on_the_real_corpus(shared_index: IndexData) -> None:
    reference = bm25s.BM25()
    reference.index(tokenize(passage_texts(shared_index)), show_progress=False)
    for question in (
        "When did Heydar Aliyev visit Pakistan?",
        "Pahalgam attack India response",
        "trade agreement minister said",
    ):
        terms = tokenize([question])[0]
        known = [t for t in terms if t in reference.vocab_dict]
        expected = reference.get_scores(known)
        assert np.allclose(shared_index.lexical.passages.scores(terms), expected, atol=1e-4)


def test_scores_of_some_rows_equal_the_full_scores(shared_index: IndexData) -> None:
    sentences = shared_index.lexical.sentences
    rows = np.random.default_rng(0).choice(len(shared_index.sentences), 60, replace=False)
    rows = np.concatenate([rows, rows[:5], [0, len(shared_index.sentences) - 1]])
    for question in ("Pahalgam attack India response", "Pakistan Pakistan minister", "zzz"):
        terms = tokenize([question])[0]
        full = sentences.scores(terms)
        assert full[rows].any() or question == "zzz"
        assert np.array_equal(sentences.scores_of(terms, rows), full[rows])
    assert sentences.scores_of(["pakistan"], []).shape == (0,)


def test_passage_counts_are_the_sum_of_their_sentences() -> None:
    sentences = ["Rivers flood in spring.", "", "Spring floods ruin rivers' banks."]
    ranges = [[0, 1], [1, 2], [0, 2]]
    index = LexicalIndex.from_texts(sentences, np.array(ranges))
    reference = bm25s.BM25()
    reference.index(tokenize([" ".join(sentences[a : b + 1]) for a, b in ranges]))
    for terms in (["river"], ["spring", "bank"]):
        assert np.allclose(index.passages.scores(terms), reference.get_scores(terms))
    assert index.sentences.scores(["river"])[1] == 0
    assert index.passages.scores(["flood", "flood"])[0] == 2 * index.passages.scores(["flood"])[0]


def test_vocabulary_only_grows_so_stored_ids_stay_valid() -> None:
    vocabulary = Vocabulary(["river", "flood"])
    assert vocabulary.add(["flood", "bank", "river"]) == [1, 2, 0]
    assert vocabulary.known(["bank", "unknown"]) == [2]
    rows = TermRows.count(["bank bank river", "the and of", "flood"], vocabulary)
    assert rows.lengths.tolist() == [2, 0, 1]
    second = rows.rows(1, 3)
    assert second.lengths.tolist() == [0, 1] and second.terms.tolist() == [1]


def test_radix_order_equals_a_stable_argsort() -> None:
    from quoth.index.lexical import _stable_order

    rng = np.random.default_rng(5)
    for high in (50, 70_000, 3_000_000):
        keys = rng.integers(0, high, 20_000).astype(np.int64)
        assert np.array_equal(_stable_order(keys), np.argsort(keys, kind="stable"))
    assert len(_stable_order(np.zeros(0, np.int64))) == 0


def test_term_frequencies_of_an_empty_or_partial_segment() -> None:
    empty = Postings.from_counts(TermRows.count([], Vocabulary()))
    assert empty.frequency([0, 3]).tolist() == [0, 0]
    vocabulary = Vocabulary()
    postings = Postings.from_counts(TermRows.count(["bank river", "river"], vocabulary))
    river, bank = vocabulary.known(["river", "bank"])
    assert postings.frequency([river, bank, 99]).tolist() == [2, 1, 0]
