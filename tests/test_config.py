"""Settings from the environment, and one clear line when a value is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from quoth.config import ConfigError, load_settings


def test_defaults_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().index_dir == Path("data/index")
    monkeypatch.setenv("QUOTH_TOP_K", "5")
    monkeypatch.setenv("QUOTH_MODERATOR_IDS", "12, 34 56")
    monkeypatch.setenv("QUOTH_TELEGRAM_TOKEN", "123:abc")
    settings = load_settings()
    assert settings.top_k == 5
    assert settings.moderator_ids == [12, 34, 56]
    assert settings.telegram_token is not None
    assert "123:abc" not in repr(settings)


def test_dotenv_file_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("QUOTH_MIN_SCORE=0.3\n")
    assert load_settings().min_score == 0.3
    assert load_settings(retrieval_mode="bm25", min_score=2.5).min_score == 2.5  # its own units


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("QUOTH_TOP_K", "many", "QUOTH_TOP_K: Input should be a valid integer"),
        ("QUOTH_TOP_K", "0", "QUOTH_TOP_K: Input should be greater than or equal to 1"),
        ("QUOTH_MODERATOR_IDS", "12,bob", "QUOTH_MODERATOR_IDS.1"),
        ("QUOTH_PASSAGE_OVERLAP", "3", "QUOTH_PASSAGE_OVERLAP: must be smaller"),
        ("QUOTH_MIN_SCORE", "3.57", "QUOTH_MIN_SCORE is a confidence between 0 and 1"),
    ],
)
def test_invalid_values_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as error:
        load_settings()
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_platforms_default_to_every_configured_token() -> None:
    both = load_settings(telegram_token="1:x", discord_token="y")
    assert both.serving_platforms() == ["telegram", "discord"]
    assert load_settings(discord_token="y").serving_platforms() == ["discord"]
    chosen = load_settings(platforms="discord, discord", telegram_token="1:x", discord_token="y")
    assert chosen.serving_platforms() == ["discord"]
    with pytest.raises(ConfigError, match="Nothing to serve"):
        load_settings().serving_platforms()
    with pytest.raises(ConfigError, match="QUOTH_PLATFORMS"):
        load_settings(platforms="slack")
