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
        return Alert(
            "stale-data",
            "stale data",
            day.detail,
            "error",
            day=day.as_of,
            numbers={"newest_stored_day": day.as_of.isoformat(), "asked": _iso(day.asked)},
        )
    return None


def source_alert(exc: Exception, day: date | None = None) -> Alert:
    """The alert for a source that failed for good (its retries are spent)."""
    return Alert(
        "source",
        "price source failed",
        f"{type(exc).__name__}: {exc}",
        "error",
        day=day,
        numbers={"error": type(exc).__name__},
    )


def gate_alert(gate: GateResult) -> Alert:
    """The alert for a day the quality gate refused."""
    return Alert(
        "quality-gate",
        "quality gate failed",
        f"quality gate: {gate.reason}. No predictions were written.",
        "error",
        day=gate.day,
        numbers={
            "rows_on_day": gate.rows_on_day,
            "rejected_on_day": gate.rejected_on_day,
            "reject_share": gate.reject_share,
            "missing_active": gate.missing_active,
            "regular_active": gate.regular_active,
        },
    )


def daily_alerts(
    scored: ScoredDay,
    drift: DriftSummary | None,
    drift_error: str | None,
    verdict: MonitorVerdict,
) -> list[Alert]:
    """Every alert of a scored day: fallback model, drift (or its failure), performance."""
    about = {"day": scored.as_of, "model_version": scored.model_version}
    alerts = []
    if scored.is_fallback:
        alerts.append(
            Alert(
                "fallback",
                "model fallback",
                f"predictions for {scored.as_of} were made by {scored.model_version} "
                f"({scored.model_role}): " + " | ".join(scored.problems),
                "error",
                numbers={"model_role": scored.model_role, "predictions": scored.n},
                **about,
            )
        )
    if drift_error:
        alerts.append(Alert("drift-report", "drift report failed", drift_error, **about))
    if drift is not None and drift.dataset_drift:
        beyond = [a for a in drift.alarms if a.alarm]
        text = "; ".join(a.describe() for a in beyond) or (
            f"{drift.n_drifted} of {drift.n_columns} features drifted ({drift.share_drifted:.0%})"
        )
        numbers = {f"{a.name} value": a.value for a in beyond}
        numbers |= {f"{a.name} alarm line": a.threshold for a in beyond}
        numbers |= {"drifted_columns": drift.n_drifted, "columns": drift.n_columns}
        alerts.append(Alert("drift", "drift alarm", text, numbers=numbers, **about))
    perf = dict(verdict.numbers)
    alerts += [
        Alert("performance", "model performance", text, numbers=perf, **about)
        for text in verdict.alerts
    ]
    if verdict.rank_ic_alarm is not None and verdict.rank_ic_alarm.alarm:
        alarm = verdict.rank_ic_alarm
        alerts.append(
            Alert(
                "performance",
                "model performance",
                alarm.describe(),
                numbers=perf | {"rank_ic_floor": alarm.threshold},
                **about,
            )
        )
    return alerts


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None
