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
    (a 200 MB file holds 3 million rows): each row is reduced to a hash of its symbol, its date
    and a hash of its close, volume and turnover, and each day is joined with the session before
    it on its own.
    """
    rows = _rows(prices)
    counts = rows.group_by("date").len()
    if counts.filter(pl.col("len") >= REPEAT_MIN_SYMBOLS).is_empty():
        return pl.DataFrame(schema=REPEAT_SCHEMA)
    # `stored` holds only sessions that are not input days (`sessions_before`): no overlap.
    older = _rows(stored)
    # One small frame per day: each day meets the session before it, a few thousand rows at a
    # time (a join over millions of rows at once would cost hundreds of MB).
    by_day = pl.concat([rows, older]).partition_by("date", as_dict=True, include_key=False)
    del rows, older
    found = []
    for day, prev in _previous(counts.select("date"), stored_days).iter_rows():
        today, before = by_day.get((day,)), by_day.get((prev,))
        if today is None or before is None or today.height < REPEAT_MIN_SYMBOLS:
            continue
        both = today.join(before.unique("_s"), on="_s", suffix="_b")
        if both.height >= REPEAT_MIN_SYMBOLS:
            found.append((day, prev, both.height, int((both["_h"] == both["_h_b"]).sum())))
    judged = [(d, p, n, k) for d, p, n, k in found if k >= REPEAT_SHARE * n]
    input_days = set(counts["date"].to_list())
    out = []
    for day, prev, n, equal in judged:
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
    days = prices.select(pl.col("date").filter(_valid()).unique()).drop_nulls()
    previous = _previous(days, stored_days)["prev"].drop_nulls()
    return sorted(set(previous.to_list()) - set(days["date"].to_list()))


def _valid() -> pl.Expr:
    return (
        pl.col("symbol").is_not_null()
        & pl.col("close").is_not_null()
        # Year 0 or 1 has no session before it (the quality rules reject such dates).
        & (pl.col("date") >= NEPSE_FIRST_DAY)
    )


def _rows(prices: pl.DataFrame) -> pl.DataFrame:
    """`_s` (a hash of the symbol), date and `_h` (a hash of close, volume and turnover): 20
    bytes a row (a chance collision of two 64-bit hashes is negligible). Computed on the
    columns as they are, then filtered: filtering first would copy the columns themselves."""
    return (
        prices.select(
            _s=pl.col("symbol").hash(seed=7),
            date="date",
            _h=pl.struct(*_VALUES).hash(seed=25),
            _ok=_valid(),
        )
        .filter("_ok")
        .drop("_ok")
    )


def _previous(days: pl.DataFrame, stored_days: pl.Series) -> pl.DataFrame:
    """date -> prev for each of `days` (a frame of unique input dates): the session before it
    in the stored and input calendar together."""
    calendar = pl.concat([days["date"], stored_days.cast(pl.Date)]).unique().sort()
    return (
        pl.DataFrame({"date": calendar})
        .with_columns(prev=pl.col("date").shift(1))
        .join(days, on="date")
    )
