"""Ingestion steps of a run: the sample market, files into DuckDB, and the day a run scores."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from nepse.calendar import TradingCalendar, today_in
from nepse.errors import NotEnoughHistoryError
from nepse.features.panel import calendar_of
from nepse.ingest.changes import ingest_changes
from nepse.ingest.day import DayOutcome
from nepse.ingest.report import IngestReport
from nepse.ingest.service import ingest_path, resolve_source  # noqa: F401  (flows use it)
from nepse.monitoring.staleness import check_as_of, check_staleness
from nepse.settings import Settings
from nepse.store import open_store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SampleMarket:
    """Where the sample market's files are, and whether this call wrote them."""

    path: Path
    written: bool
    rows: int = 0
    symbols: int = 0


def write_sample_market(
    settings: Settings,
    symbols: int | None = None,
    years: float | None = None,
    seed: int | None = None,
) -> SampleMarket:
    """Write the deterministic sample market under the data folder (once per size and seed)."""
    from nepse.devdata.sample import write_sample

    symbols = settings.sample_symbols if symbols is None else symbols
    years = settings.sample_years if years is None else years
    seed = settings.sample_seed if seed is None else seed
    out = settings.data_dir / "sample" / f"market-{symbols}x{years:g}y-seed{seed}"
    marker = out / ".complete"
    if marker.exists():
        return SampleMarket(out, written=False)
    summary = write_sample(out, symbols=symbols, years=years, seed=seed)
    marker.write_text("ok\n")
    return SampleMarket(out, written=True, rows=summary.rows, symbols=summary.symbols)


def ingest_files(
    settings: Settings, path: str | Path, *, changed_only: bool = True
) -> IngestReport:
    """Read NEPSE price files at `path` into DuckDB in one transaction; the run's counts. A
    folder's files that did not change since its last ingestion are not read again
    (`nepse.ingest.changes`; `changed_only=False`: every file)."""
    report, _ = ingest_changes(settings, Path(path), changed_only=changed_only)
    report.check_identity()
    return report


def store_calendar(settings: Settings) -> TradingCalendar:
    """The trading calendar of the stored prices."""
    with open_store(
        settings.database, read_only=True, lock_timeout_s=settings.lock_timeout_s
    ) as st:
        return calendar_of(st)


def ingest_file_day(
    settings: Settings,
    path: str | Path,
    as_of: date | None,
    *,
    check_fresh: bool = True,
    now: datetime | None = None,
) -> DayOutcome:
    """Ingest price files, then choose the day to score (`choose_day`)."""
    report = ingest_files(settings, path)
    return choose_day(
        store_calendar(settings),
        as_of,
        settings=settings,
        report=report,
        check_fresh=check_fresh,
        now=now or datetime.now(UTC),
    )


def choose_day(
    calendar: TradingCalendar,
    as_of: date | None,
    *,
    settings: Settings,
    report: IngestReport,
    check_fresh: bool,
    now: datetime,
) -> DayOutcome:
    """The day a file-fed run scores: `as_of` if stored, else the latest stored day.

    An `as_of` is never snapped to an earlier day (that would replace its predictions): a
    weekday without prices is handed to the quality gate (which says why), a day NEPSE did not
    trade is a holiday, a future day is not yet. Without `as_of`, the latest stored day is
    scored unless the calendar expected a later one by now (stale).
    """
    today = today_in(settings.timezone, now=now)
    counts = {
        "source": report.source,
        "run_id": report.run_id,
        "rows_read": report.rows_read,
        "rejected": report.rejected,
    }
    if as_of is not None:
        asked = check_as_of(as_of, calendar, today=today)
        if not asked.ok and as_of <= today and "no stored prices yet" in asked.reason:
            log.warning("%s", asked.reason)
            return DayOutcome(status="ok", as_of=as_of, asked=as_of, **counts)
        if not asked.ok:
            status = "not_yet" if as_of >= today else "holiday"
            return DayOutcome(
                status=status, as_of=as_of, asked=as_of, detail=asked.reason, **counts
            )
    elif check_fresh and len(calendar):
        fresh = check_staleness(
            calendar, now=now, tz=settings.timezone, grace_minutes=settings.stale_after_minutes
        )
        if fresh.stale:
            return DayOutcome(
                status="stale", as_of=fresh.newest, asked=None, detail=fresh.message(), **counts
            )
    day = calendar.latest(on_or_before=as_of or today)
    if day is None:
        raise NotEnoughHistoryError(
            f"no trading day stored on or before {as_of or today}: ingest prices first "
            "(nepse ingest)"
        )
    return DayOutcome(status="ok", as_of=day, asked=as_of, **counts)
