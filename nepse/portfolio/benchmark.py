"""The benchmarks a portfolio is judged against, session by session.

- `bench_ew`: the equal-weighted universe, the mean adjusted close-to-close return of every
  scored symbol that traded (rebalanced daily at closes at no cost: a benchmark, not a
  portfolio anyone held). It includes new listings' post-IPO runs, mostly at the upper limit,
  that no buy order could have joined.
- `bench_ew_tradeable`: the same over the symbols tradeable (nepse.features.universe) at the
  session before: the universe the portfolio may buy.
- `bench_tw`: a turnover-weighted market proxy (weights: each symbol's turnover on its previous
  row).
"""

from __future__ import annotations

from datetime import date

import polars as pl


def benchmarks(market: pl.DataFrame, scores: pl.DataFrame, days: list[date]) -> pl.DataFrame:
    """Per session of `days` (after the first): date, bench_ew, bench_ew_tradeable, bench_tw.

    `market` is nepse.portfolio.market.market_frame's output (with turnover rows before the
    first day, for the weights); `scores` (symbol, date[, tradeable]) names the universe of
    each scoring day, judged on the session after it.
    """
    nxt = pl.DataFrame(
        {"date": days[:-1], "next": days[1:]}, schema={"date": pl.Date, "next": pl.Date}
    )
    flag = pl.col("tradeable") if "tradeable" in scores.columns else pl.lit(True)
    was = (
        scores.select("symbol", "date", flag.alias("tradeable"))
        .join(nxt, on="date")
        .select("symbol", pl.col("next").alias("date"), "tradeable")
    )
    m = (
        market.select("symbol", "date", "ret", "turnover")
        .sort("symbol", "date")
        .with_columns(_w=pl.col("turnover").shift(1).over("symbol"))
        .join(was, on=["symbol", "date"], how="inner")
        .filter(pl.col("ret").is_not_null() & pl.col("ret").is_finite())
    )
    return (
        m.group_by("date")
        .agg(
            bench_ew=pl.col("ret").mean(),
            bench_ew_tradeable=pl.col("ret").filter("tradeable").mean(),
            bench_tw=(pl.col("ret") * pl.col("_w")).sum() / pl.col("_w").sum(),
        )
        .sort("date")
    )
