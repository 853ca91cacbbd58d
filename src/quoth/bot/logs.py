"""Logging for long-running bots: one line per event (text or JSON), never the bot token,
and never a user id or a question's text at info level or above (ids go to debug lines).

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


def json_formatter() -> logging.Formatter:
    """One JSON object a line: time, level, logger, message, and the fields a call passed
    as ``extra`` (the ``key=value`` pairs its text shows), for a log system to index."""
    from pythonjsonlogger.json import JsonFormatter

    return JsonFormatter(
        "{asctime}{levelname}{name}{message}",
        style="{",
        datefmt="%Y-%m-%dT%H:%M:%S%z",
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
    )


def configure_logging(*secrets: str, level: int = logging.INFO, form: str = "text") -> None:
    """Log lines to standard error as ``text`` (the default) or ``json``; never a token."""
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True
    )
    if form == "json":
        for handler in logging.getLogger().handlers:
            handler.setFormatter(json_formatter())
    redact_secrets(*secrets)
    for noisy in ("httpx", "httpcore", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
