"""Is a business day's data fresh? Tell a holiday (skip quietly) from stale data (alert).

The daily flow asks, for the day it is about to score, what the store and the API know:

- `ok`: the day's prices are stored;
- `holiday`: the day's weekday is not in the trading week in force (`may_trade`), or the day is
  recorded a holiday (the exchange's holiday list, or a second empty answer confirmed the first);
- `pending`: one empty answer after the close, not yet confirmed: not a holiday (an exchange
  that answers empty for a moment must not turn a session into a holiday) and not scored;
- `not_yet`: the deadline (the close of nepse/market/rules.toml's `[[session]]` plus
  `stale_after_minutes`) has not passed, so no data is normal;
- `stale`: a trading day past the deadline with still no complete data (the API failed, kept
  answering with the market open, or was never asked): someone should look.

Pure: the caller passes `now` and what it fetched; nothing here reads a clock, a file or the API.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Literal

from nepse.calendar import market_close
from nepse.errors import ConfigError

Freshness = Literal["ok", "holiday", "pending", "stale", "not_yet"]
FRESHNESS_VALUES: tuple[Freshness, ...] = ("ok", "holiday", "pending", "stale", "not_yet")


def deadline(
    day: date, *, stale_after_minutes: int = 60, timezone: str = "Asia/Kathmandu"
) -> datetime:
    """The moment (aware, market zone) after which `day` without data counts as stale."""
    return market_close(day, timezone=timezone) + timedelta(minutes=stale_after_minutes)


def classify_day(
    day: date,
    *,
    now: datetime,
    fetched: str | None,
    trading_day: bool = True,
    stale_after_minutes: int = 60,
    timezone: str = "Asia/Kathmandu",
) -> Freshness:
    """'ok', 'holiday', 'pending', 'stale' or 'not_yet' for `day`, given what was fetched.

    `fetched` is a fetch or `ingested_days` status ('ok', 'holiday', 'pending', 'market_open',
    'not_yet', 'failed') or None; `trading_day` is the calendar's verdict on `day`'s weekday.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware (the market day is judged in its zone)")
    if fetched == "ok":
        return "ok"
    if not trading_day:
        return "holiday"
    if now < market_close(day, timezone=timezone):
        # Before the close an empty answer proves nothing: the day may still trade.
        return "not_yet"
    if fetched == "holiday":
        return "holiday"
    if fetched == "pending":
        # One empty answer after the close: not a holiday until confirmed, so the day is asked
        # again (and stored if it traded); the run says pending, never "holiday".
        return "pending"
    if now < deadline(day, stale_after_minutes=stale_after_minutes, timezone=timezone):
        return "not_yet"
    return "stale"


def check_clock(
    today: date, newest_session: date | None, *, timezone: str = "Asia/Kathmandu"
) -> None:
    """ConfigError when `today` is before the newest stored session: the clock is behind.

    Sessions are stored only up to the day the clock said was today when they came in, so a
    stored session after today means the clock went back (a dead RTC battery, a VM restored
    from an old snapshot, NTP off). A run that trusted it would score a day long past as if it
    were today's and judge every newer row a `future_date`.
    """
    if newest_session is not None and today < newest_session:
        raise ConfigError(
            f"the system clock says today is {today} ({timezone}), but the database already "
            f"holds sessions up to {newest_session}: the clock is behind by "
            f"{(newest_session - today).days} day(s). Nothing was ingested or scored. Fix the "
            "clock (timedatectl status; enable NTP) and run again; to score a past day on "
            "purpose, pass as_of"
        )
