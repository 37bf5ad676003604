"""What ingesting one business day found, as a value the daily flow branches on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

DayStatus = Literal["ok", "holiday", "pending", "not_yet", "stale"]


@dataclass(frozen=True)
class DayOutcome:
    """The day's ingestion: its freshness status, the trading day to score, and the counts."""

    status: DayStatus
    """ok: prices stored; holiday: no session (confirmed); pending: one empty answer, not yet
    confirmed a holiday; not_yet: before the deadline; stale: past it."""
    as_of: date
    """The trading day to score (status ok), else the day asked about."""
    asked: date | None
    """The `as_of` the run was started with (None: the latest)."""
    source: str
    run_id: str | None = None
    """The ingestion run that stored the rows (ingestion_runs.run_id), if any."""
    rows_read: int = 0
    rejected: int = 0
    detail: str = ""
    """Why the day is not ok (shown in the run's message and the alert)."""


@dataclass(frozen=True)
class FetchedDay:
    """One business day fetched from the API (or a recording) and what was stored of it."""

    day: date
    status: str
    """The recorded day status: ok, holiday, market_open, not_yet."""
    pages: int
    run_id: str | None = None
    rows_read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    duplicates: int = 0
    source_used: str | None = None
    """Name of the source whose rows were stored (the fallback's when it supplied the day)."""
    fallback_reason: str | None = None
    """Why the fallback supplied the day (None: the primary did)."""
    conflicts: int = 0
    """Fields the two sources gave differently beyond the tolerance (as read)."""
    conflicts_stored: int = 0
    """Conflicts the store recorded in price_conflicts for the second source's rows."""
    securities: int = 0
    """Rows of the security list recorded with this day (0: none fetched)."""
