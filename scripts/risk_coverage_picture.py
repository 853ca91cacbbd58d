"""Risk-coverage curves of the claim decision, one per development file, as an SVG picture.

    .venv/bin/python scripts/risk_coverage_picture.py CACHE.json OUT.svg [--reranker NAME]

``CACHE.json`` is what ``scripts/fit_refusal.py --cache`` read (every development question's
signals, and whether its marked sentence and first page hold the answer). For each file the
curve follows the claim cut from high to low: across, the share of the answerable questions
still given a bold answer; up, the share of the bold answers given (to any question of the
file) whose sentence holds the answer. The dot is the packaged claim cut. Plain SVG written
here, so the documentation needs no plotting library.
"""

from __future__ import annotations

import argparse
import html
import json
from pathlib import Path

from quoth.retrieval.refusal import RefusalModel, Sample, default_refusal
from quoth.retrieval.rerank import DEFAULT_RERANKER, load_reranker

PANEL_W, PANEL_H, MARGIN, COLUMNS = 230, 190, 38, 3
INK, GRID, CURVE, DOT = "#33404d", "#d8dee4", "#2a7bc0", "#d9480f"


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


def panel(name: str, points: list[tuple[float, float]], dot: tuple[float, float]) -> str:
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
    line = " ".join(xy(x, y) for x, y in points)
    parts.append(f'<polyline points="{line}" fill="none" stroke="{CURVE}" stroke-width="1.8"/>')
    cx, cy = xy(*dot).split(",")
    parts.append(f'<circle cx="{cx}" cy="{cy}" r="4" fill="{DOT}"/>')
    return "".join(parts)


def picture(model: RefusalModel, groups: dict[str, list[Sample]]) -> str:
    rows = -(-len(groups) // COLUMNS)
    width, height = COLUMNS * PANEL_W, rows * PANEL_H + 40
    body = []
    for number, (name, samples) in enumerate(groups.items()):
        x, y = (number % COLUMNS) * PANEL_W, (number // COLUMNS) * PANEL_H
        body.append(
            f'<g transform="translate({x},{y})">'
            f"{panel(name, curve(model, samples), at_cut(model, samples))}</g>"
        )
    legend = (
        f'<text x="8" y="{height - 20}">Across: share of answerable questions given a bold '
        f"answer. Up: share of bold answers that are right.</text>"
        f'<circle cx="14" cy="{height - 6}" r="4" fill="{DOT}"/>'
        f'<text x="24" y="{height - 2}">the packaged claim cut '
        f"({model.claim:.3f}); below it quoth shows the closest passages or refuses</text>"
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
    args = parser.parse_args()
    stored = json.loads(args.cache.read_text(encoding="utf-8"))
    groups: dict[str, list[Sample]] = {}
    for item in stored["samples"]:
        sample = Sample(**item)
        if not sample.group.endswith("blind"):  # the blind file is reported, never drawn
            groups.setdefault(sample.group, []).append(sample)
    model = default_refusal(load_reranker(args.reranker))
    args.out.write_text(picture(model, groups), encoding="utf-8")


if __name__ == "__main__":
    main()
