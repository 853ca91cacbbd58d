"""The ``quoth`` command line: build an index, ask, evaluate, chat, serve.

Only presentation lives here; every command is a few calls into :mod:`quoth.runtime`.
Errors that a user can fix are printed as one line on stderr with exit status 1.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, replace
from enum import StrEnum
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

from quoth import runtime
from quoth.config import Platform, Settings, load_settings
from quoth.errors import QuothError
from quoth.index.builder import BuildProgress
from quoth.retrieval import QuestionError
from quoth.retrieval.calibrate import as_read, by_group, collect_samples, figures, fit_as_read
from quoth.retrieval.evaluation import (
    compare,
    comparison_json,
    evaluate,
    load_items,
    load_questions,
)
from quoth.retrieval.explain import explain
from quoth.retrieval.followup import Turn
from quoth.retrieval.refusal import (
    STORED_NAME,
    TARGET_FALSE_CLAIMS,
    TARGET_FALSE_REFUSALS,
    RefusalModel,
    Sample,
    fit_claim,
    fit_refusal,
)
from quoth.state.local import LocalState
from quoth.terminal import (
    describe_build,
    render_answer,
    render_calibration,
    render_comparison,
    render_eval,
    render_explanation,
)

if TYPE_CHECKING:
    from quoth.bot.library import Library
    from quoth.bot.serve import ChatAdapter

app = typer.Typer(
    help="quoth answers questions with exact quotes from your articles.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
out = Console()
err = Console(stderr=True)

USER_ERRORS = (QuothError, OSError)
"""Printed as their message and exit 1; a disk error (full, read-only) is one too."""
T = TypeVar("T")

IndexDirOption = Annotated[
    Path | None, typer.Option("--index-dir", help="Index folder (default: QUOTH_INDEX_DIR).")
]


def fail(message: str) -> NoReturn:
    err.print(f"[red]Error:[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(1)


def guarded(action: Callable[[], T]) -> T:
    """Run a command body, turning the errors users can fix into one line and exit 1."""
    try:
        return action()
    except USER_ERRORS as error:
        fail(str(error))


def settings_for(index_dir: Path | None) -> Settings:
    overrides: dict[str, object] = {}
    if index_dir is not None:
        overrides["index_dir"] = index_dir
    return guarded(lambda: load_settings(**overrides))


@contextmanager
def progress_bar(description: str) -> Iterator[BuildProgress]:
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    ) as bar:
        task = bar.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


@app.command()
def index(
    corpus_dir: Annotated[
        Path | None,
        typer.Argument(help="Folder of .txt/.md/.html articles (default: QUOTH_CORPUS_DIR)."),
    ] = None,
    index_dir: IndexDirOption = None,
) -> None:
    """Read the articles, split them into passages, embed them and write the index."""
    settings = settings_for(index_dir)
    source = runtime.corpus_dir(settings, corpus_dir)
    out.print(f"Indexing {source} into {settings.index_dir}")
    _reindex(settings, source)


def _reindex(settings: Settings, corpus: Path) -> None:
    def build() -> None:
        embedder = runtime.embedder_for(settings)
        with progress_bar("Embedding") as progress:
            index, report = runtime.reindex(settings, embedder, corpus, progress=progress)
        if report.merge_due:  # the delta serves already; a one-shot command merges now
            out.print(describe_build(report), highlight=False)
            out.print("Merging the recent changes into a new base build…")
            merged = runtime.merge(settings, embedder, index)
            if merged is None:
                out.print("Merge skipped: another replica published since.")
            else:
                index, report = merged
        crosslingual = runtime.crosslingual_for(settings)
        if crosslingual is not None:  # ready for other languages before serving starts
            out.print("Embedding for questions in other languages…")
            crosslingual.prepare(index)
        for skipped in report.skipped:
            err.print(f"[yellow]Skipped[/yellow] {skipped.path}: {skipped.reason}", highlight=False)
        out.print(describe_build(report), highlight=False)

    guarded(build)


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question, in quotes.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON document.")] = False,
    k: Annotated[int | None, typer.Option("-k", min=1, max=10, help="Quotes to show.")] = None,
    why: Annotated[
        bool, typer.Option("--explain", help="Show each stage's candidates and the decision.")
    ] = False,
    index_dir: IndexDirOption = None,
) -> None:
    """Answer a question from the index with quotes and their sources."""
    settings = settings_for(index_dir)
    service = guarded(lambda: runtime.open_or_build_service(settings))
    if why:
        explanation = guarded(lambda: explain(service, question))
        if as_json:
            document = {**asdict(explanation), "answered": explanation.answered}
            sys.stdout.write(json.dumps(document, ensure_ascii=False, indent=2) + "\n")
        else:
            out.print(render_explanation(explanation), highlight=False)
        return
    started = time.perf_counter()
    answer = guarded(lambda: service.answer(question, limit=k))
    elapsed = time.perf_counter() - started
    if as_json:
        sys.stdout.write(json.dumps(answer.to_json(), ensure_ascii=False, indent=2) + "\n")
        return
    out.print(render_answer(answer))
    out.print(f"[dim]{elapsed * 1000:.0f} ms[/dim]")


@app.command("eval")
def eval_command(
    questions: Annotated[Path, typer.Argument(help="Question file (JSON Lines).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON document.")] = False,
    side_by_side: Annotated[
        bool,
        typer.Option(
            "--compare", help="Every retrieval mode, and the other packaged reranker, side by side."
        ),
    ] = False,
    index_dir: IndexDirOption = None,
) -> None:
    """Measure retrieval, quoting and refusals on a question file."""
    settings = settings_for(index_dir)
    if side_by_side:
        settings = settings.model_copy(update={"retrieval_mode": "rerank"})
    items = guarded(lambda: load_items(questions))
    service = guarded(lambda: runtime.open_service(settings))
    if side_by_side:
        others = guarded(lambda: runtime.other_rerankers(settings, service))
        reports = guarded(lambda: compare(service, items, rerankers=others))
        document = comparison_json(reports)
        if as_json:
            sys.stdout.write(json.dumps(document, indent=2) + "\n")
        else:
            out.print(render_comparison(reports))
            added = document["rerank_added_latency_p50_ms"]
            out.print(f"Reranking adds {added:.0f} ms per question (p50) over hybrid.")
        return
    report = guarded(lambda: evaluate(service, items))
    if as_json:
        sys.stdout.write(json.dumps(report.to_json(), ensure_ascii=False, indent=2) + "\n")
    else:
        out.print(render_eval(report))


@app.command()
def calibrate(
    questions: Annotated[
        list[Path], typer.Argument(help="Probe question files (JSON Lines), answerable or not.")
    ],
    target: Annotated[
        float,
        typer.Option(
            "--target", min=0.0, max=0.5, help="Most answerable probes a file may see refused."
        ),
    ] = TARGET_FALSE_REFUSALS,
    claim_target: Annotated[
        float,
        typer.Option(
            "--claim-target",
            min=0.0,
            max=0.5,
            help="Most unanswerable probes a file may see given a bold answer.",
        ),
    ] = TARGET_FALSE_CLAIMS,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON document.")] = False,
    index_dir: IndexDirOption = None,
) -> None:
    """Re-fit when quoth answers, shows the closest passages, or refuses, on probe questions
    about your own corpus.

    Both cuts are fitted: refuse below the first, claim (bold) from the second. The fit is
    stored beside the index and used from the next start or reindex; delete refusal.json
    there to go back to the packaged default.
    """
    settings = settings_for(index_dir).model_copy(update={"retrieval_mode": "rerank"})
    service = guarded(lambda: runtime.open_service(settings))
    files = {path.name: guarded(partial(load_questions, path)) for path in questions}
    with progress_bar("Reading probes") as progress:
        samples = []
        for done, (name, items) in enumerate(files.items()):
            progress(done, len(files))
            samples += guarded(partial(collect_samples, service, items, name))
    before = service.refusal
    limits = dict.fromkeys(by_group(samples), claim_target)

    def fit(read: list[Sample]) -> RefusalModel:
        fitted = fit_refusal(read, target, reranker=before.reranker, signals=before.signals)
        return fit_claim(fitted, read, limits)

    after = guarded(
        lambda: fit_as_read(samples, fit, lambda model, read: fit_claim(model, read, limits))
    )
    after = replace(after, phrase_threshold=before.phrase_threshold)  # the phrase: its own fit
    after.save(settings.index_dir / STORED_NAME)
    groups = by_group(samples)
    document = {
        "stored": str(settings.index_dir / STORED_NAME),
        "threshold": {"before": round(service.threshold(), 4), "after": round(after.threshold, 4)},
        "claim_threshold": {
            "before": round(service.claim_threshold(), 4),
            "after": round(after.claim, 4),
        },
        "files": {
            name: {
                "before": asdict(
                    figures(
                        before,
                        as_read(before, group),
                        service.threshold(),
                        service.claim_threshold(),
                    )
                ),
                "after": asdict(figures(after, as_read(after, group))),
            }
            for name, group in groups.items()
        },
    }
    if settings.min_score is not None:
        err.print("[yellow]QUOTH_MIN_SCORE is set and overrides the fitted threshold.[/yellow]")
    if settings.min_claim is not None:
        err.print("[yellow]QUOTH_MIN_CLAIM is set and overrides the fitted claim cut.[/yellow]")
    if as_json:
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
        return
    out.print(render_calibration(document), highlight=False)


TERMINAL = "terminal"
"""The one conversation of ``quoth chat``."""


@app.command()
def chat(index_dir: IndexDirOption = None) -> None:
    """Ask questions in an interactive prompt (Ctrl-D or 'quit' to leave). Follow-ups are
    read in the context of the questions before them; '/new' starts over."""
    settings = settings_for(index_dir)
    service = guarded(lambda: runtime.open_or_build_service(settings))
    out.print("Ask a question about the articles. '/new' starts over; Ctrl-D or 'quit' leaves.")
    context = LocalState(1000, settings.context_minutes * 60)  # one conversation: this prompt
    while True:
        try:
            question = out.input("[bold]> [/bold]")
        except (EOFError, KeyboardInterrupt):
            out.print()
            return
        if question.strip().lower() in ("quit", "exit"):
            return
        if question.strip().lower() == "/new":
            context.forget(TERMINAL)
            out.print("Starting over: the next question is read on its own.")
            continue
        try:
            answer = service.answer(question, context=context.context(TERMINAL))
        except QuestionError as error:
            out.print(f"[yellow]{error}[/yellow]")
            continue
        context.remember(TERMINAL, Turn.of(answer))
        out.print(render_answer(answer))


@app.command()
def gaps(
    days: Annotated[int, typer.Option(min=1, max=3650, help="Of the last how many days.")] = 30,
    limit: Annotated[int, typer.Option(min=1, max=100_000, help="At most this many.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    export: Annotated[
        Path | None,
        typer.Option(
            help="Write a question file in quoth eval format: refused questions as "
            "unanswerable, 👍'd answers as answerable with the sentence shown as evidence."
        ),
    ] = None,
) -> None:
    """What users asked that the articles could not answer (or voted 👎), most asked first."""
    from quoth.feedback import as_eval_questions, describe_gaps

    settings = settings_for(None)
    store = guarded(lambda: runtime.open_feedback(settings))
    try:
        guarded(lambda: store.prune(settings.gaps_retention_days))
        found = guarded(lambda: store.gaps(days, limit))
        liked = guarded(lambda: store.liked(days, limit)) if export is not None else []
    finally:
        store.close()
    if export is not None:
        questions = as_eval_questions(found, liked)
        lines = "".join(json.dumps(q, ensure_ascii=False) + "\n" for q in questions)
        guarded(lambda: export.write_text(lines, encoding="utf-8"))
        out.print(f"Wrote {len(questions)} questions to {export}.", highlight=False)
        return
    if as_json:
        document = [
            {**asdict(gap), "first_seen": gap.first_seen.isoformat(),
             "last_seen": gap.last_seen.isoformat()}
            for gap in found
        ]  # fmt: skip
        sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
        return
    out.print(describe_gaps(found, days), highlight=False, soft_wrap=True)


@app.command()
def add(
    urls: Annotated[list[str], typer.Argument(help="Links to article pages.", show_default=False)],
    index_dir: IndexDirOption = None,
) -> None:
    """Fetch article pages into the corpus folder, then index what changed."""
    from quoth.web.fetch import FetchError
    from quoth.web.links import save_link

    settings = settings_for(index_dir)
    corpus = _writable_corpus(settings)
    chunking = (settings.passage_sentences, settings.passage_overlap)
    changed = failed = 0
    for url in urls:
        try:
            saved = save_link(corpus, url, settings.fetch_limits(), chunking)
        except FetchError as error:
            err.print(f"[red]Not added[/red] {url}: {error}", highlight=False, soft_wrap=True)
            failed += 1
            continue
        changed += saved.outcome != "unchanged"
        out.print(
            f"{saved.outcome.capitalize()}: “{saved.title}” ({saved.doc_id}), "
            f"{saved.passages} passages",
            highlight=False,
        )
    if changed:
        _reindex(settings, corpus)
    if failed:
        raise typer.Exit(1)


def _writable_corpus(settings: Settings) -> Path:
    """Linked articles go into the operator's corpus folder, never the packaged sample."""
    if settings.corpus_dir is None:
        fail("Set QUOTH_CORPUS_DIR to the corpus folder that linked articles are kept in.")
    settings.corpus_dir.mkdir(parents=True, exist_ok=True)
    return settings.corpus_dir


@app.command()
def refresh(index_dir: IndexDirOption = None) -> None:
    """Fetch every linked article again and reindex the ones whose text changed."""
    from quoth.web.links import describe_refresh, refresh_links

    settings = settings_for(index_dir)
    corpus = _writable_corpus(settings)
    chunking = (settings.passage_sentences, settings.passage_overlap)
    report = guarded(lambda: refresh_links(corpus, settings.fetch_limits(), chunking))
    out.print(describe_refresh(report), highlight=False, soft_wrap=True)
    if report.changed:
        _reindex(settings, corpus)
    if report.failed:
        raise typer.Exit(1)


feeds_app = typer.Typer(help="Follow news feeds (RSS, Atom): their new entries become articles.")
app.add_typer(feeds_app, name="feeds")


@feeds_app.command("add")
def feeds_add(
    url: Annotated[str, typer.Argument(help="The feed, or a page that names its feed.")],
    index_dir: IndexDirOption = None,
) -> None:
    """Follow a feed, add its entries as articles and reindex."""
    from quoth.feeds.refresh import describe_feeds_refresh, follow, refresh_feed

    settings = settings_for(index_dir)
    corpus = _writable_corpus(settings)
    store = guarded(lambda: runtime.open_feeds(settings))
    document = guarded(lambda: follow(store, url, settings.fetch_limits()))
    feed = store.feed(document.url)
    assert feed is not None
    out.print(f"Following “{feed.title}” ({feed.url}).", highlight=False, soft_wrap=True)
    report = refresh_feed(store, feed, runtime.feed_settings(settings, corpus))
    out.print(describe_feeds_refresh([report]), highlight=False, soft_wrap=True)
    if report.changed:
        _reindex(settings, corpus)


@feeds_app.command("list")
def feeds_list() -> None:
    """The followed feeds: articles added, last refresh, last error."""
    from quoth.feeds.refresh import describe_feeds

    settings = settings_for(None)
    store = guarded(lambda: runtime.open_feeds(settings))
    out.print(describe_feeds(store.feeds()), highlight=False, soft_wrap=True)


@feeds_app.command("remove")
def feeds_remove(
    url: Annotated[str, typer.Argument(help="The feed's address, as `quoth feeds list` shows.")],
    with_articles: Annotated[
        bool, typer.Option("--with-articles", help="Remove the articles it added too.")
    ] = False,
    index_dir: IndexDirOption = None,
) -> None:
    """Stop following a feed; its articles stay unless --with-articles."""
    from quoth.corpus.writing import remove_article_files
    from quoth.web.fetch import normalise_link

    settings = settings_for(index_dir)
    store = guarded(lambda: runtime.open_feeds(settings))
    added = guarded(lambda: store.remove(normalise_link(url)))
    if added is None:
        fail("That feed is not followed; `quoth feeds list` shows the ones that are.")
    if not with_articles:
        out.print(f"Stopped following it; its {len(added)} articles stay.", highlight=False)
        return
    corpus = _writable_corpus(settings)
    for doc_id in added:
        remove_article_files(corpus, doc_id)
    out.print(f"Stopped following it and removed its {len(added)} articles.", highlight=False)
    _reindex(settings, corpus)


@feeds_app.command("refresh")
def feeds_refresh(index_dir: IndexDirOption = None) -> None:
    """Refresh every followed feed now, then one reindex for what they added."""
    from quoth.feeds.refresh import describe_feeds_refresh, refresh_round

    settings = settings_for(index_dir)
    corpus = _writable_corpus(settings)
    store = guarded(lambda: runtime.open_feeds(settings))
    reports = guarded(lambda: refresh_round(store, runtime.feed_settings(settings, corpus)))
    if reports is None:
        fail("Another process is refreshing the feeds right now; try again in a minute.")
    out.print(describe_feeds_refresh(reports), highlight=False, soft_wrap=True)
    if any(report.changed for report in reports):
        _reindex(settings, corpus)
    if any(report.error or report.failed for report in reports):
        raise typer.Exit(1)


@app.command("export-onnx")
def export_onnx_command(
    target: Annotated[
        Path | None, typer.Option("--dir", help="Folder for model.onnx (default: QUOTH_ONNX_DIR).")
    ] = None,
) -> None:
    """Export the packaged embedding model to ONNX (needs torch once) for fast serving."""
    from quoth.index.onnx_embedder import export_onnx

    settings = settings_for(None)
    folder = target or settings.onnx_dir
    started = time.perf_counter()
    path = guarded(lambda: export_onnx(folder))
    out.print(f"Wrote {path} in {time.perf_counter() - started:.1f} s.", highlight=False)


class PlatformChoice(StrEnum):
    telegram = "telegram"
    discord = "discord"
    both = "both"


@app.command()
def serve(
    platform: Annotated[
        PlatformChoice | None,
        typer.Option(
            "--platform", help="Where to serve (default: QUOTH_PLATFORMS, else every token set)."
        ),
    ] = None,
) -> None:
    """Run the chat bots: Telegram, Discord, or both in one process over one index."""
    from quoth.bot.library import Library
    from quoth.bot.logs import configure_logging
    from quoth.bot.serve import ConnectionLostError, serve_until_stopped

    overrides: dict[str, object] = {}
    if platform is not None:
        both = platform is PlatformChoice.both
        overrides["platforms"] = ["telegram", "discord"] if both else [platform.value]
    settings = guarded(lambda: load_settings(**overrides))
    platforms = guarded(settings.serving_platforms)
    tokens = (settings.telegram_token, settings.discord_token)
    secrets = (token.get_secret_value() for token in tokens if token is not None)
    configure_logging(*secrets, form=settings.log_format)
    service = guarded(lambda: runtime.open_or_build_service(settings))
    library = Library(settings, service, guarded(lambda: runtime.open_state(settings)))

    async def run() -> None:
        adapters = [chat_adapter(name, settings, library) for name in platforms]
        await serve_until_stopped(library, adapters)

    try:
        guarded(lambda: asyncio.run(run()))
    except ConnectionLostError as error:
        fail(str(error))


def chat_adapter(name: Platform, settings: Settings, library: Library) -> ChatAdapter:
    """Imported on demand: a Telegram-only process never loads discord.py, and vice versa."""
    if name == "discord":
        from quoth.bot.discord_bot import DiscordBot

        return DiscordBot(settings, library)
    from quoth.bot.telegram import TelegramBot

    return TelegramBot(settings, library)


@app.command()
def health() -> None:
    """Exit 0 when quoth serve is up with an index loaded (for Docker's HEALTHCHECK)."""
    from quoth.health import HealthError, check_health

    settings = settings_for(None)
    try:
        beat = check_health(settings.health_file)
    except HealthError as error:
        fail(str(error))
    out.print(
        f"ok: {beat.platform} bot, {beat.articles} articles, {beat.passages} passages",
        highlight=False,
    )


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    app()
