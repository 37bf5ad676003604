"""Flow `backfill-prices`: fetch a range of business days, resumably, one transaction per day.

Resumable because each day is marked complete (`ingested_days`) in the same transaction as its
prices: a rerun after a crash plans only the days not yet complete. Idempotent because prices are
upserted on (symbol, date). Progress is a Prefect progress artifact (`backfill-progress`) updated
after every chunk, and the run ends with a Markdown summary (`backfill-summary`).
"""

from __future__ import annotations

import contextlib
from collections import Counter
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


@flow(name="backfill-prices", log_prints=True)
def backfill_prices(start: date, end: date, source: str = "api", chunk_days: int = 20) -> dict:
    """Backfill NEPSE daily prices for start..end, skipping days already complete.

    Args:
        start: First business day to fetch (inclusive).
        end: Last business day to fetch (inclusive).
        source: 'api' for the live today-price API (NEPSE_API_* settings), or a folder of raw
            API pages recorded by an earlier fetch (<folder>/<YYYY-MM-DD>/page-N.json).
        chunk_days: Days per chunk; progress is reported after each chunk.
    """
    log = get_run_logger()
    label = source if source == API else str(Path(source).expanduser().resolve())
    plan = plan_backfill_days(start, end, label, chunk_days)
    chunks: list[list[date]] = plan["chunks"]
    total = sum(len(c) for c in chunks)
    progress = create_progress_artifact(
        progress=0.0 if total else 100.0,
        key="backfill-progress",
        description=f"backfill {start}..{end} from {label}: {total} day(s) to fetch",
    )
    _notify(0, total, None, "planned")
    statuses: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    done = 0
    failure: str | None = None
    try:
        for number, chunk in enumerate(chunks, 1):
            for day in chunk:
                result = fetch_and_ingest_day(day, label)
                statuses[result.status] += 1
                counts.update({k: getattr(result, k) for k in ("inserted", "updated", "rejected")})
                done += 1
                _notify(done, total, day, result.status)
            update_progress_artifact(
                progress, progress=100.0 * done / total, description=f"{done}/{total} day(s)"
            )
            log.info(
                "chunk %d/%d done (%s..%s): %d/%d day(s)",
                number,
                len(chunks),
                chunk[0],
                chunk[-1],
                done,
                total,
            )
    except Exception as exc:
        failure = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        summary = {
            "start": start.isoformat(),
            "end": end.isoformat(),
            "source": label,
            "candidates": plan["candidates"],
            "skipped_complete": plan["complete"],
            "planned": total,
            "fetched": done,
            "statuses": dict(statuses),
            **{k: counts[k] for k in ("inserted", "updated", "rejected")},
            "failure": failure,
        }
        create_markdown_artifact(
            key="backfill-summary",
            markdown=_summary_markdown(summary),
            description=f"backfill {start}..{end}",
        )
    return summary


def _summary_markdown(summary: dict) -> str:
    lines = [
        f"## Backfill {summary['start']} .. {summary['end']}",
        "",
        f"- source: `{summary['source']}`",
        f"- {summary['candidates']} candidate day(s), {summary['skipped_complete']} already "
        f"complete (skipped), {summary['fetched']}/{summary['planned']} fetched",
    ]
    if summary["failure"]:
        lines.append(f"- **failed**: {summary['failure']}")
    lines += ["", "| outcome | count |", "| --- | ---: |"]
    for status, n in sorted(summary["statuses"].items()):
        lines.append(f"| days {status} | {n} |")
    for key in ("inserted", "updated", "rejected"):
        lines.append(f"| rows {key} | {summary[key]:,} |")
    return "\n".join(lines) + "\n"
