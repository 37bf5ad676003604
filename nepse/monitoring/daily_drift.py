"""The model's drift baseline, as the training run saves it and the daily run reads it.

`baseline_for` reads the drift baseline saved with the model (built at training from the
walk-forward's out-of-sample predictions, `sessions_of`) or, for a model trained before baselines
existed, derives it reproducibly from the stored prices of the model's training period, without
predictions (only in-sample ones exist for it), and saves it into the model folder once.
`nepse.monitoring.baseline.check` then judges the last N sessions against it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date
from pathlib import Path

import polars as pl

from nepse.monitoring.baseline import DriftBaseline, build_baseline, load_or_none
from nepse.settings import Settings

log = logging.getLogger(__name__)


def baseline_for(
    folder: Path,
    meta: dict,
    *,
    training_panel: Callable[[date, int], pl.DataFrame],
    settings: Settings,
) -> DriftBaseline:
    """The model's saved baseline, else one derived from `training_panel(train_end, sessions)`
    with the drift settings (`NEPSE_DRIFT_WINDOW_DAYS`, `_REFERENCE_DAYS`, `_CALIBRATION_DAYS`,
    `_ALARM_QUANTILE`)."""
    window = settings.drift_window_days
    saved = load_or_none(folder)
    if saved is not None and saved.window == window:
        return saved
    sessions = settings.drift_reference_days + settings.drift_calibration_days + window
    panel = training_panel(date.fromisoformat(meta["train_end"]), sessions)
    baseline = build_baseline(
        panel,
        features=list(meta["feature_names"]),
        categorical=list(meta.get("categorical", [])),
        window=window,
        reference_days=settings.drift_reference_days,
        calibration_days=settings.drift_calibration_days,
        quantile=settings.drift_alarm_quantile,
    )
    baseline.save(folder)
    log.info("drift baseline derived from %d training sessions, saved in %s", sessions, folder)
    return baseline


def sessions_of(
    panel: pl.DataFrame, predictions: pl.DataFrame | None = None
) -> Callable[[date, int], pl.DataFrame]:
    """A `training_panel` for `baseline_for` over a panel in memory.

    `predictions` (symbol, date, pred_ret) must be out of sample (the walk-forward's): a daily
    run's predictions are, and an in-sample fit is wider than anything a scored day shows, so an
    in-sample reference would raise prediction drift every day. Without them the baseline
    calibrates the feature and market statistics only.
    """

    def sessions(end: date, n: int) -> pl.DataFrame:
        days = panel.filter(pl.col("date") <= end).get_column("date").unique().sort().tail(n)
        frame = panel.filter(pl.col("date").is_in(days.implode()))
        if predictions is None:
            return frame
        preds = predictions.select("symbol", "date", "pred_ret")
        return frame.join(preds, on=["symbol", "date"], how="left")

    return sessions
