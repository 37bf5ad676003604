"""A day that repeats the session before it: yesterday's file served again as today's.

Stocks do not trade the same volume for the same turnover at the same close two sessions running,
so a day on which most symbols do is a copy (a cached file re-published under a new date, a
scraper that wrote the previous page again), not a session. `repeated_days` finds, among the
days of an input, those where at least `REPEAT_SHARE` of the symbols priced on both that day and
the session before it (the stored calendar and the input together) have the same close, volume
and turnover, counting only days with at least `REPEAT_MIN_SYMBOLS` such symbols. Their rows are
quarantined (`repeated_day`), never stored as a session; nepse/ingest/service.py fails the run
when the input's newest day is one.

Threshold, measured on the real data (`../shared/data/nepse`, consecutive sessions compared as
here), on days before 2024: across 2,666 sessions of the official legacy export the largest share
of repeated symbols is 3.2 % (1 of 31); across 4,455 ShareSansar sessions it is at most 0.4 % on
every day but two, which repeat 100 %: 2011-06-20 (23 of 23 symbols; the official export gives
other prices that day, so ShareSansar copied 06-19) and 2016-09-04 (68 of 68), identical to
ShareSansar's 2016-09-03, a Saturday NEPSE did not trade (the official export has 09-04 with
these prices and no 09-03). So 50 % sits far from every real session and both copies fire; a
copy dated on a Saturday is taken as the copy (below), so 2016-09-03 is quarantined, not 09-04.
Days of 2024-2026 confirm: at most 0.36 % of symbols repeat, the rule never fires.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from nepse.calendar import may_trade
from nepse.schema import NEPSE_FIRST_DAY

REPEAT_SHARE = 0.5
"""A day repeats the previous session when this share of the symbols priced on both is equal."""
REPEAT_MIN_SYMBOLS = 10
"""Days with fewer symbols priced on both are not judged (one thin stock may repeat)."""
_VALUES = ("close", "volume", "turnover")
REPEAT_SCHEMA = {"date": pl.Date(), "detail": pl.String()}


def repeated_days(
    prices: pl.DataFrame, stored_days: pl.Series, stored: pl.DataFrame
) -> pl.DataFrame:
    """(date, detail) of each input day that repeats the session before it.

    `prices` are the input's rows; `stored_days` the stored calendar; `stored` the stored rows
    of the sessions just before the input's days (`sessions_before` says which).
    """
    rows = _rows(prices)
    candidates = rows.group_by("date").len().filter(pl.col("len") >= REPEAT_MIN_SYMBOLS)
    if candidates.is_empty():
        return pl.DataFrame(schema=REPEAT_SCHEMA)
    previous = _previous(rows, stored_days)
    before = pl.concat(
        [
            rows.join(previous.select(pl.col("prev").alias("date")).unique(), on="date"),
            _rows(stored).join(rows.select("symbol", "date"), on=["symbol", "date"], how="anti"),
        ]
    ).rename({"date": "prev", **{c: f"_{c}" for c in _VALUES}})
    same = pl.all_horizontal([pl.col(c) == pl.col(f"_{c}") for c in _VALUES]).fill_null(False)
    judged = (
        rows.join(candidates.select("date"), on="date")
        .join(previous, on="date")
        .join(before, on=["symbol", "prev"])
        .group_by("date", "prev")
        .agg(n=pl.len(), same=same.sum())
        .filter(
            (pl.col("n") >= REPEAT_MIN_SYMBOLS) & (pl.col("same") >= REPEAT_SHARE * pl.col("n"))
        )
        .sort("date")
    )
    input_days = set(rows["date"].unique().to_list())
    out = []
    for day, prev, n, equal in judged.iter_rows():
        copy, original = (prev, day) if not may_trade(prev) and prev in input_days else (day, prev)
        out.append(
            (
                copy,
                f"{equal} of {n} symbols priced on both {copy} and {original} have the same close, "
                f"volume and turnover (limit {REPEAT_SHARE:.0%}): {copy} repeats {original}"
                + (" and is a Saturday, a day NEPSE does not trade" if copy == prev else "")
                + " (a file of another day served again?); its rows are not stored as a session",
            )
        )
    frame = pl.DataFrame(out, schema=REPEAT_SCHEMA, orient="row")
    return frame.unique("date", keep="first", maintain_order=True).sort("date")


def sessions_before(prices: pl.DataFrame, stored_days: pl.Series) -> list[date]:
    """The stored sessions just before the input's days that are not in the input themselves."""
    rows = _rows(prices)
    previous = _previous(rows, stored_days)["prev"].drop_nulls().unique()
    return sorted(set(previous.to_list()) - set(rows["date"].unique().to_list()))


def _rows(prices: pl.DataFrame) -> pl.DataFrame:
    return (
        prices.select("symbol", "date", *_VALUES)
        .drop_nulls(["symbol", "date", "close"])
        # Year 0 or 1 has no session before it (the quality rules reject such dates).
        .filter(pl.col("date") >= NEPSE_FIRST_DAY)
        .unique(["symbol", "date"], keep="first", maintain_order=True)
    )


def _previous(rows: pl.DataFrame, stored_days: pl.Series) -> pl.DataFrame:
    """date -> prev: the session before each input day in the stored and input calendar."""
    days = pl.concat([rows["date"], stored_days.cast(pl.Date)]).unique().sort()
    return (
        pl.DataFrame({"date": days})
        .with_columns(prev=pl.col("date").shift(1))
        .join(rows.select("date").unique(), on="date")
    )
