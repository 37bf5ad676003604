"""The label: the only place in the library where a value from a later date is used."""

from __future__ import annotations

import polars as pl

from nepse.calendar import TradingCalendar


def add_label(lf: pl.LazyFrame, *, horizon: int = 1, calendar: TradingCalendar) -> pl.LazyFrame:
    """Add `y_ret` = adj_close(t+h) / adj_close(t) - 1, h = `horizon` market trading days.

    t+h is the trading day `horizon` steps after t in `calendar` (not the symbol's next row):
    `y_ret` is null when the symbol has no row on that day (it did not trade), when t is not a
    calendar day, or when a break (`is_break`) lies on any of the symbol's rows in (t, t+h].
    """
    if horizon < 1:
        raise ValueError(f"horizon must be >= 1 trading day, got {horizon}")
    day_no = pl.col("date").replace_strict(
        list(calendar.days), list(range(len(calendar))), default=None, return_dtype=pl.Int64
    )
    breaks = pl.col("is_break").fill_null(False).cum_sum()
    close = pl.col("adj_close")
    # The symbol's row h market days ahead is at most h rows ahead (day numbers rise per row),
    # so look at the next h rows instead of a self-join of the (wide) feature frame.
    label: pl.Expr = pl.lit(None, pl.Float64)
    for k in range(horizon, 0, -1):
        ahead_ok = (day_no.shift(-k) == day_no + horizon) & (breaks.shift(-k) == breaks)
        label = pl.when(ahead_ok).then(close.shift(-k) / close - 1.0).otherwise(label)
    return lf.with_columns(y_ret=label.over("symbol", order_by="date"))
