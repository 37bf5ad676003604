"""The events a run emits: its alerts (`nepse.alert.<kind>`) and model changes (`nepse.model.*`).

Values only (no Prefect here): `tasks/alerts.py` and the `nepse models` commands hand each
`EventSpec` to Prefect's `emit_event`, and the automations of automations.yaml route the events
to a notification block: one path, configured in one place. Every text carries the trading
day, the model version and the link to the run that found it.

Resources: an alert is about the trading day (`nepse.daily.<YYYY-MM-DD>`), a model change about
the model (`nepse.model.<version>`); Prefect adds the flow run, flow and deployment as related
resources when the event is emitted inside a run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from nepse.monitoring.alerts import Alert

ALERT_EVENT = "nepse.alert."
PROMOTED = "nepse.model.promoted"
ROLLED_BACK = "nepse.model.rolled-back"


@dataclass(frozen=True)
class RunInfo:
    """The Prefect run an event comes from (all None outside a run)."""

    id: str | None = None
    name: str | None = None
    url: str | None = None
    """The run's page in the Prefect UI (PREFECT_UI_URL-based)."""


@dataclass(frozen=True)
class EventSpec:
    """The arguments of one `prefect.events.emit_event` call."""

    event: str
    resource: dict[str, str]
    payload: dict[str, Any] = field(default_factory=dict)


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def alert_subject(alert: Alert) -> str:
    """One line: level, title, day and model (a notification's subject)."""
    about = [alert.day.isoformat() if alert.day else None, alert.model_version]
    where = ", ".join(a for a in about if a)
    return f"NEPSE {alert.level}: {alert.title}" + (f" ({where})" if where else "")


def alert_text(alert: Alert, run: RunInfo) -> str:
    """What people read: the day, the model, what was found, and the link to the run."""
    day = alert.day.isoformat() if alert.day else "day not known yet"
    model = f"model {alert.model_version}" if alert.model_version else "no model"
    lines = [f"{alert.title} — trading day {day}, {model}", alert.text]
    if run.url:
        lines.append(f"Run {run.name or run.id}: {run.url}")
    return "\n".join(lines)


def alert_event(alert: Alert, run: RunInfo) -> EventSpec:
    """The event `nepse.alert.<kind>` of `alert`, about its trading day."""
    day = alert.day.isoformat() if alert.day else "unknown"
    resource = {
        "prefect.resource.id": f"nepse.daily.{day}",
        "prefect.resource.name": f"NEPSE daily {day}",
        "nepse.day": day,
        "nepse.level": alert.level,
    }
    if alert.model_version:
        resource["nepse.model-version"] = alert.model_version
    payload = {
        "kind": alert.kind,
        "level": alert.level,
        "title": alert.title,
        "day": alert.day.isoformat() if alert.day else None,
        "model_version": alert.model_version,
        "numbers": {k: _plain(v) for k, v in alert.numbers.items()},
        "flow_run_id": run.id,
        "flow_run_name": run.name,
        "run_url": run.url,
        "subject": alert_subject(alert),
        "text": alert_text(alert, run),
    }
    return EventSpec(ALERT_EVENT + alert.kind, resource, payload)


@dataclass(frozen=True)
class ModelChange:
    """The champion changed: to `version`, from `previous`, why and by whom."""

    event: str
    """PROMOTED or ROLLED_BACK."""
    version: str
    previous: str | None
    reason: str
    by: str
    """Who changed it: 'train-model run <name>', 'nepse models promote', ..."""
    rank_ic: float | None = None


def model_text(change: ModelChange, run: RunInfo) -> str:
    """What people read about a champion change."""
    verb = "promoted to champion" if change.event == PROMOTED else "restored as champion"
    lines = [
        f"Model {change.version} {verb} (previous champion: {change.previous or 'none'}).",
        f"By {change.by}: {change.reason}",
    ]
    if change.rank_ic is not None:
        lines.append(f"Walk-forward Rank IC {change.rank_ic:.4f}.")
    if run.url:
        lines.append(f"Run {run.name or run.id}: {run.url}")
    return "\n".join(lines)


def model_event(change: ModelChange, run: RunInfo) -> EventSpec:
    """The event of a champion change, about the new champion."""
    what = "promoted" if change.event == PROMOTED else "rolled back"
    payload = {
        "version": change.version,
        "previous": change.previous,
        "reason": change.reason,
        "by": change.by,
        "rank_ic": change.rank_ic,
        "flow_run_id": run.id,
        "run_url": run.url,
        "subject": f"NEPSE: champion model {what}: {change.version}",
        "text": model_text(change, run),
    }
    resource = {
        "prefect.resource.id": f"nepse.model.{change.version}",
        "prefect.resource.name": change.version,
    }
    return EventSpec(change.event, resource, payload)


def model_markdown(change: ModelChange, run: RunInfo) -> str:
    """The champion change as the Markdown of the `model-champion` artifact."""
    verb = "Promoted" if change.event == PROMOTED else "Rolled back to"
    return "\n".join(
        [
            f"# {verb} `{change.version}`",
            "",
            f"- **Previous champion:** `{change.previous or 'none'}`",
            f"- **By:** {change.by}",
            f"- **Reason:** {change.reason}",
            *([f"- **Run:** [{run.name or run.id}]({run.url})"] if run.url else []),
        ]
    )
