"""Live-data tasks: fetch one business day from the NEPSE API (or a recording) and store it.

Prefect retries `fetch_and_ingest_day` only on `TransientSourceError` (`SOURCE_RETRY`:
exponential backoff 2/4/8 s with jitter); each attempt takes the writer slot (tasks/common.py).
Prefect's retry delay is fixed per task, not per exception, so a 429/503 `Retry-After` is
honoured inside the failing attempt: before
re-raising, the task sleeps the part of `Retry-After` (capped by `api_max_retry_after_s`) that
the coming backoff may not cover (jitter can shorten the backoff, so its shortest possible value
counts). The retry therefore starts no earlier than max(backoff, Retry-After), the retry count
stays Prefect's, and the UI shows both waits in the task run's logs.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import date

from prefect import task
from prefect.context import TaskRunContext
from prefect.logging import get_run_logger
from prefect.utilities.math import lower_clamp_multiple

from nepse.app import Settings, TransientSourceError, fetch
from tasks.common import SOURCE_RETRY, holds_writer_slot, settings, timed

API = fetch.API


def retry_after_wait(exc: TransientSourceError, s: Settings) -> float:
    """Seconds this attempt must still sleep so the next one starts >= Retry-After from now."""
    ctx = TaskRunContext.get()
    if exc.retry_after is None or ctx is None:
        return 0.0
    task_ = ctx.task
    attempt = ctx.task_run.run_count  # 1 on the first attempt
    if attempt > task_.retries:
        return 0.0  # no retry follows: waiting helps nobody
    delays = task_.retry_delay_seconds or 0
    if isinstance(delays, Sequence):
        backoff = float(delays[min(attempt - 1, len(delays) - 1)]) if delays else 0.0
    else:
        backoff = float(delays)
    if task_.retry_jitter_factor:
        # Prefect's jitter may cut the delay down to this multiple of it.
        backoff *= lower_clamp_multiple(1 + task_.retry_jitter_factor)
    wanted = min(exc.retry_after, s.api_max_retry_after_s)
    return max(0.0, wanted - backoff)


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
    fetched = fetch_and_ingest_day(as_of or fetch.today_in(s.timezone))
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
