"""Stale feeds and non-trading as_of days, judged from the calendar and the clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from nepse.calendar import TradingCalendar
from nepse.monitoring.staleness import check_as_of, check_staleness, expected_session


def sun_thu(start: date, end: date) -> list[date]:
    out, d = [], start
    while d <= end:
        if d.weekday() in (6, 0, 1, 2, 3):
            out.append(d)
        d += timedelta(days=1)
    return out


CAL = TradingCalendar(tuple(sun_thu(date(2025, 1, 1), date(2025, 3, 20))))  # last: Thu 2025-03-20


def kathmandu(day: date, hh: int, mm: int = 0) -> datetime:
    # Asia/Kathmandu is UTC+05:45.
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=UTC) - timedelta(
        hours=5, minutes=45
    )


def test_current_data_is_not_stale():
    # Friday and Saturday are not traded: on Saturday evening Thursday is the latest session.
    s = check_staleness(CAL, now=kathmandu(date(2025, 3, 22), 20))
    assert not s.stale and s.expected == date(2025, 3, 20)


def test_before_the_close_plus_grace_the_day_is_not_expected_yet():
    assert expected_session(CAL, now=kathmandu(date(2025, 3, 23), 15, 30)) == date(2025, 3, 20)
    assert expected_session(CAL, now=kathmandu(date(2025, 3, 23), 16, 1)) == date(2025, 3, 23)


def test_a_feed_that_stopped_is_stale_with_the_missed_sessions_counted():
    s = check_staleness(CAL, now=kathmandu(date(2025, 11, 20), 18))
    assert s.stale and s.expected == date(2025, 11, 20)
    assert s.missed_sessions > 150
    assert "2025-03-20" in s.message() and "stale data" in s.message()


@pytest.mark.parametrize(
    ("last", "friday"),
    [(date(2026, 4, 9), date(2026, 4, 10)), (date(2022, 5, 19), date(2022, 5, 20))],
)
def test_the_week_in_force_comes_from_the_market_rules(last, friday):
    # Sunday-Thursday data ending on a Thursday; the rules' week in force on the next day has a
    # Friday session (Monday-Friday from 2026-04-10 and from 2022-05-15): after its close it is
    # expected, though no stored week ever had a Friday.
    cal = TradingCalendar(tuple(sun_thu(last - timedelta(days=60), last)))
    assert not check_staleness(cal, now=kathmandu(friday, 14)).stale  # before the close
    s = check_staleness(cal, now=kathmandu(friday, 17))
    assert s.expected == friday and s.missed_sessions == 1
    # The Saturday after it is traded in no week.
    assert check_staleness(cal, now=kathmandu(friday + timedelta(days=1), 17)).missed_sessions == 1


@pytest.mark.parametrize(
    ("as_of", "ok", "words"),
    [
        (date(2025, 3, 20), True, "stored trading day"),
        (date(2025, 3, 15), False, "Saturday, a day NEPSE does not trade"),
        (date(2025, 3, 14), False, "Friday, a day NEPSE does not trade"),
        (date(2025, 3, 23), False, "no stored prices yet"),
        (date(2025, 4, 30), False, "in the future"),
    ],
)
def test_as_of_checks(as_of, ok, words):
    # A weekday inside the data without prices (a holiday) is not a trading day either.
    cal = TradingCalendar(tuple(d for d in CAL.days if d != date(2025, 3, 12)))
    check = check_as_of(as_of, cal, today=date(2025, 3, 23))
    assert check.ok is ok and words in check.reason
    if not ok:
        assert "nothing scored" in check.reason


def test_a_holiday_inside_the_data_is_refused():
    cal = TradingCalendar(tuple(d for d in CAL.days if d != date(2025, 3, 12)))
    check = check_as_of(date(2025, 3, 12), cal, today=date(2025, 3, 23))
    assert not check.ok and "Wednesday) is not a trading day" in check.reason
