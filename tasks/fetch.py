"""Live-data tasks: fetch one business day from the NEPSE API (or a recording) and store it.

Retries: Prefect retries `fetch_and_ingest_day` only on `TransientSourceError` and
`DatabaseLockedError` (`IO_RETRY`: exponential backoff 2/4/8 s with jitter). Prefect's retry delay
is fixed per task, not per exception, so a 429/503 `Retry-After` is honoured inside the failing
attempt: before re-raising, the task sleeps the part of `Retry-After` (capped by
`api_max_retry_after_s`) that the coming backoff may not cover (jitter can shorten the backoff, so
its shortest possible value counts). The retry therefore starts no earlier than
max(backoff, Retry-After), the retry count stays Prefect's, and the UI shows both waits in the
task run's logs.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from prefect import task
from prefect.context import TaskRunContext
from prefect.logging import get_run_logger
from prefect.utilities.math import lower_clamp_multiple
from pydantic import SecretStr

from nepse.calendar import may_trade, today_in
from nepse.errors import NepseError, TransientSourceError
from nepse.ingest.backfill import STATUS_OK, candidate_days, day_status, plan_backfill
from nepse.ingest.day import DayOutcome, FetchedDay
from nepse.ingest.freshness import classify_day
from nepse.ingest.service import ingest_read, trusted_today
from nepse.settings import Settings
from nepse.sources.fallback import SourcedDay, fetch_with_fallback
from nepse.sources.select import RecordedSource, fallback_for, source_for
from nepse.store import DayRecord, open_store
from tasks.common import IO_RETRY, settings, timed

API = "api"


def api_settings() -> Settings:
    """Task settings with the API token filled from the Prefect Secret block when not in env."""
    s = settings()
    if s.api_token is None and s.api_token_block:
        from prefect.blocks.system import Secret

        token = Secret.load(s.api_token_block).get()
        s = s.model_copy(update={"api_token": SecretStr(str(token))})
    return s


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


def fetch_day(s: Settings, day: date, source_label: str) -> SourcedDay:
    """One day from the live source ('api', with its fallback) or a folder of recorded pages."""
    raw_dir = s.data_dir / "raw"
    if source_label != API:
        recorded = RecordedSource(Path(source_label))
        return SourcedDay(recorded.fetch_day(day, raw_dir=raw_dir), recorded.name)
    primary, fallback = source_for(s, API), fallback_for(s)
    try:
        return fetch_with_fallback(
            primary,
            fallback,
            day,
            raw_dir=raw_dir,
            min_rows=s.fallback_min_rows,
            tolerance=s.conflict_tolerance,
        )
    finally:
        for src in (primary, fallback):
            close = getattr(src, "close", None)
            if close is not None:
                close()


def reconcile(store, sourced: SourcedDay, s: Settings, log) -> int:
    """Store the other source's answer as its own observations; the conflicts it causes."""
    other = sourced.other
    if other is None or other.prices.is_empty() or other.market_open:
        return 0
    try:
        report = ingest_read(store, other, settings=s, today=today_in(s.timezone))
    except NepseError as exc:  # the day is stored already: a bad second opinion must not undo it
        log.warning("%s: the second source's rows were not stored: %s", other.day, exc)
        return 0
    return sum(store.conflict_counts(report.run_id).values())


def record_securities_list(s: Settings, source_label: str, log) -> int:
    """Today's security list from the live source, once a day (point-in-time master)."""
    if source_label != API:
        return 0
    today = today_in(s.timezone)
    with open_store(s.database, lock_timeout_s=s.lock_timeout_s) as store:
        if store.last_list_day() == today:
            return 0
    source = source_for(s, API)
    try:
        listed = source.securities()
    except NepseError as exc:  # the prices are stored: a missing list is logged, not fatal
        log.warning("security list not fetched from %s: %s", source.name, exc)
        return 0
    finally:
        close = getattr(source, "close", None)
        if close is not None:
            close()
    if listed.is_empty():
        return 0
    with open_store(s.database, lock_timeout_s=s.lock_timeout_s) as store:
        counts = store.update_securities(listed, as_of=today, source=source.name)
    log.info("security list of %s from %s: %d rows %s", today, source.name, listed.height, counts)
    return listed.height


@task(name="fetch-and-ingest-day", task_run_name="fetch-and-ingest-{day}", **IO_RETRY)
def fetch_and_ingest_day(day: date, source_label: str = API) -> FetchedDay:
    """Fetch `day` ('api', or a folder of recorded pages) and store it if complete.

    Status 'ok' stores the day's prices and marks the day complete in one transaction;
    'holiday' (empty after the close) marks it complete with no rows; 'market_open' and
    'not_yet' store nothing but the status, so the day is fetched again later.
    """
    s = api_settings()
    log = get_run_logger()
    try:
        sourced = fetch_day(s, day, source_label)
    except TransientSourceError as exc:
        wait = retry_after_wait(exc, s)
        if wait > 0:
            log.warning("%s: honouring Retry-After, waiting %.2f s before the retry", day, wait)
            time.sleep(wait)
        raise
    result = sourced.result
    if source_label == API:
        result.dataset = s.api_dataset  # the fake exchange may serve the sample market
        if sourced.other is not None:
            sourced.other.dataset = s.api_dataset
    if sourced.used_fallback:
        log.warning("%s: prices taken from %s: %s", day, sourced.source, sourced.reason)
    if sourced.conflicts.height:
        log.warning(
            "%s: %d price field(s) differ between the exchange and %s beyond %.2f%%",
            day,
            sourced.conflicts.height,
            s.fallback_source,
            100 * s.conflict_tolerance,
        )
    provenance = {
        "source_used": sourced.source,
        "fallback_reason": sourced.reason,
        "conflicts": sourced.conflicts.height,
    }
    raw_dir = str(result.raw_files[0].parent) if result.raw_files else None
    with open_store(s.database, lock_timeout_s=s.lock_timeout_s) as store:
        before = store.day_record(day, source_label)
        status = day_status(
            result.status,
            day,
            now=datetime.now(UTC),
            timezone=s.timezone,
            pending_since=before[1].replace(tzinfo=UTC)
            if before and before[0] == "pending"
            else None,
            # The exchange's own holiday list already confirmed it: no second look needed.
            confirm_after=timedelta(0)
            if sourced.holiday_listed
            else timedelta(minutes=s.holiday_confirm_after_minutes),
        )
        record = DayRecord(day, source_label, status, pages=result.pages, raw_dir=raw_dir)
        if status == STATUS_OK:
            report = ingest_read(
                store,
                result,
                settings=s,
                today=today_in(s.timezone),
                day=record,
            )
            report.check_identity()
            out = FetchedDay(
                day,
                status,
                result.pages,
                report.run_id,
                report.rows_read,
                report.inserted,
                report.updated,
                report.unchanged,
                report.rejected,
                report.duplicates,
                conflicts_stored=reconcile(store, sourced, s, log),
                **provenance,
            )
        else:
            store.record_day(record, rows_read=result.rows_read)
            out = FetchedDay(day, status, result.pages, rows_read=result.rows_read, **provenance)
    out = replace(out, securities=record_securities_list(s, source_label, log))
    log.info(
        "%s from %s: %s, %d page(s), %d read, %d inserted, %d updated, %d rejected",
        day,
        source_label,
        status,
        out.pages,
        out.rows_read,
        out.inserted,
        out.updated,
        out.rejected,
    )
    return out


@task(name="ingest-api-day")
@timed
def ingest_api_day(as_of: date | None) -> DayOutcome:
    """Fetch the day to score from the API and say whether it is ok, a holiday, early or stale."""
    s = settings()
    day = as_of or trusted_today(s)  # ConfigError when the clock is behind the stored sessions
    fetched = fetch_and_ingest_day(day)
    fresh = classify_day(
        day,
        now=datetime.now(UTC),
        fetched=fetched.status,
        trading_day=may_trade(day),  # holidays come from the API
        stale_after_minutes=s.stale_after_minutes,
        timezone=s.timezone,
    )
    detail = {
        "holiday": f"{day}: holiday, nothing to score",
        "not_yet": f"{day}: NEPSE has not published the day yet; run after 15:00",
        "stale": f"no complete prices for {day} past the deadline (fetch status {fetched.status})",
    }.get(fresh, "")
    get_run_logger().info("%s: %s %s", day, fresh, detail)
    return DayOutcome(
        status=fresh,
        as_of=day,
        asked=as_of,
        source=API,
        run_id=fetched.run_id,
        rows_read=fetched.rows_read,
        rejected=fetched.rejected,
        detail=detail,
    )


@task(name="plan-backfill", **IO_RETRY)
def plan_backfill_days(start: date, end: date, source_label: str, chunk_days: int) -> dict:
    """Chunks of the days in start..end not yet complete for `source_label`, oldest first."""
    s = settings()
    days = candidate_days(start, end)
    if source_label != API:
        recorded = RecordedSource(Path(source_label))
        days = [d for d in days if recorded.has_day(d)]  # a recording answers only its days
    with open_store(s.database, lock_timeout_s=s.lock_timeout_s) as store:
        done = store.complete_days(source_label)
    chunks = plan_backfill(days, done, chunk_days)
    pending = sum(len(c) for c in chunks)
    get_run_logger().info(
        "backfill %s..%s from %s: %d candidate day(s), %d already complete, %d to fetch in %d "
        "chunk(s)",
        start,
        end,
        source_label,
        len(days),
        len(days) - pending,
        pending,
        len(chunks),
    )
    return {"chunks": chunks, "candidates": len(days), "complete": len(days) - pending}
