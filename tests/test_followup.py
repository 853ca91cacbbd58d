"""Follow-up questions read in the context of the conversation: the resolver alone, then
through the real answering service, quoth eval's dialogue lines and the terminal chat."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from quoth.cli import app
from quoth.retrieval import AnsweringService
from quoth.retrieval.evaluation import (
    EvalDialogue,
    contains_evidence,
    evaluate,
    load_items,
    load_questions,
)
from quoth.retrieval.followup import (
    FRAGMENT,
    PLACE,
    PRONOUN,
    SWITCH,
    TIME,
    Turn,
    read_in_context,
)

from .conftest import REPO, SEED_QUESTIONS

ARMY_CHIEF = Turn(
    "Who is Pakistan's Army Chief?", "answer", "... Army Chief Field Marshal Asim Munir ...",
    "Asim Munir", "000",
)  # fmt: skip
TREATY = Turn("Which water treaty did India suspend?", "answer", "...", "Indus Waters Treaty")
MEETING = Turn("Where did Shehbaz Sharif meet Ilham Aliyev?", "answer", "...", "Lachin")
CEASEFIRE = Turn("When was the India-Pakistan ceasefire brokered?", "answer", "...", "May 10")
CLASSIFY = Turn("Which problems does complexity theory classify?", "closest", "...")
SUSPENDED = Turn("Did India suspend the Indus Waters Treaty?", "answer", "...")
SENATE = Turn("What did Pakistan's Senate pass in 2012?", "answer", "...", "resolutions")
FOREIGN_MINISTER = Turn("Who is Pakistan's foreign minister?", "answer", "...", "Ishaq Dar")


@pytest.mark.parametrize(
    ("turn", "question", "read_as", "kind"),
    [
        (ARMY_CHIEF, "Did he go to Lachin too?", "Did Asim Munir go to Lachin too?", PRONOUN),
        (TREATY, "When was it signed?", "When was Indus Waters Treaty signed?", PRONOUN),
        (TREATY, "When did India suspend it?", "When did India suspend Indus Waters Treaty?",
         PRONOUN),
        (MEETING, "Who welcomed him there?", "Who welcomed Shehbaz Sharif in Lachin?", PRONOUN),
        (MEETING, "What happened there?", "What happened in Lachin?", PLACE),
        (CEASEFIRE, "What did Azerbaijanis celebrate then?",
         "What did Azerbaijanis celebrate on May 10?", TIME),
        (SUSPENDED, "In which year?", "In which year did India suspend the Indus Waters Treaty?",
         FRAGMENT),
        (CLASSIFY, "And how?", "How does complexity theory classify problems?", FRAGMENT),
        (SUSPENDED, "Why was that?", "Why did India suspend the Indus Waters Treaty?", FRAGMENT),
        (SENATE, "And in 2017?", "What did Pakistan's Senate pass in 2017?", SWITCH),
        (FOREIGN_MINISTER, "What about Armenia?", "Who is Armenia's foreign minister?", SWITCH),
    ],
)  # fmt: skip
def test_a_follow_up_is_read_from_the_last_turn(
    turn: Turn, question: str, read_as: str, kind: str
) -> None:
    reading = read_in_context(question, [turn])
    assert (reading.question, reading.kind) == (read_as, kind)
    assert reading.resolved and reading.follow_up and reading.sent == question


@pytest.mark.parametrize(
    "question",
    [
        "Who is the President of Azerbaijan?",  # a new topic: no old subject picked up
        "Is it true that Pakistan shot down Indian jets?",  # *it* of no one
        "Is there a treaty between India and Pakistan?",  # *there* that is no place
        "Did Shehbaz Sharif thank Azerbaijan for its support?",  # *its* inside the question
        "When did Sharif land and whom did he meet?",  # *he* inside the question
        "If India attacked, then what did Pakistan do?",  # *then* of an if
        "How many Indian fighter jets did Pakistan say it shot down?",
    ],
)
def test_a_question_that_stands_alone_is_read_as_sent(question: str) -> None:
    reading = read_in_context(question, [ARMY_CHIEF])
    assert reading.question == question and not reading.follow_up


def test_with_nothing_that_fits_a_follow_up_is_read_as_sent_never_with_an_invented_subject() -> (
    None
):
    alone = read_in_context("Did he go there too?", [])
    assert alone.question == "Did he go there too?" and alone.kind == PRONOUN
    nothing_named = Turn("what happened next?", "refused")
    unresolved = read_in_context("Did he go there too?", [nothing_named])
    assert not unresolved.resolved and unresolved.follow_up
    assert read_in_context("When?", []).question == "When?"


def test_a_closest_answer_lends_no_phrase_only_what_the_question_named() -> None:
    unsure = Turn("Who is Pakistan's Army Chief?", "closest", "...", "Asim Munir")
    assert read_in_context("Did he go to Lachin?", [unsure]).question == (
        "Did Pakistan's Army Chief go to Lachin?"
    )


def test_a_name_is_put_in_once_and_hostile_input_stays_bounded() -> None:
    turn = Turn("When did Heydar Aliyev visit Pakistan?", "answer", "...", "April 10, 1996")
    reading = read_in_context("What did he say during his press conference?", [turn])
    assert reading.question == "What did Heydar Aliyev say during his press conference?"
    long = "he " * 200 + "?"
    assert len(read_in_context(long, [turn]).question) < len(long) * 6
    for odd in ("?", "and", "what about", "And ?", "<b>he</b> there then", "ıt İt ŞHE"):
        read_in_context(odd, [turn])  # no error, whatever comes


def test_a_turn_survives_its_json_form() -> None:
    assert Turn.from_json(json.loads(json.dumps(ARMY_CHIEF.to_json()))) == ARMY_CHIEF


# -- through the real answering service -----------------------------------------------------


def test_a_follow_up_is_answered_as_read_and_says_so(service: AnsweringService) -> None:
    first = service.answer("Who is Pakistan's Army Chief?")
    follow_up = service.answer("Did he go to Lachin too?", context=[Turn.of(first)])
    assert follow_up.read_as is not None and "Asim Munir" in follow_up.read_as
    assert follow_up.follow_up == PRONOUN and follow_up.question == follow_up.read_as
    assert any(contains_evidence(q.sentence, ["accompanied the PM"]) for q in follow_up.quotes)
    assert follow_up.to_json()["resolved"] == follow_up.read_as
    as_sent = service.answer("Did he go to Lachin too?")
    assert as_sent.read_as is None and as_sent.follow_up == PRONOUN  # counted, not resolved


def test_what_about_takes_the_place_of_the_nearest_name(service: AnsweringService) -> None:
    turn = Turn("Which ally did Azerbaijan publicly back in the four-day war?", "answer", "...")
    answer = service.answer("What about Armenia?", context=[turn])
    assert answer.read_as == "Which ally did Armenia publicly back in the four-day war?"


def test_questions_that_stand_alone_are_answered_exactly_as_without_context(
    service: AnsweringService,
) -> None:
    """Every seed question, asked as a later turn of a conversation about something else:
    the same state, quotes and scores as asked alone."""
    context = [Turn.of(service.answer("Who is Pakistan's Army Chief?"))]
    for item in load_questions(SEED_QUESTIONS):
        alone = service.answer(item.question)
        later = service.answer(item.question, context=context)
        assert later.follow_up is None and later.read_as is None, item.question
        assert later == alone, item.question


def test_quoth_eval_reads_dialogues_one_result_per_turn(service: AnsweringService) -> None:
    items = load_items(REPO / "eval" / "dialogues.jsonl")
    dialogues = [item for item in items if isinstance(item, EvalDialogue)]
    assert len(dialogues) == len(items) >= 30
    report = evaluate(service, dialogues[:6])
    assert [r.turn for r in report.results[:2]] == [1, 2]
    assert report.results[0].id == report.results[1].id == dialogues[0].id
    assert report.results[0].resolved is None  # a first question stands alone
    assert sum(r.resolved is not None for r in report.results) >= 4


def test_the_development_dialogues_meet_the_follow_up_targets(service: AnsweringService) -> None:
    """Answerable follow-ups on the first page at least 0.90 and in bold and right within
    0.10 of the same questions written out in full; unanswerable ones rarely in bold."""
    dialogues = list(load_items(REPO / "eval" / "dialogues.jsonl"))
    report = evaluate(service, dialogues)
    later = [r for r in report.results if r.turn and r.turn > 1]
    answerable = [r for r in later if r.answerable]
    unanswerable = [r for r in later if not r.answerable]
    on_page = sum(r.answer_on_first_page for r in answerable) / len(answerable)
    bold = sum(r.quote_hit for r in answerable) / len(answerable)
    print(json.dumps({"first_page": on_page, "bold_right": bold}))
    assert on_page >= 0.90  # measured 25 of 27 (26 before reading further)
    assert bold >= 0.70  # measured 22 of 27 (written out in full: 22 of 27)
    assert sum(r.answered for r in unanswerable) / len(unanswerable) <= 0.10  # measured 0 of 5


def test_bad_dialogue_lines_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "dialogues.jsonl"
    path.write_text('{"id": "d1", "turns": [{"question": "Who?"}]}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"dialogues.jsonl:1"):
        load_items(path)
    good = '{"id": "d1", "turns": [{"question": "Who?", "answerable": false}]}\n'
    path.write_text(good, encoding="utf-8")
    with pytest.raises(ValueError, match="only quoth eval reads"):
        load_questions(path)


def test_the_terminal_chat_reads_follow_ups_and_starts_over(shared_index_dir: Path) -> None:
    session = "Who is Pakistan's Army Chief?\nDid he go to Lachin too?\n/new\nDid he go too?\n"
    result = CliRunner().invoke(app, ["chat", "--index-dir", str(shared_index_dir)], session)
    assert result.exit_code == 0, result.stdout
    shown = " ".join(result.stdout.split())
    assert "Read as: Did Asim Munir go to Lachin too?" in shown
    assert "Starting over" in shown
    assert shown.count("Read as:") == 1  # after /new, read as sent
