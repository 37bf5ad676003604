"""Freshness: holiday (skip quietly) vs stale (alert) vs not yet (wait)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from nepse.errors import ConfigError
from nepse.ingest.freshness import FRESHNESS_VALUES, check_clock, classify_day, deadline

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


def test_a_clock_behind_the_newest_stored_session_is_refused():
    with pytest.raises(
        ConfigError,
        match=r"today is 2025-04-02 .* sessions up to 2026-04-02: .*"
        r"behind by 365 day\(s\)",
    ):
        check_clock(date(2025, 4, 2), date(2026, 4, 2))
    check_clock(date(2026, 4, 2), date(2026, 4, 2))  # today's session stored: fine
    check_clock(date(2026, 4, 2), None)  # nothing stored yet: nothing to compare


def test_an_ingest_with_the_clock_a_year_behind_changes_nothing(settings):
    import polars as pl

    from nepse.ingest.service import ingest_read
    from nepse.schema import ReadResult
    from nepse.store import open_store

    rows = pl.DataFrame(
        {"symbol": ["ADBL"], "date": [date(2026, 4, 2)], "close": [300.0], "volume": [10.0]}
    )
    with open_store(settings.database) as st:
        ingest_read(st, ReadResult(fmt="t", prices=rows), settings=settings, today=date(2026, 4, 2))
        later = ReadResult(fmt="t", prices=rows.with_columns(date=pl.lit(date(2025, 4, 2))))
        with pytest.raises(ConfigError, match="clock is behind"):
            ingest_read(st, later, settings=settings, today=date(2025, 4, 2))
        assert st.prices()["date"].to_list() == [date(2026, 4, 2)]
        assert st.runs().height == 1


def test_trusted_today_checks_the_clock_against_the_store(settings, monkeypatch):
    import polars as pl

    import nepse.ingest.service as service
    from nepse.schema import ReadResult
    from nepse.store import open_store

    assert service.trusted_today(settings) == service.today_in(settings.timezone)  # no database
    rows = pl.DataFrame({"symbol": ["ADBL"], "date": [date(2026, 4, 2)], "close": [300.0]})
    with open_store(settings.database) as st:
        service.ingest_read(
            st, ReadResult(fmt="t", prices=rows), settings=settings, today=date(2026, 4, 2)
        )
    monkeypatch.setattr(service, "today_in", lambda tz: date(2025, 4, 2))
    with pytest.raises(ConfigError, match="clock is behind"):
        service.trusted_today(settings)
