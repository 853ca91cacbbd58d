"""Freed heap memory goes back to the system, so a server's RSS is what it uses; what two
models have in common is held once."""

from __future__ import annotations

import json
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from tokenizers import Tokenizer

import quoth
from quoth import onnx_model
from quoth.memory import release_free_memory
from quoth.onnx_model import load_tokenizer


def resident_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.mark.skipif(platform.system() != "Linux" or not platform.libc_ver()[0], reason="glibc")
def test_freed_heap_memory_is_returned() -> None:
    # 100 kB blocks come from the heap, not from mmap; keeping the last one alive pins the
    # top of the heap, so without a trim the freed blocks below it stay resident.
    blocks = [np.ones(100_000 // 8) for _ in range(2_000)]
    pinned = blocks.pop()
    del blocks
    before = resident_mb()
    assert release_free_memory()
    after = resident_mb()
    assert before - after > 100, (before, after)
    assert pinned.sum() == len(pinned)


def test_the_two_models_share_one_vocabulary(tmp_path: Path) -> None:
    answer_file = Path(quoth.__file__).parent / "models" / "answer" / "tokenizer.json"
    # The embedder's tokenizer, as a file of its own: the same vocabulary, other settings.
    spec = json.loads(answer_file.read_text(encoding="utf-8"))
    spec["truncation"] = None
    spec["padding"] = None
    embedder_file = tmp_path / "tokenizer.json"
    embedder_file.write_text(json.dumps(spec), encoding="utf-8")
    answer = load_tokenizer(answer_file, 384)
    parsed = len(onnx_model._parsed_tokenizers)
    embedder = load_tokenizer(embedder_file, 256)
    assert len(onnx_model._parsed_tokenizers) == parsed
    limits = [tokenizer.truncation or {} for tokenizer in (answer, embedder)]
    assert [limit.get("max_length") for limit in limits] == [384, 256]
    for tokenizer, file, limit in ((answer, answer_file, 384), (embedder, embedder_file, 256)):
        alone = Tokenizer.from_file(str(file))
        alone.enable_truncation(limit)
        alone.enable_padding()
        assert json.loads(tokenizer.to_str()) == json.loads(alone.to_str())
        pair = ("Who visited Islamabad?", "Aliyev visited Islamabad in 2024. " * 80)
        assert tokenizer.encode(*pair).ids == alone.encode(*pair).ids
    spec["model"]["vocab"]["quothword"] = len(spec["model"]["vocab"])
    other_file = tmp_path / "other.json"
    other_file.write_text(json.dumps(spec), encoding="utf-8")
    other = load_tokenizer(other_file, 384)
    assert len(onnx_model._parsed_tokenizers) == parsed + 1
    assert other.token_to_id("quothword") is not None and answer.token_to_id("quothword") is None


SERVE_AND_REINDEX = """
import sys
from pathlib import Path
from quoth import runtime
from quoth.config import load_settings

settings = load_settings(index_dir=Path(sys.argv[1]), corpus_dir=Path(sys.argv[2]))
embedder = runtime.embedder_for(settings)
service = runtime.open_service(settings, embedder)
assert service.answer("Who visited Islamabad?").quotes
article = sorted(Path(sys.argv[2]).iterdir())[0]
article.write_text(article.read_text() + "\\n\\nA sentence the reindex adds.\\n")
index, _ = runtime.reindex(settings, embedder)  # one article changed: a delta
assert (index.base.vectors.kind, index.delta.vectors.kind) == ("flat", "flat")
assert runtime.open_service(settings, embedder).answer("Who visited Islamabad?").quotes
print(sorted(name for name in sys.modules if name.split(".")[0] == "faiss"))
"""


def test_a_small_collection_is_served_and_reindexed_without_faiss(
    tmp_path: Path, shared_index_dir: Path, corpus_copy: Path
) -> None:
    # FAISS (its own OpenBLAS and SWIG wrappers) costs a process memory that a collection
    # small enough to be scanned whole does not need: serving and reindexing it never load it.
    index_dir = tmp_path / "index"
    shutil.copytree(shared_index_dir, index_dir, symlinks=True)
    child = subprocess.run(
        [sys.executable, "-c", SERVE_AND_REINDEX, str(index_dir), str(corpus_copy)],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert child.returncode == 0, child.stderr[-2000:]
    assert child.stdout.strip().splitlines()[-1] == "[]"
