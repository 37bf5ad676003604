"""Realised performance of stored predictions: daily and rolling metrics, and the alert rules."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import polars as pl

from nepse.model.metrics import daily_metrics
from nepse.monitoring.calibrated import Alarm, Calibration
from nepse.monitoring.realised import judge_rank_ic, mark_in_sample
from nepse.store import Store

ROLLING_DAYS = 20


def evaluate_realised(
    store: Store,
    labels: pl.DataFrame,
    *,
    cost_bps: float,
    dates: list[date],
    in_sample: dict[str, tuple[date, date] | None] | None = None,
    label_of: dict[str, str] | None = None,
) -> pl.DataFrame:
    """Score earlier predictions against realised `y_ret` and store the daily + rolling metrics.

    `labels` holds (symbol, date, y_ret) for the prediction dates; a date is evaluated only
    once at least one of its labels is known. A day inside its model's training window
    (`in_sample`: version -> (first, last) day) is stored as in-sample, with no rolling values,
    and left out of later days' rolling windows. `label_of` maps a model version to the label
    column it was trained on (e.g. y_next_vwap): its predictions are scored against that label,
    not close-to-close. Returns the newly stored rows.
    """
    if not dates:
        return pl.DataFrame()
    preds = store.predictions(dates=dates).select("date", "symbol", "model_version", "pred_ret")
    realised = pl.col("y_ret")
    for version, column in (label_of or {}).items():
        if column in labels.columns:
            realised = pl.when(pl.col("model_version") == version).then(column).otherwise(realised)
    joined = preds.join(labels, on=["symbol", "date"]).select(
        "date", "symbol", "model_version", "pred_ret", realised.alias("y_ret")
    )
    known = joined.filter(pl.col("y_ret").is_not_null())
    if known.is_empty():
        return pl.DataFrame()
    daily = daily_metrics(known, cost_bps=cost_bps).filter(pl.col("n") > 0)
    versions = known.group_by("date").agg(pl.col("model_version").mode().first())
    daily = mark_in_sample(daily.join(versions, on="date"), in_sample or {})
    with store.transaction():
        for row in daily.sort("date").iter_rows(named=True):
            if row["in_sample"]:
                store.upsert_performance(row)
                continue
            history = store.performance_before(row["date"], ROLLING_DAYS - 1)
            window = [(row["ic"], row["rank_ic"], row["rmse"], row["n"]), *history]
            store.upsert_performance(
                {
                    **row,
                    "rolling_ic": _mean(w[0] for w in window),
                    "rolling_rank_ic": _mean(w[1] for w in window),
                    "rolling_rmse": _pooled_rmse(window),
                }
            )
    return store.performance(dates=daily["date"].to_list())


def _mean(values: Iterable[float | None]) -> float | None:
    xs = [v for v in values if v is not None and not math.isnan(v)]
    return sum(xs) / len(xs) if xs else None


def _pooled_rmse(window: list[tuple]) -> float | None:
    pairs = [(rmse, n) for _, _, rmse, n in window if rmse is not None and n]
    if not pairs:
        return None
    return math.sqrt(sum(n * r * r for r, n in pairs) / sum(n for _, n in pairs))


RMSE_REFERENCE = "walk-forward out-of-sample RMSE"
"""What the realised RMSE is compared with: the champion's RMSE over its walk-forward test days
(the `rmse` of the LightGBM row of its walk-forward summary, as the registry and the model card
show it), on the label it was trained on, the same label its realised RMSE is computed on."""


def reference_rmse(walk_forward_summary: dict[str, Any] | None) -> float | None:
    """The model's walk-forward out-of-sample RMSE from its summary row (registry `metrics`)."""
    summary = walk_forward_summary or {}
    if isinstance(summary, str):  # a registry row's metrics read back as JSON text
        summary = json.loads(summary)
    value = summary.get("rmse")
    return float(value) if value is not None and not math.isnan(value) else None


@dataclass(frozen=True)
class MonitorVerdict:
    """Realised performance after an evaluation: the latest day and its alerts (none = healthy)."""

    date: date | None
    rolling_rank_ic: float | None
    rolling_rmse: float | None
    walk_forward_rmse: float | None
    """The scoring model's walk-forward out-of-sample RMSE (`RMSE_REFERENCE`)."""
    alerts: tuple[str, ...]
    evaluated: int = 0
    """Prediction days newly evaluated by this run."""
    evaluated_days: int = 0
    """Out-of-sample prediction days evaluated so far."""
    latest: dict[str, Any] | None = None
    """The newest out-of-sample performance_daily row (date, ic, rank_ic, rmse, rolling)."""
    rank_ic_alarm: Alarm | None = None
    """The rolling Rank IC against its walk-forward distribution (None: not calibrated)."""
    numbers: dict[str, float | int | None] = field(default_factory=dict)
    """The figures the rules judged (for the alert events' payload)."""


def check_performance(
    latest: dict | None,
    *,
    min_rolling_rank_ic: float,
    rmse_ratio: float,
    walk_forward_rmse: float | None,
    rmse_min_days: int,
    label: str | None = None,
    min_days: int = ROLLING_DAYS,
    evaluated_days: int = 0,
    evaluated: int = 0,
    rank_ic_calibration: Calibration | None = None,
) -> MonitorVerdict:
    """Alert rules: rolling Rank IC below the floor, or rolling RMSE > ratio x the model's
    walk-forward out-of-sample RMSE on the same label (`label`, its words, named in the text).

    The Rank IC rules wait for `min_days` evaluated out-of-sample days (a 3-day mean is noise);
    the RMSE rule for `rmse_min_days` (a day's pooled RMSE is one market day's dispersion:
    bench/rmse_alert_days.py measures how often few days exceed the ratio on a model that is
    no worse than in its walk-forward).
    """
    if not latest:
        return MonitorVerdict(None, None, None, walk_forward_rmse, (), evaluated, evaluated_days)
    alerts = []
    ric, rmse = latest.get("rolling_rank_ic"), latest.get("rolling_rmse")
    window = min(evaluated_days, ROLLING_DAYS)
    if ric is not None and evaluated_days >= min_days and ric < min_rolling_rank_ic:
        alerts.append(
            f"{window}-day rolling Rank IC {ric:.4f} is below the floor {min_rolling_rank_ic:.4f}"
        )
    if (
        rmse is not None
        and walk_forward_rmse
        and evaluated_days >= rmse_min_days
        and rmse > rmse_ratio * walk_forward_rmse
    ):
        on = f" (the same label: the return of {label})" if label else ""
        alerts.append(
            f"realised RMSE {rmse:.5f} over the last {window} out-of-sample days exceeds "
            f"{rmse_ratio:g} x the model's {RMSE_REFERENCE} {walk_forward_rmse:.5f} "
            f"(= {rmse_ratio * walk_forward_rmse:.5f}){on}"
        )
    numbers = {
        "rolling_rank_ic": ric,
        "rolling_rmse": rmse,
        "walk_forward_rmse": walk_forward_rmse,
        "rmse_alert_ratio": rmse_ratio,
        "evaluated_days": evaluated_days,
        "window_days": window,
    }
    return MonitorVerdict(
        latest.get("date"),
        ric,
        rmse,
        walk_forward_rmse,
        tuple(alerts),
        evaluated,
        evaluated_days,
        latest,
        judge_rank_ic(ric if evaluated_days >= min_days else None, rank_ic_calibration),
        numbers,
    )
