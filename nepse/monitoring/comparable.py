"""Features in a form whose distribution does not move with the market of the day.

A return, price or volatility feature moves with the whole market: on a day NEPSE falls 3 %
every stock's `f_ret_1` shifts, and a K-S test of one day against eight years says "drift".
What should stay stable is the cross-section's *shape*, so those features are tested as robust
per-date z-scores. Liquidity features (turnover and volume ratios, traded share, days since a
trade) are tested as levels: how liquid stocks are is itself what should be stable. Per-date
ranks (`f_rank_*`) are uniform by construction and market-wide columns (`f_mkt_ret`,
`f_sector_ret`) are the same for every stock of a date, so neither is a per-stock drift column;
the market is tested on its own (`nepse.monitoring.market`).
"""

from __future__ import annotations

import polars as pl

Z_CLIP = 5.0
"""Robust z-scores are clipped to +-5: a single stock's 40 % split-day jump is not a drift."""

LEVEL_MARKERS = ("turnover", "vratio", "tratio", "traded_share", "days_since_trade", "volume")
MARKET_COLUMNS = ("f_mkt_ret", "f_sector_ret")
PREDICTION = "pred_ret"


def column_kind(name: str) -> str:
    """How a feature is tested: 'z' (per-date z-score), 'level', or 'skip'."""
    if name.startswith("f_rank_") or name in MARKET_COLUMNS:
        return "skip"
    if any(m in name for m in LEVEL_MARKERS):
        return "level"
    return "z"


def drift_columns(features: list[str], categorical: list[str] = ()) -> dict[str, str]:
    """The numerical features tested for drift, each with its kind ('z' or 'level')."""
    kinds = {f: column_kind(f) for f in features if f not in set(categorical)}
    return {f: k for f, k in kinds.items() if k != "skip"}


def robust_z(column: str) -> pl.Expr:
    """Per-date robust z-score: (x - median) / (IQR / 1.349), clipped; std when the IQR is 0."""
    x = pl.col(column).cast(pl.Float64)
    x = pl.when(x.is_finite()).then(x)
    median = x.median().over("date")
    iqr = (x.quantile(0.75) - x.quantile(0.25)).over("date") / 1.349
    scale = pl.when(iqr > 0).then(iqr).otherwise(x.std().over("date"))
    z = pl.when(scale > 0).then((x - median) / scale).otherwise(0.0)
    return z.clip(-Z_CLIP, Z_CLIP).alias(column)


def to_comparable(frame: pl.DataFrame, columns: dict[str, str]) -> pl.DataFrame:
    """(date, symbol, one column per tested feature) with z-columns made per-date robust z."""
    exprs = [
        robust_z(c) if kind == "z" else pl.col(c).cast(pl.Float64).alias(c)
        for c, kind in columns.items()
    ]
    # Predictions are judged by their cross-sectional shape too: the ranking is what is used.
    extra = [robust_z(c) for c in (PREDICTION,) if c in frame.columns]
    return frame.select("date", "symbol", *exprs, *extra)
