"""MkDocs hook: the generated reference tables, put where a page asks for them.

A page writes ``<!-- settings-table -->`` or ``<!-- commands-table -->``; the tables come from
:mod:`quoth.reference`, so they list exactly what the code accepts.
"""

from __future__ import annotations

from typing import Any

from quoth.cli import app
from quoth.reference import commands_table, settings_table


def on_page_markdown(markdown: str, **_: Any) -> str:
    if "<!-- settings-table -->" in markdown:
        markdown = markdown.replace("<!-- settings-table -->", settings_table())
    if "<!-- commands-table -->" in markdown:
        markdown = markdown.replace("<!-- commands-table -->", commands_table(app))
    return markdown
