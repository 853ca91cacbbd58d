"""The soak's curves over time, as an SVG picture for the operators' reliability page.

    .venv/bin/python scripts/soak_picture.py SOAK.json OUT.svg

``SOAK.json`` is what ``python -m bench.soak`` printed. One panel per measure (resident
memory, open files, threads, answer p50 and p99 per window) against minutes, each scaled
from zero so that growth shows as it is. Plain SVG written here: no plotting library.
"""

from __future__ import annotations

import html
import json
import sys
from pathlib import Path
from typing import Any

PANELS = (
    ("rss_mb", "resident memory (MB)"),
    ("open_files", "open files"),
    ("threads", "threads"),
    ("p50_ms", "answer p50 (ms)"),
    ("p99_ms", "answer p99 (ms)"),
)
PANEL_W, PANEL_H, LEFT, TOP = 300, 170, 46, 24
INK, GRID, CURVE = "#33404d", "#d8dee4", "#2a7bc0"


def panel(title: str, points: list[tuple[float, float]], last_minute: float) -> str:
    w, h = PANEL_W - LEFT - 12, PANEL_H - TOP - 26
    top = max(y for _, y in points) * 1.1 or 1.0

    def xy(x: float, y: float) -> str:
        return f"{LEFT + x / last_minute * w:.1f},{TOP + (1 - y / top) * h:.1f}"

    parts = [f'<text x="{LEFT}" y="14" font-weight="600">{html.escape(title)}</text>']
    for share in (0.0, 0.5, 1.0):
        level = TOP + (1 - share) * h
        parts.append(
            f'<line x1="{LEFT}" x2="{LEFT + w}" y1="{level:.1f}" y2="{level:.1f}" '
            f'stroke="{GRID}"/><text x="{LEFT - 4}" y="{level + 4:.1f}" '
            f'text-anchor="end">{share * top:.0f}</text>'
        )
    parts.append(
        f'<text x="{LEFT}" y="{TOP + h + 16}">0</text>'
        f'<text x="{LEFT + w}" y="{TOP + h + 16}" text-anchor="end">{last_minute:.0f} min</text>'
    )
    line = " ".join(xy(x, y) for x, y in points)
    parts.append(f'<polyline points="{line}" fill="none" stroke="{CURVE}" stroke-width="1.8"/>')
    return "".join(parts)


def picture(result: dict[str, Any]) -> str:
    samples = result["samples"]
    last = max(s["minute"] for s in samples) or 1.0
    body = []
    for number, (key, title) in enumerate(PANELS):
        x, y = (number % 3) * PANEL_W, (number // 3) * PANEL_H
        points = [(s["minute"], float(s[key])) for s in samples]
        body.append(f'<g transform="translate({x},{y})">{panel(title, points, last)}</g>')
    width, height = 3 * PANEL_W, 2 * PANEL_H + 24
    note = (
        f"{result['questions']} questions at {result['rate_per_s']}/s over "
        f"{result['minutes']:g} min, {result['scale']} passages; events: "
        + ", ".join(f"{n} {kind}" for kind, n in result["events"].items())
        + f"; lost or doubled: {result['lost_or_doubled']}"
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="Helvetica, Arial, sans-serif" font-size="11" fill="{INK}">'
        f'<rect width="100%" height="100%" fill="#fff"/>{"".join(body)}'
        f'<text x="8" y="{height - 8}">{html.escape(note)}</text></svg>\n'
    )


if __name__ == "__main__":
    source, out = Path(sys.argv[1]), Path(sys.argv[2])
    out.write_text(picture(json.loads(source.read_text(encoding="utf-8"))), encoding="utf-8")
