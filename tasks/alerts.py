"""Alerts the Prefect way: every text in the flow run's logs, delivery by a notification block."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import httpx
from prefect import task
from prefect.blocks.core import Block
from prefect.logging import get_run_logger

from nepse.app.publish import Alert, redact_in_http_logs
from tasks.common import settings

LEVELS = {"info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


@dataclass(frozen=True)
class AlertsSent:
    """How many alerts were raised (all logged) and how many the notification block accepted."""

    raised: int
    delivered: int
    block: str | None


def notification_block(name: str | None, log: Any) -> Any | None:
    """The Prefect notification block named 'type-slug/name', or None (logged) when absent."""
    if not name:
        return None
    try:
        return Block.load(name)
    except (ValueError, KeyError) as exc:
        log.warning("notification block %r not found (%s); alerts are only logged", name, exc)
        return None


def log_and_deliver(alerts: list[Alert], block: Any | None, log: Any) -> int:
    """Log every alert's text at its level, then hand each to `block.notify`; returns delivered."""
    for a in alerts:
        log.log(LEVELS.get(a.level, logging.WARNING), "ALERT [%s] %s: %s", a.level, a.title, a.text)
    if block is None:
        return 0
    url = getattr(block, "url", None)
    if url is not None:
        redact_in_http_logs(
            url.get_secret_value() if hasattr(url, "get_secret_value") else str(url)
        )
    delivered = 0
    for a in alerts:
        try:
            block.notify(body=a.text, subject=f"NEPSE: {a.title}")
        except (httpx.HTTPError, OSError, RuntimeError, ValueError) as exc:
            # The exception text may carry the webhook URL (a secret): log only its class.
            log.warning("alert %r not delivered (%s)", a.title, type(exc).__name__)
            continue
        delivered += 1
    return delivered


@task(name="send-alerts")
def send_alerts(alerts: list[Alert]) -> AlertsSent:
    """Write each alert to the run's logs and deliver it through NEPSE_ALERT_BLOCK."""
    log = get_run_logger()
    name = settings().alert_block
    if not alerts:
        return AlertsSent(0, 0, name)
    block = notification_block(name, log)
    delivered = log_and_deliver(alerts, block, log)
    log.info(
        "%d alert(s) raised, %d delivered%s",
        len(alerts),
        delivered,
        f" by notification block {name}" if block is not None else " (no notification block)",
    )
    return AlertsSent(len(alerts), delivered, name)
