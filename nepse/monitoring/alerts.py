"""Alerts as values, and the redaction of webhook URLs from HTTP logs.

Delivery is Prefect's: tasks/alerts.py logs every alert in the run's logs and hands it to the
notification block named by NEPSE_ALERT_BLOCK. A webhook URL is a secret: never logged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

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
