"""A local stand-in for Discord's REST API and gateway, for driving the real discord.py.

dpytest cannot drive application commands, so this serves what quoth's bot touches, over
real HTTP and a real websocket on 127.0.0.1: login (``users/@me``, ``oauth2/applications/@me``),
command sync, the gateway handshake (HELLO, IDENTIFY, READY, GUILD_CREATE, heartbeats), and
dispatches that the test injects: ``MESSAGE_CREATE`` and ``INTERACTION_CREATE``. What the bot
sends back is checked the way Discord checks it (lengths, empty messages, allowed mentions)
and a bad request gets Discord's 400 "Invalid Form Body", so a renderer bug fails the test.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSMsgType, web

CONTENT_LIMIT = 2000
DESCRIPTION_LIMIT = 4096
TITLE_LIMIT = 256
FIELDS_LIMIT = 25
EMBED_TOTAL_LIMIT = 6000
ATTACHMENT_LIMIT = 8 * 1024 * 1024
_ESCAPE = re.compile(r"\\([^\w\s])")
_PING = re.compile(r"@(everyone|here)|<@[!&]?\d+>")

TEST_TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.discord-test-token-never-logged"
GUILD = 900000000000000001
CHANNEL = 900000000000000002
MODERATOR_ROLE = 900000000000000003
APPLICATION = 900000000000000004
BOT_USER = 900000000000000005


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def json_response(data: Any, status: int = 200) -> web.Response:
    """discord.py parses a body as JSON only when Content-Type is exactly this."""
    return web.Response(
        status=status, body=json.dumps(data).encode(), headers={"Content-Type": "application/json"}
    )


class InvalidFormError(Exception):
    pass


def validate_message(payload: dict[str, Any]) -> None:
    """Discord's checks on a message body, plus ours: nothing may ping anyone."""
    content = payload.get("content") or ""
    embeds = payload.get("embeds") or []
    if not content and not embeds:
        raise InvalidFormError("Cannot send an empty message")
    if utf16_len(content) > CONTENT_LIMIT:
        raise InvalidFormError(f"content: Must be {CONTENT_LIMIT} or fewer in length.")
    if len(embeds) > 10:
        raise InvalidFormError("embeds: Must be 10 or fewer in length.")
    for embed in embeds:
        description = embed.get("description") or ""
        title = embed.get("title") or ""
        fields = embed.get("fields") or []
        if utf16_len(description) > DESCRIPTION_LIMIT:
            raise InvalidFormError(f"embeds.0.description: Must be {DESCRIPTION_LIMIT} or fewer.")
        if utf16_len(title) > TITLE_LIMIT:
            raise InvalidFormError(f"embeds.0.title: Must be {TITLE_LIMIT} or fewer in length.")
        if len(fields) > FIELDS_LIMIT:
            raise InvalidFormError(f"embeds.0.fields: Must be {FIELDS_LIMIT} or fewer in length.")
        footer = (embed.get("footer") or {}).get("text") or ""
        texts = [title, description, footer, *(f["name"] + f["value"] for f in fields)]
        if utf16_len("".join(texts)) > EMBED_TOTAL_LIMIT:
            raise InvalidFormError("Embed size exceeds maximum size of 6000")
    validate_components(payload.get("components") or [])
    if payload.get("allowed_mentions", {}).get("parse") != []:
        raise InvalidFormError(
            f"allowed_mentions must allow no pings: {payload.get('allowed_mentions')}"
        )
    for text in [content, *(e.get("description") or "" for e in embeds)]:
        if match := _PING.search(text):
            raise InvalidFormError(f"would ping: {match.group()!r}")


def validate_components(rows: list[dict[str, Any]]) -> None:
    """Discord's rules for message buttons: at most 5 action rows of at most 5 buttons, each
    with a label of up to 80 characters and a custom id of 1-100, ids unique."""
    if len(rows) > 5:
        raise InvalidFormError("components: Must be 5 or fewer in length.")
    seen: set[str] = set()
    for row in rows:
        buttons = row.get("components") or []
        if row.get("type") != 1 or not 1 <= len(buttons) <= 5:
            raise InvalidFormError("components.0: an action row holds 1 to 5 components")
        for button in buttons:
            custom_id = str(button.get("custom_id") or "")
            if button.get("type") != 2 or not 1 <= len(custom_id) <= 100:
                raise InvalidFormError("components.0.components.0.custom_id: 1-100 characters")
            if len(str(button.get("label") or "")) > 80 or custom_id in seen:
                raise InvalidFormError("components.0.components.0: bad label or duplicate id")
            seen.add(custom_id)


@dataclass
class Sent:
    """A message the bot sent, however it sent it."""

    route: str  # "callback", "followup", "channel", "edit", "update"
    key: int  # interaction id, or the id of the message replied to / channel
    payload: dict[str, Any]
    ephemeral: bool = False
    message_id: int = 0

    @property
    def labels(self) -> list[str]:
        """The labels of its buttons, row after row."""
        rows = self.payload.get("components") or []
        return [b.get("label") or "" for row in rows for b in row.get("components") or []]

    @property
    def content(self) -> str:
        return str(self.payload.get("content") or "")

    @property
    def embed(self) -> dict[str, Any]:
        embeds = self.payload.get("embeds") or []
        return embeds[0] if embeds else {}

    @property
    def shown(self) -> str:
        """Content and embed text as a Discord client shows them: escapes hidden."""
        raw = self.content + str(self.embed.get("description") or "")
        return _ESCAPE.sub(r"\1", raw).replace("\u200b", "")


@dataclass
class DiscordStandIn:
    token: str
    port: int = 0
    sent: list[Sent] = field(default_factory=list)
    commands: list[dict[str, Any]] = field(default_factory=list)
    callbacks: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    typing: list[int] = field(default_factory=list)
    attachments: dict[str, bytes] = field(default_factory=dict)
    identified: asyncio.Event = field(default_factory=asyncio.Event)
    refuse_identify: int | None = None  # a close code to answer IDENTIFY with

    def __post_init__(self) -> None:
        self._ids = itertools.count(1_000_000_000_000_000_000)
        self._runner: web.AppRunner | None = None
        self._sockets: list[web.WebSocketResponse] = []
        self._sequence = itertools.count(1)
        self._changed = asyncio.Condition()
        self._tokens: dict[str, int] = {}  # interaction token -> interaction id
        self.messages: dict[int, dict[str, Any]] = {}  # every message the bot sent, by id
        self._clicked: dict[str, int] = {}  # a button interaction's token -> its message id

    # -- server ------------------------------------------------------------------------------

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api(self) -> str:
        return f"{self.root}/api/v10"

    @property
    def gateway(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway/"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/gateway/", self._gateway)
        app.router.add_route("*", "/api/v10/{path:.+}", self._rest)
        app.router.add_get("/attachments/{name}", self._attachment)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def __aenter__(self) -> DiscordStandIn:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def stop(self) -> None:
        for socket in self._sockets:
            await socket.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def next_id(self) -> int:
        return next(self._ids)

    # -- REST --------------------------------------------------------------------------------

    async def _rest(self, request: web.Request) -> web.Response:
        path = request.match_info["path"]
        by_interaction_token = path.startswith(("interactions/", "webhooks/"))
        if not by_interaction_token and request.headers.get("Authorization") != f"Bot {self.token}":
            return json_response({"message": "401: Unauthorized", "code": 0}, 401)
        body: dict[str, Any] | list[Any] = {}
        if request.can_read_body:
            if request.content_type.startswith("multipart/"):
                form = await request.post()
                body = json.loads(str(form["payload_json"]))
            else:
                body = await request.json()
        try:
            return await self._route(request.method, path, body)
        except InvalidFormError as error:
            self.rejected.append(str(error))
            return json_response(
                {
                    "code": 50035,
                    "message": "Invalid Form Body",
                    "errors": {"_errors": [str(error)]},
                },
                400,
            )

    async def _route(self, method: str, path: str, body: Any) -> web.Response:
        parts = path.split("/")
        if (method, path) == ("GET", "users/@me"):
            return json_response(self.bot_user())
        if (method, path) == ("GET", "oauth2/applications/@me"):
            return json_response(self.application())
        if method == "PUT" and parts[0] == "applications" and parts[2:] == ["commands"]:
            self.commands = [
                {
                    **command,
                    "id": str(self.next_id()),
                    "application_id": str(APPLICATION),
                    "version": "1",
                    "default_member_permissions": None,
                    "dm_permission": True,
                    "nsfw": False,
                }
                for command in body
            ]
            return json_response(self.commands)
        if method == "POST" and parts[0] == "interactions" and parts[3:] == ["callback"]:
            return await self._callback(int(parts[1]), body)
        if method == "POST" and parts[0] == "webhooks" and len(parts) == 3:
            return await self._followup(parts[2], body)
        if method == "PATCH" and parts[0] == "webhooks" and parts[3:] == ["messages", "@original"]:
            return await self._followup(parts[2], body, route="edit")
        if method == "POST" and parts[0] == "channels" and parts[2:] == ["messages"]:
            validate_message(body)
            reference = (body.get("message_reference") or {}).get("message_id")
            key = int(reference) if reference else int(parts[1])
            message = self.message(int(parts[1]), body)
            await self._record(Sent("channel", key, body, message_id=int(message["id"])))
            return json_response(message)
        if method == "POST" and parts[0] == "channels" and parts[2:] == ["typing"]:
            self.typing.append(int(parts[1]))
            return web.Response(status=204)
        return json_response({"message": f"404: Not Found ({method} {path})", "code": 0}, 404)

    async def _callback(self, interaction_id: int, body: dict[str, Any]) -> web.Response:
        kind = body["type"]
        data = body.get("data") or {}
        self.callbacks.append(body)
        ephemeral = bool(int(data.get("flags") or 0) & 64)
        message = None
        if kind == 4:  # CHANNEL_MESSAGE_WITH_SOURCE
            validate_message(data)
            message = self.message(CHANNEL, data)
            await self._record(
                Sent("callback", interaction_id, data, ephemeral, int(message["id"]))
            )
        elif kind == 7:  # UPDATE_MESSAGE: the message the clicked button is on
            message = self._edit(self._clicked_message(interaction_id), data)
            await self._record(Sent("update", interaction_id, data, message_id=int(message["id"])))
        elif kind == 8:  # APPLICATION_COMMAND_AUTOCOMPLETE_RESULT
            await self._record(Sent("autocomplete", interaction_id, data))
        else:
            async with self._changed:
                self._changed.notify_all()
        resource: dict[str, Any] = {"type": kind}
        if message is not None:
            resource["message"] = message
        return json_response(
            {
                "interaction": {
                    "id": str(interaction_id),
                    "type": 2,
                    "response_message_id": message["id"] if message else None,
                    "response_message_loading": kind == 5,
                    "response_message_ephemeral": ephemeral,
                },
                "resource": resource,
            }
        )

    async def _followup(
        self, token: str, body: dict[str, Any], route: str = "followup"
    ) -> web.Response:
        interaction_id = self._tokens[token]
        ephemeral = bool(int(body.get("flags") or 0) & 64)
        if route == "edit" and token in self._clicked:  # @original of a click: its message
            message = self._edit(self._clicked[token], body)
        else:
            validate_message(body)
            message = self.message(CHANNEL, body)
        await self._record(Sent(route, interaction_id, body, ephemeral, int(message["id"])))
        return json_response(message)

    def _clicked_message(self, interaction_id: int) -> int:
        return next(m for t, m in self._clicked.items() if self._tokens[t] == interaction_id)

    def _edit(self, message_id: int, body: dict[str, Any]) -> dict[str, Any]:
        """Change what was sent (PATCH semantics: fields absent stay as they were)."""
        message = dict(self.messages[message_id])
        for name in ("content", "embeds", "components"):
            if name in body:
                message[name] = body[name] or ([] if name != "content" else "")
        validate_message({**message, "allowed_mentions": {"parse": []}})
        self.messages[message_id] = message
        return message

    async def _record(self, sent: Sent) -> None:
        async with self._changed:
            self.sent.append(sent)
            self._changed.notify_all()

    async def _attachment(self, request: web.Request) -> web.Response:
        data = self.attachments.get(request.match_info["name"])
        return web.Response(body=data) if data is not None else web.Response(status=404)

    # -- payloads ----------------------------------------------------------------------------

    def bot_user(self) -> dict[str, Any]:
        return self.user(BOT_USER, "quoth", bot=True)

    @staticmethod
    def user(user_id: int, name: str = "ann", bot: bool = False) -> dict[str, Any]:
        return {
            "id": str(user_id),
            "username": name,
            "discriminator": "0",
            "global_name": name.title(),
            "avatar": None,
            "bot": bot,
            "flags": 0,
            "public_flags": 0,
        }

    def member(self, user_id: int, roles: list[int] | None = None) -> dict[str, Any]:
        return {
            "user": self.user(user_id),
            "roles": [str(r) for r in roles or []],
            "joined_at": "2026-01-01T00:00:00+00:00",
            "deaf": False,
            "mute": False,
            "flags": 0,
            "permissions": "2248473465835073",
        }

    def application(self) -> dict[str, Any]:
        return {
            "id": str(APPLICATION),
            "name": "quoth",
            "icon": None,
            "description": "",
            "rpc_origins": [],
            "bot_public": True,
            "bot_require_code_grant": False,
            "owner": self.user(1, "owner"),
            "summary": "",
            "verify_key": "0" * 64,
            "team": None,
            "flags": 0,
            "interactions_endpoint_url": None,
        }

    def message(self, channel_id: int, body: dict[str, Any]) -> dict[str, Any]:
        """A message as Discord returns it; kept, so buttons on it can be clicked later."""
        message_id = self.next_id()
        self.messages[message_id] = {
            "id": str(message_id),
            "channel_id": str(channel_id),
            "author": self.bot_user(),
            "content": body.get("content") or "",
            "timestamp": datetime.now(UTC).isoformat(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": body.get("embeds") or [],
            "pinned": False,
            "type": 0,
            "flags": int(body.get("flags") or 0),
            "components": body.get("components") or [],
        }
        return self.messages[message_id]

    def guild(self) -> dict[str, Any]:
        role = {
            "color": 0,
            "hoist": False,
            "managed": False,
            "mentionable": False,
            "flags": 0,
            "icon": None,
            "unicode_emoji": None,
        }
        return {
            "id": str(GUILD),
            "name": "Readers",
            "icon": None,
            "owner_id": "1",
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": 0,
            "preferred_locale": "en-US",
            "features": [],
            "emojis": [],
            "stickers": [],
            "roles": [
                {
                    **role,
                    "id": str(GUILD),
                    "name": "@everyone",
                    "permissions": "1024",
                    "position": 0,
                },
                {
                    **role,
                    "id": str(MODERATOR_ROLE),
                    "name": "Moderators",
                    "permissions": "1024",
                    "position": 1,
                },
            ],
            "channels": [
                {
                    "id": str(CHANNEL),
                    "type": 0,
                    "name": "general",
                    "position": 0,
                    "permission_overwrites": [],
                    "nsfw": False,
                    "parent_id": None,
                    "topic": None,
                    "rate_limit_per_user": 0,
                }
            ],
            "members": [self.member(BOT_USER)],
            "member_count": 3,
            "threads": [],
            "presences": [],
            "voice_states": [],
            "large": False,
            "unavailable": False,
            "joined_at": "2026-01-01T00:00:00+00:00",
        }

    # -- gateway -----------------------------------------------------------------------------

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self._sockets.append(socket)
        await socket.send_json({"op": 10, "d": {"heartbeat_interval": 41250}})
        async for frame in socket:
            if frame.type != WSMsgType.TEXT:
                break
            message = json.loads(frame.data)
            op = message["op"]
            if op == 1:
                await socket.send_json({"op": 11})
            elif op == 2:
                if message["d"]["token"] != self.token or self.refuse_identify:
                    code = self.refuse_identify or 4004
                    await socket.close(code=code, message=b"Refused.")
                    break
                await self._dispatch(socket, "READY", self.ready())
                await self._dispatch(socket, "GUILD_CREATE", self.guild())
                self.identified.set()
            elif op == 6:
                await self._dispatch(socket, "RESUMED", {})
        return socket

    def ready(self) -> dict[str, Any]:
        return {
            "v": 10,
            "user": self.bot_user(),
            "guilds": [{"id": str(GUILD), "unavailable": True}],
            "session_id": "session",
            "resume_gateway_url": self.gateway,
            "shard": [0, 1],
            "application": {"id": str(APPLICATION), "flags": 0},
            "private_channels": [],
        }

    async def _dispatch(self, socket: web.WebSocketResponse, event: str, data: Any) -> None:
        await socket.send_json({"op": 0, "s": next(self._sequence), "t": event, "d": data})

    async def dispatch(self, event: str, data: Any) -> None:
        await self.identified.wait()
        for socket in self._sockets:
            if not socket.closed:
                await self._dispatch(socket, event, data)

    async def close_gateway(self, code: int) -> None:
        """End every gateway connection with a close code, as Discord does on fatal errors."""
        for socket in self._sockets:
            await socket.close(code=code, message=b"Closed by the stand-in.")

    # -- what tests inject -------------------------------------------------------------------

    async def push_message(
        self,
        content: str,
        user_id: int,
        *,
        direct: bool = False,
        mentions: list[int] | None = None,
        roles: list[int] | None = None,
        bot: bool = False,
        reply_to: int | None = None,
    ) -> int:
        """A message in the guild channel (or a DM); returns its id. ``reply_to``: the id of
        a message it replies to (the bot's, as sent, or another of this stand-in's)."""
        message_id = self.next_id()
        author = self.user(user_id, bot=bot)
        data: dict[str, Any] = {
            **self.message(CHANNEL + (user_id if direct else 0), {"content": content}),
            "id": str(message_id),
            "author": author,
            "mentions": [self.user(m, bot=m == BOT_USER) for m in mentions or []],
            "mention_everyone": "@everyone" in content,
        }
        if reply_to is not None:
            replied = self.messages[reply_to]
            data["type"] = 19  # a reply
            data["message_reference"] = {
                "message_id": str(reply_to),
                "channel_id": replied["channel_id"],
            }
            data["referenced_message"] = replied
        if not direct:
            data["guild_id"] = str(GUILD)
            member = self.member(user_id, roles)
            del member["user"]
            data["member"] = member
        self.messages[message_id] = data
        await self.dispatch("MESSAGE_CREATE", data)
        return message_id

    async def push_command(
        self,
        name: str,
        options: dict[str, Any] | None = None,
        *,
        user_id: int,
        roles: list[int] | None = None,
        direct: bool = False,
        attachment: tuple[str, bytes] | None = None,
        kind: int = 2,
        focused: str | None = None,
        locale: str = "en-US",
    ) -> int:
        """An application command (or autocomplete, kind 4) from a user; returns its id."""
        interaction_id = self.next_id()
        token = f"interaction-token-{interaction_id}"
        self._tokens[token] = interaction_id
        command = next(c for c in self.commands if c["name"] == name)
        option_types = {o["name"]: o["type"] for o in command.get("options", [])}
        data: dict[str, Any] = {
            "id": command["id"],
            "name": name,
            "type": 1,
            "options": [
                {"name": key, "type": option_types[key], "value": value, "focused": key == focused}
                for key, value in (options or {}).items()
            ],
        }
        if attachment is not None:
            file_name, content = attachment
            attachment_id = str(self.next_id())
            self.attachments[file_name] = content
            data["options"].append({"name": "file", "type": 11, "value": attachment_id})
            data["resolved"] = {
                "attachments": {
                    attachment_id: {
                        "id": attachment_id,
                        "filename": file_name,
                        "size": len(content),
                        "url": f"{self.root}/attachments/{file_name}",
                        "proxy_url": f"{self.root}/attachments/{file_name}",
                        "content_type": "text/plain",
                    }
                }
            }
        await self._interact(
            interaction_id, token, kind, data, user_id, roles, direct, locale=locale
        )
        return interaction_id

    async def push_click(
        self, sent: Sent, label: str, *, user_id: int, roles: list[int] | None = None
    ) -> int:
        """Someone clicks a button of a message the bot sent (as it is now, edits included);
        returns the interaction's id."""
        message = self.messages[sent.message_id]
        buttons = [b for row in message["components"] for b in row["components"]]
        button = next(b for b in buttons if b.get("label") == label)
        interaction_id = self.next_id()
        token = f"interaction-token-{interaction_id}"
        self._tokens[token] = interaction_id
        self._clicked[token] = sent.message_id
        data = {"custom_id": button["custom_id"], "component_type": 2}
        await self._interact(interaction_id, token, 3, data, user_id, roles, False, message=message)
        return interaction_id

    async def _interact(
        self,
        interaction_id: int,
        token: str,
        kind: int,
        data: dict[str, Any],
        user_id: int,
        roles: list[int] | None,
        direct: bool,
        message: dict[str, Any] | None = None,
        locale: str = "en-US",
    ) -> None:
        payload: dict[str, Any] = {
            "id": str(interaction_id),
            "application_id": str(APPLICATION),
            "type": kind,
            "data": data,
            "token": token,
            "version": 1,
            "locale": locale,
            "entitlements": [],
            "authorizing_integration_owners": {},
            "attachment_size_limit": ATTACHMENT_LIMIT,
            "app_permissions": "2248473465835073",
        }
        if direct:
            payload["user"] = self.user(user_id)
            payload["channel"] = {"id": str(CHANNEL + user_id), "type": 1, "recipients": []}
            payload["channel_id"] = str(CHANNEL + user_id)
            payload["context"] = 1
        else:
            payload["guild_id"] = str(GUILD)
            payload["guild_locale"] = "en-US"
            payload["channel_id"] = str(CHANNEL)
            payload["channel"] = {"id": str(CHANNEL), "type": 0, "guild_id": str(GUILD)}
            payload["member"] = self.member(user_id, roles)
            payload["context"] = 0
        if message is not None:
            payload["message"] = message
        await self.dispatch("INTERACTION_CREATE", payload)

    async def replies(self, key: int, count: int = 1, timeout: float = 30) -> list[Sent]:
        """Wait for ``count`` messages sent for one interaction or in reply to one message."""

        def found() -> list[Sent]:
            return [s for s in self.sent if s.key == key]

        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: len(found()) >= count), timeout)
        return found()

    async def reply(self, key: int, timeout: float = 30) -> Sent:
        return (await self.replies(key, 1, timeout))[0]

    async def nothing_sent_for(self, key: int, seconds: float = 0.5) -> bool:
        with contextlib.suppress(TimeoutError):
            await self.replies(key, 1, seconds)
            return False
        return True
