"""The day's drift result: one value, from the calibrated check to the store, page and texts.

`nepse.monitoring.baseline.check` makes it; the `drift_reports` row, the report index, the
artifacts, the alerts and Evidently's page of the day (`nepse.monitoring.page`) all read it. A
tested feature counts as drifted when its distance from the reference is beyond its own alarm
line: the worst-feature statistic's line in units of that column's typical distance, so a
feature is drifted exactly when it makes the worst-feature statistic alarm.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from nepse.monitoring.calibrated import Alarm

METHOD = "wasserstein"
"""Evidently's name of the per-column distance (normed Wasserstein; `calibrated.py`)."""
PREDICTIONS = "prediction drift"
"""Name of the prediction statistic (its alarm is the prediction's verdict)."""


@dataclass(frozen=True)
class ColumnDrift:
    """One tested feature: its distance from the reference and its own alarm line."""

    column: str
    score: float
    """Normed Wasserstein distance of the window from the reference (NaN: no value to compare)."""
    threshold: float | None
    """The column's alarm line; None when it has none (no typical distance to scale by)."""

    @property
    def method(self) -> str:
        """Evidently's name of the distance."""
        return METHOD

    @property
    def drifted(self) -> bool:
        """Beyond its alarm line."""
        return (
            self.threshold is not None
            and not math.isnan(self.score)
            and self.score > self.threshold
        )

    @property
    def ratio(self) -> float:
        """The distance in units of the alarm line (beyond 1: drifted); NaN without a line."""
        if self.threshold is None or math.isnan(self.score) or self.threshold <= 0:
            return math.nan
        return self.score / self.threshold

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (a NaN score as None)."""
        return {
            "column": self.column,
            "method": self.method,
            "score": None if math.isnan(self.score) else self.score,
            "threshold": self.threshold,
            "drifted": self.drifted,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ColumnDrift:
        """Inverse of `to_dict`."""
        score = data.get("score")
        threshold = data.get("threshold")
        return cls(
            data["column"],
            math.nan if score is None else float(score),
            None if threshold is None else float(threshold),
        )


@dataclass(frozen=True)
class DriftSummary:
    """The calibrated drift of a window: each statistic against its line, and every feature's
    distance against its own line; the day's Evidently page once it is written."""

    start: date
    end: date
    alarms: tuple[Alarm, ...]
    columns: tuple[ColumnDrift, ...]
    market: dict[str, float] = field(default_factory=dict)
    """Distance of each market series (one row per session) from the reference sessions."""
    html_path: Path | None = None
    """The day's Evidently page; None when it was not (or could not be) written."""
    seconds: float = field(default=0.0, compare=False)

    @property
    def dataset_drift(self) -> bool:
        """The verdict: some statistic is beyond its alarm line."""
        return any(a.alarm for a in self.alarms)

    def alarm(self, name: str) -> Alarm | None:
        """The verdict of one statistic (None when it was not judged)."""
        return next((a for a in self.alarms if a.name == name), None)

    @property
    def prediction_drift(self) -> Alarm | None:
        """The prediction statistic's verdict (None: not judged)."""
        return self.alarm(PREDICTIONS)

    @property
    def drifted_columns(self) -> list[ColumnDrift]:
        """The features beyond their own alarm line."""
        return [c for c in self.columns if c.drifted]

    @property
    def n_columns(self) -> int:
        """How many features were tested."""
        return len(self.columns)

    @property
    def n_drifted(self) -> int:
        """How many features are beyond their own alarm line."""
        return len(self.drifted_columns)

    @property
    def share_drifted(self) -> float:
        """The share of tested features beyond their own alarm line."""
        return self.n_drifted / self.n_columns if self.columns else 0.0

    def top_columns(self, k: int) -> list[ColumnDrift]:
        """The `k` features nearest to (or furthest beyond) their alarm line, nearest first.

        Ranked by distance in units of the line, so every drifted feature ranks above every
        other one: a page showing the top k shows each feature the verdict counts (up to k)."""
        ranked = [c for c in self.columns if not math.isnan(c.ratio)]
        return sorted(ranked, key=lambda c: -c.ratio)[:k]

    def describe(self) -> str:
        """One line: the verdict and each statistic."""
        verdict = "ALARM" if self.dataset_drift else "no drift alarm"
        return f"drift {self.start}..{self.end}: {verdict}; " + "; ".join(
            a.describe() for a in self.alarms
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict: the `drift_reports` row's fields and everything to rebuild it."""
        pred = self.prediction_drift
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "share_drifted": self.share_drifted,
            "n_drifted": self.n_drifted,
            "n_columns": self.n_columns,
            "dataset_drift": self.dataset_drift,
            "columns": [c.to_dict() for c in self.columns],
            "prediction_drift": None
            if pred is None
            else {
                "column": "pred_ret",
                "method": METHOD,
                "score": pred.value,
                "threshold": pred.threshold,
                "drifted": pred.alarm,
            },
            "market": {k: None if math.isnan(v) else v for k, v in self.market.items()},
            "html_path": None if self.html_path is None else str(self.html_path),
            "seconds": self.seconds,
            "alarms": [a.to_dict() for a in self.alarms],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DriftSummary:
        """Inverse of `to_dict` (the Evidently side process receives the value this way)."""
        return cls(
            start=date.fromisoformat(data["start"]),
            end=date.fromisoformat(data["end"]),
            alarms=tuple(Alarm.from_dict(a) for a in data["alarms"]),
            columns=tuple(ColumnDrift.from_dict(c) for c in data["columns"]),
            market={k: math.nan if v is None else float(v) for k, v in data["market"].items()},
            html_path=None if data.get("html_path") is None else Path(data["html_path"]),
            seconds=float(data.get("seconds", 0.0)),
        )
