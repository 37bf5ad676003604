"""Alerts as values: what a run found, for which trading day and model, with its numbers.

Delivery is Prefect's and happens outside the run: the run writes each alert to its logs and
emits it as the Prefect event `nepse.alert.<kind>` (`nepse.app.events`); the automation
'nepse alert' of automations.yaml routes the events to a notification block.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

KINDS = (
    "stale-data",
    "source",
    "quality-gate",
    "fallback",
    "drift",
    "drift-report",
    "performance",
    "orders",
    "publish",
)
"""Every alert kind; each is the event `nepse.alert.<kind>`."""


@dataclass(frozen=True)
class Alert:
    """One alert: its kind, a short title, the text people read, and what it is about."""

    kind: str
    title: str
    text: str
    level: str = "warning"
    """info, warning or error."""
    day: date | None = None
    """The trading day the run scored (or tried to)."""
    model_version: str | None = None
    numbers: dict[str, float | int | str | None] = field(default_factory=dict)
    """The figures behind the alert (statistic, line, counts), for the event's payload."""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown alert kind {self.kind!r}; one of {KINDS}")
        if self.level not in ("info", "warning", "error"):
            raise ValueError(f"unknown alert level {self.level!r}")
