"""Terminal rendering of answers, build reports and evaluation results (rich)."""

from __future__ import annotations

import math
from typing import Any

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from quoth.index import BuildReport
from quoth.messages import CLOSEST_LEAD, READ_AS
from quoth.retrieval import Answer
from quoth.retrieval.evaluation import Breakdown, EvalReport
from quoth.retrieval.explain import Explanation
from quoth.retrieval.ranking import NOT_RERANKED

NOT_IN_SOURCES = "Not in my sources: none of the articles I have covers that question."


def source_line(title: str, url: str | None, published: str | None, page: int | None = None) -> str:
    parts = [title]
    if published:
        parts.append(published)
    if page is not None:
        parts.append(f"p. {page}")
    if url:
        parts.append(url)
    return " · ".join(parts)


def render_answer(answer: Answer) -> RenderableType:
    """The answer's quotes in panels, its sentence bold (the phrase underlined); the closest
    passages after a lead line, nothing bold; or the refusal. A follow-up quoth resolved
    from the conversation opens with how it read it."""
    read = Text(READ_AS.format(question=answer.read_as), style="italic") if answer.read_as else None
    if not answer.shows_quotes:
        refusal = Text(NOT_IN_SOURCES, style="yellow")
        return refusal if read is None else Group(read, refusal)
    panels: list[RenderableType] = [] if read is None else [read]
    if not answer.answered:
        panels.append(Text(CLOSEST_LEAD, style="yellow"))
    for number, quote in enumerate(answer.quotes, start=1):
        body = Text()
        if quote.before:
            body.append(quote.before + " ", style="dim")
        if not answer.answered:
            body.append(quote.sentence)
        elif quote.phrase is None:
            body.append(quote.sentence, style="bold")
        else:  # the answer phrase underlined inside the bold sentence
            start, end = quote.phrase.start, quote.phrase.end
            body.append(quote.sentence[:start], style="bold")
            body.append(quote.sentence[start:end], style="bold underline")
            body.append(quote.sentence[end:], style="bold")
        if quote.after:
            body.append(" " + quote.after, style="dim")
        source = source_line(quote.title, quote.url, quote.published, quote.page)
        panels.append(
            Panel(
                body,
                title=f"[{number}] {quote.document_id}",
                title_align="left",
                subtitle=f"{source} (score {quote.score:.2f})",
                subtitle_align="left",
            )
        )
    return Group(*panels)


def describe_build(report: BuildReport) -> str:
    changes = (
        f"{len(report.added)} new, {len(report.changed)} changed, "
        f"{len(report.removed)} removed, {report.reused} unchanged"
    )
    written = " (written as a delta over the base build)" if report.layered else ""
    return (
        f"Indexed {report.articles} articles ({changes}) into {report.passages} passages "
        f"in {report.seconds:.1f} s{written}."
    )


def render_comparison(reports: dict[str, EvalReport]) -> RenderableType:
    """One row per metric, one column per retrieval mode."""
    table = Table(title="Retrieval modes compared")
    table.add_column("metric")
    for mode in reports:
        table.add_column(mode, justify="right")
    metrics = [report.metrics() for report in reports.values()]
    for key in metrics[0]:
        cells = [f"{m[key]:.3f}" if isinstance(m[key], float) else str(m[key]) for m in metrics]
        table.add_row(key, *cells)
    return table


def render_eval(report: EvalReport) -> RenderableType:
    table = Table(title="Answer quality")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in report.metrics().items():
        table.add_row(key, f"{value:.3f}" if isinstance(value, float) else str(value))
    kinds = _breakdown_table("By question type", "type", report.by_type())
    languages = report.by_language()
    misses = Table(title="Questions answered wrongly")
    for column in ("id", "question", "expected", "got", "score", "evidence rank"):
        misses.add_column(column)
    for r in report.results:
        wrong = (r.answerable and not r.quote_hit) or (not r.answerable and r.answered)
        if wrong:
            misses.add_row(
                r.id,
                r.question,
                "answer" if r.answerable else "refusal",
                ("refused" if r.refused else f"{'closest: ' * (not r.answered)}{r.quoted}")[:80],
                f"{r.top_score:.3f}",
                str(r.evidence_rank or "-"),
            )
    parts: list[RenderableType] = [table, kinds]
    if len(languages) > 1:
        parts.append(_breakdown_table("By language", "language", languages))
    if misses.row_count:
        parts.append(misses)
    return Group(*parts)


def _breakdown_table(title: str, name: str, groups: dict[str, Breakdown]) -> Table:
    table = Table(title=title)
    for column in (name, "questions", "marked", "first page", "wrongly refused", "refused"):
        table.add_column(column, justify="left" if column == name else "right")
    for group, b in groups.items():
        refused = "-" if b.refusal_accuracy is None else f"{b.refusal_accuracy:.2f}"
        table.add_row(
            group,
            str(b.questions),
            f"{b.quote_hit:.2f}",
            f"{b.answer_on_first_page:.2f}",
            f"{b.false_refusal_rate:.2f}",
            refused,
        )
    return table


def render_calibration(document: dict[str, Any]) -> RenderableType:
    """Before and after per probe file: the rates a user of the bot notices."""
    table = Table(title="Answers before and after calibrating")
    columns = ("file", "answerable", "unanswerable", "wrongly refused", "rightly refused")
    for column in (*columns, "unanswerable in bold"):
        table.add_column(column, justify="left" if column == "file" else "right")
    for name, figures in document["files"].items():
        before, after = figures["before"], figures["after"]
        table.add_row(
            name,
            str(after["answerable"]),
            str(after["unanswerable"]),
            f"{before['false_refusal_rate']:.2f} -> {after['false_refusal_rate']:.2f}",
            f"{before['refusal_rate']:.2f} -> {after['refusal_rate']:.2f}",
            f"{before['false_claim_rate']:.2f} -> {after['false_claim_rate']:.2f}",
        )
    threshold, claim = document["threshold"], document["claim_threshold"]
    note = (
        f"Refuse below {threshold['before']:.3f} -> {threshold['after']:.3f}, "
        f"answer in bold from {claim['before']:.3f} -> {claim['after']:.3f}; "
        f"stored in {document['stored']} (used from the next start or reindex)."
    )
    return Group(table, note)


def render_explanation(explanation: Explanation) -> RenderableType:
    """The stages of one answer, for a moderator asking why it was answered or refused."""
    head = Text(
        f"Question: {explanation.question}\nType: {explanation.question_type}   "
        f"Mode: {explanation.mode}"
        + (f"   Reranker: {explanation.reranker}" if explanation.reranker else "")
    )
    passages = Table(title="1. Passages found (hybrid search, then reordered by reranking)")
    for column in ("passage", "score", "marked sentence"):
        passages.add_column(column)
    for line in explanation.passages:
        score = "not read" if line.score <= NOT_RERANKED else f"{line.score:.2f}"
        passages.add_row(line.passage_id, score, line.marked[:90])
    parts: list[RenderableType] = [head, passages]
    if explanation.sentences:
        sentences = Table(title=f"2. Sentences {explanation.reranker} read (best first)")
        columns = ("sentence", "prescore", "alone", "p(answers)", "terms", "type", "score")
        for column in columns:
            sentences.add_column(column, justify="left" if column == "sentence" else "right")
        for read in explanation.sentences:
            j = read.judged
            sentences.add_row(
                read.sentence[:80],
                f"{j.prescore:.2f}",
                f"{j.answer_score:.2f}",
                f"{1 / (1 + math.exp(-j.answer_score)):.2f}",
                f"{j.lexical:.2f}",
                f"{j.type_match:+.0f}",
                f"{j.score:.2f}",
            )
        parts.append(sentences)
        phrases = Table(title="   and the answer phrase found in each (the second head)")
        for column in ("sentence", "phrase", "p(phrase)"):
            phrases.add_column(column, justify="right" if column == "p(phrase)" else "left")
        for read in explanation.sentences:
            found = read.judged.phrase
            if found is not None:
                text = read.sentence[found.start : found.end]
                phrases.add_row(read.sentence[:50], text[:60], f"{found.probability:.2f}")
        if phrases.row_count:
            parts.append(phrases)
    parts.append(Text(f"3. Decision: {explanation.reason}"))
    return Group(*parts)
