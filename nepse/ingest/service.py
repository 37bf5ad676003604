"""The ingest service: read -> validate -> store, in one store transaction.

The store never runs quality rules: `ingest_read` reads the securities master through the store,
validates the input against it, and hands the validated rows to `Store.write_validated` inside
one `store.transaction()`, then records the run. A failure (or a killed process) at any point
leaves the database as it was.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

import polars as pl

from nepse.calendar import today_in
from nepse.errors import ConfigError, DataQualityError
from nepse.ingest.freshness import check_clock
from nepse.ingest.quality import QualityResult, validate
from nepse.ingest.repeat import repeated_days, sessions_before
from nepse.ingest.report import IngestReport
from nepse.schema import DATASET_SAMPLE, DAY_FAILED, SECURITY_SCHEMA, ReadResult
from nepse.settings import Settings
from nepse.store import DayRecord, Store, WriteCounts, open_store
from nepse.store.base import now_utc

log = logging.getLogger(__name__)

SAMPLE = DATASET_SAMPLE
API = "api"


def resolve_source(settings: Settings, source: str | None) -> str:
    """The price source of a run: `source`, else NEPSE_SOURCE; ConfigError when neither is set."""
    chosen = (source or "").strip() or (settings.source or "").strip()
    if not chosen:
        raise ConfigError(
            "no price source configured: pass the run's `source` parameter or set NEPSE_SOURCE "
            "on the worker to 'api' (the live NEPSE API), a folder of price files, or a folder "
            "of recorded API pages. The generated sample market is used only when asked for "
            "by name ('sample', as `nepse demo` does)."
        )
    return chosen


def ingest_read(
    store: Store,
    read: ReadResult,
    *,
    settings: Settings,
    today: date,
    on_stage: Callable[[str], None] | None = None,
    source: str | None = None,
    day: DayRecord | None = None,
    fill_raw: Callable[[pl.DataFrame], pl.DataFrame] | None = None,
) -> IngestReport:
    """Validate `read` and store it in one transaction; return what happened.

    With `day`, the day's `ingested_days` row is written in the same transaction, so a day is
    marked complete exactly when its prices are committed. `fill_raw` gives rejected rows the raw
    text a reader did not keep (a large file read in slices: nepse/sources/bigfile.py).
    """
    stage = on_stage or (lambda _name: None)
    started = now_utc()
    t0 = time.perf_counter()
    run_id = f"{started:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
    source = source or describe_sources(read.sources)
    prices = read.prices
    if prices["kind"].null_count():  # readers name it; an API result may leave it to its fmt
        prices = prices.with_columns(kind=pl.col("kind").fill_null(read.fmt))
    securities, actions, dataset, fmt = (
        read.securities,
        read.corporate_actions,
        read.dataset,
        read.fmt,
    )
    # The limit holds until after COMMIT, whose checkpoint writes every new row.
    with store.ingest_memory(), store.transaction():
        sessions = store.trading_dates()
        check_clock(today, sessions.max() if len(sessions) else None, timezone=settings.timezone)
        repeated = _repeated_days(store, prices, sessions)
        newest = _newest_repeated(prices, repeated)
        master = pl.concat([store.securities().select(list(SECURITY_SCHEMA)), securities])
        tally = _Tally()
        for k, part in enumerate(_batches(prices)):
            quality = validate(
                part,
                settings=settings,
                today=today,
                securities=master,
                parse_rejects=read.rejects if k == 0 else None,
                repeated=repeated,
            )
            stage("validated")
            rejects = quality.rejects if fill_raw is None else fill_raw(quality.rejects)
            written = store.write_validated(
                clean=quality.clean,
                rejects=rejects,
                securities=securities if k == 0 else securities.clear(),
                corporate_actions=actions if k == 0 else actions.clear(),
                dataset=dataset,
                settings=settings,
                run_id=run_id,
                ts=started,
                on_stage=stage,
            )
            tally.add(quality, written)
        # The input's rows are stored: drop this function's hold on them (a large input handed
        # over whole, as ingest_path does, is freed before the run is recorded).
        del read, prices, part, quality
        listed = {"read": securities.height}
        if securities.height:
            # The list's day: the day of the prices read with it, else today.
            as_of = tally.max_date or today
            listed.update(store.record_securities(securities, as_of=as_of, source=source))
        report = IngestReport(
            run_id=run_id,
            source=source,
            fmt=fmt,
            rows_read=tally.rows_in,
            inserted=tally.actions.get("insert", 0),
            updated=tally.actions.get("update", 0),
            unchanged=tally.actions.get("same", 0),
            rejected=tally.rejected,
            duplicates=tally.duplicates,
            reasons=dict(tally.reasons.most_common()),
            flagged=dict(sorted(tally.flagged.items())),
            min_date=tally.min_date,
            max_date=tally.max_date,
            symbols=len(tally.seen),
            prices_changed=tally.prices_changed,
            conflicts=tally.conflicts,
            dataset=dataset,
            securities=listed,
            started_at=started,
            finished_at=now_utc(),
        )
        report.check_identity()
        store.record_run(report)
        stage("run")
        if day is not None:
            if day.date in set(repeated["date"].to_list()):
                day = replace(day, status=DAY_FAILED)  # not complete: a backfill fetches it again
            store.record_day(day, run_id=run_id, rows_read=report.rows_read)
    report.seconds = time.perf_counter() - t0
    log.info("%s", report.summary())
    for detail in repeated["detail"]:
        log.warning("%s: %s", source, detail)
    if newest is not None:
        # Committed: the day's rows are quarantined for inspection; the run must not go on to
        # score the session before as if it were today's.
        raise DataQualityError(
            f"{source}: the newest day read is a copy of the session before it: {newest}. "
            "Its rows are in rejected_prices (reason repeated_day); the rest of the input was "
            "stored. Fix the source (wait for the day's own file) and ingest again"
        )
    return report


BATCH_ROWS = 400_000
"""An input is validated and stored this many rows at a time, in the one transaction: a 200 MB
file's 3 million rows would otherwise be held as read and as validated at once."""


def _batches(prices: pl.DataFrame) -> Iterator[pl.DataFrame]:
    """`prices` in batches of about BATCH_ROWS rows (one batch if smaller).

    Batches are slices of the input as read (no copy), except that every row of a (symbol,
    date) key that comes more than once goes to a last batch of its own, so the duplicate
    rules see all its copies together (a chance collision of the 64-bit key hashes only sends a
    few more rows there)."""
    if prices.height <= BATCH_ROWS:
        yield prices
        return
    # Keys seen twice by sorting their hashes, not by a hash table of millions of them.
    keys = prices.select(pl.struct("symbol", "date").hash(seed=11)).to_series()
    ordered = keys.sort()
    seen_twice = ordered.filter(ordered == ordered.shift(1)).unique()
    del ordered
    twice = keys.is_in(seen_twice.implode())
    several = bool(twice.any())
    for start in range(0, prices.height, BATCH_ROWS):
        part = prices.slice(start, BATCH_ROWS)
        yield part.filter(~twice.slice(start, BATCH_ROWS)) if several else part
    if several:
        yield prices.filter(twice)


@dataclass
class _Tally:
    """What the batches of one ingest did, added up."""

    rows_in: int = 0
    rejected: int = 0
    duplicates: int = 0
    prices_changed: int = 0
    seen: set[str] = field(default_factory=set)
    min_date: date | None = None
    max_date: date | None = None
    reasons: Counter = field(default_factory=Counter)
    flagged: Counter = field(default_factory=Counter)
    actions: Counter = field(default_factory=Counter)
    conflicts: dict[str, int] = field(default_factory=dict)

    def add(self, quality: QualityResult, written: WriteCounts) -> None:
        clean = quality.clean
        self.rows_in += quality.rows_in
        self.rejected += quality.rejects.height
        self.duplicates += quality.duplicates
        self.reasons.update(quality.reasons)
        self.flagged.update(written.flagged)
        self.actions.update(written.actions)
        self.prices_changed += written.prices_changed
        self.conflicts = written.conflicts  # the run's conflicts so far (counted by run id)
        self.seen.update(clean["symbol"].unique().to_list())
        if clean.height:
            low, high = clean["date"].min(), clean["date"].max()
            self.min_date = low if self.min_date is None else min(self.min_date, low)
            self.max_date = high if self.max_date is None else max(self.max_date, high)


def _repeated_days(store: Store, prices: pl.DataFrame, days: pl.Series) -> pl.DataFrame:
    """Days of `prices` that repeat the session before them (nepse/ingest/repeat.py)."""
    return repeated_days(prices, days, store.prices_on(sessions_before(prices, days)))


def trusted_today(settings: Settings) -> date:
    """Today in the market's zone, once the clock is checked against the newest stored session
    (ConfigError when the clock is behind it; see nepse.ingest.freshness.check_clock)."""
    today = today_in(settings.timezone)
    if settings.database.exists():
        # Writable, as the run's next step is: a database of an older schema is migrated.
        with open_store(settings.database, lock_timeout_s=settings.lock_timeout_s) as store:
            sessions = store.trading_dates()
        check_clock(today, sessions.max() if len(sessions) else None, timezone=settings.timezone)
    return today


def _newest_repeated(prices: pl.DataFrame, repeated: pl.DataFrame) -> str | None:
    """The repeat's detail when the input's newest day is a repeated one, else None."""
    if repeated.is_empty():
        return None
    hit = repeated.filter(pl.col("date") == prices["date"].drop_nulls().max())
    return hit["detail"][0] if hit.height else None


def ingest_path(
    settings: Settings,
    path: str | Path,
    *,
    today: date | None = None,
    on_stage: Callable[[str], None] | None = None,
) -> IngestReport:
    """Read `path` with the matching reader and store it in `settings.database`."""
    # Imported here so the store is usable (and testable) without the readers module.
    from nepse.sources.bigfile import fill_raw
    from nepse.sources.readers import read_path

    path = Path(path)
    read = [read_path(path)]  # handed over below, so ingest_read can free it once validated
    with open_store(settings.database, lock_timeout_s=settings.lock_timeout_s) as store:
        report = ingest_read(
            store,
            read.pop(),
            settings=settings,
            today=today or today_in(settings.timezone),
            on_stage=on_stage,
            source=str(path),
            fill_raw=fill_raw,
        )
    log.debug("ingest %s: %s", path, report.to_dict())
    return report


def describe_sources(sources: list[str]) -> str:
    """A short label for a run's sources: the one source, or their common folder and a count."""
    if not sources:
        return "(unknown)"
    if len(sources) == 1:
        return sources[0]
    try:
        common = os.path.commonpath(sources) or sources[0]
    except ValueError:  # mixed absolute and relative paths, or not paths at all
        common = sources[0]
    return f"{common} ({len(sources)} sources)"
