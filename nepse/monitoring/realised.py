"""Realised performance judged honestly: in-sample days marked, Rank IC against its walk-forward.

A prediction for a day inside the scoring model's training window (fit or early-stopping slice,
`meta['train_start']..meta['train_end']`) was made by a model that saw that day's label: its
"realised" Rank IC is in-sample and is kept out of every out-of-sample figure. The realised
20-day rolling Rank IC of out-of-sample days is judged against the distribution of the same
rolling mean over the model's walk-forward test days (saved with the model as
`walkforward_daily.parquet`): the alarm is below its (1 - quantile) quantile.
"""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import polars as pl

from nepse.monitoring.calibrated import Alarm, Calibration, calibration_of, judge

WALKFORWARD_FILE = "walkforward_daily.parquet"
ROLLING_DAYS = 20
RANK_IC = "realised rank IC"


def in_sample_window(meta: dict) -> tuple[date, date] | None:
    """The model's training window (fit + early-stopping slice), from its meta.json."""
    if not meta.get("train_start") or not meta.get("train_end"):
        return None
    return date.fromisoformat(meta["train_start"]), date.fromisoformat(meta["train_end"])


def mark_in_sample(
    perf: pl.DataFrame, windows: dict[str, tuple[date, date] | None]
) -> pl.DataFrame:
    """`perf` (date, model_version, ...) with `in_sample`: the day lies in its model's window."""
    rows = [
        {"model_version": v, "_from": w[0], "_to": w[1]}
        for v, w in windows.items()
        if w is not None
    ]
    spans = pl.DataFrame(
        rows, schema={"model_version": pl.String, "_from": pl.Date, "_to": pl.Date}
    )
    return (
        perf.join(spans, on="model_version", how="left")
        .with_columns(
            in_sample=pl.col("date").is_between(pl.col("_from"), pl.col("_to")).fill_null(False)
        )
        .drop("_from", "_to")
    )


def rolling_out_of_sample(perf: pl.DataFrame, *, days: int = ROLLING_DAYS) -> float | None:
    """Mean Rank IC of the last `days` out-of-sample evaluated days (None before `days` exist)."""
    oos = perf.filter(~pl.col("in_sample"), pl.col("rank_ic").is_not_null()).sort("date")
    if oos.height < days:
        return None
    return float(oos.tail(days).get_column("rank_ic").mean())


def save_walkforward_daily(model_daily: pl.DataFrame, folder: Path) -> Path:
    """Save the walk-forward test days' (date, rank_ic) next to the model (call after training)."""
    path = folder / WALKFORWARD_FILE
    model_daily.group_by("date").agg(pl.col("rank_ic").mean()).sort("date").write_parquet(path)
    return path


def rank_ic_calibration(
    daily: pl.DataFrame, *, days: int = ROLLING_DAYS, quantile: float = 0.99
) -> Calibration:
    """The `days`-day rolling mean Rank IC over every window of the walk-forward test days."""
    d = daily.sort("date").with_columns(roll=pl.col("rank_ic").rolling_mean(days, min_samples=days))
    d = d.filter(pl.col("roll").is_not_null())
    return calibration_of(
        RANK_IC,
        d.get_column("date").to_list(),
        d.get_column("roll").to_list(),
        quantile=quantile,
        window=days,
    )


def load_rank_ic_calibration(folder: Path, *, quantile: float = 0.99) -> Calibration | None:
    """The calibration from the model folder's walk-forward days (None when not saved)."""
    path = folder / WALKFORWARD_FILE
    if not path.is_file():
        return None
    return rank_ic_calibration(pl.read_parquet(path), quantile=quantile)


def judge_rank_ic(rolling: float | None, calibration: Calibration | None) -> Alarm | None:
    """Alarm when the out-of-sample rolling Rank IC is below its walk-forward floor."""
    if rolling is None or calibration is None or math.isnan(rolling):
        return None
    return judge(rolling, calibration, higher_is_worse=False)
