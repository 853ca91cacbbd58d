"""Logging for long-running bots: one line per event, and never the bot token.

httpx logs every request URL at INFO, and Telegram URLs contain the token: its logger is
quietened, and every log record is redacted when it is created (message, arguments and
exception text), so no handler — a file, the console, a test's capture — can ever see it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

REDACTED = "[token]"
_secrets: set[str] = set()
_base_factory: Callable[..., logging.LogRecord] | None = None


def _redact(text: str) -> str:
    for secret in _secrets:
        text = text.replace(secret, REDACTED)
    return text


def _redacting_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
    assert _base_factory is not None
    record = _base_factory(*args, **kwargs)
    if not _secrets:
        return record
    message = record.getMessage()
    if record.exc_info and record.exc_info[0] is not None:
        message = f"{message}\n{logging.Formatter().formatException(record.exc_info)}"
        record.exc_info = None
    record.msg, record.args, record.exc_text = _redact(message), None, None
    return record


def redact_secrets(*secrets: str) -> None:
    """Redact these strings from every log record from now on (idempotent)."""
    global _base_factory
    _secrets.update(s for s in secrets if s)
    if _base_factory is None:
        _base_factory = logging.getLogRecordFactory()
        logging.setLogRecordFactory(_redacting_factory)


def configure_logging(*secrets: str, level: int = logging.INFO) -> None:
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True
    )
    redact_secrets(*secrets)
    for noisy in ("httpx", "httpcore", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
