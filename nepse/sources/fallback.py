"""One business day from the primary source, or from the fallback when the primary fails or
answers too little, with the two sources' disagreements when both answer (docs/live-data.md).

The choice is a value (`SourcedDay`): which source supplied the day and why, so the task's
log line and artifact say so. Nothing is stored here; a day is taken whole from one source,
never mixed row by row.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import polars as pl

from nepse.errors import SourceError
from nepse.sources.base import DayResult, PriceSource

log = logging.getLogger(__name__)

COMPARED = ("open", "high", "low", "close", "volume")
CONFLICT_SCHEMA: dict[str, pl.DataType] = {
    "symbol": pl.String(),
    "date": pl.Date(),
    "field": pl.String(),
    "primary": pl.Float64(),
    "fallback": pl.Float64(),
    "rel_diff": pl.Float64(),
}


@dataclass(frozen=True)
class SourcedDay:
    """The day's result and where it came from."""

    result: DayResult
    source: str
    """Name of the source whose rows these are."""
    reason: str | None = None
    """Why the fallback supplied the day (None: the primary did)."""
    conflicts: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=CONFLICT_SCHEMA))
    """Prices the two sources gave differently beyond the tolerance (both answered)."""
    reconciled: bool = False
    """Whether the fallback was read to compare with the primary."""
    other: DayResult | None = None
    """The other source's answer when both answered (stored as its own observations, so the
    store records the disagreements in price_conflicts)."""

    @property
    def holiday_listed(self) -> bool:
        """True when an empty day comes from a source that checked the exchange's holidays."""
        return self.reason is None and self.result.rows_read == 0 and self.listed

    listed: bool = False
    """Whether the supplying source checks empty days against the exchange's holiday list."""

    @property
    def used_fallback(self) -> bool:
        """True when the day's rows are the fallback's."""
        return self.reason is not None


def fetch_with_fallback(
    primary: PriceSource,
    fallback: PriceSource | None,
    day: date,
    *,
    raw_dir: Path,
    min_rows: int,
    tolerance: float,
    reconcile: bool = True,
) -> SourcedDay:
    """`day` from `primary`; from `fallback` if the primary fails or has < min_rows rows."""
    try:
        first = primary.fetch_day(day, raw_dir=raw_dir)
    except SourceError as exc:
        if fallback is None:
            raise
        try:
            other = fallback.fetch_day(day, raw_dir=raw_dir)
        except SourceError as second:
            log.warning("%s: fallback %s failed too: %s", day, fallback.name, second)
            raise exc from second  # the primary's error decides whether Prefect retries
        reason = f"{primary.name} failed: {str(exc).splitlines()[0][:300]}"
        log.warning("%s: taken from %s (%s)", day, fallback.name, reason)
        return SourcedDay(other, fallback.name, reason)
    listed = bool(getattr(primary, "lists_holidays", False))
    if fallback is None or first.market_open:
        return SourcedDay(first, primary.name, listed=listed)
    too_few = first.prices.height < min_rows
    if not too_few and not reconcile:
        return SourcedDay(first, primary.name, listed=listed)
    try:
        other = fallback.fetch_day(day, raw_dir=raw_dir)
    except SourceError as exc:
        # A holiday, a past day the fallback cannot serve, or the fallback down: keep the primary.
        log.info("%s: fallback %s did not answer: %s", day, fallback.name, exc)
        return SourcedDay(first, primary.name, listed=listed)
    if too_few and other.prices.height > first.prices.height:
        reason = (
            f"{primary.name} answered {first.prices.height} price row(s), fewer than "
            f"{min_rows}; {fallback.name} has {other.prices.height}"
        )
        log.warning("%s: taken from %s (%s)", day, fallback.name, reason)
        found = conflicts(first, other, tolerance)
        return SourcedDay(other, fallback.name, reason, found, True, first)
    return SourcedDay(first, primary.name, None, conflicts(first, other, tolerance), True, other)


def conflicts(primary: DayResult, fallback: DayResult, tolerance: float) -> pl.DataFrame:
    """Fields of symbols both sources priced whose relative difference exceeds `tolerance`."""
    keys = ["symbol", "date"]
    left = primary.prices.select(*keys, *COMPARED)
    right = fallback.prices.select(*keys, *COMPARED)
    joined = left.join(right, on=keys, how="inner", suffix="_fb")
    parts = [
        joined.select(
            *keys,
            pl.lit(name).alias("field"),
            pl.col(name).alias("primary"),
            pl.col(f"{name}_fb").alias("fallback"),
        )
        for name in COMPARED
    ]
    long = pl.concat(parts).drop_nulls(["primary", "fallback"])
    scale = pl.max_horizontal(pl.col("primary").abs(), pl.col("fallback").abs())
    diff = (pl.col("primary") - pl.col("fallback")).abs()
    rel = pl.when(scale > 0).then(diff / scale).otherwise(0.0)
    return (
        long.with_columns(rel_diff=rel)
        .filter(pl.col("rel_diff") > tolerance)
        .sort([*keys, "field"])
        .cast(CONFLICT_SCHEMA)  # type: ignore[arg-type]
    )
