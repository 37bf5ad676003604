"""The market itself, one row per session: the day's market and sector moves, tested on their own.

Per-stock drift columns are made market-neutral (`comparable`), so what the market did is tested
here instead: the day's mean return, its cross-sectional dispersion, breadth, the share of stocks
at a price-limit-sized move or unchanged, the spread of sector moves, how many stocks traded, and
how closes are formed: the share of raw closes off the Rs 0.1 tick (a last trade is on the tick;
the calculated closes of 2025-03-20..2025-09-21 were mostly not: about 80 % of closes against
8-9 % before and after). Each series is compared with the same series over the reference sessions.
"""

from __future__ import annotations

import polars as pl

LIMIT_MOVE = 0.095
"""A move this large is at (or within rounding of) the +-10 % limit NEPSE had until 2026."""

MARKET_COLUMNS = (
    "m_ret",
    "m_dispersion",
    "m_breadth",
    "m_limit_share",
    "m_flat_share",
    "m_sector_spread",
    "m_log_traded",
    "m_close_offtick",
)
TICK = 0.1
"""NEPSE's price tick in rupees: a close formed by a trade is a multiple of it."""


def off_tick(close: pl.Expr) -> pl.Expr:
    """True where a price is not a multiple of the tick (to a micro-rupee)."""
    ticks = close.cast(pl.Float64) / TICK
    return (ticks - ticks.round(0)).abs() > 1e-6


def market_sessions(
    frame: pl.DataFrame, *, ret: str = "f_ret_1", sector: str = "f_sector", close: str = "close"
) -> pl.DataFrame:
    """(date, m_*) for every date of a per-stock frame holding `ret` (and `sector`, `close`).

    A column the frame lacks the inputs for is null (a baseline saved before it existed does not
    test it)."""
    r = pl.col(ret).cast(pl.Float64)
    r = pl.when(r.is_finite()).then(r.clip(-0.5, 0.5))
    daily = frame.group_by("date").agg(
        r.mean().alias("m_ret"),
        r.std().alias("m_dispersion"),
        (r > 0).mean().alias("m_breadth"),
        (r.abs() >= LIMIT_MOVE).mean().alias("m_limit_share"),
        (r == 0).mean().alias("m_flat_share"),
        r.count().cast(pl.Float64).log().alias("m_log_traded"),
        (
            off_tick(pl.col(close)).mean() if close in frame.columns else pl.lit(None, pl.Float64)
        ).alias("m_close_offtick"),
    )
    if sector in frame.columns:
        sectors = (
            frame.group_by("date", sector)
            .agg(r.mean().alias("s_ret"))
            .sort("date", sector)  # the std's summation order: else the last digit varies
            .group_by("date", maintain_order=True)
            .agg(pl.col("s_ret").std().alias("m_sector_spread"))
        )
        daily = daily.join(sectors, on="date", how="left")
    else:
        daily = daily.with_columns(m_sector_spread=pl.lit(None, pl.Float64))
    return daily.select("date", *MARKET_COLUMNS).sort("date")
