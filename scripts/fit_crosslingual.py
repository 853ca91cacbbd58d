"""Fit the confidence threshold of questions in other languages, and check it per language.

    .venv/bin/python scripts/fit_crosslingual.py [--shared ../shared] [--work /tmp/quoth-xl]

Indexes the reference articles with QUOTH_OTHER_LANGUAGES on, reads every question of
``eval/multilingual.jsonl`` through the cross-lingual ranking, and prints JSON: per language,
the confidences of answerable and unanswerable questions; the threshold that refuses the
most unanswerable questions while wrongly refusing at most 10% of answerable ones, over all
languages at once; and each language's figures when the threshold is fitted without it
(the honest estimate for a language nobody tuned to). Confidences are comparable across
languages by construction (see quoth.retrieval.crosslingual), so one threshold serves all.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from quoth import runtime
from quoth.config import load_settings
from quoth.language import detect

REPO = Path(__file__).resolve().parent.parent
MAX_FALSE_REFUSALS = 0.10


def fit(samples: list[tuple[float, bool]]) -> float:
    """The highest threshold that keeps answerable questions refused at most 10%."""
    answerable = sorted(c for c, a in samples if a)
    allowed = int(MAX_FALSE_REFUSALS * len(answerable))
    return answerable[allowed] - 1e-6 if answerable else 0.0


def figures(samples: list[tuple[float, bool]], threshold: float) -> dict[str, float]:
    answerable = [c for c, a in samples if a]
    unanswerable = [c for c, a in samples if not a]
    return {
        "answerable_refused": round(sum(c < threshold for c in answerable) / len(answerable), 3),
        "unanswerable_refused": round(
            sum(c < threshold for c in unanswerable) / len(unanswerable), 3
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    parser.add_argument("--work", type=Path, default=Path("/tmp/quoth-xl"))
    args = parser.parse_args()
    settings = load_settings(
        corpus_dir=args.shared / "corpus" / "articles",
        index_dir=args.work / "index",
        other_languages=True,
    )
    service = runtime.open_or_build_service(settings)
    crosslingual = service.crosslingual
    assert crosslingual is not None
    by_language: dict[str, list[tuple[float, bool]]] = {}
    for line in (REPO / "eval" / "multilingual.jsonl").read_text(encoding="utf-8").splitlines():
        question = json.loads(line)
        language = detect(question["question"]).code
        _, confidence = crosslingual.rank(service.index, question["question"], language, 20)
        by_language.setdefault(question["language"], []).append(
            (confidence, bool(question["answerable"]))
        )
    everything = [s for samples in by_language.values() for s in samples]
    threshold = fit(everything)
    left_out: dict[str, dict[str, float]] = {}
    for language, samples in by_language.items():
        rest = [s for other, group in by_language.items() if other != language for s in group]
        held = fit(rest)
        left_out[language] = {"threshold": round(held, 3), **figures(samples, held)}
    report = {
        "threshold_all": round(threshold, 3),
        "fitted": {lang: figures(s, threshold) for lang, s in by_language.items()},
        "left_out": left_out,
    }
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
