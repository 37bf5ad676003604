"""The daily quality gate: may the day be scored? A value with pass/fail, not an exception."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from nepse.ingest.day import DayOutcome
from nepse.settings import Settings
from nepse.store import Store


@dataclass(frozen=True)
class GateResult:
    """The gate's verdict for one day and the numbers behind it."""

    day: date
    rows_on_day: int
    rows_read: int
    rejected: int
    reject_share: float
    passed: bool
    reason: str = ""


def check_day(store: Store, day: DayOutcome, *, settings: Settings) -> GateResult:
    """Fail the day when its prices are missing or too large a share of input was rejected."""
    n_day = store.count_prices(day.as_of)
    share = day.rejected / day.rows_read if day.rows_read else 0.0
    reason = ""
    if n_day == 0:
        reason = (
            f"quality gate: no prices stored for {day.as_of}; the day's data is missing "
            f"(source {day.source}). No predictions were written."
        )
    elif share > settings.max_reject_share:
        reason = (
            f"quality gate: {share:.1%} of the {day.rows_read} rows read were rejected (limit "
            f"{settings.max_reject_share:.1%}, NEPSE_MAX_REJECT_SHARE); see rejected_prices for "
            f"run {day.run_id}. No predictions were written."
        )
    return GateResult(
        day=day.as_of,
        rows_on_day=n_day,
        rows_read=day.rows_read,
        rejected=day.rejected,
        reject_share=share,
        passed=not reason,
        reason=reason,
    )
