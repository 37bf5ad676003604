"""Backfill planning: skip complete days, chunk the rest oldest first."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from nepse.errors import ConfigError
from nepse.ingest.backfill import (
    candidate_days,
    complete_days,
    day_status,
    is_complete,
    plan_backfill,
)

D = [date(2025, 8, 24) + timedelta(days=i) for i in range(7)]  # Sun .. Sat


def test_plan_skips_done_days_and_chunks_oldest_first():
    plan = plan_backfill(list(reversed(D)), done={D[1], D[4]}, chunk_days=2)
    assert plan == [[D[0], D[2]], [D[3], D[5]], [D[6]]]


@pytest.mark.parametrize(
    ("days", "done", "chunk", "expected"),
    [
        ([], set(), 3, []),
        (D[:3], set(D[:3]), 3, []),
        ([D[0], D[0], D[1]], set(), 5, [[D[0], D[1]]]),  # duplicates asked once
        (D[:3], set(), 1, [[D[0]], [D[1]], [D[2]]]),
        (D[:2], {D[5]}, 10, [[D[0], D[1]]]),  # done days outside the range do not matter
    ],
)
def test_plan_edge_cases(days, done, chunk, expected):
    assert plan_backfill(days, done, chunk) == expected


@pytest.mark.parametrize("chunk", [0, -1, 10**9])
def test_plan_refuses_chunks_out_of_range(chunk):
    with pytest.raises(ConfigError, match=r"chunk_days=.*allowed 1\.\.10,000"):
        plan_backfill(D, set(), chunk)


def test_complete_means_ok_or_holiday():
    statuses = {D[0]: "ok", D[1]: "holiday", D[2]: "market_open", D[3]: "failed", D[4]: None}
    assert complete_days(statuses) == {D[0], D[1]}
    assert not is_complete(None)


@pytest.mark.parametrize(
    ("start", "week"),
    [
        (date(2025, 8, 24), {6, 0, 1, 2, 3}),  # Sunday-Thursday
        (date(2022, 5, 22), {0, 1, 2, 3, 4}),  # Monday-Friday from 2022-05-15
        (date(2022, 6, 19), {6, 0, 1, 2, 3, 4}),  # Sunday-Friday from 2022-06-15
        (date(2026, 4, 12), {0, 1, 2, 3, 4}),  # Monday-Friday from 2026-04-10
    ],
)
def test_candidate_days_are_the_weekdays_of_the_week_in_force(start, week):
    days = candidate_days(start, start + timedelta(days=6))
    assert {d.weekday() for d in days} == week
    assert days == sorted(days) and len(days) == len(week)


def test_candidate_days_refuse_a_reversed_range():
    with pytest.raises(ConfigError, match="before start"):
        candidate_days(D[1], D[0])


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (date(1900, 1, 1), date(2100, 12, 31), "start 1900-01-01 is before NEPSE's first"),
        (date(2026, 1, 1), date(2100, 12, 31), "end 2100-12-31 is after today"),
    ],
)
def test_a_backfill_outside_1994_to_today_is_refused(start, end, message):
    with pytest.raises(ConfigError, match=message + r".*allowed: 1994-01-01\.\.2026-04-30"):
        candidate_days(start, end, today=date(2026, 4, 30))


# 09:30 UTC is 15:15 in Kathmandu (UTC+05:45): after the close. 09:00 UTC is 14:45: before it.
AFTER = datetime(2025, 8, 28, 9, 30, tzinfo=UTC)
BEFORE = datetime(2025, 8, 28, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("fetched", "day", "now", "expected"),
    [
        # a past empty day is only pending until a second answer confirms it
        ("holiday", date(2025, 8, 27), BEFORE, "pending"),
        ("holiday", date(2025, 8, 28), AFTER, "pending"),
        ("holiday", date(2025, 8, 28), BEFORE, "not_yet"),  # today, market not closed
        ("holiday", date(2025, 8, 29), AFTER, "not_yet"),  # the future is never a holiday
        ("ok", date(2025, 8, 28), AFTER, "ok"),
        ("market_open", date(2025, 8, 28), BEFORE, "market_open"),
    ],
)
def test_day_status_only_calls_a_closed_past_day_a_holiday(fetched, day, now, expected):
    status = day_status(fetched, day, now=now)
    assert status == expected
    assert is_complete(status) == (expected in {"ok", "holiday"})


def test_empty_day_becomes_a_holiday_only_when_a_later_answer_confirms_it():
    day = date(2025, 8, 27)
    first = AFTER - timedelta(minutes=10)
    # a second empty answer too soon after the first: still pending (a transient empty answer)
    assert day_status("holiday", day, now=AFTER, pending_since=first) == "pending"
    assert not is_complete("pending")
    # confirmed by an empty answer at least `confirm_after` later
    later = first + timedelta(minutes=30)
    assert day_status("holiday", day, now=later, pending_since=first) == "holiday"
    assert (
        day_status("holiday", day, now=AFTER, pending_since=first, confirm_after=timedelta(0))
        == "holiday"
    )
    # data arriving for a pending day makes it ok
    assert day_status("ok", day, now=AFTER, pending_since=first) == "ok"


def test_day_status_needs_an_aware_time():
    with pytest.raises(ValueError, match="timezone-aware"):
        day_status("holiday", D[0], now=datetime(2025, 8, 28, 12))
