"""The price-source interface: what every source of daily prices (files, the exchange, a
recording, a fallback website) offers the ingest stage.

One small protocol (`PriceSource`): fetch one business day, list the securities, say whether the
market is open, and list the exchange's holidays. A source that cannot answer one of the
questions (a folder of files has no market status) returns None/empty rather than guessing, so
the caller knows the answer is unknown. Errors follow nepse.errors: `TransientSourceError` for
faults a later attempt may not meet (retried by Prefect), `SourceError` for the rest.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Protocol, runtime_checkable

import polars as pl

from nepse.calendar import may_trade
from nepse.sources.api_parse import ApiDayResult

__all__ = [
    "DayResult",
    "Holiday",
    "MarketStatus",
    "PriceSource",
    "missing_day_reason",
]

# One day's answer from any source: parsed prices, rejects, status ('ok' | 'holiday' |
# 'market_open'), pages and the raw files saved. The API's result type is the common one.
DayResult = ApiDayResult


@dataclass(frozen=True)
class MarketStatus:
    """The exchange's own word on the market: open or not, as of which business day."""

    is_open: bool
    as_of: datetime | None
    """The exchange's `asOf` stamp (its latest business day and time)."""
    market_id: int | None = None
    """The exchange's market-session id (the seed of its payload ids)."""

    @property
    def business_day(self) -> date | None:
        """The business day the exchange reports on (None if it did not say)."""
        return self.as_of.date() if self.as_of is not None else None


@dataclass(frozen=True)
class Holiday:
    """One exchange holiday as the exchange lists it."""

    day: date
    description: str


@runtime_checkable
class PriceSource(Protocol):
    """What the ingest stage needs from a source of daily prices."""

    name: str
    """Short label stored with every row and day record (e.g. 'nepse', 'sharesansar')."""

    def fetch_day(self, day: date, *, raw_dir: Path) -> DayResult:
        """Every price of `day`, raw answers saved under raw_dir; never a partial day."""
        ...

    def securities(self) -> pl.DataFrame:
        """The security list as the source shows it today (SECURITY_SCHEMA); may be empty."""
        ...

    def market_status(self) -> MarketStatus | None:
        """Whether the market is open now; None when the source cannot tell."""
        ...

    def holidays(self, year: int) -> list[Holiday]:
        """The exchange's holidays of `year` (empty when the source has no holiday list)."""
        ...


def missing_day_reason(day: date, holidays: Iterable[Holiday | date] | None) -> str:
    """Why a day without prices has none: 'weekend' (its weekday is not in the trading week in
    force, nepse/market/rules.toml), or 'holiday' only when the exchange lists it.

    'unknown' when no holiday list could be had (the day stays open for a later fetch), and
    'missing' when the exchange has a list and the day is not on it (a gap to alert on).
    """
    if not may_trade(day):
        return "weekend"
    if holidays is None:
        return "unknown"
    listed = {h.day if isinstance(h, Holiday) else h for h in holidays}
    return "holiday" if day in listed else "missing"
