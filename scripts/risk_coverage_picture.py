"""Risk-coverage curves of the claim decision, one per development file, as an SVG picture.

    .venv/bin/python scripts/risk_coverage_picture.py CACHE.json OUT.svg [--reranker NAME]
        [--before OLD_CACHE.json --before-model OLD_REFUSAL.json]

``CACHE.json`` is what ``scripts/fit_refusal.py --cache`` read (every development question's
signals, and whether its marked sentence and first page hold the answer). For each file the
curve follows the claim cut from high to low: across, the share of the answerable questions
still given a bold answer; up, the share of the bold answers given (to any question of the
file) whose sentence holds the answer. The dot is the packaged claim cut. Each question is
taken as the packaged cuts read it (further, where its first read falls between the cuts).
``--before`` draws an earlier cache with its own decision (``--before-model``) in grey
beside it. Plain SVG written here, so the documentation needs no plotting library.
"""

from __future__ import annotations

import argparse
import html
import json
from pathlib import Path

from quoth.retrieval.calibrate import as_read
from quoth.retrieval.refusal import RefusalModel, Sample, default_refusal
from quoth.retrieval.rerank import DEFAULT_RERANKER, load_reranker

PANEL_W, PANEL_H, MARGIN, COLUMNS = 230, 190, 38, 3
INK, GRID, CURVE, DOT = "#33404d", "#d8dee4", "#2a7bc0", "#d9480f"
BEFORE = "#9aa5b1"


def curve(model: RefusalModel, samples: list[Sample]) -> list[tuple[float, float]]:
    """(coverage, claims right) at every cut between two confidences, from the highest."""
    scored = sorted(((model.confidence(s.signals), s) for s in samples), key=lambda p: -p[0])
    answerable = sum(s.answerable for s in samples)
    points, right, covered = [], 0, 0
    for claimed, (_, sample) in enumerate(scored, start=1):
        covered += sample.answerable
        right += bool(sample.answerable and sample.right)
        points.append((covered / max(1, answerable), right / claimed))
    return points


def at_cut(model: RefusalModel, samples: list[Sample]) -> tuple[float, float]:
    claimed = [s for s in samples if model.confidence(s.signals) >= model.claim]
    answerable = sum(s.answerable for s in samples)
    right = sum(bool(s.answerable and s.right) for s in claimed)
    covered = sum(s.answerable for s in claimed)
    return covered / max(1, answerable), right / max(1, len(claimed))


Drawn = tuple[list[tuple[float, float]], tuple[float, float]]
"""A curve and the dot at its cut."""


def drawn(model: RefusalModel, samples: list[Sample]) -> Drawn:
    read = as_read(model, samples)
    return curve(model, read), at_cut(model, read)


def panel(name: str, after: Drawn, before: Drawn | None = None) -> str:
    w, h = PANEL_W - MARGIN - 8, PANEL_H - MARGIN - 22

    def xy(x: float, y: float) -> str:
        return f"{MARGIN + x * w:.1f},{22 + (1 - y) * h:.1f}"

    parts = [f'<text x="{MARGIN}" y="14" font-weight="600">{html.escape(name)}</text>']
    for tick in (0.0, 0.5, 1.0):
        level = 22 + (1 - tick) * h
        parts.append(
            f'<line x1="{MARGIN}" x2="{MARGIN + w}" y1="{level:.1f}" y2="{level:.1f}" '
            f'stroke="{GRID}"/><text x="{MARGIN - 4}" y="{level + 4:.1f}" '
            f'text-anchor="end">{tick:g}</text><text x="{MARGIN + tick * w:.1f}" '
            f'y="{22 + h + 14}" text-anchor="middle">{tick:g}</text>'
        )
    for shown, colour, mark in ((before, BEFORE, BEFORE), (after, CURVE, DOT)):
        if shown is None:
            continue
        points, dot = shown
        line = " ".join(xy(x, y) for x, y in points)
        parts.append(
            f'<polyline points="{line}" fill="none" stroke="{colour}" stroke-width="1.8"/>'
        )
        cx, cy = xy(*dot).split(",")
        parts.append(f'<circle cx="{cx}" cy="{cy}" r="4" fill="{mark}"/>')
    return "".join(parts)


def picture(
    model: RefusalModel,
    groups: dict[str, list[Sample]],
    before: tuple[RefusalModel, dict[str, list[Sample]]] | None = None,
) -> str:
    rows = -(-len(groups) // COLUMNS)
    width, height = COLUMNS * PANEL_W, rows * PANEL_H + (56 if before else 40)
    body = []
    for number, (name, samples) in enumerate(groups.items()):
        x, y = (number % COLUMNS) * PANEL_W, (number // COLUMNS) * PANEL_H
        earlier = None
        if before is not None and name in before[1]:
            earlier = drawn(before[0], before[1][name])
        body.append(
            f'<g transform="translate({x},{y})">{panel(name, drawn(model, samples), earlier)}</g>'
        )
    legend = (
        f'<text x="8" y="{height - 36 if before else height - 20}">Across: share of answerable '
        f"questions given a bold answer. Up: share of bold answers that are right.</text>"
        f'<circle cx="14" cy="{height - 22 if before else height - 6}" r="4" fill="{DOT}"/>'
        f'<text x="24" y="{height - 18 if before else height - 2}">the packaged claim cut '
        f"({model.claim:.3f}); below it quoth shows the closest passages or refuses</text>"
    )
    if before is not None:
        legend += (
            f'<circle cx="14" cy="{height - 6}" r="4" fill="{BEFORE}"/>'
            f'<text x="24" y="{height - 2}">before (grey): the first read only, its own cut '
            f"({before[0].claim:.3f})</text>"
        )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="Helvetica, Arial, sans-serif" font-size="11" fill="{INK}">'
        f'<rect width="100%" height="100%" fill="#fff"/>{"".join(body)}{legend}</svg>\n'
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cache", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--reranker", default=DEFAULT_RERANKER)
    parser.add_argument("--before", type=Path, help="an earlier fit's cache, drawn in grey")
    parser.add_argument("--before-model", type=Path, help="the refusal.json it was fitted to")
    args = parser.parse_args()
    model = default_refusal(load_reranker(args.reranker))
    earlier = None
    if args.before is not None:
        if args.before_model is None:
            parser.error("--before needs --before-model")
        document = json.loads(args.before_model.read_text(encoding="utf-8"))
        earlier = (RefusalModel.from_json(document), groups_of(args.before))
    args.out.write_text(picture(model, groups_of(args.cache), earlier), encoding="utf-8")


def groups_of(cache: Path) -> dict[str, list[Sample]]:
    stored = json.loads(cache.read_text(encoding="utf-8"))
    groups: dict[str, list[Sample]] = {}
    for item in stored["samples"]:
        sample = Sample(**item)
        if not sample.group.endswith("blind"):  # the blind file is reported, never drawn
            groups.setdefault(sample.group, []).append(sample)
    return groups


if __name__ == "__main__":
    main()
