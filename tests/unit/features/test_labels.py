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


# --- tradeable labels: entry in session t+1, exit in session t+1+hold -------------------------
def _px(rows):
    """rows: (symbol, day index, adj_close, turnover, volume, is_break)."""
    return pl.DataFrame(
        [(s, DAYS[i], c, t, v, 1.0, b) for s, i, c, t, v, b in rows],
        schema={
            "symbol": pl.String,
            "date": pl.Date,
            "adj_close": pl.Float64,
            "turnover": pl.Float64,
            "volume": pl.Float64,
            "adj_factor": pl.Float64,
            "is_break": pl.Boolean,
        },
        orient="row",
    ).lazy()


def test_next_close_and_next_vwap_with_their_exact_horizon():
    from nepse.features.labels import add_tradeable_labels

    rows = [("A", i, 100.0 + 10 * i, 1000.0 * (50 + i), 1000.0, False) for i in range(6)]
    out = add_tradeable_labels(_px(rows), hold=2, calendar=CAL).collect()
    # t=0: buy at close(1)=110, sell at close(3)=130; VWAP 51 -> 53.
    assert out["y_next_close"][0] == pytest.approx(130 / 110 - 1)
    assert out["y_next_vwap"][0] == pytest.approx(53 / 51 - 1)
    assert out["y_next_close"][2] == pytest.approx(150 / 130 - 1)
    assert out["y_next_close"].to_list()[3:] == [None, None, None]  # session t+3 not stored


def test_tradeable_labels_need_both_sessions_and_no_break():
    from nepse.features.labels import add_tradeable_labels

    rows = [
        ("A", 0, 100.0, 1e5, 1e3, False),
        ("A", 2, 100.0, 1e5, 1e3, False),  # no row on session 1: nobody could buy at t+1
        ("A", 3, 100.0, 1e5, 1e3, False),
        ("B", 0, 10.0, 1e4, 1e3, False),
        ("B", 1, 10.0, 0.0, 0.0, False),  # traded nothing: no VWAP (the close stays)
        ("B", 2, 10.0, 1e4, 1e3, False),
        ("C", 0, 10.0, 1e4, 1e3, False),
        ("C", 1, 10.0, 1e4, 1e3, False),
        ("C", 2, 5.0, 5e3, 1e3, True),  # a break inside the holding period
    ]
    out = add_tradeable_labels(_px(rows), hold=1, calendar=CAL).collect()
    get = {(r["symbol"], r["date"]): r for r in out.to_dicts()}
    assert get[("A", DAYS[0])]["y_next_close"] is None
    assert get[("A", DAYS[0])]["y_next_vwap"] is None
    assert get[("B", DAYS[0])]["y_next_close"] == pytest.approx(0.0)
    assert get[("B", DAYS[0])]["y_next_vwap"] is None
    assert get[("C", DAYS[0])]["y_next_close"] is None


def test_hold_shorter_than_settlement_is_refused_and_training_view():
    from nepse.features.labels import check_hold, label_reach, training_view
    from nepse.settings import load_settings

    with pytest.raises(ValueError, match="T\\+2"):
        check_hold("next_vwap", 1)
    check_hold("close_to_close", 1)  # the comparison label has no round trip to settle
    assert label_reach("next_close", 5) == 6 and label_reach("close_to_close", 1) == 1
    frame = pl.DataFrame({"y_ret": [0.1], "y_next_vwap": [0.2], "y_next_close": [0.3]})
    view, s = training_view(frame, load_settings(label="next_close", label_hold=3))
    assert view["y_ret"][0] == 0.3 and view["y_cc"][0] == 0.1 and s.horizon == 4


def test_labels_keep_the_input_rows_in_their_order():
    from nepse.features.labels import add_labels

    # A trades on sessions 0-3, B on 4-5, rows newest first: the labels are computed on the
    # rows sorted by (symbol, date) and put back; A's last row is followed by B's first, one
    # session later, and must not take its price.
    rows = [("A", i, 10.0 * (i + 1), 1e4, 1e3, False) for i in range(4)]
    rows += [("B", i, 7.0 * i, 1e4, 1e3, False) for i in (4, 5)]
    px = _px(rows[::-1]).collect()
    out = add_labels(px.lazy(), horizon=1, hold=2, calendar=CAL).collect()
    assert out.select(px.columns).equals(px)  # every input column and row, in order
    get = {(r["symbol"], r["date"]): r for r in out.to_dicts()}
    assert get[("A", DAYS[0])]["y_ret"] == pytest.approx(20 / 10 - 1)
    assert get[("A", DAYS[0])]["y_next_close"] == pytest.approx(40 / 20 - 1)
    assert get[("B", DAYS[4])]["y_ret"] == pytest.approx(35 / 28 - 1)
    assert get[("A", DAYS[3])]["y_ret"] is None  # the next row is B's, on session 4
    assert get[("A", DAYS[1])]["y_next_close"] is None  # session 1+1+2 = 4 is B's
