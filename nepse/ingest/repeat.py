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
    of the sessions just before the input's days (`sessions_before` says which). Lean on memory
    (a 200 MB file holds 3 million rows): each row is reduced to symbol, date and one hash of
    its close, volume and turnover, and compared with the symbol's row before it in date order.
    """
    rows = _rows(prices)
    counts = rows.group_by("date").len()
    if counts.filter(pl.col("len") >= REPEAT_MIN_SYMBOLS).is_empty():
        return pl.DataFrame(schema=REPEAT_SCHEMA)
    previous = _previous(rows, stored_days)
    older = _rows(stored).join(rows.select("_s", "date"), on=["_s", "date"], how="anti")
    same_symbol = pl.col("_s") == pl.col("_s").shift(1)
    both = (
        pl.concat([rows.with_columns(_in=pl.lit(True)), older.with_columns(_in=pl.lit(False))])
        .sort("_s", "date")
        .with_columns(
            # The symbol's row before, in date order (nothing across two symbols).
            _before=pl.when(same_symbol).then(pl.col("date").shift(1)),
            _same=(pl.col("_h") == pl.col("_h").shift(1)) & same_symbol,
        )
        .filter(pl.col("_in"))
        .join(previous, on="date")
        # Priced on both: the symbol's row before is the session before.
        .filter(pl.col("_before") == pl.col("prev"))
    )
    judged = (
        both.group_by("date", "prev")
        .agg(n=pl.len(), same=pl.col("_same").sum())
        .filter(pl.col("n") >= REPEAT_MIN_SYMBOLS)
        .filter(pl.col("same") >= REPEAT_SHARE * pl.col("n"))
        .sort("date")
    )
    input_days = set(counts["date"].to_list())
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
    """`_s` (a hash of the symbol), date and `_h` (a hash of close, volume and turnover), one
    row per key: 20 bytes a row (a chance collision of two 64-bit hashes is negligible)."""
    return (
        prices.lazy()
        .filter(
            pl.col("symbol").is_not_null()
            & pl.col("close").is_not_null()
            # Year 0 or 1 has no session before it (the quality rules reject such dates).
            & (pl.col("date") >= NEPSE_FIRST_DAY)
        )
        .select(_s=pl.col("symbol").hash(seed=7), date="date", _h=pl.struct(*_VALUES).hash(seed=25))
        .unique(["_s", "date"], keep="first", maintain_order=True)
        .collect()
    )


def _previous(rows: pl.DataFrame, stored_days: pl.Series) -> pl.DataFrame:
    """date -> prev: the session before each input day in the stored and input calendar."""
    days = pl.concat([rows["date"].unique(), stored_days.cast(pl.Date)]).unique().sort()
    return (
        pl.DataFrame({"date": days})
        .with_columns(prev=pl.col("date").shift(1))
        .join(rows.select("date").unique(), on="date")
    )
