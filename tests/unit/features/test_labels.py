"""The label: h market trading days ahead, never across a break or a missing day."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import pytest

from nepse.calendar import TradingCalendar
from nepse.features.labels import add_label

DAYS = [date(2026, 1, 1) + timedelta(days=i) for i in range(6)]
CAL = TradingCalendar.from_dates(DAYS)


def _frame(rows):
    return pl.DataFrame(
        rows,
        schema={
            "symbol": pl.String,
            "date": pl.Date,
            "adj_close": pl.Float64,
            "is_break": pl.Boolean,
        },
        orient="row",
    )


def test_horizon_one_and_missing_next_day():
    lf = _frame(
        [
            ("A", DAYS[0], 100.0, False),
            ("A", DAYS[1], 110.0, False),
            ("A", DAYS[3], 99.0, False),  # A did not trade on DAYS[2]
            ("A", DAYS[4], 99.0, False),
        ]
    ).lazy()
    y = add_label(lf, horizon=1, calendar=CAL).collect()["y_ret"].to_list()
    assert y[0] == pytest.approx(0.1)
    assert y[1] is None  # the next market day has no row: no label (not the next row's price)
    assert y[2] == pytest.approx(0.0)
    assert y[3] is None  # DAYS[5] not stored for A


def test_never_across_a_break():
    lf = _frame(
        [
            ("A", DAYS[0], 100.0, False),
            ("A", DAYS[1], 50.0, True),
            ("A", DAYS[2], 51.0, False),
            ("A", DAYS[3], 52.0, False),
            ("B", DAYS[0], 10.0, False),
            ("B", DAYS[2], 11.0, False),
        ]
    ).lazy()
    one = add_label(lf, horizon=1, calendar=CAL).collect()
    assert one["y_ret"].to_list()[:4] == [None, pytest.approx(0.02), pytest.approx(1 / 51), None]
    two = add_label(lf, horizon=2, calendar=CAL).collect()
    ya = two.filter(pl.col("symbol") == "A")["y_ret"].to_list()
    assert ya[0] is None  # break on DAYS[1] lies in (t, t+2]
    assert ya[1] == pytest.approx(52 / 50 - 1)  # the break row itself is t: fine
    yb = two.filter(pl.col("symbol") == "B")["y_ret"].to_list()
    assert yb == [pytest.approx(0.1), None]


def test_keeps_rows_and_columns():
    lf = _frame([("A", DAYS[0], 100.0, False), ("A", date(2026, 2, 1), 100.0, False)]).lazy()
    out = add_label(lf, horizon=1, calendar=CAL).collect()
    assert out.columns == ["symbol", "date", "adj_close", "is_break", "y_ret"]
    assert out["y_ret"].to_list() == [None, None]  # a date outside the calendar gets no label


def test_horizon_must_be_positive():
    with pytest.raises(ValueError, match="horizon"):
        add_label(_frame([]).lazy(), horizon=0, calendar=CAL)
