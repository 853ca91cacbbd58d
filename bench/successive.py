"""Answer quality after twenty successive one-article changes, against a build from nothing.

    python -m bench.successive [--work DIR]

Each development corpus is copied, indexed, and changed twenty times, one article a time
(appended to, removed, added back as it was, changed back, a new article added), each change
reindexed as a moderator's would be: a delta over the first build, on the files and published
into PostgreSQL (QUOTH_BENCH_DATABASE_URL, else a local pgserver). Then every development
question file is answered from the files' layered version, from the database's, and from a
build from nothing over the same articles: their metrics should be equal.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from bench import postgres
from bench.report import run_and_print
from quoth import runtime
from quoth.config import load_settings
from quoth.corpus.loader import iter_article_files
from quoth.retrieval import AnsweringService
from quoth.retrieval.evaluation import evaluate, load_questions

REPO = Path(__file__).resolve().parent.parent
CHANGES = 20
APPENDED = "\nThe committee met again on Thursday to review the matter."


class Changes:
    """Cycles through the kinds of one-article change over a corpus folder, in a fixed order
    so that runs compare: add a new article, append to one, remove one, add it back as it
    was, change the previous cycle's appended article back (the last one stays changed)."""

    def __init__(self, corpus: Path, newcomers: list[Path]) -> None:
        self.corpus = corpus
        self.newcomers = newcomers
        self.original: dict[Path, str] = {}
        self.removed: tuple[Path, str] | None = None
        self.changed: list[Path] = []

    def apply(self, step: int) -> str:
        cycle, kind = divmod(step, 5)
        files = sorted(iter_article_files(self.corpus))
        target = files[(3 * cycle + kind) % len(files)]
        if kind == 0:
            newcomer = self.newcomers[cycle % len(self.newcomers)]
            shutil.copy(newcomer, self.corpus / f"added-{cycle}{newcomer.suffix}")
            return f"added {newcomer.name}"
        if kind == 1:
            self.original.setdefault(target, target.read_text())
            target.write_text(target.read_text() + APPENDED)
            self.changed.append(target)
            return f"appended to {target.name}"
        if kind == 2:
            self.removed = (target, target.read_text())
            target.unlink()
            return f"removed {target.name}"
        if kind == 3 and self.removed is not None:
            path, text = self.removed
            path.write_text(text)
            self.removed = None
            return f"re-added {path.name}"
        if cycle == 0:  # nothing of an earlier cycle to change back yet: append again
            last = self.changed[-1]
            last.write_text(last.read_text() + APPENDED)
            return f"appended to {last.name} again"
        back = self.changed[-2]
        back.write_text(self.original[back])
        return f"changed {back.name} back"


def metrics(service: AnsweringService, question_files: list[tuple[str, Path]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, path in question_files:
        report = evaluate(service, load_questions(path)).metrics()
        report.pop("latency_p50_ms")
        out[name] = report
    return out


def largest_difference(a: dict[str, Any], b: dict[str, Any]) -> float:
    return max(abs(float(a[name][key]) - float(b[name][key])) for name in a for key in a[name])


def run(shared: Path, work: Path, url: str) -> dict[str, Any]:
    sys.path.insert(0, str(REPO / "scripts"))
    from development import development_files

    files = development_files(shared, work / "development")
    by_corpus: dict[Path, list[tuple[str, Path]]] = {}
    for name, corpus, questions in files:
        by_corpus.setdefault(corpus, []).append((name, questions))
    corpora = list(by_corpus)
    result: dict[str, Any] = {}
    for number, (source, question_files) in enumerate(by_corpus.items()):
        corpus = work / f"corpus-{number}"
        shutil.rmtree(corpus, ignore_errors=True)
        shutil.copytree(source, corpus)
        others = corpora[(number + 1) % len(corpora)]
        changes = Changes(corpus, sorted(iter_article_files(others))[:CHANGES])
        database = postgres.fresh_database(url, f"quoth_successive_{number}")
        on_files = load_settings(index_dir=work / f"files-{number}", corpus_dir=corpus)
        in_db = load_settings(
            index_dir=work / f"cache-{number}", corpus_dir=corpus, database_url=database
        )
        embedder = runtime.embedder_for(on_files)
        layered, _ = runtime.reindex(on_files, embedder)
        published, _ = runtime.reindex(in_db, embedder)
        done, written = [], {"files": 0, "postgres": 0}
        for step in range(CHANGES):
            done.append(changes.apply(step))
            layered, report = runtime.reindex(on_files, embedder, previous=layered)
            written["files"] += report.layered
            published, report = runtime.reindex(in_db, embedder, previous=published)
            written["postgres"] += report.layered
        fresh, _ = runtime.rebuild(
            load_settings(index_dir=work / f"fresh-{number}", corpus_dir=corpus), embedder
        )
        measured = {
            "layered_files": metrics(runtime.serving(on_files, layered, embedder), question_files),
            "layered_postgres": metrics(
                runtime.serving(in_db, published, embedder), question_files
            ),
            "from_nothing": metrics(runtime.serving(on_files, fresh, embedder), question_files),
        }
        result["+".join(name for name, _ in question_files)] = {
            "changes": done,
            "written_as_deltas": written,
            **measured,
            "largest_difference": round(
                max(
                    largest_difference(measured["layered_files"], measured["from_nothing"]),
                    largest_difference(measured["layered_postgres"], measured["from_nothing"]),
                ),
                4,
            ),
        }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.successive", description=__doc__)
    parser.add_argument("--work", type=Path, help="keep corpora and indexes here")
    args = parser.parse_args()
    shared = Path(os.environ.get("QUOTH_SHARED_DIR", REPO.parent / "shared"))

    def measure(work: Path) -> dict[str, Any]:
        with postgres.server(work) as url:
            return run(shared, work, url)

    run_and_print(args.work, "quoth-successive-", measure)


if __name__ == "__main__":
    main()
