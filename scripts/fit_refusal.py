"""Fit a reranker's packaged answer decision on every development file at once, and check it.

    .venv/bin/python scripts/fit_refusal.py [--reranker NAME] [--shared ../shared]
        [--work /tmp/quoth-fit] [--signals answer_score,window_score] [--write] [--blind]

Builds an index for each development corpus (:mod:`development`), reads every question of
every development file through the reranking stage, fits one confidence with each file
weighing the same and two cuts on it: *refuse* below the first (at most 3% of any file's
answerable questions refused), *claim* (bold answer) from the second (the lowest at which no
file gives a bold answer to more than 10% of its unanswerable questions, 20% for SQuAD-style
files); in between quoth shows the closest passages. It prints JSON: the fitted figures per
file (claims right, unanswerable claimed, answerable claimed and right, refused, first page),
each file's figures when it is left out of the fit (confidence and both cuts refitted without
it), the trade-off between wrongful refusals and refused unanswerable questions at several
targets, and with ``--blind`` the figures of the questions set aside before any fit, last.

For a reranker that finds the answer phrase, it also fits the phrase
threshold: the highest probability at which a phrase is still underlined for
:data:`PHRASE_SHOWN` of the rightly marked answers of every SQuAD-style file (their evidence is
the answer phrase), so the least sure phrases, the likeliest to be wrong, are not shown.
``--write`` stores the fit as that reranker's packaged default: the
``refusal.json`` beside quoth-answer's weights, or ``refusal_default.json`` for the passage
model.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, replace
from pathlib import Path

from development import ADVERSARIAL, REPO, blind_files, development_files, services

from quoth.retrieval.calibrate import as_read, by_group, collect_samples, figures, fit_as_read
from quoth.retrieval.evaluation import EvalQuestion, evaluate, load_questions
from quoth.retrieval.phrase import NEVER_SHOWN
from quoth.retrieval.refusal import (
    AVAILABLE_SIGNALS,
    DEFAULT_NAME,
    SIGNALS,
    STORED_NAME,
    TARGET_FALSE_CLAIMS,
    TARGET_FALSE_CLAIMS_ADVERSARIAL,
    RefusalModel,
    Sample,
    fit_claim,
    fit_refusal,
    threshold_for,
)
from quoth.retrieval.rerank import ANSWER_MODEL, DEFAULT_RERANKER, answer_model_dir
from quoth.retrieval.service import AnsweringService

TARGETS = (0.0, 0.01, 0.02, 0.03, 0.05, 0.08, 0.1, 0.15, 0.2)
PHRASE_FILES = ("squad-dev", "validation", "validation-unanswerable")
PHRASE_SHOWN = 0.85


def claim_limits(groups: object) -> dict[str, float]:
    """Each file's most unanswerable questions given a bold answer: more for SQuAD-style."""
    return {
        g: TARGET_FALSE_CLAIMS_ADVERSARIAL if g in ADVERSARIAL else TARGET_FALSE_CLAIMS
        for g in groups  # type: ignore[attr-defined]
    }


def gather(
    shared: Path, work: Path, reranker: str
) -> tuple[list[Sample], dict[str, list[tuple[float, bool]]]]:
    """Every development question's refusal signals (and, for the blind file, its own, kept
    apart by its group name); and, per SQuAD-style file, each rightly marked answer's phrase
    probability and whether the phrase is exactly right."""
    files = development_files(shared, work) + blind_files(shared)
    by_corpus = services(files, work, reranker)
    samples: list[Sample] = []
    phrases: dict[str, list[tuple[float, bool]]] = {}
    for name, corpus, questions in files:
        items = load_questions(questions)
        samples += collect_samples(by_corpus[corpus], items, name)
        if name in PHRASE_FILES:
            phrases[name] = phrase_points(by_corpus[corpus], [q for q in items if q.answerable])
    return samples, phrases


def gathered(
    args: argparse.Namespace,
) -> tuple[list[Sample], dict[str, list[tuple[float, bool]]]]:
    """:func:`gather`, or what an earlier run with the same ``--cache`` stored."""
    if args.cache is not None and args.cache.is_file():
        stored = json.loads(args.cache.read_text(encoding="utf-8"))
        samples = [Sample(**s) for s in stored["samples"]]
        phrases = {k: [(p, bool(e)) for p, e in v] for k, v in stored["phrases"].items()}
        return samples, phrases
    samples, phrases = gather(args.shared, args.work, args.reranker)
    if args.cache is not None:
        document = {"samples": [asdict(s) for s in samples], "phrases": phrases}
        args.cache.write_text(json.dumps(document), encoding="utf-8")
    return samples, phrases


def phrase_points(service: AnsweringService, items: list[EvalQuestion]) -> list[tuple[float, bool]]:
    """(probability, exact) of the phrase in each rightly marked answer, every phrase shown."""
    keep = service.refusal
    service.refusal = replace(keep, phrase_threshold=0.0, threshold=0.0, claim_threshold=0.0)
    try:
        report = evaluate(service, items, "rerank")
    finally:
        service.refusal = keep
    return [
        (r.phrase.probability, r.phrase_exact) for r in report.results if r.quote_hit and r.phrase
    ]


def phrase_figures(points: list[tuple[float, bool]], threshold: float) -> dict[str, float]:
    shown = [exact for p, exact in points if p >= threshold]
    return {
        "right_marked": len(points),
        "shown": round(len(shown) / max(1, len(points)), 4),
        "exact_when_shown": round(sum(shown) / max(1, len(shown)), 4),
        "exact_if_all_shown": round(sum(e for _, e in points) / max(1, len(points)), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reranker", default=DEFAULT_RERANKER)
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    parser.add_argument("--work", type=Path, default=Path("/tmp/quoth-fit"))
    parser.add_argument("--signals", default=",".join(SIGNALS), help="what the fit reads")
    parser.add_argument("--write", action="store_true", help="store as the packaged default")
    parser.add_argument(
        "--blind", action="store_true", help="report the set-aside questions too (last)"
    )
    parser.add_argument(
        "--cache", type=Path, default=None,
        help="keep what was read here and read it back next time (to try other signals)",
    )  # fmt: skip
    args = parser.parse_args()
    signals = tuple(args.signals.split(","))
    unknown = set(signals) - set(AVAILABLE_SIGNALS)
    if unknown:
        parser.error(f"unknown signals {sorted(unknown)}: use {', '.join(AVAILABLE_SIGNALS)}")
    everything, phrases = gathered(args)
    blind = {name for name, _, _ in blind_files(args.shared)}
    samples = [s for s in everything if s.group not in blind]
    groups = by_group(samples)

    def fit(chosen: list[Sample], target: float | None = None) -> RefusalModel:
        extra = {} if target is None else {"target": target}
        limits = claim_limits({s.group for s in chosen})

        def once(read: list[Sample]) -> RefusalModel:
            model = fit_refusal(read, reranker=args.reranker, signals=signals, **extra)
            return fit_claim(model, read, limits)

        def recut(model: RefusalModel, read: list[Sample]) -> RefusalModel:
            return fit_claim(model, read, limits)

        return fit_as_read(chosen, once, recut)

    def shown(model: RefusalModel, chosen: list[Sample]) -> dict[str, object]:
        read = as_read(model, chosen)
        further = sum(a.signals is not b.signals for a, b in zip(read, chosen, strict=True))
        found = {k: v if not isinstance(v, float) else round(v, 4)
                 for k, v in asdict(figures(model, read)).items()}  # fmt: skip
        return {**found, "read_further": round(further / max(1, len(chosen)), 4)}

    model = fit(samples)
    points = {name: [p for p, _ in found] for name, found in phrases.items() if found}
    phrase_threshold = threshold_for(points, 1 - PHRASE_SHOWN) if points else NEVER_SHOWN
    model = replace(model, phrase_threshold=phrase_threshold)
    report: dict[str, object] = {
        "signals": list(model.signals),
        "threshold": round(model.threshold, 4),
        "claim_threshold": round(model.claim_threshold, 4),
        "read_further": model.read_further,
        "phrase_threshold": round(phrase_threshold, 4),
        "phrases": {
            name: phrase_figures(found, phrase_threshold) for name, found in phrases.items()
        },
        "fitted": {g: shown(model, s) for g, s in groups.items()},
        "left_out": {
            g: shown(fit([x for x in samples if x.group != g]), s) for g, s in groups.items()
        },
        "trade_off": {
            str(target): {g: shown(fit(samples, target), s) for g, s in groups.items()}
            for target in TARGETS
        },
    }
    if args.blind:  # read last, never fitted on
        report["blind"] = {
            g: shown(model, s) for g, s in by_group(everything).items() if g in blind
        }
    print(json.dumps(report, indent=1))
    if args.write:
        packaged = REPO / "src" / "quoth" / "retrieval" / DEFAULT_NAME
        model.save(answer_model_dir() / STORED_NAME if args.reranker == ANSWER_MODEL else packaged)


if __name__ == "__main__":
    main()
