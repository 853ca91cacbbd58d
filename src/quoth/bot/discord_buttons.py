"""Discord's buttons under an answer: 👍 / 👎, "More", and the reasons after a 👎.

Each button is a :class:`discord.ui.DynamicItem`: its ``custom_id`` names the stored answer
(``q:v:ID:up``), and discord.py matches any incoming click against the template. So the
buttons survive a restart (no view object has to be kept in memory) and work on any
process, like Telegram's plain-text button data.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import discord

from quoth.messages import MORE_LABEL, Translate

VOTE, REASON, MORE = "v", "r", "m"
Handler = Callable[[discord.Interaction[Any], str, str, str], Awaitable[None]]
"""What a click calls: (interaction, kind, answer id, argument)."""

_TEMPLATE = re.compile(r"q:(?P<kind>[vrm]):(?P<id>[\w-]{1,40})(?::(?P<arg>\w{1,20}))?")


class AnswerButton(discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]], template=_TEMPLATE):
    """A button whose whole state is its ``custom_id``; a click goes to the client's
    ``on_answer_button`` (a :data:`Handler`)."""

    def __init__(self, kind: str, answer_id: str, arg: str, label: str, row: int = 0) -> None:
        custom_id = f"q:{kind}:{answer_id}" + (f":{arg}" if arg else "")
        style = discord.ButtonStyle.secondary
        super().__init__(discord.ui.Button(label=label, custom_id=custom_id, style=style), row=row)
        self.kind, self.answer_id, self.arg = kind, answer_id, arg

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> AnswerButton:
        label = getattr(item, "label", None) or ""
        return cls(match["kind"], match["id"], match["arg"] or "", label)

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        handler: Handler | None = getattr(interaction.client, "on_answer_button", None)
        if handler is not None:
            await handler(interaction, self.kind, self.answer_id, self.arg)


def answer_view(answer_id: str, more: bool, translate: Translate = str) -> discord.ui.View:
    """👍 / 👎 under an answer, and "More" when more quotes wait."""
    view = discord.ui.View(timeout=None)
    view.add_item(AnswerButton(VOTE, answer_id, "up", "👍"))
    view.add_item(AnswerButton(VOTE, answer_id, "down", "👎"))
    if more:
        view.add_item(AnswerButton(MORE, answer_id, "", translate(MORE_LABEL)))
    return view


def reasons_view(
    answer_id: str, reasons: tuple[tuple[str, str], ...], translate: Translate = str
) -> discord.ui.View:
    """The reasons offered to a 👎 voter alone (in an ephemeral message)."""
    view = discord.ui.View(timeout=None)
    for code, label in reasons:
        view.add_item(AnswerButton(REASON, answer_id, code, translate(label).capitalize()))
    return view


def answer_id_of(message: discord.Message) -> str | None:
    """The stored answer a message of quoth's shows (its buttons name it), or None."""
    for row in message.components:
        for child in getattr(row, "children", ()):
            found = _TEMPLATE.fullmatch(getattr(child, "custom_id", None) or "")
            if found is not None:
                return found["id"]
    return None
