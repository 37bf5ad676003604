"""Ingestion tasks: write the sample market, load files into DuckDB."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from prefect import task
from prefect.artifacts import create_markdown_artifact
from prefect.logging import get_run_logger

from nepse.calendar import today_in
from nepse.errors import NotEnoughHistoryError
from nepse.features.panel import calendar_of
from nepse.ingest.day import DayOutcome
from nepse.ingest.report import IngestReport
from nepse.ingest.service import ingest_path
from nepse.monitoring.staleness import check_as_of, check_staleness
from nepse.store import open_store
from tasks.common import IO_RETRY, settings, timed


@task(name="write-sample-market")
def write_sample_market(
    symbols: int | None = None, years: float | None = None, seed: int | None = None
) -> str:
    """Write the deterministic sample market under the data folder (once per size and seed)."""
    from nepse.devdata.sample import write_sample

    s = settings()
    symbols = s.sample_symbols if symbols is None else symbols
    years = s.sample_years if years is None else years
    seed = s.sample_seed if seed is None else seed
    out = s.data_dir / "sample" / f"market-{symbols}x{years:g}y-seed{seed}"
    marker = out / ".complete"
    log = get_run_logger()
    if marker.exists():
        log.info("sample market already at %s", out)
        return str(out)
    summary = write_sample(out, symbols=symbols, years=years, seed=seed)
    marker.write_text("ok\n")
    log.info("sample market written to %s: %s rows, %s symbols", out, summary.rows, summary.symbols)
    return str(out)


@task(name="ingest-files", **IO_RETRY)
def ingest_files(path: str) -> IngestReport:
    """Read NEPSE price files at `path` into DuckDB in one transaction; returns the run counts."""
    s = settings()
    report = ingest_path(s, Path(path))
    report.check_identity()
    get_run_logger().info("%s", report.summary())
    create_markdown_artifact(
        key="ingest-summary",
        markdown=report.to_markdown(),
        description=f"Ingestion of {path}",
    )
    return report


@task(name="ingest-day", **IO_RETRY)
@timed
def ingest_file_day(path: str, as_of: date | None, check_fresh: bool = True) -> DayOutcome:
    """Ingest price files, then pick the day to score: `as_of` if it is a stored trading day, or
    the latest stored day (stale when the calendar expected a later one by now)."""
    s = settings()
    report = ingest_files.fn(path)
    today = today_in(s.timezone)
    with open_store(s.database, read_only=True, lock_timeout_s=s.lock_timeout_s) as st:
        calendar = calendar_of(st)
    log = get_run_logger()
    counts = {
        "source": report.source,
        "run_id": report.run_id,
        "rows_read": report.rows_read,
        "rejected": report.rejected,
    }
    if as_of is not None:
        asked = check_as_of(as_of, calendar, today=today)
        if not asked.ok and as_of <= today and "no stored prices yet" in asked.reason:
            # A traded weekday whose rows were all rejected, or not published: the quality gate
            # judges that day itself (and says why); an earlier day is never scored instead.
            log.warning("%s", asked.reason)
            return DayOutcome(status="ok", as_of=as_of, asked=as_of, **counts)
        if not asked.ok:
            # Never snap to an earlier day: that would replace its predictions.
            log.warning("%s", asked.reason)
            status = "not_yet" if as_of >= today else "holiday"
            return DayOutcome(
                status=status, as_of=as_of, asked=as_of, detail=asked.reason, **counts
            )
    elif check_fresh and len(calendar):
        fresh = check_staleness(
            calendar, now=datetime.now(UTC), tz=s.timezone, grace_minutes=s.stale_after_minutes
        )
        if fresh.stale:
            log.error("%s", fresh.message())
            return DayOutcome(
                status="stale", as_of=fresh.newest, asked=None, detail=fresh.message(), **counts
            )
    day = calendar.latest(on_or_before=as_of or today)
    if day is None:
        raise NotEnoughHistoryError(
            f"no trading day stored on or before {as_of or today}: ingest prices first "
            "(nepse ingest)"
        )
    log.info("scoring day %s (asked %s, today %s in %s)", day, as_of, today, s.timezone)
    return DayOutcome(status="ok", as_of=day, asked=as_of, **counts)
