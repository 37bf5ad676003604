"""Live-data steps of a run: fetch one business day (API or recording), store it, judge it.

`fetch_and_ingest_day` is the unit a backfill repeats and a daily run calls once: fetch with the
fallback source, store the day's prices and its `ingested_days` status in one transaction, keep
the second source's answer as its own observations, and record the exchange's security list
once a day. `api_day` says what a daily run makes of the fetched day (ok, holiday, pending,
not yet, stale). Retries are the orchestrator's: a `TransientSourceError` (with the server's
`retry_after`) is raised for it to retry.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from nepse.calendar import market_close, may_trade, today_in
from nepse.errors import NepseError
from nepse.ingest.backfill import STATUS_OK, candidate_days, day_status, plan_backfill
from nepse.ingest.day import DayOutcome, FetchedDay
from nepse.ingest.freshness import classify_day
from nepse.ingest.service import ingest_read, trusted_today  # noqa: F401  (tasks use it)
from nepse.settings import Settings
from nepse.sources.fallback import SourcedDay, fetch_with_fallback
from nepse.sources.select import RecordedSource, fallback_for, source_for
from nepse.store import DayRecord, open_store

log = logging.getLogger(__name__)

API = "api"


def _close(*sources: object) -> None:
    for src in sources:
        close = getattr(src, "close", None)
        if close is not None:
            close()


def fetch_day(settings: Settings, day: date, source_label: str) -> SourcedDay:
    """One day from the live source ('api', with its fallback) or a folder of recorded pages."""
    raw_dir = settings.data_dir / "raw"
    if source_label != API:
        recorded = RecordedSource(Path(source_label))
        return SourcedDay(recorded.fetch_day(day, raw_dir=raw_dir), recorded.name)
    primary, fallback = source_for(settings, API), fallback_for(settings)
    try:
        return fetch_with_fallback(
            primary,
            fallback,
            day,
            raw_dir=raw_dir,
            min_rows=settings.fallback_min_rows,
            tolerance=settings.conflict_tolerance,
        )
    finally:
        _close(primary, fallback)


def _reconcile(store, sourced: SourcedDay, settings: Settings) -> int:
    """Store the other source's answer as its own observations; the conflicts it causes."""
    other = sourced.other
    if other is None or other.prices.is_empty() or other.market_open:
        return 0
    try:
        report = ingest_read(store, other, settings=settings, today=today_in(settings.timezone))
    except NepseError as exc:  # the day is stored already: a bad second opinion must not undo it
        log.warning("%s: the second source's rows were not stored: %s", other.day, exc)
        return 0
    return sum(store.conflict_counts(report.run_id).values())


def record_securities_list(settings: Settings, source_label: str) -> int:
    """Today's security list from the live source, once a day (point-in-time master)."""
    if source_label != API:
        return 0
    today = today_in(settings.timezone)
    with open_store(settings.database, lock_timeout_s=settings.lock_timeout_s) as store:
        if store.last_list_day() == today:
            return 0
    source = source_for(settings, API)
    try:
        listed = source.securities()
    except NepseError as exc:  # the prices are stored: a missing list is logged, not fatal
        log.warning("security list not fetched from %s: %s", source.name, exc)
        return 0
    finally:
        _close(source)
    if listed.is_empty():
        return 0
    with open_store(settings.database, lock_timeout_s=settings.lock_timeout_s) as store:
        counts = store.update_securities(listed, as_of=today, source=source.name)
    log.info("security list of %s from %s: %d rows %s", today, source.name, listed.height, counts)
    return listed.height


def fetch_and_ingest_day(
    settings: Settings, day: date, source_label: str = API, *, now: datetime | None = None
) -> FetchedDay:
    """Fetch `day` ('api', or a folder of recorded pages) and store it if complete.

    Status 'ok' stores the day's prices and marks the day complete in one transaction;
    'holiday' (confirmed empty after the close) marks it complete with no rows; 'pending',
    'market_open' and 'not_yet' store nothing but the status, so the day is fetched again.
    """
    sourced = fetch_day(settings, day, source_label)
    result = sourced.result
    if source_label == API:
        result.dataset = settings.api_dataset  # the fake exchange may serve the sample market
        if sourced.other is not None:
            sourced.other.dataset = settings.api_dataset
    if sourced.used_fallback:
        log.warning("%s: prices taken from %s: %s", day, sourced.source, sourced.reason)
    if sourced.conflicts.height:
        log.warning(
            "%s: %d price field(s) differ between the exchange and %s beyond %.2f%%",
            day,
            sourced.conflicts.height,
            settings.fallback_source,
            100 * settings.conflict_tolerance,
        )
    provenance = {
        "source_used": sourced.source,
        "fallback_reason": sourced.reason,
        "conflicts": sourced.conflicts.height,
    }
    raw_dir = str(result.raw_files[0].parent) if result.raw_files else None
    with open_store(settings.database, lock_timeout_s=settings.lock_timeout_s) as store:
        before = store.day_record(day, source_label)
        pending_since = before[1].replace(tzinfo=UTC) if before and before[0] == "pending" else None
        status = day_status(
            result.status,
            day,
            now=now or datetime.now(UTC),
            timezone=settings.timezone,
            pending_since=pending_since,
            # The exchange's own holiday list already confirmed it: no second look needed.
            confirm_after=timedelta(0)
            if sourced.holiday_listed
            else timedelta(minutes=settings.holiday_confirm_after_minutes),
        )
        record = DayRecord(day, source_label, status, pages=result.pages, raw_dir=raw_dir)
        if status == STATUS_OK:
            report = ingest_read(
                store, result, settings=settings, today=today_in(settings.timezone), day=record
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
                conflicts_stored=_reconcile(store, sourced, settings),
                **provenance,
            )
        else:
            store.record_day(record, rows_read=result.rows_read)
            out = FetchedDay(day, status, result.pages, rows_read=result.rows_read, **provenance)
    return replace(out, securities=record_securities_list(settings, source_label))


def api_day(
    settings: Settings, fetched: FetchedDay, asked: date | None, *, now: datetime | None = None
) -> DayOutcome:
    """What a daily run makes of the fetched day: ok, holiday, pending, not yet or stale."""
    day = fetched.day
    fresh = classify_day(
        day,
        now=now or datetime.now(UTC),
        fetched=fetched.status,
        trading_day=may_trade(day),  # holidays come from the API
        stale_after_minutes=settings.stale_after_minutes,
        timezone=settings.timezone,
    )
    detail = {
        "holiday": f"{day}: holiday (confirmed), nothing to score",
        "pending": (
            f"{day}: the exchange answered an empty day; it stays pending (not a holiday) until "
            f"an empty answer at least {settings.holiday_confirm_after_minutes:g} minutes after "
            "the first confirms it, or the day's prices arrive: run again later"
        ),
        "not_yet": f"{day}: NEPSE has not published the day yet; run after its "
        f"{market_close(day, timezone=settings.timezone):%H:%M} close",
        "stale": f"no complete prices for {day} past the deadline (fetch status {fetched.status})",
    }.get(fresh, "")
    return DayOutcome(
        status=fresh,
        as_of=day,
        asked=asked,
        source=API,
        run_id=fetched.run_id,
        rows_read=fetched.rows_read,
        rejected=fetched.rejected,
        detail=detail,
    )


@dataclass(frozen=True)
class BackfillPlan:
    """The days of a backfill still to fetch, in chunks, and how many were already complete."""

    chunks: tuple[tuple[date, ...], ...]
    candidates: int
    complete: int

    @property
    def total(self) -> int:
        """Days to fetch."""
        return sum(len(c) for c in self.chunks)


def plan_backfill_days(
    settings: Settings, start: date, end: date, source_label: str, chunk_days: int
) -> BackfillPlan:
    """Chunks of the days in start..end not yet complete for `source_label`, oldest first."""
    days = candidate_days(start, end)
    if source_label != API:
        recorded = RecordedSource(Path(source_label))
        days = [d for d in days if recorded.has_day(d)]  # a recording answers only its days
    with open_store(settings.database, lock_timeout_s=settings.lock_timeout_s) as store:
        done = store.complete_days(source_label)
    chunks = plan_backfill(days, done, chunk_days)
    pending = sum(len(c) for c in chunks)
    return BackfillPlan(tuple(tuple(c) for c in chunks), len(days), len(days) - pending)


@dataclass
class BackfillTally:
    """A backfill's running counts, and its summary (a dict for the flow's result, Markdown)."""

    start: date
    end: date
    source: str
    plan: BackfillPlan
    fetched: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    rows: dict[str, int] = field(
        default_factory=lambda: {"inserted": 0, "updated": 0, "rejected": 0}
    )
    failure: str | None = None

    def add(self, day: FetchedDay) -> None:
        """Count one fetched day."""
        self.fetched += 1
        self.statuses[day.status] = self.statuses.get(day.status, 0) + 1
        for key in self.rows:
            self.rows[key] += getattr(day, key)

    def summary(self) -> dict:
        """The backfill's result (JSON-ready)."""
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "source": self.source,
            "candidates": self.plan.candidates,
            "skipped_complete": self.plan.complete,
            "planned": self.plan.total,
            "fetched": self.fetched,
            "statuses": dict(self.statuses),
            **self.rows,
            "failure": self.failure,
        }

    def markdown(self) -> str:
        """The backfill's summary for people."""
        lines = [
            f"## Backfill {self.start} .. {self.end}",
            "",
            f"- source: `{self.source}`",
            f"- {self.plan.candidates} candidate day(s), {self.plan.complete} already complete "
            f"(skipped), {self.fetched}/{self.plan.total} fetched",
        ]
        if self.failure:
            lines.append(f"- **failed**: {self.failure}")
        lines += ["", "| outcome | count |", "| --- | ---: |"]
        lines += [f"| days {status} | {n} |" for status, n in sorted(self.statuses.items())]
        lines += [f"| rows {key} | {n:,} |" for key, n in self.rows.items()]
        return "\n".join(lines) + "\n"
