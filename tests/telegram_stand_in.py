"""A local stand-in for the Telegram Bot API, for driving the real python-telegram-bot.

It behaves like the real server where the bot's correctness depends on it: long-polled
``getUpdates`` with offset confirmation, ``getMe`` with a username, HTML validation of
``sendMessage``/``editMessageText`` (tags, entities, nesting, length, emptiness) with the same
400 "can't parse entities" errors, ``getFile`` and file downloads, ``setMyCommands``, and
``setWebhook`` (the test then posts updates to the bot with the secret-token header).
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import itertools
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from aiohttp import web

ALLOWED_TAGS = {
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "a",
    "code",
    "pre",
    "blockquote",
    "tg-spoiler",
    "span",
}
NAMED_ENTITIES = {"lt", "gt", "amp", "quot"}
_BAD_AMPERSAND = re.compile(r"&(?!(?:lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);)")
_TAG_START = re.compile(r"<(?!/?[a-zA-Z][a-zA-Z-]*(?:\s[^<>]*)?>)")
MESSAGE_LIMIT = 4096
TEST_TOKEN = "123456789:AAE-test-token-never-logged"
JSON_FIELDS = {
    "results",
    "button",
    "reply_markup",
    "link_preview_options",
    "reply_parameters",
    "commands",
    "scope",
    "allowed_updates",
    "entities",
}


class ParseEntitiesError(ValueError):
    pass


class _TelegramHtml(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.stack: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS:
            raise ParseEntitiesError(f'Unsupported start tag "{tag}"')
        names = {name for name, _ in attrs}
        if tag == "a" and "href" not in names:
            raise ParseEntitiesError('Tag "a" must have attribute "href"')
        if tag == "blockquote" and names - {"expandable"}:
            raise ParseEntitiesError('Tag "blockquote" may only have attribute "expandable"')
        if tag == "span" and dict(attrs).get("class") != "tg-spoiler":
            raise ParseEntitiesError('Tag "span" must have class "tg-spoiler"')
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack:
            raise ParseEntitiesError(f'Unexpected end tag "{tag}"')
        if self.stack[-1] != tag:
            raise ParseEntitiesError(f'Unmatched end tag "{tag}", expected "</{self.stack[-1]}>"')
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def handle_entityref(self, name: str) -> None:
        if name not in NAMED_ENTITIES:
            raise ParseEntitiesError(f'Unsupported HTML entity "&{name};"')
        self.text.append(html.unescape(f"&{name};"))

    def handle_charref(self, name: str) -> None:
        self.text.append(html.unescape(f"&#{name};"))


def parse_telegram_html(markup: str) -> str:
    """The visible text of a message, or :class:`ParseEntitiesError` as Telegram would."""
    if match := _BAD_AMPERSAND.search(markup):
        raise ParseEntitiesError(f"Character '&' is reserved at byte offset {match.start()}")
    if match := _TAG_START.search(markup):
        raise ParseEntitiesError(f"Unsupported start tag at byte offset {match.start()}")
    parser = _TelegramHtml()
    parser.feed(markup)
    parser.close()
    if parser.stack:
        raise ParseEntitiesError(
            f'Can\'t find end tag corresponding to start tag "{parser.stack[-1]}"'
        )
    return "".join(parser.text)


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def auto_entities(text: str) -> list[dict[str, Any]]:
    """Entities Telegram's clients attach: a leading bot command, and @mentions."""
    entities = []
    for match in re.finditer(r"(?:^/[A-Za-z0-9_]+(?:@[A-Za-z0-9_]+)?)|(?:@[A-Za-z0-9_]{3,})", text):
        kind = "bot_command" if match.group().startswith("/") else "mention"
        offset = utf16_len(text[: match.start()])
        entities.append({"type": kind, "offset": offset, "length": utf16_len(match.group())})
    return entities


class ApiError(Exception):
    def __init__(self, code: int, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


@dataclass
class SentMessage:
    method: str
    chat_id: int
    message_id: int
    text: str
    markup: str
    reply_markup: dict[str, Any] | None
    reply_to: int | None
    params: dict[str, Any]


@dataclass
class BotApiStandIn:
    token: str
    bot_id: int = 777000111
    username: str = "quoth_test_bot"
    updates: list[dict[str, Any]] = field(default_factory=list)
    sent: list[SentMessage] = field(default_factory=list)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    commands: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    webhook: dict[str, Any] = field(default_factory=dict)
    messages: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)
    faults: dict[str, list[str]] = field(default_factory=dict)
    replies: dict[int, list[SentMessage]] = field(default_factory=dict)  # by message replied to
    faults_served: list[tuple[str, str]] = field(default_factory=list)
    holds: dict[str, tuple[asyncio.Event, asyncio.Event]] = field(default_factory=dict)
    inline_answers: dict[str, dict[str, Any]] = field(default_factory=dict)
    callback_answers: dict[str, dict[str, Any]] = field(default_factory=dict)
    languages: dict[int, str] = field(default_factory=dict)  # user id -> app language
    record_calls: bool = True
    """Whether every API call is kept in ``calls``: a soak turns it off, as its hours of calls
    would otherwise fill the very process whose memory it measures."""

    def __post_init__(self) -> None:
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1000)
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.root = ""

    # -- server -----------------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application(client_max_size=30 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._file)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.root = f"http://127.0.0.1:{port}"
        return self.root

    async def __aenter__(self) -> BotApiStandIn:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def _api(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        params: dict[str, Any] = {}
        if request.method == "POST":
            form = await request.post()
            for key, value in form.items():
                params[key] = (
                    json.loads(value) if key in JSON_FIELDS and isinstance(value, str) else value
                )
        params.update(request.query)
        method = request.match_info["method"]
        if self.faults.get(method):
            fault = self.faults[method].pop(0)
            self.faults_served.append((method, fault))
            if response := await self._fault(request, fault):
                return response
        held = method == "sendMessage" and str(params.get("chat_id")) in self.holds
        if held and not await self._held(request, str(params["chat_id"])):
            return web.Response(status=500)  # the sender is gone: never processed
        if self.record_calls:
            self.calls.append((method, params))
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            return web.json_response(
                {"ok": False, "error_code": 404, "description": "Not Found"}, status=404
            )
        try:
            result = await handler(params)
        except ApiError as error:
            return web.json_response(
                {"ok": False, "error_code": error.code, "description": error.description},
                status=error.code,
            )
        await self._notify()
        return web.json_response({"ok": True, "result": result})

    def hold(self, chat_id: int) -> tuple[asyncio.Event, asyncio.Event]:
        """Hold the next sendMessage to ``chat_id`` before processing it: the first event is
        set once it is held, setting the second lets it go on. If its sender died meanwhile
        (its connection is closed), it is dropped unprocessed, as a request that never
        reached Telegram."""
        held, release = asyncio.Event(), asyncio.Event()
        self.holds[str(chat_id)] = (held, release)
        return held, release

    async def _held(self, request: web.Request, chat_id: str) -> bool:
        held, release = self.holds.pop(chat_id)
        held.set()
        await release.wait()
        transport = request.transport
        return transport is not None and not transport.is_closing()

    def inject(self, method: str, *faults: str) -> None:
        """Queue faults for the next calls of ``method``, served one per call, in order.

        ``429`` (with ``retry_after``), ``500``/``502``/``503``, ``409`` (another getUpdates
        is running), ``drop`` (the connection closes before the request is read, as a
        network failure would), ``slow`` (a 2 s delay, then the request is served).
        Every fault except ``slow`` leaves the request unprocessed, so a retry is correct.
        """
        self.faults.setdefault(method, []).extend(faults)

    async def _fault(self, request: web.Request, fault: str) -> web.Response | None:
        def error(code: int, description: str, **extra: Any) -> web.Response:
            body = {"ok": False, "error_code": code, "description": description, **extra}
            return web.json_response(body, status=code)

        if fault == "slow":
            await asyncio.sleep(2.0)
            return None
        if fault == "drop":
            assert request.transport is not None
            request.transport.abort()
            return web.Response(status=500)  # never reaches the client
        if fault == "429":
            return error(429, "Too Many Requests: retry after 1", parameters={"retry_after": 1})
        if fault == "409":
            return error(
                409,
                "Conflict: terminated by other getUpdates request; make sure that only one "
                "bot instance is running",
            )
        return error(
            int(fault),
            {500: "Internal Server Error", 502: "Bad Gateway"}.get(
                int(fault), "Service Unavailable"
            ),
        )

    async def _file(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.Response(status=401)
        for path, data in self.files.values():
            if path == request.match_info["path"]:
                return web.Response(body=data)
        return web.Response(status=404)

    # -- Bot API methods --------------------------------------------------------------------

    def bot_user(self) -> dict[str, Any]:
        return {"id": self.bot_id, "is_bot": True, "first_name": "Quoth", "username": self.username}

    async def _m_getMe(self, params: dict[str, Any]) -> Any:
        return {
            **self.bot_user(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": True,
        }

    async def _m_getUpdates(self, params: dict[str, Any]) -> Any:
        offset = int(params.get("offset", 0) or 0)
        timeout = float(params.get("timeout", 0) or 0)
        if offset:
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
        deadline = time.monotonic() + timeout
        async with self._changed:
            while not self.updates and time.monotonic() < deadline:
                try:
                    await asyncio.wait_for(self._changed.wait(), deadline - time.monotonic())
                except TimeoutError:
                    break
        return self.updates[: int(params.get("limit", 100) or 100)]

    def _validate_text(self, params: dict[str, Any]) -> str:
        markup = str(params.get("text", ""))
        if params.get("parse_mode") == "HTML":
            try:
                visible = parse_telegram_html(markup)
            except ParseEntitiesError as error:
                raise ApiError(400, f"Bad Request: can't parse entities: {error}") from None
        else:
            visible = markup
        if not visible.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if utf16_len(visible) > MESSAGE_LIMIT:
            raise ApiError(400, "Bad Request: message is too long")
        return visible

    def _message(self, chat_id: int, text: str, reply_markup: Any = None) -> dict[str, Any]:
        message = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup"},
            "from": self.bot_user(),
            "text": text,
        }
        if reply_markup:
            message["reply_markup"] = reply_markup
        return message

    @staticmethod
    def _validate_buttons(params: dict[str, Any]) -> None:
        """The Bot API's rule for inline buttons: callback data of 1-64 bytes."""
        for row in (params.get("reply_markup") or {}).get("inline_keyboard", []):
            for button in row:
                data = button.get("callback_data")
                if data is not None and not 1 <= len(str(data).encode()) <= 64:
                    raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")

    async def _m_sendMessage(self, params: dict[str, Any]) -> Any:
        self._validate_buttons(params)
        visible = self._validate_text(params)
        chat_id = int(params["chat_id"])
        message = self._message(chat_id, visible, params.get("reply_markup"))
        self.messages[(chat_id, message["message_id"])] = message
        reply = (params.get("reply_parameters") or {}).get("message_id")
        self._record("sendMessage", chat_id, message["message_id"], visible, params, reply)
        return message

    async def _m_editMessageText(self, params: dict[str, Any]) -> Any:
        visible = self._validate_text(params)
        key = (int(params["chat_id"]), int(params["message_id"]))
        if key not in self.messages:
            raise ApiError(400, "Bad Request: message to edit not found")
        message = {**self.messages[key], "text": visible, "edit_date": int(time.time())}
        message.pop("reply_markup", None)
        if params.get("reply_markup"):
            message["reply_markup"] = params["reply_markup"]
        self.messages[key] = message
        self._record("editMessageText", key[0], key[1], visible, params, None)
        return message

    def _record(
        self,
        method: str,
        chat_id: int,
        message_id: int,
        visible: str,
        params: dict[str, Any],
        reply_to: int | None,
    ) -> None:
        markup, buttons = str(params["text"]), params.get("reply_markup")
        sent = SentMessage(method, chat_id, message_id, visible, markup, buttons, reply_to, params)
        self.sent.append(sent)
        if method == "sendMessage" and reply_to is not None:
            self.replies.setdefault(reply_to, []).append(sent)

    async def _m_editMessageReplyMarkup(self, params: dict[str, Any]) -> Any:
        self._validate_buttons(params)
        key = (int(params["chat_id"]), int(params["message_id"]))
        message = dict(self.messages[key])
        message.pop("reply_markup", None)
        if params.get("reply_markup"):
            message["reply_markup"] = params["reply_markup"]
        self.messages[key] = message
        return message

    async def _m_sendChatAction(self, params: dict[str, Any]) -> Any:
        return True

    async def _m_answerCallbackQuery(self, params: dict[str, Any]) -> Any:
        if len(str(params.get("text") or "")) > 200:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        self.callback_answers[str(params["callback_query_id"])] = params
        return True

    async def _m_answerInlineQuery(self, params: dict[str, Any]) -> Any:
        """Validated as the Bot API does: at most 50 results, ids of 1-64 bytes and unique,
        titles present, message texts of 1-4096 characters that parse as their parse_mode."""
        results = params.get("results")
        if not isinstance(results, list) or len(results) > 50:
            raise ApiError(400, "Bad Request: RESULTS_TOO_MUCH")
        ids = [str(r.get("id", "")) for r in results]
        if any(not 1 <= len(i.encode()) <= 64 for i in ids) or len(set(ids)) != len(ids):
            raise ApiError(400, "Bad Request: RESULT_ID_INVALID")
        for result in results:
            if result.get("type") != "article" or not result.get("title"):
                raise ApiError(400, "Bad Request: RESULT_TITLE_EMPTY")
            content = result.get("input_message_content") or {}
            self._validate_text(
                {"text": content.get("message_text", ""), "parse_mode": content.get("parse_mode")}
            )
        self.inline_answers[str(params["inline_query_id"])] = params
        return True

    async def _m_setMyCommands(self, params: dict[str, Any]) -> Any:
        scope = params.get("scope") or {"type": "default"}
        key = scope["type"] + (f":{scope['chat_id']}" if "chat_id" in scope else "")
        self.commands[key] = params["commands"]
        return True

    async def _m_deleteWebhook(self, params: dict[str, Any]) -> Any:
        self.webhook = {}
        return True

    async def _m_setWebhook(self, params: dict[str, Any]) -> Any:
        self.webhook = {"url": params["url"], "secret_token": params.get("secret_token")}
        return True

    async def _m_getFile(self, params: dict[str, Any]) -> Any:
        file_id = params["file_id"]
        if file_id not in self.files:
            raise ApiError(400, "Bad Request: invalid file_id")
        path, data = self.files[file_id]
        return {
            "file_id": file_id,
            "file_unique_id": file_id,
            "file_size": len(data),
            "file_path": path,
        }

    async def _m_close(self, params: dict[str, Any]) -> Any:
        return True

    # -- driving the bot --------------------------------------------------------------------

    def user(self, user_id: int, name: str = "Ann") -> dict[str, Any]:
        user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": name}
        if user_id in self.languages:
            user["language_code"] = self.languages[user_id]
        return user

    def push_message(
        self, chat_id: int, user_id: int, text: str | None = None, **parts: Any
    ) -> dict[str, Any]:
        """Queue an incoming message as Telegram would deliver it; returns the message.
        ``parts``: ``reply_to`` and ``document``, as for :meth:`message_update`."""
        update = self.message_update(chat_id, user_id, text, **parts)
        self._push_update(update)
        return dict(update["message"])

    def message_update(
        self,
        chat_id: int,
        user_id: int,
        text: str | None = None,
        *,
        reply_to: dict[str, Any] | None = None,
        document: dict[str, Any] | None = None,
        topic: int | None = None,
    ) -> dict[str, Any]:
        """An update carrying an incoming message, for delivery by getUpdates or webhook;
        ``topic``: the forum topic it is posted in (whose first message it then replies to,
        as Telegram delivers it, unless it replies to another)."""
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {
                "id": chat_id,
                "type": "private" if chat_id > 0 else "supergroup",
                "title": "g",
            },
            "from": self.user(user_id),
        }
        if text is not None:
            message["text"] = text
            if entities := auto_entities(text):
                message["entities"] = entities
        if topic is not None:
            message["message_thread_id"] = topic
            message["is_topic_message"] = True
            message["chat"]["is_forum"] = True
            created = {"name": f"topic {topic}", "icon_color": 7322096}
            reply_to = reply_to or {
                "message_id": topic,
                "date": message["date"],
                "chat": message["chat"],
                "forum_topic_created": created,
            }
        if reply_to is not None:
            message["reply_to_message"] = reply_to
        if document is not None:
            message["document"] = document
        return {"update_id": next(self._update_ids), "message": message}

    def push_document(self, chat_id: int, user_id: int, name: str, data: bytes) -> dict[str, Any]:
        file_id = f"file{len(self.files) + 1}"
        self.files[file_id] = (f"documents/{file_id}", data)
        document = {
            "file_id": file_id,
            "file_unique_id": file_id,
            "file_name": name,
            "file_size": len(data),
        }
        return self.push_message(chat_id, user_id, document=document)

    def push_button(self, user_id: int, sent: SentMessage, label: str) -> str:
        """Press an inline button of a message the bot sent (as it is now: edits count);
        returns the callback query's id."""
        message = self.messages[(sent.chat_id, sent.message_id)]
        assert message.get("reply_markup"), "that message has no buttons"
        buttons = [b for row in message["reply_markup"]["inline_keyboard"] for b in row]
        button = next(b for b in buttons if b["text"] == label)
        query_id = f"cq{next(self._update_ids)}"
        self._push(
            {
                "callback_query": {
                    "id": query_id,
                    "from": self.user(user_id),
                    "message": message,
                    "chat_instance": "ci",
                    "data": button["callback_data"],
                }
            }
        )
        return query_id

    async def callback_answer(self, query_id: str, timeout: float = 30.0) -> dict[str, Any]:
        """What the bot told the person who pressed a button (a toast only they see)."""
        return await self._answer(self.callback_answers, query_id, timeout)

    async def _answer(
        self, answers: dict[str, dict[str, Any]], query_id: str, timeout: float
    ) -> dict[str, Any]:
        failure = f"query {query_id} was not answered"
        await self._until(lambda: query_id in answers, timeout, lambda: failure)
        return answers[query_id]

    def buttons(self, sent: SentMessage) -> list[list[str]]:
        """The labels of a message's buttons as it is now."""
        markup = self.messages[(sent.chat_id, sent.message_id)].get("reply_markup") or {}
        return [[b["text"] for b in row] for row in markup.get("inline_keyboard", [])]

    def push_inline_query(self, user_id: int, query: str) -> str:
        """Someone types ``@bot query`` in any chat; returns the inline query's id."""
        query_id = f"iq{next(self._update_ids)}"
        self._push(
            {
                "inline_query": {
                    "id": query_id,
                    "from": self.user(user_id),
                    "query": query,
                    "offset": "",
                    "chat_type": "supergroup",
                }
            }
        )
        return query_id

    async def inline_answer(self, query_id: str, timeout: float = 30.0) -> dict[str, Any]:
        return await self._answer(self.inline_answers, query_id, timeout)

    def _push(self, payload: dict[str, Any]) -> None:
        self._push_update({"update_id": next(self._update_ids), **payload})

    def _push_update(self, update: dict[str, Any]) -> None:
        self.updates.append(update)
        asyncio.get_running_loop().create_task(self._notify())

    async def _until(
        self, ready: Callable[[], object], timeout: float, failure: Callable[[], str]
    ) -> None:
        """Wait, woken by every API call, until ``ready()`` holds; fail after ``timeout``."""
        deadline = time.monotonic() + timeout
        async with self._changed:
            while not ready():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(failure())
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), remaining)

    async def wait_for(self, predicate: Any, timeout: float = 30.0) -> SentMessage:
        """The first message (sent or edited) matching ``predicate``, waiting if needed."""
        found: list[SentMessage] = []

        def matched() -> bool:
            found[:] = [sent for sent in self.sent if predicate(sent)][:1]
            return bool(found)

        await self._until(
            matched,
            timeout,
            lambda: f"no matching message; last sent: {[s.text[:80] for s in self.sent[-5:]]}",
        )
        return found[0]

    def forget(self, message: dict[str, Any]) -> int:
        """Drop what is kept of an incoming message and of the replies to it; returns how many
        replies it had. A soak forgets each question once it was answered, so what grows in
        its process over hours is the bot's, not this record's."""
        key = message["message_id"]
        replies = self.replies.pop(key, [])
        dropped = {(message["chat"]["id"], key), *((s.chat_id, s.message_id) for s in replies)}
        for sent in dropped:
            self.messages.pop(sent, None)
        self.sent = [s for s in self.sent if (s.chat_id, s.message_id) not in dropped]
        return len(replies)

    async def reply_to(self, message: dict[str, Any], timeout: float = 30.0) -> SentMessage:
        """The first reply to ``message`` (an index lookup: cheap with thousands in flight)."""
        key = message["message_id"]
        failure = f"no reply to message {key}"
        await self._until(lambda: key in self.replies, timeout, lambda: failure)
        return self.replies[key][0]
