"""Stale feeds and wrong days: what the calendar expects to be stored, given the clock.

`expected_session` is the latest session that should have closed (and been published) by `now`:
walk forward from the newest stored day through the days whose weekday is in the trading week
in force then (`may_trade`, from the dated market rules: NEPSE's week changed several times), and
keep the last one whose session close (from the rules) plus the publication grace has passed.
Holidays past the stored data are unknown: a public holiday looks like a missed session (the
alert says so).
`check_as_of` tells a requested day that cannot be scored (a weekday NEPSE does not trade, a
future day, a past weekday without stored prices) from one that can. Pure: the caller passes
the clock and the calendar.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from nepse.calendar import TradingCalendar, market_close, may_trade


def _published(day: date, now: datetime, tz: str, grace_minutes: int) -> bool:
    return now >= market_close(day, timezone=tz) + timedelta(minutes=grace_minutes)


def expected_session(
    calendar: TradingCalendar,
    *,
    now: datetime,
    tz: str = "Asia/Kathmandu",
    grace_minutes: int = 60,
) -> date | None:
    """The latest session that should be stored by `now` (None when the calendar is empty)."""
    if not len(calendar):
        return None
    expected = calendar.days[-1]
    day = expected + timedelta(days=1)
    while day <= now.astimezone(ZoneInfo(tz)).date():
        if may_trade(day) and _published(day, now, tz, grace_minutes):
            expected = day
        day += timedelta(days=1)
    return expected


@dataclass(frozen=True)
class Staleness:
    """Newest stored session against the one the calendar expects; `stale` when behind."""

    newest: date | None
    expected: date | None
    missed_sessions: int

    @property
    def stale(self) -> bool:
        """True when at least one expected session is missing."""
        return self.missed_sessions > 0

    def message(self) -> str:
        """A line for the alert and the run's end state."""
        if not self.stale:
            return f"data is current: newest stored session {self.newest}"
        return (
            f"stale data: the newest stored session is {self.newest}, but the calendar expected "
            f"{self.expected} by now ({self.missed_sessions} session(s) missing; a public holiday "
            f"also counts until its day is stored or skipped). Check the source feed."
        )


def check_staleness(
    calendar: TradingCalendar,
    *,
    now: datetime,
    tz: str = "Asia/Kathmandu",
    grace_minutes: int = 60,
) -> Staleness:
    """How far the stored data is behind the sessions the calendar expects by `now`."""
    newest = calendar.latest()
    expected = expected_session(calendar, now=now, tz=tz, grace_minutes=grace_minutes)
    missed = 0
    if newest is not None and expected is not None and expected > newest:
        day = newest + timedelta(days=1)
        while day <= expected:
            missed += may_trade(day)
            day += timedelta(days=1)
    return Staleness(newest=newest, expected=expected, missed_sessions=missed)


@dataclass(frozen=True)
class DayCheck:
    """Whether a requested `as_of` can be scored, and if not, why (a message for the run)."""

    day: date
    ok: bool
    reason: str


def check_as_of(as_of: date, calendar: TradingCalendar, *, today: date) -> DayCheck:
    """An `as_of` can be scored only when its prices are stored; anything else says why not."""
    if as_of in calendar:
        return DayCheck(as_of, True, f"{as_of} is a stored trading day")
    if as_of > today:
        return DayCheck(
            as_of, False, f"{as_of} is in the future (today is {today}): nothing scored"
        )
    traded = may_trade(as_of)
    name = as_of.strftime("%A")
    inside = bool(calendar.days) and as_of < calendar.days[-1]
    if inside or not traded:
        why = (
            f"{as_of} ({name}) is not a trading day: no prices are stored for it"
            if traded
            else f"{as_of} is a {name}, a day NEPSE does not trade"
        )
        return DayCheck(as_of, False, f"{why}; nothing scored, no predictions replaced")
    return DayCheck(
        as_of,
        False,
        f"{as_of} ({name}) has no stored prices yet: ingest the day first; nothing scored",
    )
