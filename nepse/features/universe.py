"""The tradeable universe: stocks a portfolio may buy on a day, from what was known that day.

Used alike by evaluation, the backtest and the daily orders, and by training when
`universe_train` is set (the panel carries `sessions_listed` and `turnover_mean`;
`training_view` keeps the tradeable rows).
A symbol is tradeable on day t when both hold (settings `universe_min_sessions`,
`universe_min_turnover`; defaults chosen on 2019-2023 only, docs/model.md):

- it has been listed at least `min_sessions` sessions: t is at least that many market sessions
  after its first stored trade. New listings run up for weeks after their IPO, mostly at the
  upper price limit, where no buy fills (nepse.portfolio.fills);
- its mean turnover over the last `TURNOVER_WINDOW` sessions up to t (a session without a
  trade counts as zero) is at least `min_turnover` rupees: orders are sized on turnover, and a
  thin stock's VWAP is a price few could trade at.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import polars as pl

TURNOVER_WINDOW = 20
"""Sessions of the trailing mean turnover (about a month)."""


def listing_dates(prices: pl.LazyFrame) -> pl.LazyFrame:
    """Per symbol, the first date it traded (symbol, listed)."""
    traded = prices.filter(pl.col("turnover").fill_null(0.0) > 0)
    return traded.group_by("symbol").agg(listed=pl.col("date").min())


def universe_inputs(
    lf: pl.LazyFrame, *, sessions: Sequence[date], listed: pl.LazyFrame
) -> pl.LazyFrame:
    """Add `sessions_listed` and `turnover_mean` to rows (symbol, date, turnover).

    `sessions` is the market calendar, sorted (at least the sessions of the rows and back to
    the listing dates); `listed` comes from `listing_dates` over the full history, not only
    the rows given.
    """
    days = pl.Series("sessions", list(sessions), dtype=pl.Date)

    def day_no(col: str) -> pl.Expr:
        # A date between sessions counts from the next session.
        return pl.lit(days).search_sorted(pl.col(col)).cast(pl.Int64)

    turnover = pl.col("turnover").fill_null(0.0)
    return (
        lf.join(listed, on="symbol", how="left")
        .with_columns(_no=day_no("date"), _listed=day_no("listed"))
        .sort("symbol", "_no")
        .with_columns(
            sessions_listed=pl.col("_no") - pl.col("_listed"),
            turnover_mean=turnover.rolling_sum_by("_no", window_size=f"{TURNOVER_WINDOW}i").over(
                "symbol"
            )
            / TURNOVER_WINDOW,
        )
        .drop("_no", "_listed", "listed")
    )


def tradeable(min_sessions: int, min_turnover: float) -> pl.Expr:
    """Whether a row with `sessions_listed` and `turnover_mean` is in the tradeable universe."""
    return (
        (pl.col("sessions_listed") >= min_sessions) & (pl.col("turnover_mean") >= min_turnover)
    ).fill_null(False)


def add_tradeable(
    lf: pl.LazyFrame,
    *,
    sessions: Sequence[date],
    listed: pl.LazyFrame,
    min_sessions: int,
    min_turnover: float,
) -> pl.LazyFrame:
    """Add `sessions_listed`, `turnover_mean` and `tradeable` to rows (symbol, date, turnover)."""
    lf = universe_inputs(lf, sessions=sessions, listed=listed)
    return lf.with_columns(tradeable=tradeable(min_sessions, min_turnover))


def flag_tradeable(
    scores: pl.DataFrame,
    market: pl.DataFrame,
    settings: Any,
    *,
    listed: pl.DataFrame | None = None,
    sessions: Sequence[date] | None = None,
) -> pl.DataFrame:
    """`scores` (date, symbol, ...) with `tradeable` judged on `market`'s turnover rows
    (nepse.portfolio.market.market_frame; listing dates from `listed`, else from `market`;
    sessions from `sessions` (the store's calendar), else `market`'s dates)."""
    days = market.get_column("date").unique().sort().to_list() if sessions is None else sessions
    lf = market.lazy().select("symbol", "date", "turnover")
    flags = add_tradeable(
        lf,
        sessions=list(days),
        listed=listing_dates(lf) if listed is None else listed.lazy(),
        min_sessions=settings.universe_min_sessions,
        min_turnover=settings.universe_min_turnover,
    ).select("symbol", "date", "tradeable")
    out = scores.lazy().join(flags, on=["symbol", "date"], how="left")
    return out.with_columns(pl.col("tradeable").fill_null(False)).collect()
