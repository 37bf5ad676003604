"""Secrets are redacted before anything is cut, logged or stored, whatever their length.

`register(value)` adds a secret (the API token, the webhook URL); `redact(text)` replaces every
registered secret with `***`. `install()` wraps the logging record factory once, so every log
record of every logger (Prefect's API handler included) has its message redacted when it is
created, before any handler formats, cuts or ships it. Callers that cut text (error bodies,
reject details) call `redact` first, then cut.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

MASK = "***"
# Shorter values are not treated as secrets: masking "a" everywhere would garble every log.
MIN_LENGTH = 4

_secrets: set[str] = set()
_lock = threading.Lock()
_installed = False


def register(value: Any) -> None:
    """Treat `value` (a str or a pydantic SecretStr; None ignored) as a secret from now on."""
    if value is None:
        return
    if hasattr(value, "get_secret_value"):
        value = value.get_secret_value()
    text = str(value)
    if len(text) < MIN_LENGTH:
        return
    with _lock:
        _secrets.add(text)
    install()


def redact(text: str) -> str:
    """`text` with every registered secret replaced by `***` (longest first)."""
    if not _secrets or not text:
        return text
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def secrets() -> tuple[str, ...]:
    """The registered secrets, longest first (for vectorised redaction of frames)."""
    return tuple(sorted(_secrets, key=len, reverse=True))


def install() -> None:
    """Redact every log record at creation (idempotent)."""
    global _installed
    with _lock:
        if _installed:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            if _secrets:
                try:
                    message = record.getMessage()
                except (TypeError, ValueError):
                    return record
                clean = redact(message)
                if clean != message:
                    record.msg, record.args = clean, None
            return record

        logging.setLogRecordFactory(factory)
        _installed = True
