"""The tradeable universe: sessions since listing and a trailing turnover floor, point in time."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

from nepse.features.universe import TURNOVER_WINDOW, add_tradeable, listing_dates

S = [date(2025, 1, 1) + timedelta(days=i) for i in range(60)]


def frame(rows):
    return pl.LazyFrame(rows, schema=["symbol", "date", "turnover"], orient="row")


def flags(rows, **kw):
    lf = frame(rows)
    out = add_tradeable(lf, sessions=S, listed=listing_dates(lf), **kw).collect()
    return out.sort("symbol", "date")


def test_new_listing_waits_its_first_sessions():
    out = flags([("NEW", d, 1e6) for d in S[10:]], min_sessions=5, min_turnover=0.0)
    assert out["sessions_listed"].to_list()[:6] == [0, 1, 2, 3, 4, 5]
    assert out["tradeable"].to_list()[:6] == [False] * 5 + [True]


def test_turnover_floor_counts_sessions_without_a_trade_as_zero():
    # Trades every other session at Rs 100: the 20-session mean is Rs 50 once 20 sessions passed.
    out = flags([("THIN", d, 100.0) for d in S[::2]], min_sessions=0, min_turnover=50.0)
    means = out["turnover_mean"].to_list()
    assert means[0] == 100.0 / TURNOVER_WINDOW
    assert means[-1] == 50.0
    assert out["tradeable"].to_list()[-1] and not out["tradeable"].to_list()[0]


def test_flags_of_a_day_do_not_change_with_later_rows():
    rows = [("A", d, 1e5 * (i % 7)) for i, d in enumerate(S)]
    full = flags(rows, min_sessions=3, min_turnover=2e5)
    cut = flags([r for r in rows if r[1] <= S[30]], min_sessions=3, min_turnover=2e5)
    assert full.filter(pl.col("date") <= S[30]).equals(cut)


def test_listing_is_the_first_day_with_a_trade():
    lf = frame([("A", S[0], 0.0), ("A", S[1], 5.0)])
    assert listing_dates(lf).collect()["listed"].to_list() == [S[1]]


def test_training_reads_only_the_tradeable_rows(settings):
    from nepse.features.labels import training_view

    frame = pl.DataFrame(
        {
            "symbol": ["NEW", "THIN", "OK"],
            "date": [S[0]] * 3,
            "y_ret": [0.1, 0.2, 0.3],
            "y_next_vwap": [0.1, 0.2, 0.3],
            "sessions_listed": [5, 500, 500],
            "turnover_mean": [9e6, 1e5, 9e6],
        }
    )
    u = {"universe_min_sessions": 120, "universe_min_turnover": 2e6}
    s = settings.model_copy(update={**u, "universe_train": True})
    view, _ = training_view(frame, s)
    assert view["symbol"].to_list() == ["OK"]
    bare, _ = training_view(frame.drop("sessions_listed", "turnover_mean"), s)
    assert bare.height == 3  # a panel without the inputs (an old saved panel): every row
    every, _ = training_view(frame, settings.model_copy(update=u))  # the default: every equity
    assert every.height == 3
