"""The market itself, one row per session: the day's market and sector moves, tested on their own.

Per-stock drift columns are made market-neutral (`comparable`), so what the market did is tested
here instead: the day's mean return, its cross-sectional dispersion, breadth, the share of stocks
at a price-limit-sized move or unchanged, the spread of sector moves and how many stocks traded.
Each series is compared with the same series over the reference sessions.
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
)


def market_sessions(
    frame: pl.DataFrame, *, ret: str = "f_ret_1", sector: str = "f_sector"
) -> pl.DataFrame:
    """(date, m_*) for every date of a per-stock frame holding `ret` (and `sector` if present)."""
    r = pl.col(ret).cast(pl.Float64)
    r = pl.when(r.is_finite()).then(r.clip(-0.5, 0.5))
    daily = frame.group_by("date").agg(
        r.mean().alias("m_ret"),
        r.std().alias("m_dispersion"),
        (r > 0).mean().alias("m_breadth"),
        (r.abs() >= LIMIT_MOVE).mean().alias("m_limit_share"),
        (r == 0).mean().alias("m_flat_share"),
        r.count().cast(pl.Float64).log().alias("m_log_traded"),
    )
    if sector in frame.columns:
        sectors = (
            frame.group_by("date", sector)
            .agg(r.mean().alias("s_ret"))
            .group_by("date")
            .agg(pl.col("s_ret").std().alias("m_sector_spread"))
        )
        daily = daily.join(sectors, on="date", how="left")
    else:
        daily = daily.with_columns(m_sector_spread=pl.lit(None, pl.Float64))
    return daily.select("date", *MARKET_COLUMNS).sort("date")
