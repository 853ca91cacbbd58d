"""The answer model's training room: pairs from a hand-made SQuAD file; a tiny run end to end."""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import numpy as np
import pytest
from tokenizers import Tokenizer

from quoth.retrieval.answer_input import SEPARATOR, candidate_text
from quoth.retrieval.evaluation import load_questions
from quoth.retrieval.rerank import OnnxCrossEncoder, packaged_reranker_dir
from quoth.training import run_rows
from quoth.training.base_model import float_weights
from quoth.training.examples import (
    TrainingDataError,
    build_pairs,
    load_articles,
    negate,
    opposite,
    perturb,
    validation_cases,
)
from quoth.training.heads import IGNORED, answer_heads, span_targets
from quoth.training.measure import roc_auc
from quoth.training.rows_file import read_rows
from quoth.training.train import Row, order_rows
from quoth.training.validation_split import write_validation_split

REPO = Path(__file__).resolve().parent.parent

FIRST = (
    "The river Wend rises in the Kessel hills. It flows east for 212 kilometres. "
    "Its largest town is Marrow, founded in 1154."
)
SECOND = "Ferries crossed the Wend at Lusk until 1931. A bridge replaced them."


def _squad(path: Path) -> Path:
    """Two paragraphs, three answerable questions and one unanswerable one."""
    data = {
        "version": "v2.0",
        "data": [
            {
                "title": "Wend",
                "paragraphs": [
                    {
                        "context": FIRST,
                        "qas": [
                            {
                                "id": "a",
                                "question": "How long is the Wend?",
                                "answers": [{"text": "212 kilometres", "answer_start": 60}],
                            },
                            {
                                "id": "b",
                                "question": "When was Marrow founded?",
                                "answers": [{"text": "1154", "answer_start": FIRST.index("1154")}],
                            },
                            {
                                "id": "c",
                                "question": "How deep is the Wend at Marrow?",
                                "answers": [],
                                "is_impossible": True,
                                "plausible_answers": [
                                    {"text": "Marrow", "answer_start": FIRST.index("Marrow")}
                                ],
                            },
                        ],
                    },
                    {
                        "context": SECOND,
                        "qas": [
                            {
                                "id": "d",
                                "question": "Where did ferries cross the Wend?",
                                "answers": [{"text": "Lusk", "answer_start": SECOND.index("Lusk")}],
                            }
                        ],
                    },
                ],
            }
        ],
    }
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_pairs_from_a_hand_made_file(tmp_path: Path) -> None:
    pairs = build_pairs(load_articles(_squad(tmp_path / "squad.json")), seed=1)
    by = {(p.question, p.kind): p for p in pairs}
    answer = by[("How long is the Wend?", "answer")]
    assert answer.sentence == "It flows east for 212 kilometres."
    assert answer.span is not None  # the phrase head's target, in the sentence
    assert answer.sentence[answer.span[0] : answer.span[1]] == "212 kilometres"
    assert answer.before == "The river Wend rises in the Kessel hills."
    assert answer.after == "Its largest town is Marrow, founded in 1154."
    assert answer.label == 1.0
    # the answer taken out: the sentence before it now sits beside the one after it
    removed = by[("How long is the Wend?", "removed")]
    assert removed.label == 0.0 and "212" not in removed.sentence + removed.before + removed.after
    # another paragraph's sentence, never one holding the answer text
    article = by[("How long is the Wend?", "article")]
    assert article.sentence in SECOND
    negatives = [p for p in pairs if p.question == "How long is the Wend?" and p.label == 0.0]
    assert all("212 kilometres" not in p.sentence for p in negatives)
    # the unanswerable question is a negative against its plausible answer's sentence
    impossible = by[("How deep is the Wend at Marrow?", "impossible")]
    assert impossible.sentence == "Its largest town is Marrow, founded in 1154."
    assert impossible.label == 0.0
    assert impossible.span is None  # its plausible answer is never a target
    assert all(p.span is None for p in pairs if p.label == 0.0)
    assert all(p.span is not None for p in pairs if p.kind == "answer")
    # a question in a one-line-neighbourhood: no context from the other paragraph
    lusk = by[("Where did ferries cross the Wend?", "answer")]
    assert lusk.before == "" and lusk.after == "A bridge replaced them."
    perturbed = [p for p in pairs if p.kind == "perturbed"]
    assert perturbed and all(p.label == 0.0 for p in perturbed)
    assert all(
        p.question not in {q.question for q in pairs if q.kind == "answer"} for p in perturbed
    )
    assert build_pairs(load_articles(tmp_path / "squad.json"), seed=1) == pairs
    several = build_pairs(load_articles(tmp_path / "squad.json"), seed=1, perturbed=3)
    per_question: dict[str, set[str]] = {}
    answers = {p.question: p.sentence for p in several if p.kind == "answer"}
    for pair in several:
        if pair.kind == "perturbed":
            per_question.setdefault(pair.sentence, set()).add(pair.question)
    assert sum(map(len, per_question.values())) > len(perturbed)  # more, and all distinct
    assert all(len(questions) <= 3 * 2 for questions in per_question.values())
    assert not set().union(*per_question.values()) & set(answers)


def test_perturb_swaps_a_shared_name_or_number() -> None:
    rng = random.Random(0)
    changed = perturb(
        "When was Marrow founded?", "Marrow was founded in 1154.", FIRST + " Lusk.", rng
    )
    assert changed is not None and "Marrow" not in changed and changed.endswith(" founded?")
    assert perturb("what is it", "Marrow was founded.", FIRST, rng) is None


def test_negated_and_opposite_questions() -> None:
    plain = "Ferries crossed the river at Lusk."
    assert (
        negate("Where did ferries cross the Wend?", plain) == "Where didn't ferries cross the Wend?"
    )
    assert negate("How many ferries were built at Lusk?", plain) == (
        "How many ferries weren't built at Lusk?"
    )
    assert negate("Who built the bridge?", plain) is None  # no auxiliary to negate
    assert negate("What did the ferries not carry?", plain) is None  # negated already
    assert negate("Where did ferries cross?", "Ferries never crossed at Lusk.") is None
    rng = random.Random(0)
    first = "The first bridge at Lusk had two arches."
    assert opposite("When was the first bridge built?", first, rng) == (
        "When was the last bridge built?"
    )
    swapped = opposite("How many arches did the bridge have, two?", first, rng)
    assert swapped is not None and "two" not in swapped.split(",")[1]
    assert opposite("When was the last bridge built?", first, rng) is None  # not its word
    assert opposite("When was the bridge built?", first, rng) is None


def test_contrasts_add_negated_and_opposite_negatives(tmp_path: Path) -> None:
    articles = load_articles(_squad(tmp_path / "squad.json"))
    plain = build_pairs(articles, seed=1)
    more = build_pairs(articles, seed=1, contrasts=True)
    added = [p for p in more if p.kind in {"negated", "opposite"}]
    assert added and all(p.label == 0.0 for p in added)
    assert not any(p.kind in {"negated", "opposite"} for p in plain)
    answers = {p.sentence: p.question for p in more if p.kind == "answer"}
    assert all(p.question != answers.get(p.sentence) for p in added)


def test_validation_cases_and_auc(tmp_path: Path) -> None:
    cases = validation_cases(load_articles(_squad(tmp_path / "squad.json")), 5, seed=1)
    case = next(c for c in cases if c.question == "How long is the Wend?")
    assert case.candidates[case.answer].sentence == "It flows east for 212 kilometres."
    assert all("212" not in c.sentence + c.before + c.after for c in case.removed)
    assert roc_auc([2.0, 3.0], [1.0, 0.0]) == 1.0 and roc_auc([1.0], [1.0]) == 0.5


def test_the_validation_split_as_a_development_file(tmp_path: Path) -> None:
    """The held-out article written as quoth indexes and evaluates it: paragraphs a blank line
    apart, answer texts as evidence, SQuAD's unanswerable question kept."""
    articles, questions = write_validation_split(
        _squad(tmp_path / "squad.json"), tmp_path / "split", validation=1, per_article=2, seed=1
    )
    text = (articles / "wend.txt").read_text(encoding="utf-8")
    assert text == f"Wend\n\n{FIRST}\n\n{SECOND}\n"
    items = load_questions(questions)
    assert len(items) == 3 and sum(not item.answerable for item in items) == 1
    for item in items:
        if item.answerable:
            assert item.docs == ["wend"] and all(e in FIRST + SECOND for e in item.evidence)
        else:
            assert item.question == "How deep is the Wend at Marrow?"


def test_a_bad_training_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(TrainingDataError, match="not a SQuAD-format file"):
        load_articles(tmp_path / "bad.json")


def test_candidate_text_keeps_the_sentence_whole() -> None:
    long = "word " * 100
    text = candidate_text("The sentence.", long, long)
    assert text.startswith("The sentence." + SEPARATOR)
    assert len(text) < len("The sentence.") + 2 * 130
    assert candidate_text("Alone.") == "Alone."


def test_the_packaged_cross_encoder_reads_back_to_float() -> None:
    pytest.importorskip("torch")
    state = float_weights(packaged_reranker_dir() / "model.onnx")
    assert state["bert.encoder.layer.11.output.dense.weight"].shape == (384, 1536)
    assert state["classifier.weight"].shape == (1, 384)
    assert np.isfinite(state["bert.embeddings.word_embeddings.weight"]).all()


def test_span_targets_cover_the_answer_tokens() -> None:
    tokenizer = Tokenizer.from_file(str(packaged_reranker_dir() / "tokenizer.json"))
    sentence = "It flows east for 212 kilometres."
    encoded = tokenizer.encode("How long is the Wend?", sentence)
    first, last = span_targets(encoded.offsets, encoded.sequence_ids, (18, 32))
    assert encoded.sequence_ids[first] == 1 and encoded.sequence_ids[last] == 1
    assert sentence[encoded.offsets[first][0] : encoded.offsets[last][1]] == "212 kilometres"
    assert span_targets(encoded.offsets, encoded.sequence_ids, None) == (IGNORED, IGNORED)
    cut = tokenizer.encode("How long is the Wend?", sentence)
    cut.truncate(8)  # the answer cut off: no target rather than a wrong one
    assert span_targets(cut.offsets, cut.sequence_ids, (18, 32)) == (IGNORED, IGNORED)


def test_real_unanswerable_questions_come_early_and_batches_group_lengths() -> None:
    rows = [Row("q", "x" * (i % 50 + 1), 0.0, None, "paragraph") for i in range(9000)]
    rows += [Row("q", "y", 0.0, None, "impossible") for _ in range(1000)]
    batches = order_rows(rows, batch=10, early=0.3, seed=3)
    assert sorted(i for b in batches for i in b) == list(range(len(rows)))
    position = {i: n for n, b in enumerate(batches) for i in b}
    late = [position[i] for i in range(9000, 10000)]
    assert max(late) < 0.4 * len(batches)  # all of them within the first part of the run
    spread = [
        max(len(rows[i].text) for i in b) - min(len(rows[i].text) for i in b) for b in batches
    ]
    assert np.median(spread) <= 2  # like lengths together: little padding


def test_training_end_to_end_on_a_tiny_subset(tmp_path: Path) -> None:
    """A one-layer model trained on a handful of pairs, exported with both heads, loaded like
    a shipped one; then the same rows trained apart (as on a lent GPU) and brought back."""
    pytest.importorskip("torch")
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        import train_answer_model
    finally:
        sys.path.remove(str(REPO / "scripts"))
    squad = _squad(tmp_path / "squad.json")
    out = tmp_path / "model"
    tiny = ["--squad", str(squad), "--impossible", str(squad), "--validation-articles", "0",
            "--impossible-validation-articles", "0", "--skip-baseline", "--batch", "4",
            "--sentence-alone"]  # fmt: skip
    report = train_answer_model.main([*tiny, "--out", str(out), "--layers", "1"])
    assert report["training"]["pairs"] > 0  # type: ignore[index]
    assert report["data"]["with_phrase"] == 6  # type: ignore[index]  # 3 answers, both files
    assert (out / "model.onnx").stat().st_size > 1_000_000
    model = OnnxCrossEncoder(out, "tiny")
    assert model.reads_phrases
    sentence = "It flows east for 212 kilometres."
    judged = model.judge("How long is the Wend?", [sentence, "Marrow."])
    assert judged.scores.shape == (2,) and np.isfinite(judged.scores).all()
    for text, phrase in zip([sentence, "Marrow."], judged.phrases, strict=True):
        assert phrase is not None and 0 <= phrase.start < phrase.end <= len(text)
    # quoth's own export reads back to float, both heads, so it can start the next run
    state = float_weights(out / "model.onnx")
    assert state["bert.encoder.layer.0.output.dense.weight"].shape == (384, 1536)
    assert state["classifier.weight"].shape == (1, 384)
    assert state["span.weight"].shape == (2, 384)
    heads = answer_heads(out / "model.onnx")
    assert np.allclose(heads.span.weight.detach().numpy(), state["span.weight"])
    # the rows built here, trained apart, the weights brought back and exported
    rows = tmp_path / "rows.json.gz"
    train_answer_model.main([*tiny, "--rows-out", str(rows), "--impossible-repeat", "3"])
    assert sum(r.kind == "impossible" for r in read_rows(rows)) == 3 * 2
    weights = tmp_path / "weights"
    run_rows.main(["--rows", str(rows), "--init", str(out), "--out", str(weights), "--batch", "4",
                   "--tokenizer", str(packaged_reranker_dir() / "tokenizer.json")])  # fmt: skip
    assert list(weights.glob("weights-*.npz")) and (weights / "training.json").is_file()
    again = tmp_path / "again"
    report = train_answer_model.main(
        [*tiny, "--out", str(again), "--init", str(out), "--weights", str(weights)]
    )
    assert report["init"] == str(out)
    assert OnnxCrossEncoder(again, "continued").judge("How long is the Wend?", [sentence]).phrases
