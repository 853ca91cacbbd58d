"""The Discord adapter: discord.py slash commands and mentions over the answering service.

Like the Telegram adapter it only translates: questions go to :class:`AnsweringService`,
moderation to :class:`Library`, replies through :mod:`quoth.bot.discord_render`.

The bot needs no privileged intent: Discord delivers the content of direct messages and of
messages that mention the bot without the message-content intent, and those are the only
messages it answers. An answer that is not ready within ``defer_after`` seconds is deferred
(Discord shows "thinking…") so the 3-second acknowledgement deadline is always met.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import discord
import yarl
from discord import app_commands
from discord.gateway import DiscordWebSocket
from discord.http import Route
from discord.utils import MISSING

from quoth import metrics
from quoth.bot import discord_buttons as db
from quoth.bot import discord_render as dr
from quoth.bot.conversation import (
    FOLLOW_UP_HELP,
    NOT_AN_ANSWER,
    SOMETHING_WRONG,
    Conversation,
    Person,
    Reply,
)
from quoth.bot.library import Library, ModerationError
from quoth.bot.logs import redact_secrets
from quoth.bot.text import shorten
from quoth.config import ConfigError, Settings
from quoth.feedback import DOWN
from quoth.messages import N_, choose, translator
from quoth.retrieval.question import normalise_question

log = logging.getLogger("quoth.discord")

DEFER_AFTER_SECONDS = 2.0
QUESTION_OPTION_MAX = 4000  # Discord's own cap; QUOTH_MAX_QUESTION_CHARS is checked later
SOURCES_PER_PAGE = 20
HELP = N_(
    "Ask me with /ask, mention me with your question, or message me directly: I answer with "
    "exact quotes from my articles and their sources, or tell you plainly that my sources "
    "don't cover it. /sources lists the articles."
)


def point_at(settings: Settings) -> None:
    """Aim discord.py at the configured REST root and gateway (defaults: Discord itself).

    discord.py reads both from class attributes, so this is process-wide; every bot in one
    process talks to the same Discord anyway.
    """
    Route.BASE = settings.discord_api_root()
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(str(settings.discord_gateway_url))


class _Client(discord.Client):
    def __init__(self, owner: DiscordBot, **options: Any) -> None:
        super().__init__(**options)
        self.owner = owner
        self.tree = app_commands.CommandTree(self)

    async def setup_hook(self) -> None:
        """Runs after login, before the gateway: publish the slash commands, and route
        clicks on answer buttons, whichever process sent them."""
        self.add_dynamic_items(db.AnswerButton)
        self.owner.add_commands(self.tree)
        commands = await self.tree.sync()
        log.info("synced %d slash commands", len(commands))

    async def on_message(self, message: discord.Message) -> None:
        await self.owner.on_message(message)

    async def on_answer_button(
        self, interaction: discord.Interaction, kind: str, answer_id: str, arg: str
    ) -> None:
        await self.owner.on_button(interaction, kind, answer_id, arg)


class DiscordBot:
    """Commands and message handling bound to one library; ``start``/``stop`` connect."""

    def __init__(
        self,
        settings: Settings,
        library: Library,
        *,
        defer_after: float = DEFER_AFTER_SECONDS,
        guild_ready_timeout: float = 2.0,
    ) -> None:
        if settings.discord_token is None:
            raise ConfigError(
                "QUOTH_DISCORD_TOKEN is not set: create a bot in the Discord developer portal."
            )
        redact_secrets(settings.discord_token.get_secret_value())
        self.settings = settings
        self.library = library
        self.conversation = Conversation(library)
        self.platform = "discord"
        self.defer_after = defer_after
        self.moderator_ids = frozenset(settings.discord_moderator_ids)
        point_at(settings)
        discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False  # no voice here
        intents = discord.Intents.default()
        intents.message_content = False  # privileged; mentions and DMs carry content anyway
        intents.typing = False
        intents.presences = False
        self.client = _Client(
            self,
            intents=intents,
            allowed_mentions=dr.NO_MENTIONS,
            guild_ready_timeout=guild_ready_timeout,
        )
        self._connection: asyncio.Task[None] | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Log in, sync commands, connect the gateway; return when the bot is ready."""
        assert self.settings.discord_token is not None
        try:
            await self.client.login(self.settings.discord_token.get_secret_value())
        except discord.LoginFailure:
            await self.client.close()
            raise ConfigError(
                "Discord rejected QUOTH_DISCORD_TOKEN; copy the bot token again from the "
                "developer portal."
            ) from None
        self._connection = asyncio.create_task(self.client.connect())
        ready = asyncio.create_task(self.client.wait_until_ready())
        await asyncio.wait([ready, self._connection], return_when=asyncio.FIRST_COMPLETED)
        if not ready.done():
            ready.cancel()
            try:
                await self._connection
            except discord.PrivilegedIntentsRequired:
                raise ConfigError("Discord refused the bot's intents.") from None
            except discord.ConnectionClosed as error:
                raise ConfigError(
                    f"Discord closed the gateway connection: {error.code} {error.reason}"
                ) from None
            raise ConfigError("The Discord gateway connection ended before it was ready.")
        log.info("connected to Discord as %s", self.client.user)

    async def stop(self) -> None:
        await self.client.close()
        if self._connection is not None:
            await asyncio.gather(self._connection, return_exceptions=True)

    async def wait_closed(self) -> None:
        if self._connection is not None:
            await self._connection

    # -- commands -----------------------------------------------------------------------------

    def add_commands(self, tree: app_commands.CommandTree[Any]) -> None:
        """Register every slash command; checks for moderators happen inside each."""

        @tree.command(name="ask", description="Ask a question about the articles")
        @app_commands.describe(question="Your question, in your own words")
        async def ask(
            interaction: discord.Interaction,
            question: app_commands.Range[str, 1, QUESTION_OPTION_MAX],
        ) -> None:
            await self.ask(interaction, question)

        @tree.command(name="new", description="Start over: read my next question on its own")
        async def new(interaction: discord.Interaction) -> None:
            where = str(interaction.channel_id or interaction.user.id)
            reply = await self.conversation.forget(self.asker(interaction), where)
            await self._answer(interaction, reply)

        @tree.command(name="sources", description="List the articles I quote from")
        @app_commands.describe(page="Page of the list (20 per page)")
        async def sources(interaction: discord.Interaction, page: int = 1) -> None:
            articles = self.library.service.index.articles
            reply = dr.render_sources(articles, page - 1, SOURCES_PER_PAGE)
            await self._send(interaction, reply)

        @tree.command(name="source", description="Show an article that has no web link")
        @app_commands.describe(id="The article id shown under a quote")
        async def source(interaction: discord.Interaction, id: str) -> None:
            await self.show_source(interaction, id)

        @source.autocomplete("id")
        async def source_ids(
            interaction: discord.Interaction, current: str
        ) -> list[app_commands.Choice[str]]:
            return self.source_choices(current)

        @tree.command(name="reindex", description="Moderators: rebuild the index from the corpus")
        async def reindex(interaction: discord.Interaction) -> None:
            await self.reindex(interaction)

        @tree.command(name="stats", description="Moderators: articles, passages, index age")
        async def stats(interaction: discord.Interaction) -> None:
            await self.stats(interaction)

        @tree.command(name="gaps", description="Moderators: questions I could not answer")
        @app_commands.describe(days="Of the last how many days (7)", page="Page of the list")
        async def gaps(interaction: discord.Interaction, days: int = 7, page: int = 1) -> None:
            reply = await self.conversation.gaps(self.asker(interaction), days, page)
            await self._answer(interaction, reply)

        @tree.command(name="add", description="Moderators: add or update an article")
        @app_commands.describe(
            url="A link to an article page, PDF or Word file",
            file="Or a .txt, .md, .html, .pdf or .docx article file",
        )
        async def add(
            interaction: discord.Interaction,
            url: str | None = None,
            file: discord.Attachment | None = None,
        ) -> None:
            if file is not None and url is None:
                await self.add(interaction, file)
            else:
                await self.add_link(interaction, url or "")

        @tree.command(name="follow", description="Moderators: follow a news feed (RSS or Atom)")
        @app_commands.describe(url="The feed's address, or a page that names its feed")
        async def follow(interaction: discord.Interaction, url: str) -> None:
            person = self.asker(interaction)
            if person.moderator:
                await interaction.response.defer(thinking=True)  # fetching takes seconds
            reply = await self.conversation.follow(person, url, self._report_to(interaction))
            await self._answer(interaction, reply)

        @tree.command(name="unfollow", description="Moderators: stop following a feed")
        @app_commands.describe(
            url="The feed's address (see /feeds)", with_articles="Remove the articles it added"
        )
        async def unfollow(
            interaction: discord.Interaction, url: str, with_articles: bool = False
        ) -> None:
            argument = f"{url} --with-articles" if with_articles else url
            reply = await self.conversation.unfollow(
                self.asker(interaction), argument, self._report_to(interaction)
            )
            await self._answer(interaction, reply)

        @tree.command(name="feeds", description="Moderators: followed feeds and their errors")
        async def feeds(interaction: discord.Interaction) -> None:
            await self._answer(interaction, await self.conversation.feeds(self.asker(interaction)))

        @tree.command(name="remove", description="Moderators: remove an article by id")
        @app_commands.describe(id="The article id (see /sources)")
        async def remove(interaction: discord.Interaction, id: str) -> None:
            await self.remove(interaction, id)

        tree.error(self.on_command_error)

    # -- questions ----------------------------------------------------------------------------

    def asker(self, interaction: discord.Interaction) -> Person:
        return self.person(interaction.user, interaction.locale)

    def person(
        self, user: discord.User | discord.Member, locale: discord.Locale | None = None
    ) -> Person:
        """Who asks; ``locale`` is the Discord client's language (interactions carry it,
        messages do not: then the question's language decides)."""
        language = str(locale) if locale is not None else None
        return Person(self.platform, user.id, self.is_moderator(user), language)

    @staticmethod
    def render(reply: Reply) -> dr.Reply:
        """The message, with the answer's buttons when it has a stored answer."""
        if reply.answer is None:
            return dr.text_reply(reply.text)
        rendered = dr.render_answer(reply.answer, translate=reply.translate)
        if reply.answer_id is None:
            return rendered
        more = reply.answer.next_offset is not None
        view = db.answer_view(reply.answer_id, more, reply.translate)
        return replace(rendered, view=view)

    async def ask(self, interaction: discord.Interaction, question: str) -> None:
        where = str(interaction.channel_id or interaction.user.id)  # a thread is a channel
        work = asyncio.create_task(
            self.conversation.ask(self.asker(interaction), question, "slash", where=where)
        )
        done, _ = await asyncio.wait([work], timeout=self.defer_after)
        if not done:
            await interaction.response.defer(thinking=True)
        reply = await work
        await self._send(interaction, self.render(reply), ephemeral=reply.private)

    async def on_message(self, message: discord.Message) -> None:
        """Answer direct messages and mentions of the bot; ignore all other talk."""
        me = self.client.user
        if me is None or message.author.bot:
            return
        if message.guild is not None and not any(user.id == me.id for user in message.mentions):
            return
        addressed = re.sub(rf"<@!?{me.id}>", " ", message.content)
        question = normalise_question(addressed)  # other mentions, emoji and markup go too
        if not addressed.strip():
            await self._reply(message, dr.text_reply(f"{HELP}\n\n{FOLLOW_UP_HELP}"))
            return
        via = "dm" if message.guild is None else "mention"
        person = self.person(message.author)
        if message.guild is None and self.conversation.adds_link(person, addressed):

            async def report(text: str) -> None:
                await self._reply(message, dr.text_reply(text))

            reply = await self.conversation.add_link(person, addressed, report)
            await self._reply(message, dr.text_reply(reply.text))
            return
        async with message.channel.typing():
            reply = await self.conversation.ask(
                self.person(message.author),
                question,
                via,
                where=str(message.channel.id),  # a thread is a channel of its own
                replying_to=self.replied_answer(message),
            )
        await self._reply(message, self.render(reply))

    def replied_answer(self, message: discord.Message) -> str | None:
        """The stored answer a message replies to, which is then its context;
        :data:`NOT_AN_ANSWER` for a reply to someone else's message; None otherwise."""
        reference = message.reference
        if reference is None or reference.message_id is None:
            return None
        replied = reference.resolved
        if not isinstance(replied, discord.Message):
            return None  # deleted, or not sent along: the conversation decides
        me = self.client.user
        if me is None or replied.author.id != me.id:
            return NOT_AN_ANSWER
        return db.answer_id_of(replied)

    async def _send(
        self, interaction: discord.Interaction, reply: dr.Reply, ephemeral: bool = False
    ) -> None:
        """The first response to an interaction, or a follow-up once it was deferred."""
        embed = reply.embed if reply.embed is not None else MISSING
        content = reply.content if reply.content is not None else MISSING
        view = reply.view if reply.view is not None else MISSING
        sending: Awaitable[object]
        if interaction.response.is_done():
            sending = interaction.followup.send(
                content,
                embed=embed,
                view=view,
                ephemeral=ephemeral,
                allowed_mentions=dr.NO_MENTIONS,
            )
        else:
            sending = interaction.response.send_message(
                content,
                embed=embed,
                view=view,
                ephemeral=ephemeral,
                allowed_mentions=dr.NO_MENTIONS,
            )
        await metrics.sent("discord", sending)

    @staticmethod
    async def _reply(message: discord.Message, reply: dr.Reply) -> None:
        sending = message.reply(
            reply.content,
            embed=reply.embed if reply.embed is not None else MISSING,
            view=reply.view if reply.view is not None else MISSING,
            mention_author=False,
            allowed_mentions=dr.NO_MENTIONS,
        )
        await metrics.sent("discord", sending)

    async def on_button(
        self, interaction: discord.Interaction, kind: str, answer_id: str, arg: str
    ) -> None:
        """A click on an answer's buttons: votes and reasons are acknowledged to the clicker
        alone; "More" sends the next quotes and takes itself off the answer."""
        person = self.asker(interaction)
        if kind == db.MORE:
            await self.more(interaction, person, answer_id)
            return
        if kind == db.REASON:
            reply = await self.conversation.vote(person, answer_id, DOWN, arg)
            await interaction.response.edit_message(content=reply.text, view=None)
            return
        reply = await self.conversation.vote(person, answer_id, arg)
        view = (
            db.reasons_view(answer_id, reply.reasons, reply.translate) if reply.reasons else MISSING
        )
        await interaction.response.send_message(
            reply.text, view=view, ephemeral=True, allowed_mentions=dr.NO_MENTIONS
        )

    async def more(self, interaction: discord.Interaction, person: Person, answer_id: str) -> None:
        await interaction.response.defer()  # acknowledged at once; the edit follows
        reply = await self.conversation.more(person, answer_id)
        if reply.answer is None:
            await interaction.followup.send(reply.text, ephemeral=True)
            return
        await interaction.edit_original_response(view=db.answer_view(answer_id, more=False))
        await self._send(interaction, self.render(reply))

    # -- sources ------------------------------------------------------------------------------

    def source_choices(self, current: str) -> list[app_commands.Choice[str]]:
        """Up to 25 articles whose id or title contains what was typed so far."""
        needle = current.casefold()
        choices = []
        for article in self.library.service.index.articles:
            if needle in article.id.casefold() or needle in article.title.casefold():
                label = shorten(f"{article.title} ({article.id})", 100)
                choices.append(app_commands.Choice(name=label, value=article.id[:100]))
            if len(choices) == 25:
                break
        return choices

    async def show_source(self, interaction: discord.Interaction, doc_id: str) -> None:
        article = self.conversation.article(doc_id)
        if article is None:
            reply = dr.text_reply("That article is not in my sources. See /sources for the ids.")
            await self._send(interaction, reply, ephemeral=True)
            return
        await self._send(interaction, dr.render_article(article))

    # -- moderators ---------------------------------------------------------------------------

    def is_moderator(self, user: discord.User | discord.Member) -> bool:
        if user.id in self.moderator_ids:
            return True
        role = self.settings.discord_moderator_role
        return (
            role is not None
            and isinstance(user, discord.Member)
            and any(r.name == role for r in user.roles)
        )

    def _report_to(self, interaction: discord.Interaction) -> Callable[[str], Awaitable[None]]:
        async def report(text: str) -> None:
            await self._send(interaction, dr.text_reply(text))

        return report

    async def _answer(self, interaction: discord.Interaction, reply: Reply) -> None:
        await self._send(interaction, self.render(reply), ephemeral=reply.private)

    async def stats(self, interaction: discord.Interaction) -> None:
        await self._answer(interaction, self.conversation.stats(self.asker(interaction)))

    async def reindex(self, interaction: discord.Interaction) -> None:
        person = self.asker(interaction)
        await self._answer(
            interaction, await self.conversation.reindex(person, self._report_to(interaction))
        )

    async def add(self, interaction: discord.Interaction, file: discord.Attachment) -> None:
        async def fetch() -> bytes:
            await interaction.response.defer(thinking=True)  # downloading can take a while
            try:
                return await file.read()
            except discord.HTTPException:
                raise ModerationError("Could not fetch the file.") from None

        reply = await self.conversation.add_file(
            self.asker(interaction),
            file.filename,
            file.size,
            fetch,
            self._report_to(interaction),
        )
        await self._answer(interaction, reply)

    async def add_link(self, interaction: discord.Interaction, url: str) -> None:
        person = self.asker(interaction)
        if person.moderator and url:
            await interaction.response.defer(thinking=True)  # fetching can take seconds
        reply = await self.conversation.add_link(person, url, self._report_to(interaction))
        await self._answer(interaction, reply)

    async def remove(self, interaction: discord.Interaction, doc_id: str) -> None:
        reply = await self.conversation.remove(
            self.asker(interaction), doc_id, self._report_to(interaction)
        )
        await self._answer(interaction, reply)

    # -- errors -------------------------------------------------------------------------------

    async def on_command_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        log.error("error in a slash command", exc_info=error)
        try:
            language = choose(str(interaction.locale))
            text = translator(language)(SOMETHING_WRONG)
            await self._send(interaction, dr.text_reply(text), ephemeral=True)
        except discord.HTTPException:
            log.warning("could not tell the user about the error")
