"""The configuration and command reference of the documentation, generated from the code.

The settings table comes from :class:`quoth.config.Settings` (each field's description and
default) and the command table from the typer application, so the documentation cannot drift
from what quoth accepts. ``docs/hooks.py`` puts both into the site when it is built; a test
fails when a setting or a command has no description.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from pydantic.fields import FieldInfo

from quoth.config import ENV_PREFIX, Settings

MISSING = "–"


def _default(field: FieldInfo) -> str:
    extra = field.json_schema_extra
    if isinstance(extra, dict) and "shown_default" in extra:
        return str(extra["shown_default"])
    if field.default_factory is not None:
        made = field.default_factory()  # type: ignore[call-arg]
        return MISSING if made in ([], {}, ()) else f"`{made}`"
    value: Any = field.default
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, Path):
        return f"`{value.as_posix()}`"
    return f"`{value}`"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def settings_rows() -> list[tuple[str, str, str]]:
    """(variable, default, meaning) for every setting, in the order Settings declares them."""
    return [
        (f"{ENV_PREFIX}{name.upper()}", _default(field), field.description or "")
        for name, field in Settings.model_fields.items()
    ]


def settings_table() -> str:
    lines = ["| variable | default | meaning |", "| --- | --- | --- |"]
    for variable, default, meaning in settings_rows():
        lines.append(f"| `{variable}` | {_cell(default)} | {_cell(meaning)} |")
    return "\n".join(lines)


def _usage(name: str, command: Any) -> str:
    parts = [f"quoth {name}"]
    for param in command.params:
        if param.param_type_name == "argument":
            shown = (param.name or "").upper()
            if param.nargs == -1:
                shown += "..."
            parts.append(shown if param.required else f"[{shown}]")
        elif "--help" not in param.opts:
            flag = max(param.opts, key=len)
            taking = "" if param.is_flag else f" {(param.name or '').upper()}"
            parts.append(f"[{flag}{taking}]")
    return " ".join(parts)


def command_rows(app: typer.Typer) -> list[tuple[str, str]]:
    """(usage, what it does) for every command of ``app``, by name; a command group's
    (``quoth feeds add``) each under its full name."""
    group: Any = typer.main.get_command(app)  # typer's own click: duck-typed here
    return _rows(group, "")


def _rows(group: Any, prefix: str) -> list[tuple[str, str]]:
    rows = []
    for name in sorted(group.commands):
        command = group.commands[name]
        if hasattr(command, "commands"):
            rows.extend(_rows(command, f"{prefix}{name} "))
            continue
        summary = (command.help or "").strip().split("\n\n")[0]
        rows.append((_usage(prefix + name, command), summary))
    return rows


def commands_table(app: typer.Typer) -> str:
    lines = ["| command | what it does |", "| --- | --- |"]
    for usage, summary in command_rows(app):
        lines.append(f"| `{_cell(usage)}` | {_cell(summary)} |")
    return "\n".join(lines)
