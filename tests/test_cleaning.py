"""Boilerplate removal, checked on the real scraped articles and on the rules' shapes."""

from __future__ import annotations

from pathlib import Path

import pytest

from quoth.corpus.cleaning import clean_page, parse_date_line

from .conftest import ARTICLES


def cleaned(prefix: str) -> tuple[str, str]:
    path = next(ARTICLES.glob(f"{prefix}_*.txt"))
    raw = path.read_text(encoding="utf-8")
    return raw, clean_page(raw).text


def lines_of(text: str) -> set[str]:
    return {line.strip() for line in text.splitlines() if line.strip()}


def test_membership_appeal_and_footer_removed_article_kept() -> None:
    raw, text = cleaned("003")
    assert "Become a member" in raw  # the real file has the boilerplate ...
    for junk in (
        "Media logo",
        "Become a member",
        "Join our community and help push back against the hardliners.",
        "The Caucasus is changing — so are we.",
        "Related Articles",
        "Most Popular",
        "Explainer | How the India-Pakistan clashes",
        "Photo via Wikimedia Commons",
    ):
        assert junk not in text, junk  # ... and the cleaned text does not
    assert text.startswith("Pakistan’s Foreign Minister Ishaq Dar has announced")
    assert (
        "Pakistan has long been an ally of Azerbaijan, and is the only country in the world" in text
    )
    assert text.rstrip().endswith("Mohiuddin said.")


def test_duplicated_caption_dropped_both_copies() -> None:
    raw, text = cleaned("003")
    caption = "Pakistani Foreign Minister Ishaq Dar (left). Photo via Wikimedia Commons."
    assert raw.count(caption) == 2
    assert caption not in text


def test_banner_dateline_and_read_more_removed() -> None:
    raw, text = cleaned("004")
    page = clean_page(raw)
    assert "Welcome to Global Village Space" not in text
    assert "Read more:" not in text
    assert "Fighting between Muslim Azerbaijan and Christian Armenia" not in text
    assert page.published == "2024-02-14"
    assert page.headline == (
        "Pakistan flags hoisted in Azerbaijan as gratitude for support against Armenian aggression"
    )
    assert "Ambassador of Pakistan, Bilal Hayee, to Azerbaijan on Tuesday." in text
    assert "district Tovuz- the battleground of Armenia and Azerbaijan." in text


def test_clean_articles_keep_every_line() -> None:
    """Articles without furniture lose nothing (000 and 001 are plain article text)."""
    for prefix in ("000", "001"):
        raw, text = cleaned(prefix)
        assert lines_of(text) == lines_of(raw)


def test_headline_and_subheading_kept_apart() -> None:
    raw, _ = cleaned("002")
    page = clean_page(raw)
    assert (
        page.headline == "Here's why Azerbaijan was cheering for Pakistan during clashes with India"
    )
    assert "Pakistan-India tensions" in page.text.splitlines()
    assert "Pakistan signed a $1.6 billion agreement" in page.text


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Wednesday, February 14, 2024", "2024-02-14"),
        ("14 August 2025", "2025-08-14"),
        ("2023-05-01", "2023-05-01"),
        ("February 30, 2024", None),
        ("On February 14, 2024 they met.", None),
    ],
)
def test_date_lines(line: str, expected: str | None) -> None:
    assert parse_date_line(line) == expected


def test_generic_rules_on_another_site() -> None:
    raw = "\n".join(
        [
            "World",
            "Budget passes after long night",
            "Lawmakers approved the budget at 3 a.m. on Friday.",
            "Read also: Ten things to know about taxes",
            "The vote was 51 to 49.",
            "We rely on readers like you. Our reporting is free for all.",
            "Subscribe today to support our journalism.",
            "Officials said spending rises by 4%.",
            "Recommended",
            "Another story entirely.",
        ]
    )
    page = clean_page(raw)
    assert page.headline == "Budget passes after long night"
    assert page.text.splitlines() == [
        "Lawmakers approved the budget at 3 a.m. on Friday.",
        "The vote was 51 to 49.",
        "Officials said spending rises by 4%.",
    ]


def test_quotes_with_first_person_plural_survive_when_no_appeal(tmp_path: Path) -> None:
    text = "‘We stand with them,’ he said.\nThe talks continue next week."
    assert clean_page(text).text == text
