"""The answering service over the real shared index."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from quoth import runtime
from quoth.index import Embedder, IndexData
from quoth.index.vectors import CODES_FROM, build_vector_index
from quoth.retrieval import AnsweringService, QuestionError

from .conftest import settings_for


def test_answer_quotes_are_verbatim_with_marked_sentence(
    service: AnsweringService, shared_index: IndexData
) -> None:
    answer = service.answer("When did Heydar Aliyev visit Pakistan?")
    assert answer.answered
    best = answer.quotes[0]
    assert "April 10, 1996" in best.sentence
    text = {a.id: a.text for a in shared_index.articles}[best.document_id]
    assert text[best.start : best.end] == best.passage
    assert best.sentence in best.passage
    context = " ".join(part for part in (best.before, best.sentence, best.after) if part)
    assert context in best.passage.replace("\n", " ")
    assert best.title.startswith("Pakistan’s DND news agency")


@pytest.mark.parametrize(
    "question", ["Who won the 2022 FIFA World Cup?", "How do I reset my password?"]
)
def test_unrelated_questions_refused(service: AnsweringService, question: str) -> None:
    answer = service.answer(question)
    assert not answer.answered and answer.quotes == []
    assert answer.top_score < service.threshold()


def test_quotes_never_overlap_within_an_article(service: AnsweringService) -> None:
    for question in (
        "Does Pakistan recognise Armenia?",
        "What did Aliyev say about Pakistan?",
        "Pakistan Azerbaijan relations",
    ):
        answer = service.answer(question, limit=10)
        spans = [(q.document_id, q.start, q.end) for q in answer.quotes]
        for i, (doc, start, end) in enumerate(spans):
            for other_doc, other_start, other_end in spans[i + 1 :]:
                assert doc != other_doc or end < other_start or other_end < start


def test_more_pages_continue_where_the_first_stopped(service: AnsweringService) -> None:
    first = service.answer("What did Aliyev say about Pakistan?", limit=1)
    assert first.next_offset == 1
    second = service.answer("What did Aliyev say about Pakistan?", limit=1, offset=1)
    assert second.quotes and second.quotes[0].passage != first.quotes[0].passage


@pytest.mark.parametrize(("question", "message"), [("   ", "type a question"), ("x" * 501, "500")])
def test_bad_questions_explained(service: AnsweringService, question: str, message: str) -> None:
    with pytest.raises(QuestionError, match=message):
        service.answer(question)


def test_swap_serves_the_new_index(corpus_copy: Path, tmp_path: Path, embedder: Embedder) -> None:
    settings = settings_for(tmp_path / "idx", corpus_copy)
    runtime.reindex(settings, embedder)
    service = runtime.open_service(settings, embedder)
    question = "When did the lighthouse on Gull Island open?"
    assert not service.answer(question).answered
    (corpus_copy / "gull.txt").write_text(
        "The lighthouse on Gull Island opened on 3 March 1887. Its lamp burned whale oil."
    )
    index, _ = runtime.reindex(settings, embedder)
    service.swap(index)
    answer = service.answer(question)
    assert answer.answered and "3 March 1887" in answer.quotes[0].sentence
    assert answer.quotes[0].document_id == "gull"


def test_duplicated_fact_quoted_once_from_the_best_source(
    tmp_path: Path, embedder: Embedder
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    fact = "The Gull Island lighthouse was first lit on 3 March 1887 by keeper Ann Marsh."
    (corpus / "history.md").write_text(f"# Lighthouse history\n\n{fact} It burned whale oil.")
    (corpus / "digest.md").write_text(
        f"# Weekly digest\n\nMarkets were calm. {fact} Rain is expected on Friday."
    )
    (corpus / "other.md").write_text("# Other\n\nThe ferry to Gull Island runs twice a day.")
    settings = settings_for(tmp_path / "idx", corpus)
    runtime.reindex(settings, embedder)
    service = runtime.open_service(settings, embedder)
    answer = service.answer("When was the Gull Island lighthouse first lit?", limit=5)
    assert answer.answered
    sentences = [q.sentence for q in answer.quotes]
    assert sum("3 March 1887" in s for s in sentences) == 1, sentences


@pytest.mark.parametrize("mode", ["dense", "bm25", "hybrid", "rerank"])
def test_every_mode_answers_and_refuses(service: AnsweringService, mode: str) -> None:
    answer = service.answer("Which water treaty did India suspend?", mode=mode)
    assert answer.answered and "Indus Waters Treaty" in answer.quotes[0].passage
    assert not service.answer("How do I bake sourdough bread?", mode=mode).answered


def test_searches_run_on_the_answering_thread(service: AnsweringService) -> None:
    assert service.answer("When did Heydar Aliyev visit Pakistan?").answered
    # A collection scanned as codes loads FAISS (later than the service, if at all): it
    # searches on one thread, as the service asked, or OpenMP would fight ONNX Runtime.
    vectors = np.random.default_rng(0).normal(size=(CODES_FROM, 384)).astype(np.float32)
    assert build_vector_index(vectors, "sq8").kind == "sq8"
    import faiss

    assert faiss.omp_get_max_threads() == 1


def test_warming_searches_the_recent_questions_on_the_new_index(
    shared_index: IndexData, service: AnsweringService, embedder: Embedder
) -> None:
    fresh = AnsweringService(shared_index, embedder, service.options, service.reranker)
    assert fresh.warm(shared_index) == 0
    fresh.answer("Where did Shehbaz Sharif meet Ilham Aliyev?")
    fresh.answer("Who is Armenia's foreign minister?")
    assert fresh.warm(shared_index) == 2
