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


def test_monday_friday_week_can_be_given():
    mon_fri = frozenset({0, 1, 2, 3, 4})
    # Friday 2025-03-21 after 16:00: a session under a Monday-Friday week, none under Sun-Thu.
    now = kathmandu(date(2025, 3, 21), 17)
    assert not check_staleness(CAL, now=now).stale
    assert check_staleness(CAL, now=now, weekdays=mon_fri).missed_sessions == 1


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
