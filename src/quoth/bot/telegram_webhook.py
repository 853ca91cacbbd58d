"""Telegram's webhook, acknowledged only once the update has been answered.

PTB's own webhook server acknowledges an update as soon as it is queued; a replica killed
before answering would then lose it, because Telegram re-delivers only what was not
acknowledged. Here each POST is answered after the handlers ran, and the shared state says
whether this process should handle the update at all: a re-delivery of an answered update is
acknowledged without a second answer, and one that a live replica is still answering gets 503,
so Telegram tries it again later instead of the update being answered twice or never.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from typing import Any

from aiohttp import web
from telegram import Update
from telegram.ext import Application

from quoth import metrics
from quoth.state import Claim, SharedState

log = logging.getLogger("quoth.telegram")
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_UPDATE_BYTES = 1024 * 1024
"""Telegram's updates are a few kilobytes; anything far larger is not from Telegram."""


class WebhookServer:
    """An aiohttp server on ``listen:port`` taking Telegram's POSTs on ``path``."""

    def __init__(
        self,
        application: Application,  # type: ignore[type-arg]
        state: SharedState,
        secret: str,
        path: str,
        listen: str,
        port: int,
        replica: str | None = None,
    ) -> None:
        self.application = application
        self.state = state
        self._secret = secret.encode()
        self._path = "/" + path.lstrip("/")
        self._listen = listen
        self._port = port
        self._runner: web.AppRunner | None = None
        self.replica = replica

    async def start(self) -> None:
        app = web.Application(client_max_size=MAX_UPDATE_BYTES)
        app.router.add_post(self._path, self.receive)
        app.router.add_get("/healthz", self.healthy)  # for the load balancer's checks
        app.router.add_get("/metrics", self.metrics)  # Caddy's public route never reaches it
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        await web.TCPSite(self._runner, self._listen, self._port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def healthy(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def metrics(self, request: web.Request) -> web.Response:
        body = metrics.exposition(self.replica)
        return web.Response(body=body, headers={"Content-Type": metrics.CONTENT_TYPE})

    async def receive(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, self._secret):
            return web.Response(status=403)
        try:
            data: Any = json.loads(await request.read())
            update = Update.de_json(data, self.application.bot)
        except Exception:  # not an update: Telegram never sends this, nobody to tell
            log.warning("webhook: a request that is not a Telegram update was refused")
            return web.Response(status=400)
        claim = await asyncio.to_thread(self.state.claim_update, "telegram", update.update_id)
        metrics.WEBHOOK_CLAIMS.labels(claim.value).inc()
        if claim is Claim.DONE:
            log.info("update %d was delivered again; it is already answered", update.update_id)
            return web.Response()
        if claim is Claim.BUSY:
            return web.Response(status=503, headers={"Retry-After": "1"})
        try:
            await self.application.process_update(update)  # handler errors: its error handler
        finally:  # even if PTB itself failed: a claim never finished would refuse re-deliveries
            await asyncio.to_thread(self.state.finish_update, "telegram", update.update_id)
        return web.Response()
