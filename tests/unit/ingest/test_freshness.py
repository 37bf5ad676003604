"""Freshness: holiday (skip quietly) vs stale (alert) vs not yet (wait)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from nepse.ingest.freshness import FRESHNESS_VALUES, classify_day, deadline

DAY = date(2025, 8, 28)  # a Thursday
KTM_OFFSET = timedelta(hours=5, minutes=45)


def at(hh: int, mm: int, day: date = DAY) -> datetime:
    """Kathmandu wall-clock time `hh:mm` on `day`, as an aware UTC datetime."""
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=UTC) - KTM_OFFSET


@pytest.mark.parametrize(
    ("now", "fetched", "trading_day", "expected"),
    [
        (at(16, 0), "ok", True, "ok"),
        (at(11, 0), "ok", True, "ok"),  # stored is stored, whatever the time
        (at(12, 0), None, False, "holiday"),  # calendar: not a trading weekday
        (at(20, 0), "failed", False, "holiday"),
        (at(14, 59), "holiday", True, "not_yet"),  # empty before the close proves nothing
        (at(15, 1), "holiday", True, "holiday"),  # a confirmed holiday
        (at(15, 31), "pending", True, "pending"),  # one empty answer: never called a holiday
        (at(23, 0), "pending", True, "pending"),
        (at(14, 0), "market_open", True, "not_yet"),
        (at(15, 30), "market_open", True, "not_yet"),  # inside the 60-minute grace
        (at(16, 0), "market_open", True, "stale"),  # deadline passed, still no final close
        (at(16, 0), None, True, "stale"),
        (at(15, 59), "failed", True, "not_yet"),
        (at(23, 0), "not_yet", True, "stale"),
        (at(9, 0, DAY + timedelta(days=1)), None, True, "stale"),  # the next morning
        (at(20, 0, DAY - timedelta(days=1)), None, True, "not_yet"),  # the evening before
    ],
)
def test_classify_day(now, fetched, trading_day, expected):
    got = classify_day(DAY, now=now, fetched=fetched, trading_day=trading_day)
    assert got == expected
    assert got in FRESHNESS_VALUES


def test_grace_period_is_a_setting():
    now = at(15, 20)
    assert classify_day(DAY, now=now, fetched=None, stale_after_minutes=10) == "stale"
    assert classify_day(DAY, now=now, fetched=None, stale_after_minutes=30) == "not_yet"
    assert deadline(DAY, stale_after_minutes=30).isoformat() == "2025-08-28T15:30:00+05:45"


def test_classify_day_needs_an_aware_time():
    with pytest.raises(ValueError, match="timezone-aware"):
        classify_day(DAY, now=datetime(2025, 8, 28, 16, 0), fetched=None)
