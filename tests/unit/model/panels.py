"""Synthetic feature+label panels for model-layer tests and the walk-forward benchmark.

The signal is planted: `y_ret = -0.05 * f_ret_1 + 0.002 * z(f_ma_ratio_10) + noise(0.02)`, so a
model should reach a daily IC of roughly 0.1, reversal about 0.05, and momentum about 0.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl

from nepse.features import LAG_MA_VOL_FEATURES

# The baselines' columns (the original design's lag/MA/volatility set, momentum) and the sector.
NAMED = [*LAG_MA_VOL_FEATURES, "f_roc_5", "f_sector"]


def trading_calendar(n_days: int, start: date = date(2015, 1, 1)) -> list[date]:
    """`n_days` Sunday-Thursday dates from `start` (NEPSE's historic week)."""
    out, day = [], start
    while len(out) < n_days:
        if day.weekday() not in (4, 5):  # Friday, Saturday
            out.append(day)
        day += timedelta(days=1)
    return out


def make_panel(
    n_symbols: int = 60,
    n_days: int = 300,
    *,
    n_noise: int = 4,
    seed: int = 0,
    null_share: float = 0.02,
    horizon: int = 1,
) -> tuple[pl.DataFrame, list[str], list[str]]:
    """A (symbol, date) panel of f_* features and y_ret: (panel, features, categorical)."""
    rng = np.random.default_rng(seed)
    days = trading_calendar(n_days)
    n = n_symbols * n_days
    cols: dict[str, np.ndarray] = {}
    for name in NAMED[:-1]:
        if name.startswith("f_ma_ratio"):
            cols[name] = 1.0 + 0.03 * rng.standard_normal(n)
        elif name.startswith("f_vol"):
            cols[name] = np.abs(0.02 + 0.005 * rng.standard_normal(n))
        else:
            cols[name] = 0.02 * rng.standard_normal(n)
    for i in range(n_noise):
        cols[f"f_noise_{i}"] = rng.standard_normal(n)
    sector = np.repeat(np.arange(n_symbols) % 7, n_days).astype(np.int64)
    z_ma = (cols["f_ma_ratio_10"] - 1.0) / 0.03
    y = -0.05 * cols["f_ret_1"] + 0.002 * z_ma + 0.02 * rng.standard_normal(n)
    for name in cols:
        cols[name][rng.random(n) < null_share] = np.nan
    y[rng.random(n) < null_share] = np.nan
    symbols = np.repeat([f"S{i:03d}" for i in range(n_symbols)], n_days)
    dates = np.tile(np.array(days, dtype="datetime64[D]"), n_symbols)
    panel = pl.DataFrame(
        {"symbol": symbols, "date": dates, **cols, "f_sector": sector, "y_ret": y}
    ).with_columns(
        pl.col("date").cast(pl.Date),
        pl.col("f_sector").cast(pl.Int32),
        pl.col(pl.Float64).fill_nan(None),
    )
    # Labels of the last `horizon` days are not known yet, as in nepse.features.labels.
    panel = panel.with_columns(
        pl.when(pl.col("date") > days[-1 - horizon]).then(None).otherwise("y_ret").alias("y_ret")
    )
    # The tradeable labels (nepse.features.labels) carry the same synthetic signal, so the
    # default NEPSE_LABEL (next_vwap) trains on it too.
    panel = panel.with_columns(y_next_vwap=pl.col("y_ret"), y_next_close=pl.col("y_ret"))
    features = [c for c in panel.columns if c.startswith("f_")]
    return panel.sort(["symbol", "date"]), features, ["f_sector"]
