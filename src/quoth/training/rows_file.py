"""Training rows in one compact file, to carry to a machine that trains but cannot build them.

Building rows needs quoth's sentence splitter and term index; training needs only torch and a
tokenizer. A lent GPU machine has the second and not the first, and takes a limited upload, so
rows are built here and written with each distinct question and text stored once (gzip JSON).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Sequence
from pathlib import Path

from quoth.training.train import Row


def write_rows(rows: Sequence[Row], path: Path) -> Path:
    questions: dict[str, int] = {}
    texts: dict[str, int] = {}
    kinds: dict[str, int] = {}
    table = []
    for row in rows:
        q = questions.setdefault(row.question, len(questions))
        t = texts.setdefault(row.text, len(texts))
        k = kinds.setdefault(row.kind, len(kinds))
        span = list(row.span) if row.span is not None else None
        table.append([q, t, row.label, k, span])
    document = {
        "questions": list(questions), "texts": list(texts), "kinds": list(kinds), "rows": table,
    }  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", encoding="utf-8") as out:
        json.dump(document, out, separators=(",", ":"))
    return path


def read_rows(path: Path) -> list[Row]:
    with gzip.open(path, "rt", encoding="utf-8") as source:
        document = json.load(source)
    questions, texts, kinds = document["questions"], document["texts"], document["kinds"]
    return [
        Row(questions[q], texts[t], float(label), tuple(span) if span else None, kinds[k])
        for q, t, label, k, span in document["rows"]
    ]
