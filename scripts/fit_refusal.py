"""Fit the packaged refusal decision on every development file at once, and check it.

    .venv/bin/python scripts/fit_refusal.py [--shared ../shared] [--work /tmp/quoth-fit] [--write]

Builds an index for each development corpus (the five reference articles, the squad-dev
article, quoth's own user guide), reads every question of the four development files through
the reranking stage, fits one model with each file weighing the same, and prints JSON: the
fitted figures per file, each file's figures when it is left out of the fit, and the trade-off
between wrongful refusals and refused unanswerable questions at several targets. ``--write``
stores the fit as the packaged default (``src/quoth/retrieval/refusal_default.json``).
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import asdict
from pathlib import Path

os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from quoth import runtime
from quoth.config import load_settings
from quoth.retrieval.calibrate import by_group, collect_samples, figures
from quoth.retrieval.evaluation import load_questions
from quoth.retrieval.refusal import DEFAULT_NAME, Sample, fit_refusal

REPO = Path(__file__).resolve().parent.parent
TARGETS = (0.0, 0.01, 0.02, 0.03, 0.05, 0.08, 0.1, 0.15, 0.2)


def development_files(shared: Path) -> list[tuple[str, Path, Path]]:
    """(name, corpus folder, question file) for every development file."""
    news, squad = shared / "corpus" / "articles", shared / "eval" / "squad-dev"
    return [
        ("seed", news, shared / "eval" / "seed_questions.jsonl"),
        ("own", news, REPO / "eval" / "questions.jsonl"),
        ("squad-dev", squad / "articles", squad / "questions.jsonl"),
        (
            "guide",
            REPO / "src" / "quoth" / "sample_corpus",
            REPO / "eval" / "guide_questions.jsonl",
        ),
    ]


def gather(shared: Path, work: Path) -> list[Sample]:
    samples: list[Sample] = []
    services = {}
    for name, corpus, questions in development_files(shared):
        if corpus not in services:
            settings = load_settings(index_dir=work / corpus.name, corpus_dir=corpus)
            embedder = runtime.embedder_for(settings)
            runtime.reindex(settings, embedder)
            services[corpus] = runtime.open_service(settings, embedder)
        samples += collect_samples(services[corpus], load_questions(questions), name)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    parser.add_argument("--work", type=Path, default=Path("/tmp/quoth-fit"))
    parser.add_argument("--write", action="store_true", help="store as the packaged default")
    args = parser.parse_args()
    samples = gather(args.shared, args.work)
    groups = by_group(samples)
    model = fit_refusal(samples)
    report: dict[str, object] = {
        "signals": list(model.signals),
        "threshold": round(model.threshold, 4),
        "fitted": {g: asdict(figures(model, s)) for g, s in groups.items()},
        "left_out": {
            g: asdict(figures(fit_refusal([x for x in samples if x.group != g]), s))
            for g, s in groups.items()
        },
        "trade_off": {
            str(target): {
                g: asdict(figures(fit_refusal(samples, target), s)) for g, s in groups.items()
            }
            for target in TARGETS
        },
    }
    print(json.dumps(report, indent=1))
    if args.write:
        model.save(REPO / "src" / "quoth" / "retrieval" / DEFAULT_NAME)


if __name__ == "__main__":
    main()
