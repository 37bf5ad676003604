"""Live-data tasks: fetch one business day from the NEPSE API (or a recording) and store it.

Prefect retries `fetch_and_ingest_day` only on `TransientSourceError`, honouring a server's
`Retry-After` (runs/retry.py); each attempt takes the writer slot (runs/slot.py).
"""

from __future__ import annotations

import time
from datetime import date

from prefect import task
from prefect.logging import get_run_logger

from nepse.app import TransientSourceError, fetch
from runs.retry import SOURCE_RETRY, retry_after_wait
from runs.settings import settings
from runs.slot import holds_writer_slot
from tasks.common import timed

API = fetch.API


@task(name="fetch-and-ingest-day", task_run_name="fetch-and-ingest-{day}", **SOURCE_RETRY)
@holds_writer_slot
def fetch_and_ingest_day(day: date, source_label: str = API) -> fetch.FetchedDay:
    """Fetch `day` ('api', or a folder of recorded pages) and store it if complete."""
    s = settings()
    log = get_run_logger()
    try:
        out = fetch.fetch_and_ingest_day(s, day, source_label)
    except TransientSourceError as exc:
        wait = retry_after_wait(exc, s)
        if wait > 0:
            log.warning("%s: honouring Retry-After, waiting %.2f s before the retry", day, wait)
            time.sleep(wait)
        raise
    log.info(
        "%s from %s: %s, %d page(s), %d read, %d inserted, %d updated, %d rejected",
        day,
        source_label,
        out.status,
        out.pages,
        out.rows_read,
        out.inserted,
        out.updated,
        out.rejected,
    )
    return out


@task(name="ingest-api-day")
@timed
def ingest_api_day(as_of: date | None) -> fetch.DayOutcome:
    """Fetch the day to score from the API and say whether it is ok, a holiday, pending, early
    or stale."""
    s = settings()
    # ConfigError when the clock is behind the stored sessions (a year back, say).
    fetched = fetch_and_ingest_day(as_of or fetch.trusted_today(s))
    day = fetch.api_day(s, fetched, as_of)
    get_run_logger().info("%s: %s %s", day.as_of, day.status, day.detail)
    return day


@task(name="plan-backfill")
@holds_writer_slot
def plan_backfill_days(
    start: date, end: date, source_label: str, chunk_days: int
) -> fetch.BackfillPlan:
    """Chunks of the days in start..end not yet complete for `source_label`, oldest first."""
    plan = fetch.plan_backfill_days(settings(), start, end, source_label, chunk_days)
    get_run_logger().info(
        "backfill %s..%s from %s: %d candidate day(s), %d already complete, %d to fetch in %d "
        "chunk(s)",
        start,
        end,
        source_label,
        plan.candidates,
        plan.complete,
        plan.total,
        len(plan.chunks),
    )
    return plan
