"""The validation split as a development file: its held-out articles and questions written out
in the form ``quoth index`` and ``quoth eval`` read.

The answer model never trains on these articles (the same seeded draw as training holds them
out), so quoth's figures on them say how it does on Wikipedia text it has not seen. The text
is third-party (SQuAD, CC BY-SA 4.0): it is written to a scratch folder, never the repository.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

from quoth.training.examples import Article, load_articles, split_articles


def _file_name(title: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", title).strip("_").lower() or "article"


def write_validation_split(
    squad: Path, folder: Path, validation: int = 20, per_article: int = 15, seed: int = 13
) -> tuple[Path, Path]:
    """Write ``folder/articles/*.txt`` and ``folder/questions.jsonl``; return both paths.

    Per held-out article, up to ``per_article`` answerable questions drawn with ``seed`` (their
    answer text is the evidence the marked sentence must hold) and every one of SQuAD's own
    unanswerable questions, which are the adversarial kind: written against the article to
    look answerable.
    """
    _, held = split_articles(load_articles(squad), validation, seed)
    articles = folder / "articles"
    articles.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    lines = []
    for article in held:
        name = _file_name(article.title)
        (articles / f"{name}.txt").write_text(_as_text(article), encoding="utf-8")
        answerable = [q for p in article.paragraphs for q in p.questions if not q.impossible]
        impossible = [q for p in article.paragraphs for q in p.questions if q.impossible]
        for n, question in enumerate(rng.sample(answerable, min(per_article, len(answerable)))):
            lines.append({
                "id": f"{name}-a{n}", "question": question.text, "answerable": True,
                "docs": [name], "evidence": sorted({text for _, text in question.answers}),
            })  # fmt: skip
        for n, question in enumerate(impossible):
            lines.append({"id": f"{name}-u{n}", "question": question.text, "answerable": False})
    questions = folder / "questions.jsonl"
    questions.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return articles, questions


def _as_text(article: Article) -> str:
    """Title, then paragraphs a blank line apart, as an article file quoth indexes."""
    return article.title.replace("_", " ") + "\n\n" + article.text.replace("\n", "\n\n") + "\n"
