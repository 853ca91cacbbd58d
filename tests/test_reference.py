"""The documentation's generated reference and the README's links."""

from __future__ import annotations

import re

from quoth.cli import app
from quoth.config import Settings
from quoth.reference import command_rows, commands_table, settings_rows, settings_table

from .conftest import REPO


def test_every_setting_has_an_entry_with_a_meaning() -> None:
    rows = settings_rows()
    assert [variable for variable, _, _ in rows] == [
        f"QUOTH_{name.upper()}" for name in Settings.model_fields
    ]
    undescribed = [variable for variable, _, meaning in rows if len(meaning) < 10]
    assert not undescribed, (
        f"settings without a description (Field(description=...)): {undescribed}"
    )
    table = settings_table()
    assert "| `QUOTH_INDEX_DIR` | `data/index` |" in table
    assert "| `QUOTH_TOP_K` | `3` |" in table and "| `QUOTH_MODERATOR_IDS` | – |" in table


def test_every_command_has_an_entry_with_what_it_does() -> None:
    rows = command_rows(app)
    names = [usage.split()[1] for usage, _ in rows]
    assert {"index", "ask", "serve", "eval", "calibrate", "gaps", "add", "refresh"} <= set(names)
    undescribed = [usage for usage, summary in rows if len(summary) < 10]
    assert not undescribed, f"commands without a docstring: {undescribed}"
    assert "`quoth ask QUESTION [--json] [-k K] [--explain]" in commands_table(app)


def test_every_link_in_the_readme_resolves_to_a_page_or_file() -> None:
    readme = (REPO / "README.md").read_text()
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", readme)
    local = [link for link in links if not link.startswith(("http://", "https://"))]
    assert local, "the README links to the documentation"
    missing = [link for link in local if not (REPO / link).exists()]
    assert not missing, missing
    assert len(readme.splitlines()) <= 120
