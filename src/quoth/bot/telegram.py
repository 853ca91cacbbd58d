"""The Telegram adapter: python-telegram-bot handlers over the answering service.

Handlers only translate between Telegram updates and :class:`AnsweringService` /
:class:`Library` calls; answering runs in a worker thread so the event loop keeps serving
other chats (and the "typing" indicator) while the model encodes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputTextMessageContent,
    LinkPreviewOptions,
    Message,
    MessageEntity,
    Update,
    User,
)
from telegram.constants import ChatAction, ParseMode
from telegram.error import InvalidToken, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    Defaults,
    InlineQueryHandler,
    MessageHandler,
    filters,
)

from quoth import metrics
from quoth.bot import telegram_html as th
from quoth.bot.conversation import (
    EXPIRED,
    FOLLOW_UP_HELP,
    NOT_AN_ANSWER,
    SOMETHING_WRONG,
    Conversation,
    Person,
    Reply,
    Report,
)
from quoth.bot.library import Library, ModerationError
from quoth.bot.logs import redact_secrets
from quoth.bot.telegram_retry import RetryingRateLimiter
from quoth.bot.text import safe_url, shorten
from quoth.config import ConfigError, Settings
from quoth.feedback import DOWN
from quoth.messages import MORE_LABEL, N_, NOT_IN_SOURCES, Translate, choose, translator
from quoth.retrieval import Answer
from quoth.retrieval.question import normalise_question

if TYPE_CHECKING:
    from quoth.bot.telegram_webhook import WebhookServer

log = logging.getLogger("quoth.telegram")
TYPING_AFTER_S = 0.5
"""An answer slower than this shows "typing…" first. Most answers take under 0.1 s, and
sending the action with each one doubled the Bot API calls per answer, which Telegram's
30-a-second flood limit (and PTB's rate limiter) counts: at most 15 answers a second."""

SOURCES_PER_PAGE = 10
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
PUBLIC_COMMANDS = [
    BotCommand("ask", "Ask a question about the articles"),
    BotCommand("sources", "List the articles I quote from"),
    BotCommand("new", "Start over: read my next question on its own"),
    BotCommand("help", "How to use this bot"),
]
MODERATOR_COMMANDS = [
    *PUBLIC_COMMANDS,
    BotCommand("reindex", "Rebuild the index from the corpus folder"),
    BotCommand("add", "Add or update an article from a link: /add URL"),
    BotCommand("remove", "Remove an article: /remove ID"),
    BotCommand("follow", "Follow a news feed (RSS or Atom): /follow URL"),
    BotCommand("unfollow", "Stop following a feed: /unfollow URL [--with-articles]"),
    BotCommand("feeds", "Followed feeds, their last refresh and errors"),
    BotCommand("stats", "Articles, passages, index age, questions"),
    BotCommand("gaps", "Questions I could not answer: /gaps [DAYS] [PAGE]"),
]
WELCOME = N_(
    "Hi! Ask me a question and I answer with exact quotes from my articles, each with its "
    "source — or I tell you plainly that my sources don't cover it.\n\n"
    "In a private chat, just type your question. In a group, use /ask, mention me, or "
    "reply to one of my messages. /sources lists the articles."
)
MODERATOR_HELP = (
    "\n\nModerator tools: send a .txt, .md, .html, .pdf or .docx file, or a link to an "
    "article page or document (/add URL, or just the link here), to add or update an article "
    "(it is indexed at once); /follow URL adds a news feed's articles as they appear (/feeds "
    "lists them, /unfollow URL stops); /remove ID deletes one; /reindex rebuilds after "
    "changes on disk; "
    "/stats shows the numbers; /gaps lists what users asked that the articles do not answer."
)


INLINE_RESULTS = 5
INLINE_CACHE_S = 10
"""Short: the articles change, and a refusal should not outlive a reindex by much."""


NOT_IN_SOURCES_TITLE = N_("Not in my sources")
NOT_NOW_TITLE = N_("Not now")


def inline_results(reply: Reply, username: str) -> list[InlineQueryResultArticle]:
    """One result per quote (title as the heading, the sentence as the description), each
    sending that quote with its source; a refusal or a wait is one result saying so."""
    answer = reply.answer
    translate = reply.translate
    if answer is None or not answer.shows_quotes:
        text = reply.text or translate(NOT_IN_SOURCES)
        title = translate(NOT_IN_SOURCES_TITLE if answer is not None else NOT_NOW_TITLE)
        content = InputTextMessageContent(text, link_preview_options=NO_PREVIEW)
        return [InlineQueryResultArticle("0", title, content, description=shorten(text, 200))]
    results = []
    for number, quote in enumerate(answer.quotes[:INLINE_RESULTS]):
        single = Answer(answer.question, answer.state, [quote], answer.top_score)
        content = InputTextMessageContent(
            th.render_answer(single, username, translate=translate),
            parse_mode=ParseMode.HTML,
            link_preview_options=link_preview(single),
        )
        results.append(
            InlineQueryResultArticle(
                str(number),
                shorten(quote.title, 100) or "Untitled",
                content,
                description=shorten(quote.sentence, 200),
            )
        )
    return results


def link_preview(answer: Answer) -> LinkPreviewOptions:
    """The preview shows the first quote's source when it is on the web; none otherwise."""
    url = safe_url(answer.quotes[0].url) if answer.shows_quotes else None
    if url is None:
        return NO_PREVIEW
    return LinkPreviewOptions(
        is_disabled=False, url=url, prefer_small_media=True, show_above_text=False
    )


MORE = re.compile(r"^m:([\w-]+)$")
VOTE = re.compile(r"^v:([\w-]+):(up|down)$")
REASON = re.compile(r"^r:([\w-]+):(\w+)$")
SOURCES_PAGE = re.compile(r"^s:(\d+)$")
"""Button data is plain text naming a stored answer (at most 64 bytes), not an object in
PTB's in-memory callback cache: buttons keep working after a restart and on every replica."""


def answer_buttons(
    answer_id: str,
    more: bool,
    reasons: tuple[tuple[str, str], ...] = (),
    translate: Translate = str,
) -> InlineKeyboardMarkup:
    """👍 / 👎 (and "More" when there are more quotes); after a 👎, the reasons too. The
    buttons show no counts and no names: in a group everyone sees the same message."""
    row = [
        InlineKeyboardButton("👍", callback_data=f"v:{answer_id}:up"),
        InlineKeyboardButton("👎", callback_data=f"v:{answer_id}:down"),
    ]
    if more:
        row.append(InlineKeyboardButton(translate(MORE_LABEL), callback_data=f"m:{answer_id}"))
    rows = [row]
    if reasons:
        rows.append(
            [
                InlineKeyboardButton(
                    translate(label).capitalize(), callback_data=f"r:{answer_id}:{code}"
                )
                for code, label in reasons
            ]
        )
    return InlineKeyboardMarkup(rows)


def without_more(markup: InlineKeyboardMarkup | None) -> InlineKeyboardMarkup | None:
    """The same buttons less "More" (its quotes have been sent)."""
    if markup is None:
        return None
    rows = [
        [b for b in row if not str(b.callback_data or "").startswith("m:")]
        for row in markup.inline_keyboard
    ]
    return InlineKeyboardMarkup([row for row in rows if row]) if any(rows) else None


def conversation_place(message: Message) -> str:
    """Where a conversation happens: the chat, and the forum topic within it (each topic is
    a conversation of its own; a plain group's reply threads are not)."""
    topic = message.message_thread_id if message.is_topic_message else None
    return f"{message.chat.id}:{topic or 0}"


def replied_answer(message: Message, bot_id: int) -> str | None:
    """The stored answer a message replies to (its buttons name it), which is then the
    question's context; :data:`NOT_AN_ANSWER` for a reply to someone else's message; None
    for no reply, or a reply to one of quoth's other messages (the conversation decides)."""
    replied = message.reply_to_message
    if replied is None or replied.forum_topic_created is not None:
        return None  # in a forum topic, every message "replies" to the topic's first one
    if replied.from_user is None or replied.from_user.id != bot_id:
        return NOT_AN_ANSWER
    markup = replied.reply_markup
    for row in markup.inline_keyboard if markup is not None else ():
        for button in row:
            if match := VOTE.match(str(button.callback_data or "")):
                return match[1]
    return None


class TelegramBot:
    """Handlers bound to one library; build the PTB application with :meth:`application`."""

    def __init__(
        self, settings: Settings, library: Library, sources_per_page: int = SOURCES_PER_PAGE
    ) -> None:
        if settings.telegram_token is None:
            raise ConfigError("QUOTH_TELEGRAM_TOKEN is not set: get a token from @BotFather.")
        redact_secrets(settings.telegram_token.get_secret_value())  # URLs carry the token
        self.settings = settings
        self.library = library
        self.conversation = Conversation(library)
        self.moderators = frozenset(settings.moderator_ids)
        self.sources_per_page = sources_per_page
        self.platform = "telegram"
        self.typing_after_s = TYPING_AFTER_S
        self._app: Application | None = None  # type: ignore[type-arg]
        self._webhook: WebhookServer | None = None
        self._closed = asyncio.Event()

    # -- wiring -----------------------------------------------------------------------------

    def application(self) -> Application:  # type: ignore[type-arg]
        assert self.settings.telegram_token is not None
        root = self.settings.api_root()
        builder = ApplicationBuilder()
        if self.settings.webhook_url is not None:
            builder = builder.updater(None)  # updates arrive through WebhookServer
        app = (
            builder.token(self.settings.telegram_token.get_secret_value())
            .base_url(f"{root}/bot")
            .base_file_url(f"{root}/file/bot")
            .rate_limiter(RetryingRateLimiter(max_retries=3))
            .concurrent_updates(16)
            .defaults(Defaults(do_quote=True, link_preview_options=NO_PREVIEW))
            .build()
        )
        private = filters.ChatType.PRIVATE
        app.add_handler(CommandHandler("start", self.welcome))
        app.add_handler(CommandHandler("help", self.help))
        app.add_handler(CommandHandler("sources", self.sources))
        app.add_handler(CommandHandler("ask", self.ask))
        app.add_handler(CommandHandler("new", self.new))
        app.add_handler(CommandHandler("reindex", self.reindex))
        app.add_handler(CommandHandler("remove", self.remove))
        app.add_handler(CommandHandler("stats", self.stats))
        app.add_handler(CommandHandler("gaps", self.gaps))
        app.add_handler(CommandHandler("add", self.add_link))
        app.add_handler(CommandHandler("follow", self.follow))
        app.add_handler(CommandHandler("unfollow", self.unfollow))
        app.add_handler(CommandHandler("feeds", self.feeds))
        app.add_handler(MessageHandler(private & filters.Document.ALL, self.upload))
        app.add_handler(MessageHandler(private & filters.TEXT & ~filters.COMMAND, self.private))
        app.add_handler(
            MessageHandler(filters.ChatType.GROUPS & filters.TEXT & ~filters.COMMAND, self.group)
        )
        app.add_handler(InlineQueryHandler(self.inline))
        app.add_handler(CallbackQueryHandler(self.more, pattern=MORE))
        app.add_handler(CallbackQueryHandler(self.vote, pattern=VOTE))
        app.add_handler(CallbackQueryHandler(self.reason, pattern=REASON))
        app.add_handler(CallbackQueryHandler(self.sources_page, pattern=SOURCES_PAGE))
        app.add_handler(CallbackQueryHandler(self.expired))  # any other data: an old button
        app.add_error_handler(self.on_error)
        return app

    async def on_startup(self, app: Application) -> None:  # type: ignore[type-arg]
        """Register the command menus: everyone's, and the longer one in moderators' chats."""
        await app.bot.set_my_commands(PUBLIC_COMMANDS)
        for moderator in self.moderators:
            try:
                await app.bot.set_my_commands(
                    MODERATOR_COMMANDS, scope=BotCommandScopeChat(moderator)
                )
            except TelegramError as error:  # the moderator has not opened a chat with us yet
                log.info("No moderator command menu for %s: %s", moderator, error)

    async def start(self) -> None:
        """Connect and start receiving updates (long polling, or the webhook when set).

        The application is driven by hand rather than by ``run_polling`` so that it shares
        the event loop with the other platforms of the same process.
        """
        app = self._app = self.application()
        try:
            await app.initialize()
        except InvalidToken:
            raise ConfigError(
                "Telegram rejected QUOTH_TELEGRAM_TOKEN; copy it again from @BotFather."
            ) from None
        await self.on_startup(app)
        await app.start()
        if self.settings.webhook_url is not None:
            await self._start_webhook(app)
        else:
            log.info("receiving updates by long polling")
            assert app.updater is not None
            await app.updater.start_polling()

    async def _start_webhook(self, app: Application) -> None:  # type: ignore[type-arg]
        """Listen first, then tell Telegram where to deliver (every replica registers the
        same public URL: the load balancer's)."""
        settings = self.settings
        assert settings.webhook_url is not None and settings.webhook_secret is not None
        # Imported here: aiohttp's server is loaded only by a bot that receives by webhook.
        from quoth.bot.telegram_webhook import WebhookServer

        url = str(settings.webhook_url)
        secret = settings.webhook_secret.get_secret_value()
        self._webhook = WebhookServer(
            app,
            self.library.state,
            secret,
            urlsplit(url).path,
            settings.webhook_listen,
            settings.webhook_port,
            settings.replica,
        )
        await self._webhook.start()
        await app.bot.set_webhook(url, secret_token=secret, allowed_updates=Update.ALL_TYPES)
        log.info("receiving updates by webhook at %s", url)

    async def stop(self) -> None:
        app = self._app
        if app is None:
            return
        if self._webhook is not None:
            await self._webhook.stop()
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()
        await app.shutdown()
        self._closed.set()

    async def wait_closed(self) -> None:
        """PTB retries network errors forever, so polling only ends when we stop it."""
        await self._closed.wait()

    # -- questions --------------------------------------------------------------------------

    async def private(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None or message.text is None:
            return
        person = self._person(update.effective_user, message.chat.id)
        if self.conversation.adds_link(person, message.text):
            reply = await self.conversation.add_link(person, message.text, message.reply_text)
            await message.reply_text(reply.text)
            return
        await self.respond(message, context, message.text)

    async def ask(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is not None:
            await self.respond(message, context, " ".join(context.args or []))

    async def group(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """In groups, answer only when mentioned or replied to; ignore other talk."""
        message = update.effective_message
        if message is None or message.text is None:
            return
        bot = context.bot
        replied = message.reply_to_message
        to_us = (
            replied is not None and replied.from_user is not None and replied.from_user.id == bot.id
        )
        question = message.text
        mention = f"@{bot.username}".lower()
        for entity, text in message.parse_entities(
            [MessageEntity.MENTION, MessageEntity.TEXT_MENTION]
        ).items():
            ours = text.lower() == mention or (entity.user is not None and entity.user.id == bot.id)
            if ours:
                to_us = True
                question = question.replace(text, " ")
        if to_us:
            await self.respond(message, context, question)

    async def _typing_later(self, bot: Bot, chat_id: int) -> None:
        """ "typing…" for answers that take a while; most arrive before it would show."""
        await asyncio.sleep(self.typing_after_s)
        with contextlib.suppress(TelegramError):
            await bot.send_chat_action(chat_id, ChatAction.TYPING)

    async def new(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """``/new``: forget the conversation, so the next question is read on its own."""
        message = update.effective_message
        if message is None:
            return
        person = self._person(message.from_user, message.chat.id)
        reply = await self.conversation.forget(person, conversation_place(message))
        await message.reply_text(reply.text)

    async def respond(
        self, message: Message, context: ContextTypes.DEFAULT_TYPE, question: str
    ) -> None:
        question = normalise_question(question, [context.bot.username])
        typing = asyncio.create_task(self._typing_later(context.bot, message.chat.id))
        try:
            reply = await self.conversation.ask(
                self._person(message.from_user, message.chat.id),
                question,
                message.chat.type,
                where=conversation_place(message),
                replying_to=replied_answer(message, context.bot.id),
            )
        finally:
            typing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await typing
        await self._send(message, reply, context.bot.username)

    def _person(self, user: User | None, chat_id: int) -> Person:
        """Who asks: the user, or the chat for messages without one (channel posts)."""
        user_id = user.id if user is not None else chat_id
        moderator = user_id in self.moderators and user is not None
        language = user.language_code if user is not None else None
        return Person(self.platform, user_id, moderator, language)

    async def _send(self, message: Message, reply: Reply, username: str) -> None:
        answer = reply.answer
        if answer is None:
            await metrics.sent(self.platform, message.reply_text(reply.text))
            return
        markup = None
        if reply.answer_id is not None:
            more = answer.next_offset is not None
            markup = answer_buttons(reply.answer_id, more, translate=reply.translate)
        sending = message.reply_html(
            th.render_answer(answer, username, translate=reply.translate),
            reply_markup=markup,
            link_preview_options=link_preview(answer),
        )
        await metrics.sent(self.platform, sending)

    async def inline(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """``@bot question`` in any chat: the quotes to pick from, sent with their source."""
        query = update.inline_query
        if query is None:
            return
        question = normalise_question(query.query, [context.bot.username])
        if not question:
            await query.answer([], cache_time=INLINE_CACHE_S, is_personal=True)
            return
        person = self._person(query.from_user, query.from_user.id)
        reply = await self.conversation.ask(person, question, "inline", as_typed=True)
        await query.answer(
            inline_results(reply, context.bot.username),
            cache_time=INLINE_CACHE_S,
            is_personal=True,
        )

    async def more(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Follow up with the next quotes and take "More" off the previous message."""
        query = update.callback_query
        if query is None or (match := MORE.match(query.data or "")) is None:
            return
        person = self._person(query.from_user, query.from_user.id)
        reply = await self.conversation.more(person, match[1])
        if reply.answer is None:
            await query.answer(reply.text, show_alert=True)
            return
        await query.answer()
        if isinstance(query.message, Message):
            await query.message.edit_reply_markup(without_more(query.message.reply_markup))
            await self._send(query.message, reply, context.bot.username)

    async def vote(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """👍 / 👎: acknowledged to the voter alone; a 👎 adds the reasons under the answer."""
        query = update.callback_query
        if query is None or (match := VOTE.match(query.data or "")) is None:
            return
        person = self._person(query.from_user, query.from_user.id)
        reply = await self.conversation.vote(person, match[1], match[2])
        await query.answer(reply.text, show_alert=reply.alert)
        message = query.message
        if reply.reasons and isinstance(message, Message) and message.reply_markup is not None:
            rows = message.reply_markup.inline_keyboard
            if len(rows) == 1:
                more = any(str(b.callback_data).startswith("m:") for b in rows[0])
                buttons = answer_buttons(match[1], more, reply.reasons, reply.translate)
                await message.edit_reply_markup(buttons)

    async def reason(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None or (match := REASON.match(query.data or "")) is None:
            return
        person = self._person(query.from_user, query.from_user.id)
        reply = await self.conversation.vote(person, match[1], DOWN, match[2])
        await query.answer(reply.text, show_alert=reply.alert)

    # -- information ------------------------------------------------------------------------

    @staticmethod
    def _translator(update: Update) -> Translate:
        user = update.effective_user
        return translator(choose(user.language_code if user is not None else None))

    def _is_moderator(self, update: Update) -> bool:
        user = update.effective_user
        return user is not None and user.id in self.moderators

    async def welcome(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/start: the greeting, or an article when the link came from a quote's source."""
        message = update.effective_message
        if message is None:
            return
        payload = context.args[0] if context.args else ""
        if payload.startswith(th.SOURCE_PREFIX):
            key = payload.removeprefix(th.SOURCE_PREFIX)
            article = th.find_article(self.library.service.index.articles, key)
            if article is None:
                await message.reply_text("That article is no longer in my sources. See /sources.")
                return
            await message.reply_html(th.render_article(article))
            return
        await self.help(update, context)

    async def help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is not None:
            extra = MODERATOR_HELP if self._is_moderator(update) else ""
            translate = self._translator(update)
            text = f"{translate(WELCOME)}\n\n{translate(FOLLOW_UP_HELP)}{extra}"
            await message.reply_text(text)

    def _sources_message(self, page: int, username: str) -> tuple[str, InlineKeyboardMarkup | None]:
        articles = self.library.service.index.articles
        per_page = self.sources_per_page
        pages = max(1, -(-len(articles) // per_page))
        page = min(max(page, 0), pages - 1)
        text = th.render_sources(articles, username, page, per_page)
        buttons = []
        if page > 0:
            buttons.append(InlineKeyboardButton("‹ Previous", callback_data=f"s:{page - 1}"))
        if page < pages - 1:
            buttons.append(InlineKeyboardButton("Next ›", callback_data=f"s:{page + 1}"))
        return text, InlineKeyboardMarkup([buttons]) if buttons else None

    async def sources(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is not None:
            text, markup = self._sources_message(0, context.bot.username)
            await message.reply_html(text, reply_markup=markup)

    async def sources_page(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None or (match := SOURCES_PAGE.match(query.data or "")) is None:
            return
        await query.answer()
        text, markup = self._sources_message(int(match[1]), context.bot.username)
        await query.edit_message_text(text, parse_mode=ParseMode.HTML, reply_markup=markup)

    async def expired(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if update.callback_query is not None:
            await update.callback_query.answer(self._translator(update)(EXPIRED), show_alert=True)

    # -- moderators -------------------------------------------------------------------------

    async def reindex(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is not None:
            person = self._person(update.effective_user, message.chat.id)
            reply = await self.conversation.reindex(person, message.reply_text)
            await message.reply_text(reply.text)

    async def upload(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None or message.document is None:
            return
        document = message.document

        async def fetch() -> bytes:
            try:
                file = await document.get_file()
                return bytes(await file.download_as_bytearray())
            except TelegramError as error:
                raise ModerationError(f"Could not fetch the file from Telegram: {error}") from None

        reply = await self.conversation.add_file(
            self._person(update.effective_user, message.chat.id),
            document.file_name or "upload.txt",
            document.file_size,
            fetch,
            message.reply_text,
        )
        await message.reply_text(reply.text)

    async def add_link(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._moderate(update, context, self.conversation.add_link)

    async def remove(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._moderate(update, context, self.conversation.remove)

    async def follow(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._moderate(update, context, self.conversation.follow)

    async def unfollow(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is not None:
            person = self._person(update.effective_user, message.chat.id)
            argument = " ".join(context.args or [])
            reply = await self.conversation.unfollow(person, argument, message.reply_text)
            await message.reply_text(reply.text)

    async def feeds(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is not None:
            person = self._person(update.effective_user, message.chat.id)
            reply = await self.conversation.feeds(person)
            await message.reply_text(reply.text, link_preview_options=NO_PREVIEW)

    async def _moderate(
        self,
        update: Update,
        context: ContextTypes.DEFAULT_TYPE,
        action: Callable[[Person, str, Report], Awaitable[Reply]],
    ) -> None:
        """A moderator command with one argument (``/remove ID``, ``/add URL``)."""
        message = update.effective_message
        if message is not None:
            person = self._person(update.effective_user, message.chat.id)
            argument = context.args[0] if context.args else ""
            reply = await action(person, argument, message.reply_text)
            await message.reply_text(reply.text)

    async def gaps(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None:
            return
        numbers = [int(a) if a.isdigit() else -1 for a in (context.args or [])[:2]]
        days = numbers[0] if numbers else None  # -1 (not a number): the usage line
        page = numbers[1] if len(numbers) > 1 else 1
        person = self._person(update.effective_user, message.chat.id)
        reply = await self.conversation.gaps(person, days, page)
        await message.reply_text(reply.text)

    async def stats(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is not None:
            reply = self.conversation.stats(self._person(update.effective_user, message.chat.id))
            await message.reply_text(reply.text)

    # -- errors -----------------------------------------------------------------------------

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error("error while handling an update", exc_info=context.error)
        if isinstance(update, Update) and update.effective_message is not None:
            try:
                await update.effective_message.reply_text(self._translator(update)(SOMETHING_WRONG))
            except TelegramError:
                log.warning("could not tell the user about the error")
