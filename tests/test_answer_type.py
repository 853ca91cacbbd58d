"""Question types and answer-type matching on hand-made cases whose right result is known."""

from __future__ import annotations

import pytest

from quoth.retrieval.answer_type import QuestionType, holds_answer_type, question_type

T = QuestionType


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("Who wrote the article thanking Azerbaijan?", T.who),
        ("Whose army chief came along?", T.who),
        ("The president met whom in Baku?", T.who),
        ("Which minister led the talks?", T.who),
        ("When did Heydar Aliyev visit Pakistan?", T.when),
        ("In what year was the treaty signed?", T.when),
        ("Where did Shehbaz Sharif meet Ilham Aliyev?", T.where),
        ("Which city hosted the summit?", T.where),
        ("How many Indian jets were shot down?", T.quantity),
        ("how much is the JF-17 deal worth", T.quantity),
        ("How long did the conflict last?", T.quantity),
        ("What percentage of exports go to Turkey?", T.quantity),
        ("What did the two leaders agree to exchange?", T.what),
        ("Which treaty did India suspend?", T.what),
        ("Why did Pakistan thank Azerbaijan?", T.why_how),
        ("How is a problem reduced to another?", T.why_how),
        ("Is P equal to NP?", T.yes_no),
        ("Did Armenia recognise Pakistan?", T.yes_no),
        ("Tell me about the visit", T.what),
    ],
)
def test_question_types(question: str, kind: QuestionType) -> None:
    assert question_type(question) is kind


@pytest.mark.parametrize(
    ("kind", "sentence", "question", "expected"),
    [
        (T.who, "The piece was written by Ayesha Khan for Dawn.", "Who wrote the piece?", True),
        (T.who, "Thank you, Azerbaijan, says the piece.", "Who thanked Azerbaijan?", False),
        (T.when, "He visited on April 10, 1996.", "When did he visit?", True),
        (T.when, "He visited in 1996.", "Did he visit in 1996, and when?", False),
        (T.where, "They met in Lachin on Monday.", "Where did they meet?", True),
        (T.quantity, "Six jets were downed, it said.", "How many jets were downed?", True),
        (T.quantity, "Jets were downed, it said.", "How many jets were downed?", False),
        (T.what, "Anything at all.", "What happened?", None),
        (T.yes_no, "Yes.", "Is it?", None),
    ],
)
def test_answer_type_held_by_a_sentence(
    kind: QuestionType, sentence: str, question: str, expected: bool | None
) -> None:
    assert holds_answer_type(kind, sentence, question) is expected


@pytest.mark.parametrize(
    ("question", "language", "kind"),
    [
        ("Когда родился Ильхам Алиев?", "ru", QuestionType.when),
        ("Сколько людей живёт в Лачине?", "ru", QuestionType.quantity),
        ("Pakistan'ın küresel heyetine kim liderlik edecek?", "tr", QuestionType.who),
        ("Hindistan-Pakistan ateşkesi kaç yılında sağlandı?", "tr", QuestionType.when),
        ("Bayraqlar hansı rayonda qaldırıldı?", "az", QuestionType.where),
        ("آرمینیا کا صدر کون ہے؟", "ur", QuestionType.who),
        ("Hindistan hangi su anlaşmasını askıya aldı?", "tr", QuestionType.what),
        ("Wann wurde Baku gegründet?", "de", QuestionType.what),  # no question words for German
    ],
)
def test_other_languages_name_the_answer_type_with_their_own_words(
    question: str, language: str, kind: QuestionType
) -> None:
    assert question_type(question, language) is kind
