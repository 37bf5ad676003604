"""Alerts: a Slack-compatible webhook notifier. The URL is a secret: never logged or echoed."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import httpx
from pydantic import SecretStr

log = logging.getLogger(__name__)

LEVEL_EMOJI = {"info": ":information_source:", "warning": ":warning:", "error": ":rotating_light:"}


@dataclass(frozen=True)
class Alert:
    """One alert: a short title, a body in Slack mrkdwn, and a level (info/warning/error)."""

    title: str
    text: str
    level: str = "warning"

    def payload(self) -> dict:
        """The Slack-compatible JSON body (`text` for any receiver, `blocks` for Slack)."""
        head = f"{LEVEL_EMOJI.get(self.level, '')} *NEPSE: {self.title}*".strip()
        return {
            "text": f"{head}\n{self.text}",
            "blocks": [
                {"type": "section", "text": {"type": "mrkdwn", "text": head}},
                {"type": "section", "text": {"type": "mrkdwn", "text": self.text}},
            ],
        }


class RedactFilter(logging.Filter):
    """Replaces secret strings in log records (httpx logs every request URL at INFO)."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if any(x in message for x in self.secrets):
            for x in self.secrets:
                message = message.replace(x, "**********")
            record.msg, record.args = message, None
        return True


_REDACT = RedactFilter()


def redact_in_http_logs(*secrets: str) -> None:
    """Make sure httpx/httpcore never log `secrets` (webhook URLs, tokens)."""
    _REDACT.secrets.update(x for x in secrets if x)
    for name in ("httpx", "httpcore"):
        logger = logging.getLogger(name)
        if _REDACT not in logger.filters:
            logger.addFilter(_REDACT)


class Notifier:
    """Posts alerts to a webhook; without one configured, alerts are only logged."""

    def __init__(self, webhook_url: SecretStr | str | None, *, timeout_s: float = 10.0) -> None:
        if isinstance(webhook_url, str):
            webhook_url = SecretStr(webhook_url)
        self._url = webhook_url
        self._timeout = timeout_s
        if self.configured:
            assert webhook_url is not None
            redact_in_http_logs(webhook_url.get_secret_value())

    @property
    def configured(self) -> bool:
        """Whether a webhook URL is set."""
        return self._url is not None and bool(self._url.get_secret_value())

    def send(self, alert: Alert) -> bool:
        """Send `alert`; returns True when the receiver accepted it. Never raises on HTTP errors."""
        log.warning("alert [%s] %s: %s", alert.level, alert.title, alert.text)
        if not self.configured:
            log.info("no alert webhook configured (NEPSE_WEBHOOK_URL); alert only logged")
            return False
        assert self._url is not None
        try:
            response = httpx.post(
                self._url.get_secret_value(), json=alert.payload(), timeout=self._timeout
            )
        except httpx.HTTPError as exc:
            # The exception text may contain the URL: log only its class.
            log.warning("alert webhook unreachable (%s); alert only logged", type(exc).__name__)
            return False
        if response.status_code >= 300:
            log.warning("alert webhook answered HTTP %d; alert only logged", response.status_code)
            return False
        return True
