"""Trading calendar derived from data, across the 2026-04-10 weekday change and past the end."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import polars as pl
import pytest

from nepse.calendar import TradingCalendar, today_in
from nepse.errors import NotEnoughHistoryError


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
    assert cal.next(date(2026, 1, 1)) == date(2026, 1, 5)
    assert cal.next(date(2026, 1, 2)) == date(2026, 1, 5)
    assert cal.latest() == date(2026, 1, 6)
    assert cal.latest(on_or_before=date(2026, 1, 4)) == date(2026, 1, 1)
    assert cal.latest(on_or_before=date(2025, 12, 31)) is None
    assert cal.index == {date(2026, 1, 1): 0, date(2026, 1, 5): 1, date(2026, 1, 6): 2}
    assert cal.is_trading_day(date(2026, 1, 5))
    assert not cal.is_trading_day(date(2026, 1, 2))
    assert cal.frame()["day_no"].to_list() == [0, 1, 2]
    with pytest.raises(KeyError, match="not a stored trading day"):
        cal.day_no(date(2026, 1, 2))


def test_index_is_continuous_across_the_weekday_change():
    cal = TradingCalendar.from_dates(CHANGE_DAYS)
    thu, fri = date(2026, 4, 9), date(2026, 4, 10)
    assert cal.next(thu) == fri  # the first Friday session
    assert cal.day_no(fri) == cal.day_no(thu) + 1
    assert cal.previous(date(2026, 4, 13)) == fri  # Monday's previous session is Friday
    assert not cal.is_trading_day(date(2026, 4, 12))  # no more Sunday sessions


def test_past_the_end_follows_recent_weekdays():
    # Sunday-Thursday data ending Thursday 2026-04-02: the next session is guessed as Sunday.
    old = TradingCalendar.from_dates(_days(date(2026, 1, 1), date(2026, 4, 2), SUN_THU))
    assert old.next(date(2026, 4, 2)) == date(2026, 4, 5)
    # 20+ Monday-Friday sessions after the change: Friday -> Monday, weekends not traded.
    new = TradingCalendar.from_dates(CHANGE_DAYS)
    assert new.recent_weekdays() == frozenset(MON_FRI)
    assert new.next(date(2026, 5, 15)) == date(2026, 5, 18)
    assert new.next(date(2026, 5, 14)) == date(2026, 5, 15)
    assert new.is_trading_day(date(2026, 5, 22))
    assert not new.is_trading_day(date(2026, 5, 24))


def test_right_after_the_change_the_documented_rule_still_allows_sunday():
    # The rule looks at 20 sessions: one week after the change Sundays are still among them.
    cal = TradingCalendar.from_dates([d for d in CHANGE_DAYS if d <= date(2026, 4, 17)])
    assert 6 in cal.recent_weekdays()
    assert cal.next(date(2026, 4, 17)) == date(2026, 4, 19)


def test_empty_calendar_cannot_extrapolate():
    cal = TradingCalendar.from_dates([])
    assert cal.latest() is None
    with pytest.raises(NotEnoughHistoryError, match="calendar is empty"):
        cal.next(date(2026, 1, 1))


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
