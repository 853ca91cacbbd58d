"""Three answer states: the answer (bold), the closest passages (no claim), or a refusal,
decided by two fitted cuts on one confidence; through the service, the bots and the logs."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from quoth import metrics
from quoth.cli import app
from quoth.messages import CLOSEST_LEAD, translator
from quoth.retrieval import AnsweringService, AnswerState
from quoth.retrieval.calibrate import as_read, figures, fit_as_read
from quoth.retrieval.explain import explain
from quoth.retrieval.logistic import LinearModel
from quoth.retrieval.refusal import (
    RefusalModel,
    Sample,
    claim_threshold_for,
    fit_claim,
    fit_refusal,
)

from .conftest import settings_for
from .discord_stand_in import DiscordStandIn
from .telegram_stand_in import BotApiStandIn
from .test_discord_bot import USER as DISCORD_USER
from .test_discord_bot import discord_settings
from .test_discord_bot import running_bot as running_discord
from .test_telegram import MODERATOR, USER, Harness, bot_settings, running_bot

ANSWERED = "When did Heydar Aliyev visit Pakistan?"
LEAD_RU = translator("ru")(CLOSEST_LEAD)


def with_cuts(
    service: AnsweringService, refuse: float | None = None, claim: float | None = None
) -> AnsweringService:
    """The session's service (same index and models) with its cuts set by hand."""
    options = replace(service.options, min_score=refuse, min_claim=claim)
    return AnsweringService(
        service.index, service.embedder, options, service.reranker, service.refusal
    )


# -- the cuts ---------------------------------------------------------------------------------


def test_claim_cut_keeps_each_file_within_its_limit_and_between_samples() -> None:
    news = [0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]  # 10: one may be claimed
    squad = [0.1, 0.2, 0.3, 0.35, 0.45]  # 5 at 20%: one may be claimed
    answerable = [0.75, 0.85, 0.95]
    cut = claim_threshold_for({"news": news, "squad": squad}, {"squad": 0.2}, answerable)
    assert sum(v >= cut for v in news) <= 1 and sum(v >= cut for v in squad) <= 1
    assert cut == pytest.approx((0.8 + 0.85) / 2)  # halfway to the next sample above 0.8
    assert all(abs(cut - v) > 1e-6 for v in news + squad + answerable)
    # a stricter limit for the SQuAD-style file moves the cut up to its own second highest
    stricter = claim_threshold_for({"news": news, "squad": squad}, {"squad": 0.0}, answerable)
    assert stricter > 0.45 and sum(v >= stricter for v in squad) == 0
    assert stricter == cut  # 0.8 still decides: the least cut that holds every file


def _model(threshold: float) -> RefusalModel:
    """A one-signal model whose confidence is the logistic of the signal itself."""
    return RefusalModel(LinearModel((1.0,), 0.0, (0.0,), (1.0,)), threshold, ("answer_score",))


def test_fit_claim_never_below_the_refusal_cut_and_survives_a_save(tmp_path: Path) -> None:
    samples = [Sample({"answer_score": x}, False, "f") for x in (-3.0, -2.0, -1.0, 0.0, 1.0)]
    samples += [Sample({"answer_score": x}, True, "f", True, True) for x in (2.0, 3.0)]
    high = fit_claim(_model(0.99), samples)
    assert high.claim_threshold == pytest.approx(0.99)  # claim never below refuse
    model = fit_claim(_model(0.05), samples)
    # five unanswerable at 10%: none may be claimed, so the cut sits between the highest of
    # them (sigmoid 1) and the least answerable one (sigmoid 2)
    assert 0.7311 < model.claim_threshold < 0.8808
    shown = figures(model, samples)
    assert shown.false_claim_rate <= 0.10 + 1e-9 and shown.claimed_right == 1.0
    path = tmp_path / "refusal.json"
    model.save(path)
    assert RefusalModel.from_json(json.loads(path.read_text())).claim == model.claim


def test_a_fit_sees_each_question_as_its_own_cuts_would_read_it() -> None:
    """Cuts fitted on first reads decide who reads further; the claim cut is fitted again on
    what that reading gives, and holds there."""

    def probe(first: float, further: float, answerable: bool, group: str) -> Sample:
        right = True if answerable else None
        return Sample(
            {"answer_score": first}, answerable, group, right, right,
            {"answer_score": further}, right, right,
        )  # fmt: skip

    samples = [probe(x, x, False, "news") for x in (-4.0, -3.0, -2.5, -2.0, -1.0, 0.0)]
    samples += [probe(x, x + 0.5, False, "news") for x in (-3.5, -1.5)]  # further: a bit surer
    samples += [probe(x, x, True, "news") for x in (3.0, 3.5, 4.0, 5.0)]
    samples += [probe(x, 3.2, True, "news") for x in (-0.5, 0.5, 1.0)]  # found when read on

    def fit(read: list[Sample]) -> RefusalModel:
        return fit_claim(fit_refusal(read, signals=("answer_score",)), read)

    def recut(model: RefusalModel, read: list[Sample]) -> RefusalModel:
        return fit_claim(model, read)

    model = fit_as_read(samples, fit, recut)
    first_only = fit([replace(s, further_signals=None) for s in samples])
    assert model.read_further == (first_only.threshold, first_only.claim)
    assert model.model == first_only.model  # one confidence: only the cuts move
    read = as_read(model, samples)
    sent = [a.signals is not b.signals for a, b in zip(read, samples, strict=True)]
    assert sent == [first_only.unsure(first_only.confidence(s.signals)) for s in samples]
    assert any(sent) and not all(sent)  # the sure and the refused keep their first read
    assert figures(model, read).false_claim_rate <= 0.10  # the cuts hold on what is read
    assert RefusalModel.from_json(model.to_json()) == model
    further_right = figures(model, read).claimed_right
    first_right = figures(first_only, samples).claimed_right
    assert further_right is not None and first_right is not None
    assert further_right > first_right


# -- through the service ------------------------------------------------------------------------


def test_only_questions_between_the_cuts_read_further(service: AnsweringService) -> None:
    asked, more = service.options.rerank_candidates, service.options.read_further
    unsure = with_cuts(service, refuse=0.0, claim=1.0)  # every answer between the cuts
    further = unsure.rank(ANSWERED)
    assert further.first_signals is not None and len(further.judged) == asked + more
    for settled in (with_cuts(service, claim=0.0), with_cuts(service, refuse=1.0)):
        first = settled.rank(ANSWERED)  # claimed, or refused: the first read decides
        assert first.first_signals is None and len(first.judged) == asked
    assert {j.sentence for j in first.judged} < {j.sentence for j in further.judged}
    assert first.signals == further.first_signals  # the first read is kept, not redone
    never = AnsweringService(
        service.index, service.embedder, replace(unsure.options, read_further=0),
        service.reranker, service.refusal,
    )  # fmt: skip
    assert len(never.rank(ANSWERED).judged) == asked
    assert "read 8 sentences, as the first 4 gave only" in explain(unsure, ANSWERED).reason


def test_the_two_cuts_decide_the_state(service: AnsweringService) -> None:
    claimed = with_cuts(service, claim=0.0).answer(ANSWERED)
    closest = with_cuts(service, claim=1.0).answer(ANSWERED)
    refused = with_cuts(service, refuse=1.0).answer(ANSWERED)
    assert claimed.state is AnswerState.ANSWER and claimed.answered
    assert closest.state is AnswerState.CLOSEST and not closest.answered
    assert refused.state is AnswerState.REFUSED and not refused.quotes
    # the closest passages are the same quotes, claiming nothing: no phrase underlined
    assert [q.sentence for q in closest.quotes] == [q.sentence for q in claimed.quotes]
    assert all(q.phrase is None for q in closest.quotes)
    document = closest.to_json()
    assert (document["state"], document["answered"]) == ("closest", False)
    assert claimed.to_json()["state"] == "answer" and claimed.to_json()["answered"] is True


def test_ask_json_and_explain_show_the_state_and_both_cuts(
    shared_index_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QUOTH_INDEX_DIR", str(shared_index_dir))
    monkeypatch.setenv("QUOTH_MIN_CLAIM", "1.0")
    runner = CliRunner()
    asked = runner.invoke(app, ["ask", "--json", ANSWERED])
    assert asked.exit_code == 0, asked.output
    document = json.loads(asked.output)
    assert document["state"] == "closest" and document["answered"] is False
    assert document["quotes"]
    explained = runner.invoke(app, ["ask", "--explain", ANSWERED])
    assert explained.exit_code == 0, explained.output
    flat = " ".join(explained.output.split())
    assert "closest passages, no claim: confidence" in flat
    assert "and claim 1.000" in flat and "computed from answer_score" in flat


# -- through the bots ---------------------------------------------------------------------------


@pytest.fixture
async def closest_bot(
    telegram_api: BotApiStandIn, service: AnsweringService, shared_index_dir: Path
) -> AsyncIterator[Harness]:
    settings = bot_settings(telegram_api, settings_for(shared_index_dir))
    async with running_bot(telegram_api, settings, with_cuts(service, claim=1.0)) as running:
        yield running


def _outcomes(outcome: str) -> float:
    return sum(
        sample.value
        for family in metrics.REGISTRY.collect()
        for sample in family.samples
        if sample.name == "quoth_questions_total" and sample.labels.get("outcome") == outcome
    )


async def test_telegram_shows_the_closest_passages_without_a_claim(closest_bot: Harness) -> None:
    server = closest_bot.server
    before = _outcomes("closest")
    reply = await closest_bot.ask(ANSWERED)
    assert reply.markup.startswith(CLOSEST_LEAD + "\n\n<blockquote>")
    assert "1996" in reply.text
    assert "<b>" not in reply.markup and "<u>" not in reply.markup
    assert server.buttons(reply)[0][:2] == ["👍", "👎"]  # buttons as usual
    assert _outcomes("closest") == before + 1
    server.languages[USER + 3] = "ru"
    russian = await closest_bot.ask(ANSWERED, USER + 3, USER + 3)
    assert russian.text.startswith(LEAD_RU) and "<b>" not in russian.markup
    gaps = await closest_bot.ask("/gaps", chat=MODERATOR, user=MODERATOR)
    assert f"{ANSWERED} — closest passages only" in gaps.text


async def test_discord_shows_the_closest_passages_without_a_claim(
    discord_api: DiscordStandIn, service: AnsweringService, shared_index_dir: Path
) -> None:
    settings = discord_settings(discord_api, settings_for(shared_index_dir))
    async with running_discord(discord_api, settings, with_cuts(service, claim=1.0)):
        asked = await discord_api.push_command("ask", {"question": ANSWERED}, user_id=DISCORD_USER)
        description = (await discord_api.reply(asked)).embed["description"]
    lead, _, quotes = description.partition("\n\n")
    assert lead == CLOSEST_LEAD
    assert quotes.startswith("> ") and "1996" in quotes
    quoted = [line for line in description.splitlines() if line.startswith("> ")]
    assert quoted and not any("**" in line or "__" in line for line in quoted)  # titles may be
    assert not discord_api.rejected
