"""Pure planning of a resumable backfill: which days still need fetching, in which chunks.

A day is *complete* when an ingestion run for it finished and recorded, for that day, a status
in `COMPLETE_DAY_STATUSES` (nepse.schema):

- `ok`: the day's prices were written (and passed the daily quality gate) in the same
  transaction that recorded the status;
- `holiday`: the API answered an empty day after the market close *twice*, the second time at
  least `holiday_confirm_after_minutes` after the first. One empty answer is only `pending`: an
  API that answers empty for a moment (a restart, a cache miss) must not turn a trading day
  into a holiday for good.

Any other status (`pending`, `market_open`, `not_yet`, `failed`) or no record at all means the
day is fetched again. `day_status` turns what the API answered into the status to record: an
empty answer for today before the close, or for a future day, is `not_yet`.
Because the status is written in the same transaction as the prices, a run killed half-way leaves
the day incomplete and the next backfill simply redoes it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta

from nepse.calendar import after_close, may_trade, today_in
from nepse.errors import ConfigError
from nepse.schema import (
    COMPLETE_DAY_STATUSES,
    DAY_FAILED,
    DAY_HOLIDAY,
    DAY_MARKET_OPEN,
    DAY_NOT_YET,
    DAY_OK,
    DAY_PENDING,
    NEPSE_FIRST_DAY,
)

# Kept for callers that import the names from here.
STATUS_OK = DAY_OK
STATUS_HOLIDAY = DAY_HOLIDAY
STATUS_PENDING = DAY_PENDING
STATUS_MARKET_OPEN = DAY_MARKET_OPEN
STATUS_NOT_YET = DAY_NOT_YET
STATUS_FAILED = DAY_FAILED
COMPLETE_STATUSES = COMPLETE_DAY_STATUSES


def is_complete(status: str | None) -> bool:
    """True when a recorded day status means the day need not be fetched again."""
    return status in COMPLETE_DAY_STATUSES


def complete_days(statuses: Mapping[date, str | None]) -> set[date]:
    """The days whose latest recorded ingestion status is complete."""
    return {day for day, status in statuses.items() if is_complete(status)}


def day_status(
    fetched: str,
    day: date,
    *,
    now: datetime,
    timezone: str = "Asia/Kathmandu",
    pending_since: datetime | None = None,
    confirm_after: timedelta = timedelta(minutes=30),
) -> str:
    """The status to record for `day` given the fetch status ('ok'/'holiday'/'market_open').

    An empty answer after the close is `pending` until a second empty answer comes at least
    `confirm_after` after the first one (`pending_since`, when the day was recorded pending);
    only then is it a `holiday`.
    """
    if not after_close(day, now=now, timezone=timezone):
        return DAY_NOT_YET if fetched == DAY_HOLIDAY else fetched
    if fetched != DAY_HOLIDAY:
        return fetched
    if confirm_after <= timedelta(0):
        return DAY_HOLIDAY
    if pending_since is not None:
        since = pending_since if pending_since.tzinfo else pending_since.replace(tzinfo=now.tzinfo)
        if now - since >= confirm_after:
            return DAY_HOLIDAY
    return DAY_PENDING


def candidate_days(start: date, end: date, *, today: date | None = None) -> list[date]:
    """Every day from start to end inclusive whose weekday is in the trading week in force then
    (nepse/market/rules.toml); the API itself says which of them were holidays.

    ConfigError unless NEPSE_FIRST_DAY <= start <= end <= today (Asia/Kathmandu): a range from
    1900 would ask the exchange for decades before it opened, one to 2100 for days to come.
    """
    today = today or today_in()
    allowed = f"allowed: {NEPSE_FIRST_DAY}..{today}, start <= end"
    if end < start:
        raise ConfigError(f"backfill end {end} is before start {start} ({allowed})")
    if start < NEPSE_FIRST_DAY:
        raise ConfigError(
            f"backfill start {start} is before NEPSE's first trading year ({allowed})"
        )
    if end > today:
        raise ConfigError(f"backfill end {end} is after today in Asia/Kathmandu ({allowed})")
    span = (end - start).days + 1
    days = (start + timedelta(days=i) for i in range(span))
    return [d for d in days if may_trade(d)]


def plan_backfill(days: Iterable[date], done: set[date], chunk_days: int) -> list[list[date]]:
    """Days not yet complete, oldest first, in chunks of at most `chunk_days` days."""
    if not 1 <= chunk_days <= 10_000:
        raise ConfigError(f"backfill chunk_days={chunk_days}: allowed 1..10,000 days per chunk")
    pending = sorted(set(days) - done)
    return [pending[i : i + chunk_days] for i in range(0, len(pending), chunk_days)]
