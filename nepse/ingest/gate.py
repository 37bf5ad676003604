"""The daily quality gate: is the scored day's data good enough to predict from?

It judges the scored day itself, never the whole input of the run (a folder's 30 years of
history would dilute a day with half its rows rejected to 0.1 %):

- `rows_on_day`: stored prices dated that day; none fails the gate;
- `reject_share`: rejected rows dated that day over the day's rows read (stored + rejected);
  above `Settings.max_reject_share` fails;
- `missing_active`: active equities that traded in each of the previous 5 sessions but have no
  price that day; a share of them above `Settings.max_missing_share` fails.

A value, not an exception: the flow decides what a failed gate does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from nepse.ingest.day import DayOutcome
from nepse.settings import Settings
from nepse.store import Store

PREVIOUS_SESSIONS = 5


@dataclass(frozen=True)
class GateResult:
    """The gate's verdict on one day, with the counts behind it."""

    day: date
    rows_on_day: int
    rejected_on_day: int
    reject_share: float
    """rejected_on_day / (rows_on_day + rejected_on_day): the scored day's own share."""
    rows_read: int
    """Rows the run's ingestion read (all dates; reported, not judged)."""
    rejected: int
    """Rows the run's ingestion rejected (all dates; reported, not judged)."""
    missing_active: int
    """Regular active equities (priced in each of the previous sessions) without a price."""
    regular_active: int
    passed: bool
    reason: str
    """Why it failed, or a one-line summary when it passed."""


def check_day(store: Store, outcome: DayOutcome | date, *, settings: Settings) -> GateResult:
    """Judge the scored day from what the store holds: its rows, its rejects, missing equities."""
    asked = outcome.asked if isinstance(outcome, DayOutcome) else None
    if isinstance(outcome, DayOutcome):
        day, rows_read, rejected_all, source = (
            outcome.as_of,
            outcome.rows_read,
            outcome.rejected,
            outcome.source,
        )
    else:
        day, rows_read, rejected_all, source = outcome, 0, 0, "?"
    if asked is not None and asked > day and store.rejects_on(asked):
        # The day asked for was (mostly) rejected, so the calendar fell back to an earlier
        # day: judge the day asked for, or a run would quietly score stale data.
        day = asked
    rows = store.rows_on(day)
    rejected = store.rejects_on(day)
    read = rows + rejected
    share = rejected / read if read else 0.0
    missing = store.missing_on(day, sessions=PREVIOUS_SESSIONS)
    regular = store.regular_on(day, sessions=PREVIOUS_SESSIONS)
    missing_share = len(missing) / regular if regular else 0.0
    if rows == 0:
        why = ", ".join(f"{code} {n}" for code, n in store.reject_reasons_on(day).items())
        passed, reason = (
            False,
            f"no prices stored for {day}; "
            + (
                f"its {rejected} rows were rejected ({why}; see rejected_prices)"
                if rejected
                else "the day's data is missing"
            )
            + f" (source {source})",
        )
    elif share > settings.max_reject_share:
        passed, reason = (
            False,
            f"{share:.1%} of {day}'s {read} rows were rejected (limit "
            f"{settings.max_reject_share:.1%}, NEPSE_MAX_REJECT_SHARE); see rejected_prices",
        )
    elif missing_share > settings.max_missing_share:
        shown = ", ".join(missing[:10]) + (" ..." if len(missing) > 10 else "")
        passed, reason = (
            False,
            f"{len(missing)} of {regular} active equities that traded in each of the previous "
            f"{PREVIOUS_SESSIONS} sessions have no price on {day} ({shown}); limit "
            f"{settings.max_missing_share:.0%} (NEPSE_MAX_MISSING_SHARE)",
        )
    else:
        passed, reason = (
            True,
            f"{rows} prices on {day}, {share:.2%} rejected, {len(missing)} regular equities "
            "missing",
        )
    if not passed:
        reason = f"quality gate: {reason}. No predictions were written."
    return GateResult(
        day=day,
        rows_on_day=rows,
        rejected_on_day=rejected,
        reject_share=share,
        rows_read=rows_read,
        rejected=rejected_all,
        missing_active=len(missing),
        regular_active=regular,
        passed=passed,
        reason=reason,
    )
