"""Pure planning of a resumable backfill: which days still need fetching, in which chunks.

A day is *complete* when an ingestion run for it finished and recorded, for that day, a status
in `COMPLETE_STATUSES`:

- `ok`: the day's prices were written (and passed the daily quality gate) in the same
  transaction that recorded the status;
- `holiday`: the API answered an empty day for a date already past the market close, so there is
  nothing to store and asking again would give the same answer.

Any other status (`market_open`, `not_yet`, `failed`) or no record at all means the day is
fetched again. `day_status` turns what the API answered into the status to record: an empty
answer for today before the close, or for a future day, is `not_yet`, never `holiday` (else a
backfill that runs into today would mark the day done for good).
Because the status is written in the same transaction as the prices, a run killed half-way leaves
the day incomplete and the next backfill simply redoes it (the store's upsert on (symbol, date)
makes the redo harmless).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

STATUS_OK = "ok"
STATUS_HOLIDAY = "holiday"
STATUS_MARKET_OPEN = "market_open"
STATUS_NOT_YET = "not_yet"
STATUS_FAILED = "failed"
COMPLETE_STATUSES: frozenset[str] = frozenset({STATUS_OK, STATUS_HOLIDAY})

# Continuous trading ends 15:00 Asia/Kathmandu; the day's closes are final only after that.
MARKET_CLOSE = time(15, 0)
_SATURDAY = 5  # date.weekday(): NEPSE has never traded on a Saturday (Sun-Thu, now Mon-Fri)


def is_complete(status: str | None) -> bool:
    """True when a recorded day status means the day need not be fetched again."""
    return status in COMPLETE_STATUSES


def complete_days(statuses: Mapping[date, str | None]) -> set[date]:
    """The days whose latest recorded ingestion status is complete."""
    return {day for day, status in statuses.items() if is_complete(status)}


def day_status(fetched: str, day: date, *, now: datetime, timezone: str = "Asia/Kathmandu") -> str:
    """The status to record for `day` given the fetch status ('ok'/'holiday'/'market_open')."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware (the market day is judged in its zone)")
    local = now.astimezone(ZoneInfo(timezone))
    before_close = day > local.date() or (day == local.date() and local.time() < MARKET_CLOSE)
    if fetched == STATUS_HOLIDAY and before_close:
        return STATUS_NOT_YET
    return fetched


def candidate_days(start: date, end: date) -> list[date]:
    """Every day from start to end inclusive except Saturdays (the API itself says holidays)."""
    if end < start:
        raise ValueError(f"backfill end {end} is before start {start}")
    # Both the old Sun-Thu week and the Mon-Fri week (from 2026-04-10) skip only Saturday for
    # certain; other closures are irregular, so the API's empty answer decides them.
    span = (end - start).days + 1
    days = (start + timedelta(days=i) for i in range(span))
    return [d for d in days if d.weekday() != _SATURDAY]


def plan_backfill(days: Iterable[date], done: set[date], chunk_days: int) -> list[list[date]]:
    """Days not yet complete, oldest first, in chunks of at most `chunk_days` days."""
    if chunk_days < 1:
        raise ValueError(f"chunk_days must be at least 1, got {chunk_days}")
    pending = sorted(set(days) - done)
    return [pending[i : i + chunk_days] for i in range(0, len(pending), chunk_days)]
