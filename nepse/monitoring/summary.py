"""What a daily run tells people: its alerts and its one-line result, built from its values."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from nepse.ingest.day import DayOutcome
from nepse.ingest.gate import GateResult
from nepse.model.scoring import ScoredDay
from nepse.monitoring.alerts import Alert
from nepse.monitoring.drift import DriftSummary
from nepse.monitoring.performance import MonitorVerdict


@dataclass(frozen=True)
class DailySummary:
    """The daily run's result: what was scored, by which model, and where everything is."""

    as_of: date
    model_version: str
    is_fallback: bool
    n_predictions: int
    predictions_path: Path
    drift_report: Path | None
    dataset_drift: bool | None
    report_index: Path
    database: Path
    alerts: int
    alerts_delivered: int = 0

    @property
    def message(self) -> str:
        """The run's final message (a degraded run says so first)."""
        if self.is_fallback:
            return (
                f"degraded: {self.n_predictions} predictions for {self.as_of} stored, made by "
                f"fallback {self.model_version} because the champion failed"
            )
        return f"{self.n_predictions} predictions for {self.as_of} by {self.model_version}"


def day_alert(day: DayOutcome) -> Alert | None:
    """The alert for a day that cannot be scored (stale data); None for a holiday or not yet."""
    if day.status == "stale":
        return Alert("stale data", day.detail, "error")
    return None


def source_alert(exc: Exception) -> Alert:
    """The alert for a source that failed for good (its retries are spent)."""
    return Alert("price source failed", f"{type(exc).__name__}: {exc}", "error")


def gate_alert(gate: GateResult) -> Alert:
    """The alert for a day the quality gate refused."""
    return Alert(
        "quality gate failed", f"quality gate: {gate.reason}. No predictions were written.", "error"
    )


def daily_alerts(
    scored: ScoredDay,
    drift: DriftSummary | None,
    drift_error: str | None,
    verdict: MonitorVerdict,
) -> list[Alert]:
    """Every alert of a scored day: fallback model, drift (or its failure), performance."""
    alerts = []
    if scored.is_fallback:
        alerts.append(
            Alert(
                "model fallback",
                f"predictions for {scored.as_of} were made by {scored.model_version} "
                f"({scored.model_role}): " + " | ".join(scored.problems),
                "error",
            )
        )
    if drift_error:
        alerts.append(Alert("drift report failed", f"{scored.as_of}: {drift_error}"))
    if drift is not None and drift.dataset_drift:
        beyond = [a for a in drift.alarms if a.alarm]
        text = "; ".join(a.describe() for a in beyond) or (
            f"{drift.n_drifted} of {drift.n_columns} features drifted ({drift.share_drifted:.0%})"
        )
        alerts.append(Alert("drift alarm", f"{scored.as_of}: {text}"))
    alerts += [Alert("model performance", text) for text in verdict.alerts]
    if verdict.rank_ic_alarm is not None and verdict.rank_ic_alarm.alarm:
        alerts.append(Alert("model performance", verdict.rank_ic_alarm.describe()))
    return alerts
