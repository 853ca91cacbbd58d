"""The development files, and a service over each one's corpus: shared by the scripts that fit
and measure quoth's decisions (``fit_refusal.py``, ``development_report.py``).

Every development file at once: the reference articles' seed, own, topic and honesty files,
the squad-dev article, quoth's own user guide, and the answer model's validation split: the
held-out SQuAD training articles, and the held-out articles of the file of real unanswerable
questions (both written to the work folder, since their text may not be copied into the
repository).
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from quoth import runtime
from quoth.config import load_settings
from quoth.retrieval.service import AnsweringService
from quoth.training.validation_split import write_validation_split

REPO = Path(__file__).resolve().parent.parent
UNANSWERABLE_VALIDATION_ARTICLES = 4
"""As ``train_answer_model.py --impossible-validation-articles``: the same seeded draw."""


def development_files(shared: Path, work: Path) -> list[tuple[str, Path, Path]]:
    """(name, corpus folder, question file) for every development file."""
    news, squad = shared / "corpus" / "articles", shared / "eval" / "squad-dev"
    squad_training = shared / "train" / "squad"
    validation = write_validation_split(
        squad_training / "train-v2.0.json", work / "validation-split"
    )
    unanswerable = write_validation_split(
        squad_training / "dev-v2.0-train.json", work / "validation-unanswerable",
        validation=UNANSWERABLE_VALIDATION_ARTICLES,
    )  # fmt: skip
    return [
        ("seed", news, shared / "eval" / "seed_questions.jsonl"),
        ("own", news, REPO / "eval" / "questions.jsonl"),
        ("topic", news, REPO / "eval" / "topic_questions.jsonl"),
        ("honesty", news, REPO / "eval" / "honesty_questions.jsonl"),
        ("reader", news, REPO / "eval" / "reader_questions.jsonl"),
        ("squad-dev", squad / "articles", squad / "questions.jsonl"),
        (
            "guide",
            REPO / "src" / "quoth" / "sample_corpus",
            REPO / "eval" / "guide_questions.jsonl",
        ),
        ("validation", *validation),
        ("validation-unanswerable", *unanswerable),
    ]


ADVERSARIAL = frozenset({"squad-dev", "validation", "validation-unanswerable"})
"""SQuAD-style files: their unanswerable questions were written against the paragraph that
nearly answers them, so a claim decision may give more of them a bold answer (the issue's
20% rather than 10%)."""


def blind_files(shared: Path) -> list[tuple[str, Path, Path]]:
    """The questions set aside before anything was fitted: read only to report, last."""
    news = shared / "corpus" / "articles"
    return [("reader-blind", news, REPO / "eval" / "reader_blind.jsonl")]


def services(
    files: list[tuple[str, Path, Path]], work: Path, reranker: str
) -> dict[Path, AnsweringService]:
    """One service per corpus (indexed in ``work``), ranking with ``reranker``."""
    built: dict[Path, AnsweringService] = {}
    for _, corpus, _ in files:
        if corpus not in built:
            settings = load_settings(
                index_dir=work / "index" / corpus.parent.name / corpus.name,
                corpus_dir=corpus,
                reranker=reranker,
                retrieval_mode="rerank",
            )
            embedder = runtime.embedder_for(settings)
            runtime.reindex(settings, embedder)
            built[corpus] = runtime.open_service(settings, embedder)
    return built
