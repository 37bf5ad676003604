"""Flow `backfill-prices`: fetch a range of business days, resumably, one transaction per day.

Resumable because each day is marked complete (`ingested_days`) in the same transaction as its
prices: a rerun after a crash plans only the days not yet complete. Idempotent because prices are
upserted on (symbol, date). Progress is a Prefect progress artifact (`backfill-progress`) updated
after every chunk, and the run ends with a Markdown summary (`backfill-summary`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

from prefect import flow
from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    update_progress_artifact,
)
from prefect.logging import get_run_logger

from nepse.app import fetch
from runs.names import backfill_run_name
from runs.slot import writer_slot
from tasks.fetch import API, fetch_and_ingest_day, plan_backfill_days

# (days done, days planned, day, status) after each day; process-local, so the CLI can draw a
# progress bar without a flow parameter that the Prefect UI form could not show.
ProgressCallback = Callable[[int, int, date | None, str], None]
_listeners: list[ProgressCallback] = []


@contextlib.contextmanager
def on_progress(callback: ProgressCallback) -> Iterator[None]:
    """Call `callback(done, total, day, status)` after each day of backfills run in this block."""
    _listeners.append(callback)
    try:
        yield
    finally:
        _listeners.remove(callback)


def _notify(done: int, total: int, day: date | None, status: str) -> None:
    for callback in list(_listeners):
        callback(done, total, day, status)


@flow(name="backfill-prices", flow_run_name=backfill_run_name, log_prints=True)
def backfill_prices(start: date, end: date, source: str = "api", chunk_days: int = 20) -> dict:
    """Backfill NEPSE daily prices for start..end, skipping days already complete.

    Args:
        start: First business day to fetch (inclusive).
        end: Last business day to fetch (inclusive).
        source: 'api' for the exchange (nepalstock.com through nepsepy, with ShareSansar's
            today's-price page as the fallback; NEPSE_API_* settings), or a folder of raw API
            pages recorded by an earlier fetch (<folder>/<YYYY-MM-DD>/page-N.json).
        chunk_days: Days per chunk; progress is reported after each chunk.
    """
    label = source if source == API else str(Path(source).expanduser().resolve())
    # The writer slot is taken here, by the flow, once for the plan and once per chunk (other
    # runs get their turn between chunks): taken from each day's task run instead, Prefect
    # 3.9.1 answers after about 2 s with the slot free (runs/slot.py), 0.04 s here.
    with writer_slot("plan the backfill"):
        plan = plan_backfill_days(start, end, label, chunk_days)
    tally = fetch.BackfillTally(start, end, label, plan)
    progress = create_progress_artifact(
        progress=0.0 if plan.total else 100.0,
        key="backfill-progress",
        description=f"backfill {start}..{end} from {label}: {plan.total} day(s) to fetch",
    )
    _notify(0, plan.total, None, "planned")
    try:
        for number, chunk in enumerate(plan.chunks, 1):
            with writer_slot(f"backfill {chunk[0]}..{chunk[-1]}"):
                for day in chunk:
                    result = fetch_and_ingest_day(day, label)
                    tally.add(result)
                    _notify(tally.fetched, plan.total, day, result.status)
            update_progress_artifact(
                progress,
                progress=100.0 * tally.fetched / plan.total,
                description=f"{tally.fetched}/{plan.total} day(s)",
            )
            get_run_logger().info(
                "chunk %d/%d done (%s..%s): %d/%d day(s)",
                number,
                len(plan.chunks),
                chunk[0],
                chunk[-1],
                tally.fetched,
                plan.total,
            )
    except Exception as exc:
        tally.failure = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        create_markdown_artifact(
            key="backfill-summary",
            markdown=tally.markdown(),
            description=f"backfill {start}..{end}",
        )
    return tally.summary()
