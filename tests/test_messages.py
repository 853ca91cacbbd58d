"""What quoth says, in the asker's language: catalogues complete and compiled, the language
chosen as the issue asks (app setting, then question), quotes left verbatim."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import quoth.bot.discord_bot
import quoth.bot.telegram
from quoth.bot.conversation import Conversation, Person, speaks
from quoth.bot.library import Library
from quoth.language import detect, script_language
from quoth.messages import LANGUAGES, MARKED, NOT_IN_SOURCES, choose, translator
from quoth.retrieval import AnsweringService

from .conftest import settings_for

REPO = Path(__file__).resolve().parent.parent
_FIELD = re.compile(r"\{\w+\}")
assert quoth.bot.telegram and quoth.bot.discord_bot  # every marked message is loaded


@pytest.mark.parametrize("language", LANGUAGES[1:])
def test_every_message_is_translated_with_its_placeholders(language: str) -> None:
    translate = translator(language)
    for message in dict.fromkeys(MARKED):
        said = translate(message)
        assert said != message, (language, message)
        assert sorted(_FIELD.findall(said)) == sorted(_FIELD.findall(message)), said


def test_the_compiled_catalogues_match_their_sources() -> None:
    checked = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "compile_messages.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stdout


def test_the_language_is_the_first_one_quoth_speaks() -> None:
    assert choose("ru-RU", "tr") == "ru"
    assert choose("pt_BR", "az") == "az"  # not spoken: the question's language next
    assert choose(None, None) == "en" and choose("de") == "en"


async def test_replies_speak_the_app_setting_first_then_the_question(
    service: AnsweringService, tmp_path: Path
) -> None:
    conversation = Conversation(Library(settings_for(tmp_path / "unused"), service))
    refused = await conversation.ask(Person("telegram", 1), "Какая погода в Лиссабоне?", "private")
    assert refused.language == "ru" and refused.answer is not None
    assert refused.translate(NOT_IN_SOURCES).startswith("В моих источниках")
    turkish = await conversation.ask(
        Person("discord", 2, language="tr"), "Which water treaty did India suspend?", "slash"
    )
    assert turkish.language == "tr" and turkish.answer is not None
    assert "Indus Waters Treaty" in turkish.answer.quotes[0].sentence  # the quote stays English
    blank = await conversation.ask(Person("telegram", 3, language="ur"), "  ", "private")
    assert blank.text == "براہ کرم کوئی سوال لکھیں۔"
    turkish_question = await conversation.ask(
        Person("telegram", 4), "Hindistan hangi su anlaşmasını askıya aldı?", "private"
    )
    assert turkish_question.language == "en"  # Latin script tells nothing; no detector loaded


def test_a_language_quoth_does_not_speak_falls_back_to_the_script() -> None:
    question = "Кто посол Азербайджана в Пакистане?"
    assert detect(question).code != "ru"  # the detector's guess is Bulgarian
    assert speaks(Person("telegram", 1), question, detector=True) == "ru"


def test_the_script_alone_names_russian_and_urdu() -> None:
    assert script_language("Какая погода в Лиссабоне?") == "ru"
    assert script_language("باکو کی آبادی کتنی ہے؟") == "ur"
    assert script_language("Bakının əhalisi nə qədərdir?") is None
