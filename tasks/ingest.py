"""Ingestion tasks: write the sample market, load files into DuckDB, pick the day to score."""

from __future__ import annotations

from datetime import date

from prefect import task
from prefect.artifacts import create_markdown_artifact
from prefect.logging import get_run_logger

from nepse.app import ingest
from runs.settings import settings
from runs.slot import holds_writer_slot
from tasks.common import timed


@task(name="write-sample-market")
def write_sample_market(
    symbols: int | None = None, years: float | None = None, seed: int | None = None
) -> str:
    """Write the deterministic sample market under the data folder (once per size and seed)."""
    sample = ingest.write_sample_market(settings(), symbols, years, seed)
    get_run_logger().info(
        "sample market %s %s",
        "written to" if sample.written else "already at",
        sample.path,
    )
    return str(sample.path)


@task(name="ingest-files")
@holds_writer_slot
def ingest_files(path: str, changed_only: bool = True) -> ingest.IngestReport:
    """Read NEPSE price files at `path` into DuckDB in one transaction (a folder: only its
    files that changed since its last ingestion, unless `changed_only` is False)."""
    report = ingest.ingest_files(settings(), path, changed_only=changed_only)
    get_run_logger().info("%s", report.summary())
    create_markdown_artifact(
        key="ingest-summary", markdown=report.to_markdown(), description=f"Ingestion of {path}"
    )
    return report


@task(name="ingest-day")
@holds_writer_slot
@timed
def ingest_file_day(path: str, as_of: date | None, check_fresh: bool = True) -> ingest.DayOutcome:
    """Ingest price files, then pick the day to score: `as_of` if it is a stored trading day, or
    the latest stored day (stale when the calendar expected a later one by now)."""
    day = ingest.ingest_file_day(settings(), path, as_of, check_fresh=check_fresh)
    get_run_logger().info(
        "day %s: %s (asked %s; %d rows read, %d rejected) %s",
        day.as_of,
        day.status,
        as_of,
        day.rows_read,
        day.rejected,
        day.detail,
    )
    return day
