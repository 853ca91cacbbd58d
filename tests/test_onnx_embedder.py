"""The ONNX Runtime back-ends: same vector space as sentence-transformers, no torch at serving."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from quoth.index import Embedder, IndexData, ModelError, load_embedder
from quoth.index.onnx_embedder import export_onnx
from quoth.retrieval import AnsweringService, RetrievalOptions
from quoth.retrieval.evaluation import evaluate, load_questions

from .conftest import SEED_QUESTIONS


@pytest.fixture(scope="session")
def onnx_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("onnx")
    export_onnx(folder)
    return folder


def index_texts(index: IndexData) -> list[str]:
    rows = [*index.passages[:, :3].tolist(), *index.sentences.tolist()]
    return [index.articles[d].text[s:e] for d, s, e in rows]


@pytest.mark.parametrize("backend", ["onnx", "onnx-int8"])
def test_vectors_match_sentence_transformers(
    backend: str, onnx_dir: Path, embedder: Embedder, shared_index: IndexData
) -> None:
    onnx = load_embedder("all-MiniLM-L6-v2", backend, onnx_dir)
    texts = index_texts(shared_index)
    cosines = np.sum(onnx.encode(texts) * embedder.encode(texts), axis=1)
    print(
        f"\n{backend}: {len(texts)} texts, cosine min {cosines.min():.4f} mean {cosines.mean():.4f}"
    )
    assert onnx.name == embedder.name and onnx.dimension == embedder.dimension
    # int8 products (quoth's int8 file) give up a little: measured min 0.984, mean 0.994 on
    # these texts, with every development file's answers within 0.0034 (its model card).
    assert cosines.min() >= (0.99 if backend == "onnx" else 0.98)
    assert cosines.mean() >= 0.99
    assert onnx.encode([]).shape == (0, 384)


def test_int8_keeps_the_quality_targets(shared_index: IndexData) -> None:
    """One index serves every back-end: the int8 model answers from torch-built vectors."""
    from quoth.retrieval.rerank import load_reranker

    int8 = load_embedder("all-MiniLM-L6-v2", "onnx-int8")
    service = AnsweringService(
        shared_index, int8, RetrievalOptions(), load_reranker("ms-marco-MiniLM-L-12-v2")
    )
    report = evaluate(service, load_questions(SEED_QUESTIONS))
    print(report.metrics())
    assert report.evidence_top3 >= 0.98 and report.sentence_hit >= 0.9
    assert report.false_answer_rate <= 0.05 and report.false_refusal_rate <= 0.05


def test_serving_path_never_imports_torch(shared_index_dir: Path, onnx_dir: Path) -> None:
    script = (
        "import sys; from quoth import runtime; from quoth.config import load_settings; "
        "s = runtime.open_service(load_settings()); "
        "a = s.answer('Which water treaty did India suspend?'); "
        "print(a.answered, 'torch' in sys.modules, 'sentence_transformers' in sys.modules)"
    )
    env = {
        **os.environ,
        "QUOTH_INDEX_DIR": str(shared_index_dir),
        "QUOTH_ONNX_DIR": str(onnx_dir),
        "QUOTH_EMBEDDING_BACKEND": "auto",
    }
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == ["True", "False", "False"]


def test_backend_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="quoth export-onnx"):
        load_embedder("all-MiniLM-L6-v2", "onnx", tmp_path)
    with pytest.raises(ModelError, match="QUOTH_EMBEDDING_BACKEND"):
        load_embedder("all-MiniLM-L6-v2", "tpu")
    with pytest.raises(ModelError, match="ONNX back-ends run"):
        load_embedder(str(tmp_path), "onnx-int8")
