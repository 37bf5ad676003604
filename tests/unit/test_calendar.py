"""The trading calendar: stored days from the data; the week and the close from the market rules."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import polars as pl
import pytest

from nepse.calendar import TradingCalendar, after_close, market_close, may_trade, today_in
from nepse.market.rules import market_rules


def _days(start: date, end: date, weekdays: set[int]) -> list[date]:
    out, d = [], start
    while d <= end:
        if d.weekday() in weekdays:
            out.append(d)
        d += timedelta(days=1)
    return out


SUN_THU = {6, 0, 1, 2, 3}
MON_FRI = {0, 1, 2, 3, 4}
# Sunday-Thursday until 2026-04-09, Monday-Friday from Friday 2026-04-10 on.
CHANGE_DAYS = _days(date(2026, 1, 1), date(2026, 4, 9), SUN_THU) + _days(
    date(2026, 4, 10), date(2026, 5, 15), MON_FRI
)


def test_from_dates_counts_rows_and_min_symbols():
    df = pl.DataFrame(
        {
            "symbol": ["A", "B", "A", "A", "A"],
            "date": [
                date(2026, 1, 1),
                date(2026, 1, 1),
                date(2026, 1, 2),
                date(2026, 1, 2),
                date(2026, 1, 4),
            ],
        }
    )
    assert TradingCalendar.from_dates(df).days == (
        date(2026, 1, 1),
        date(2026, 1, 2),
        date(2026, 1, 4),
    )
    # Distinct symbols count for frames: 2026-01-02 has two rows of one symbol.
    assert TradingCalendar.from_dates(df.lazy(), min_symbols=2).days == (date(2026, 1, 1),)
    # A plain list counts rows.
    assert TradingCalendar.from_dates(df["date"].to_list(), min_symbols=2).days == (
        date(2026, 1, 1),
        date(2026, 1, 2),
    )


def test_lookups_inside_the_data():
    cal = TradingCalendar.from_dates([date(2026, 1, 1), date(2026, 1, 5), date(2026, 1, 6)])
    assert cal.previous(date(2026, 1, 5)) == date(2026, 1, 1)
    assert cal.previous(date(2026, 1, 3)) == date(2026, 1, 1)
    assert cal.previous(date(2026, 1, 1)) is None
    assert cal.latest() == date(2026, 1, 6)
    assert cal.latest(on_or_before=date(2026, 1, 4)) == date(2026, 1, 1)
    assert cal.latest(on_or_before=date(2025, 12, 31)) is None
    assert [cal.day_no(d) for d in cal.days] == [0, 1, 2]
    assert date(2026, 1, 5) in cal and date(2026, 1, 2) not in cal
    with pytest.raises(KeyError, match="not a stored trading day"):
        cal.day_no(date(2026, 1, 2))
    assert TradingCalendar.from_dates([]).latest() is None


def test_index_is_continuous_across_the_weekday_change():
    cal = TradingCalendar.from_dates(CHANGE_DAYS)
    thu, fri = date(2026, 4, 9), date(2026, 4, 10)
    assert cal.previous(fri) == thu  # the first Friday session follows Thursday's
    assert cal.day_no(fri) == cal.day_no(thu) + 1
    assert cal.previous(date(2026, 4, 13)) == fri  # Monday's previous session is Friday


@pytest.mark.parametrize(
    ("day", "trades"),
    [
        (date(2022, 5, 13), False),  # Friday under Sunday-Thursday
        (date(2022, 5, 15), False),  # Sunday: Monday-Friday from 2022-05-15
        (date(2022, 5, 20), True),  # the first Friday session
        (date(2022, 6, 19), True),  # Sunday again: Sunday-Friday from 2022-06-15
        (date(2022, 9, 16), True),  # the last Friday session
        (date(2022, 9, 18), True),  # Sunday: back to Sunday-Thursday
        (date(2022, 9, 23), False),  # Friday
        (date(2026, 4, 9), True),  # Thursday
        (date(2026, 4, 10), True),  # Friday: Monday-Friday from 2026-04-10
        (date(2026, 4, 12), False),  # Sunday
        (date(2026, 4, 11), False),  # Saturday, never traded
    ],
)
def test_may_trade_follows_the_dated_trading_week(day, trades):
    assert may_trade(day) is trades
    assert trades is (day.weekday() in market_rules().trading_weekdays(day))


@pytest.mark.parametrize(
    ("now", "after"),
    [
        (datetime(2026, 4, 9, 9, 14, tzinfo=UTC), False),  # 14:59 in Kathmandu (UTC+05:45)
        (datetime(2026, 4, 9, 9, 15, tzinfo=UTC), True),  # 15:00, the rules' close
        (datetime(2026, 4, 10, 3, 0, tzinfo=UTC), True),  # the next morning
        (datetime(2026, 4, 8, 12, 0, tzinfo=UTC), False),  # the evening before
    ],
)
def test_after_close_uses_the_session_close_of_the_rules(now, after):
    day = date(2026, 4, 9)
    assert after_close(day, now=now) is after
    close = market_close(day)
    assert close.time() == market_rules().close_time(day)
    assert (now >= close) is after
    with pytest.raises(ValueError, match="timezone-aware"):
        after_close(day, now=now.replace(tzinfo=None))


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (datetime(2026, 4, 9, 18, 14, tzinfo=UTC), date(2026, 4, 9)),  # 23:59 in Kathmandu
        (datetime(2026, 4, 9, 18, 15, tzinfo=UTC), date(2026, 4, 10)),  # 00:00 (UTC+05:45)
        (datetime(2026, 4, 9, 18, 15), date(2026, 4, 10)),  # naive = UTC
    ],
)
def test_today_in_kathmandu(now, expected):
    assert today_in("Asia/Kathmandu", now=now) == expected


def test_today_in_defaults_to_now():
    assert abs((today_in() - datetime.now(UTC).date()).days) <= 1
