"""The command line: exit codes and messages a user sees."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from quoth.cli import app
from quoth.retrieval.refusal import AVAILABLE_SIGNALS

from .conftest import REPO, SEED_QUESTIONS

OWN_QUESTIONS = REPO / "eval" / "questions.jsonl"

runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_index_then_ask_json(corpus_copy: Path, tmp_path: Path) -> None:
    index_dir = str(tmp_path / "idx")
    code, stdout, _ = run("index", str(corpus_copy), "--index-dir", index_dir)
    assert code == 0
    assert "Indexed 5 articles (5 new" in stdout
    code, stdout, _ = run(
        "ask", "Which water treaty did India suspend?", "--json", "--index-dir", index_dir
    )
    assert code == 0
    document = json.loads(stdout)
    assert document["answered"] is True
    quote = document["quotes"][0]
    assert set(quote) >= {
        "passage_id", "document_id", "title", "url", "score", "sentence", "passage",
    }  # fmt: skip
    assert "Indus Waters Treaty" in quote["sentence"]
    phrase = quote["phrase"]  # the answer phrase, as offsets into the quoted sentence
    assert phrase["text"] == quote["sentence"][phrase["start"] : phrase["end"]]
    assert "Indus Waters Treaty" in phrase["text"]
    code, stdout, _ = run("ask", "Who won the 2022 FIFA World Cup?", "--index-dir", index_dir)
    assert code == 0 and "Not in my sources" in stdout


def test_missing_corpus(tmp_path: Path) -> None:
    code, _, stderr = run("index", str(tmp_path / "nowhere"), "--index-dir", str(tmp_path / "i"))
    assert code == 1
    assert "does not exist" in stderr and "Traceback" not in stderr


def test_empty_corpus_keeps_existing_index(tmp_path: Path, shared_index_dir: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, stderr = run("index", str(empty), "--index-dir", str(shared_index_dir))
    assert code == 1 and "No articles to index" in stderr
    code, stdout, _ = run(
        "ask", "Who is Armenia's foreign minister?", "--index-dir", str(shared_index_dir)
    )
    assert code == 0 and "Mirzoyan" in stdout


def test_unreadable_file_skipped_with_warning(corpus_copy: Path, tmp_path: Path) -> None:
    (corpus_copy / "broken.txt").write_bytes(b"\xff\xfe\x00binary\x00")
    code, stdout, stderr = run("index", str(corpus_copy), "--index-dir", str(tmp_path / "idx"))
    assert code == 0
    assert "Skipped" in stderr and "broken.txt" in stderr
    assert "Indexed 5 articles" in stdout


def test_first_ask_builds_the_index(
    corpus_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QUOTH_CORPUS_DIR", str(corpus_copy))
    question = "Which Turkish naval ship arrived in Karachi?"
    code, stdout, _ = run("ask", question, "--index-dir", str(tmp_path / "new"))
    assert code == 0 and "Büyükada" in stdout
    assert (tmp_path / "new" / "current" / "manifest.json").is_file()


def test_no_index_and_no_corpus_explained(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUOTH_CORPUS_DIR", str(tmp_path / "missing"))
    code, _, stderr = run("ask", "anything?", "--index-dir", str(tmp_path / "none"))
    assert code == 1
    assert "missing" in stderr and "Traceback" not in stderr


def test_empty_question(shared_index_dir: Path) -> None:
    code, _, stderr = run("ask", "  ", "--index-dir", str(shared_index_dir))
    assert code == 1 and "Please type a question" in stderr


def test_eval_json(shared_index_dir: Path) -> None:
    code, stdout, _ = run(
        "eval", str(SEED_QUESTIONS), "--json", "--index-dir", str(shared_index_dir)
    )
    assert code == 0
    metrics = json.loads(stdout)["metrics"]
    assert metrics["questions"] == 30 and metrics["evidence_top3"] >= 0.9


def test_chat_answers_until_quit(shared_index_dir: Path) -> None:
    result = runner.invoke(
        app,
        ["chat", "--index-dir", str(shared_index_dir)],
        input="Which Turkish naval ship arrived in Karachi?\n\nquit\n",
    )
    assert result.exit_code == 0
    assert "TCG Büyükada" in result.stdout
    assert "Please type a question" in result.stdout


def test_bad_config_is_one_line(monkeypatch: pytest.MonkeyPatch, shared_index_dir: Path) -> None:
    monkeypatch.setenv("QUOTH_TOP_K", "lots")
    code, _, stderr = run("ask", "hi", "--index-dir", str(shared_index_dir))
    assert code == 1
    assert stderr.strip().startswith("Error: Invalid configuration: QUOTH_TOP_K")


def test_console_script_runs(shared_index_dir: Path) -> None:
    """The installed entry point, in a fresh process, as a user runs it."""
    quoth = Path(sys.executable).parent / "quoth"
    completed = subprocess.run(
        [str(quoth), "ask", "When were the Washington agreements signed?", "--json"],
        env={**os.environ, "QUOTH_INDEX_DIR": str(shared_index_dir)},
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    assert "8 August" in json.loads(completed.stdout)["quotes"][0]["sentence"]


def test_damaged_index_explained_then_rebuilt(corpus_copy: Path, tmp_path: Path) -> None:
    """A flipped byte in a vector file is caught at load (no traceback, the fix named), and
    ``quoth index`` rebuilds from the articles instead of reusing the damaged vectors."""
    index_dir = str(tmp_path / "idx")
    assert run("index", str(corpus_copy), "--index-dir", index_dir)[0] == 0
    vectors = tmp_path / "idx" / "current" / "passage_vectors.npy"
    damaged = bytearray(vectors.read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF
    vectors.write_bytes(bytes(damaged))
    code, _, stderr = run("ask", "Which water treaty did India suspend?", "--index-dir", index_dir)
    assert code == 1 and "damaged. Rebuild with: quoth index" in stderr
    code, stdout, _ = run("index", str(corpus_copy), "--index-dir", index_dir)
    assert code == 0 and "5 new" in stdout
    code, stdout, _ = run("ask", "Which water treaty did India suspend?", "--index-dir", index_dir)
    assert code == 0 and "Indus Waters Treaty" in stdout


def test_eval_json_shows_the_first_page_and_question_types(shared_index_dir: Path) -> None:
    code, stdout, _ = run(
        "eval", str(SEED_QUESTIONS), "--json", "--index-dir", str(shared_index_dir)
    )
    document = json.loads(stdout)
    assert code == 0 and document["metrics"]["answer_on_first_page"] >= 0.9
    assert {"who", "when", "where", "how many-much"} <= set(document["by_type"])
    answered = next(r for r in document["results"] if r["answered"])
    assert answered["question_type"] and answered["quotes"]
    assert set(answered["quotes"][0]) == {"sentence", "before", "after", "document_id", "score"}
    assert answered["quotes"][0]["sentence"] == answered["quoted"]


def test_ask_explain_says_what_decided(shared_index_dir: Path) -> None:
    index_dir = str(shared_index_dir)
    code, stdout, _ = run(
        "ask", "Who won the 2022 FIFA World Cup?", "--explain", "--index-dir", index_dir
    )
    assert code == 0 and "Decision: refused" in stdout and "window_score" in stdout
    assert "Reranker: quoth-answer" in stdout and "p(answers)" in stdout and "p(phrase)" in stdout
    code, stdout, _ = run(
        "ask", "Where did Shehbaz Sharif meet Ilham Aliyev?", "--explain", "--json",
        "--index-dir", index_dir,
    )  # fmt: skip
    explanation = json.loads(stdout)
    assert code == 0 and explanation["answered"] and explanation["question_type"] == "where"
    assert explanation["confidence"] >= explanation["threshold"]
    assert "Lachin" in explanation["sentences"][0]["sentence"]
    assert set(explanation["signals"]) == set(AVAILABLE_SIGNALS)
    best = explanation["sentences"][0]["judged"]  # both heads: the score and the phrase
    assert (
        best["answer_score"] > 0
        and "Lachin"
        in explanation["sentences"][0]["sentence"][best["phrase"]["start"] : best["phrase"]["end"]]
    )
    assert explanation["reranker"] == "quoth-answer"


def test_eval_compare_sets_the_other_reranker_beside(shared_index_dir: Path) -> None:
    """The passage model, read with its own refusal fit, as a column beside the modes."""
    code, stdout, _ = run(
        "eval", str(SEED_QUESTIONS), "--compare", "--json", "--index-dir", str(shared_index_dir)
    )
    document = json.loads(stdout)
    assert code == 0
    assert {"dense", "bm25", "hybrid", "rerank", "rerank:ms-marco-MiniLM-L-12-v2"} <= set(document)
    assert document["rerank:ms-marco-MiniLM-L-12-v2"]["questions"] == 30


def test_calibrate_stores_a_fit_beside_the_index(shared_index_dir: Path, tmp_path: Path) -> None:
    index_dir = tmp_path / "idx"
    shutil.copytree(shared_index_dir, index_dir, symlinks=True)
    answerable_only = tmp_path / "answerable.jsonl"
    answerable_only.write_text(
        "\n".join(
            line for line in SEED_QUESTIONS.read_text().splitlines() if '"answerable": true' in line
        )
    )
    code, _, stderr = run("calibrate", str(answerable_only), "--index-dir", str(index_dir))
    assert code == 1 and "at least 3 answerable and 3 unanswerable" in stderr
    assert not (index_dir / "refusal.json").exists()
    code, stdout, _ = run(
        "calibrate",
        str(SEED_QUESTIONS),
        str(OWN_QUESTIONS),
        "--json",
        "--index-dir",
        str(index_dir),
    )
    document = json.loads(stdout)
    assert code == 0 and (index_dir / "refusal.json").is_file()
    assert json.loads((index_dir / "refusal.json").read_text())["reranker"] == "quoth-answer"
    after = document["files"]["questions.jsonl"]["after"]
    assert after["false_refusal_rate"] <= 0.05
    assert after["refusal_rate"] >= document["files"]["questions.jsonl"]["before"]["refusal_rate"]
    assert after["false_claim_rate"] <= 0.10  # the claim cut fitted too, at its default target
    assert document["claim_threshold"]["after"] >= document["threshold"]["after"]
    stored = json.loads((index_dir / "refusal.json").read_text())
    assert stored["claim_threshold"] == pytest.approx(
        document["claim_threshold"]["after"], abs=1e-4
    )
    code, stdout, _ = run(
        "ask",
        "Who won the 2022 FIFA World Cup?",
        "--explain",
        "--json",
        "--index-dir",
        str(index_dir),
    )
    assert json.loads(stdout)["threshold"] == document["threshold"]["after"]
