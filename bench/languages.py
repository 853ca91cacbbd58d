"""What answering in other languages costs, measured against English in the same run.

    python -m bench.languages [--shared ../shared] [--work /tmp/quoth-bench-languages] [--rounds 3]

Indexes the reference articles with QUOTH_OTHER_LANGUAGES on (the multilingual vectors are
embedded once and timed), then answers every question of ``eval/multilingual.jsonl`` and of
the English seed file ``--rounds`` times, one at a time. Prints one JSON document: answer
latency p50/p95 per language, each language's p50 minus English's (the latency a
non-English question adds), the time to embed the corpus for other languages against the
English index build, and the resident memory the multilingual model and language detection
add to a serving process. Then questions are asked from two threads at once, as two chat
users would: English beside English (the baseline: two ONNX Runtime calls sharing the cores),
and English beside the other languages (ONNX Runtime's pool beside the multilingual engine's
thread). If the two engines fought over the cores, the second would slow English down more
than the first does.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import threading
import time
from pathlib import Path

os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from quoth import runtime
from quoth.config import load_settings
from quoth.language import detect
from quoth.memory import release_free_memory
from quoth.retrieval import AnsweringService

REPO = Path(__file__).resolve().parent.parent


def resident_mb() -> float:
    status = Path("/proc/self/status").read_text()
    found = re.search(r"VmRSS:\s+(\d+)", status)
    return int(found.group(1)) / 1024 if found else 0.0


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))], 2)


def timed(service: AnsweringService, questions: list[str], out: list[float]) -> None:
    for question in questions:
        started = time.perf_counter()
        service.answer(question)
        out.append((time.perf_counter() - started) * 1000)


def side_by_side(service: AnsweringService, first: list[str], second: list[str]) -> list[float]:
    """Both streams at once, each as long as the longer; the first's p50 and the second's."""
    longest = max(len(first), len(second))
    times: tuple[list[float], list[float]] = ([], [])
    streams = [
        threading.Thread(target=timed, args=(service, (questions * longest)[:longest], out))
        for questions, out in zip((first, second), times, strict=True)
    ]
    for stream in streams:
        stream.start()
    for stream in streams:
        stream.join()
    return [percentile(t, 0.5) for t in times]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    parser.add_argument("--work", type=Path, default=Path("/tmp/quoth-bench-languages"))
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    corpus = args.shared / "corpus" / "articles"
    shutil.rmtree(args.work, ignore_errors=True)  # both builds from nothing, to time them
    english = load_settings(corpus_dir=corpus, index_dir=args.work / "index")
    started = time.perf_counter()
    embedder = runtime.embedder_for(english)
    runtime.reindex(english, embedder)
    english_build_s = time.perf_counter() - started

    service = runtime.open_service(english, embedder)
    release_free_memory()
    before = resident_mb()
    detect("warm up")
    after_detection = resident_mb()
    settings = english.model_copy(update={"other_languages": True})
    crosslingual = runtime.crosslingual_for(settings)
    assert crosslingual is not None
    started = time.perf_counter()
    crosslingual.prepare(service.index)
    prepare_s = time.perf_counter() - started
    service.crosslingual = crosslingual
    release_free_memory()
    after_model = resident_mb()

    questions: list[tuple[str, str]] = []
    for line in (REPO / "eval" / "multilingual.jsonl").read_text("utf-8").splitlines():
        item = json.loads(line)
        questions.append((item["language"], item["question"]))
    seed = args.shared / "eval" / "seed_questions.jsonl"
    for line in seed.read_text("utf-8").splitlines():
        questions.append(("en", json.loads(line)["question"]))
    for _, question in questions[:5]:
        service.answer(question)  # warm-up
    times: dict[str, list[float]] = {}
    for _ in range(args.rounds):
        for language, question in questions:
            started = time.perf_counter()
            service.answer(question)
            times.setdefault(language, []).append((time.perf_counter() - started) * 1000)
    english_p50 = statistics.median(times["en"])
    english_questions = [q for lang, q in questions if lang == "en"] * args.rounds
    other_questions = [q for lang, q in questions if lang != "en"] * args.rounds
    english_beside_english, _ = side_by_side(service, english_questions, english_questions[::-1])
    english_beside_other, other_beside_english = side_by_side(
        service, english_questions, other_questions
    )
    print(
        json.dumps(
            {
                "answer_ms": {
                    lang: {"p50": percentile(t, 0.5), "p95": percentile(t, 0.95), "n": len(t)}
                    for lang, t in times.items()
                },
                "added_p50_ms_vs_english": {
                    lang: round(statistics.median(t) - english_p50, 2)
                    for lang, t in times.items()
                    if lang != "en"
                },
                "two_at_once_p50_ms": {
                    "en_beside_en": english_beside_english,
                    "en_beside_other": english_beside_other,
                    "other_beside_en": other_beside_english,
                    "en_slowdown_beside_other_vs_beside_en": round(
                        english_beside_other / english_beside_english, 2
                    ),
                },
                "corpus": {
                    "passages": service.index.passage_count,
                    "sentences": service.index.sentence_count,
                    "english_build_s": round(english_build_s, 2),
                    "other_languages_embed_s": round(prepare_s, 2),
                    "embed_to_build": round(prepare_s / english_build_s, 2),
                },
                "resident_mb_added": {
                    "language_detection": round(after_detection - before, 1),
                    "multilingual_model_and_vectors": round(after_model - after_detection, 1),
                },
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
