"""Calibrated drift alarms: today's drift statistic judged against the statistic's own history.

The per-column distance is Evidently's `wasserstein` method (first Wasserstein distance normed by
the reference's standard deviation, floored at 0.001), computed here with NumPy so that the same
statistic can be evaluated over hundreds of historical windows in seconds; a test checks it
equals Evidently's score. The alarm line is a high quantile of the statistic over every window
of the calibration period, each compared with the same reference as today's window
(`nepse.monitoring.baseline` defines the statistics).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

import numpy as np
import polars as pl

from nepse.errors import DataQualityError

STD_FLOOR = 0.001  # Evidently's floor on the reference standard deviation
MAX_REFERENCE_ROWS = 6_000
"""Reference rows kept per statistic (seeded sample): the distance to a 1,250-row window gains
nothing from more, and the calibration over ~750 windows stays within seconds per column."""


def ordinal(share: float) -> str:
    """A share 0..1 as a percentile ordinal: 0.62 -> '62nd', 1.0 -> '100th'."""
    if math.isnan(share):
        return "—"
    n = round(100 * share)
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def normed_wasserstein(
    ref_sorted: np.ndarray, cur: np.ndarray, ref_std: float | None = None
) -> float:
    """W1(ref, cur) / max(std(ref), 0.001), as Evidently's 'wasserstein' method; NaN if empty.

    W1 = sum over the merged sorted values of |F_ref - F_cur| x the gap to the next value. The
    two empirical CDFs are counted along the merge (a cumulative count of which side each value
    came from); where values tie the gap is 0, so the order among ties does not matter.
    """
    cur = cur[np.isfinite(cur)]
    if ref_sorted.size == 0 or cur.size == 0:
        return math.nan
    std = float(np.std(ref_sorted)) if ref_std is None else ref_std
    values = np.concatenate([ref_sorted, cur])
    order = np.argsort(values, kind="stable")
    deltas = np.diff(values[order])
    from_ref = order < ref_sorted.size
    f_ref = np.cumsum(from_ref)[:-1] / ref_sorted.size
    f_cur = np.cumsum(~from_ref)[:-1] / cur.size
    return float(np.sum(np.abs(f_ref - f_cur) * deltas)) / max(std, STD_FLOOR)


def reference_rows(frame: pl.DataFrame, max_rows: int = MAX_REFERENCE_ROWS) -> pl.DataFrame:
    """The reference rows a distance is computed on: all, or a seeded sample of `max_rows`
    (Evidently's page is given the same rows, so its scores equal these)."""
    return frame.sample(max_rows, seed=0) if frame.height > max_rows else frame


@dataclass(frozen=True)
class Reference:
    """Sorted finite reference values per column (and their standard deviations)."""

    values: dict[str, np.ndarray]
    stds: dict[str, float]

    @classmethod
    def of(
        cls, frame: pl.DataFrame, columns: Sequence[str], *, max_rows: int = MAX_REFERENCE_ROWS
    ) -> Reference:
        """The reference of `columns` in `frame` (non-finite values dropped, seeded sample)."""
        frame = reference_rows(frame, max_rows)
        values = {}
        for c in columns:
            x = frame.get_column(c).cast(pl.Float64).to_numpy()
            values[c] = np.sort(x[np.isfinite(x)])
        return cls(values, {c: float(np.std(v)) if v.size else 0.0 for c, v in values.items()})

    def distances(self, current: dict[str, np.ndarray]) -> dict[str, float]:
        """Normed Wasserstein distance of each column of `current` to this reference."""
        return {
            c: normed_wasserstein(self.values[c], current[c], self.stds[c]) for c in self.values
        }


def window_statistic(distances: dict[str, float]) -> float:
    """The window's drift statistic: the mean distance over the columns that have one."""
    xs = [d for d in distances.values() if not math.isnan(d)]
    return sum(xs) / len(xs) if xs else math.nan


@dataclass(frozen=True)
class Calibration:
    """The statistic over every calibration window, and the alarm line (its `quantile`)."""

    name: str
    values: tuple[float, ...]
    ends: tuple[date, ...]
    quantile: float
    window: int

    def __post_init__(self) -> None:
        if not self.values:
            raise DataQualityError(
                f"calibration of {self.name}: no window to calibrate on; the training period "
                f"must hold more sessions than the reference plus one window ({self.window})"
            )

    @property
    def threshold(self) -> float:
        """The alarm line: the configured quantile of the historical statistic."""
        return float(np.quantile(np.asarray(self.values), self.quantile))

    def position(self, value: float) -> float:
        """Share of historical windows whose statistic is at or below `value` (0..1)."""
        return float(np.mean(np.asarray(self.values) <= value))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (dates as ISO strings)."""
        out = asdict(self)
        out["ends"] = [d.isoformat() for d in self.ends]
        out["values"] = list(self.values)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibration:
        """Inverse of `to_dict`."""
        return cls(
            name=data["name"],
            values=tuple(float(v) for v in data["values"]),
            ends=tuple(date.fromisoformat(d) for d in data["ends"]),
            quantile=float(data["quantile"]),
            window=int(data["window"]),
        )


@dataclass(frozen=True)
class Alarm:
    """One calibrated verdict: today's value, the alarm line, and where today sits in history."""

    name: str
    value: float
    threshold: float
    quantile: float
    position: float
    n_history: int
    alarm: bool
    higher_is_worse: bool = True

    def describe(self) -> str:
        """One line a person can read: value, line, percentile."""
        side = ">" if self.higher_is_worse else "<"
        verdict = "ALARM" if self.alarm else "ok"
        return (
            f"{self.name} {self.value:.4f} ({verdict}; alarm if {side} {self.threshold:.4f}, "
            f"today at the {ordinal(self.position)} percentile of {self.n_history} windows)"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Alarm:
        """Inverse of `to_dict` (a stored NaN comes back as None from JSON: NaN again)."""
        values = {k: math.nan if data[k] is None else float(data[k]) for k in _FLOATS}
        return cls(
            name=data["name"],
            n_history=int(data["n_history"]),
            alarm=bool(data["alarm"]),
            higher_is_worse=bool(data.get("higher_is_worse", True)),
            **values,
        )


_FLOATS = ("value", "threshold", "quantile", "position")


def judge(value: float, calibration: Calibration, *, higher_is_worse: bool = True) -> Alarm:
    """Alarm when `value` is beyond the calibration's quantile (above, or below for a floor)."""
    if higher_is_worse:
        line = calibration.threshold
        alarm = not math.isnan(value) and value > line
    else:
        line = float(np.quantile(np.asarray(calibration.values), 1.0 - calibration.quantile))
        alarm = not math.isnan(value) and value < line
    return Alarm(
        name=calibration.name,
        value=value,
        threshold=line,
        quantile=calibration.quantile,
        position=calibration.position(value) if not math.isnan(value) else math.nan,
        n_history=len(calibration.values),
        alarm=alarm,
        higher_is_worse=higher_is_worse,
    )


class Sessions:
    """A comparable frame split by date once, so windows of sessions are cheap to assemble."""

    def __init__(self, frame: pl.DataFrame, columns: Sequence[str]) -> None:
        frame = frame.sort("date")
        self.columns = list(columns)
        self.days: list[date] = frame.get_column("date").unique(maintain_order=True).to_list()
        bounds = frame.get_column("date").search_sorted(pl.Series(self.days), side="left")
        self._starts = [*bounds.to_list(), frame.height]
        self._arrays = {c: frame.get_column(c).cast(pl.Float64).to_numpy() for c in self.columns}

    def window(self, end: int, length: int) -> dict[str, np.ndarray]:
        """Values of the `length` sessions ending at session number `end` (inclusive)."""
        lo, hi = self._starts[max(0, end - length + 1)], self._starts[end + 1]
        return {c: a[lo:hi] for c, a in self._arrays.items()}

    def frame_between(self, first: int, last: int) -> pl.DataFrame:
        """Sessions first..last (inclusive) as a frame of the tested columns."""
        lo, hi = self._starts[first], self._starts[last + 1]
        return pl.DataFrame({c: a[lo:hi] for c, a in self._arrays.items()})


def worst_column(distances: dict[str, float], scales: dict[str, float]) -> float:
    """The largest column distance in units of that column's typical (median) distance."""
    xs = [d / scales[c] for c, d in distances.items() if not math.isnan(d) and scales.get(c)]
    return max(xs) if xs else math.nan


def column_scales(matrix: np.ndarray, columns: Sequence[str]) -> dict[str, float]:
    """Each column's median distance over the calibration windows (the unit of `worst_column`)."""
    with np.errstate(all="ignore"):
        med = np.nanmedian(matrix, axis=0) if matrix.size else np.array([])
    return {c: float(m) for c, m in zip(columns, med, strict=True) if np.isfinite(m) and m > 0}


def calibration_of(
    name: str, days: Sequence[date], values: Sequence[float], *, quantile: float, window: int
) -> Calibration:
    """A Calibration from per-window values (NaN windows dropped)."""
    kept = [(d, float(v)) for d, v in zip(days, values, strict=True) if not math.isnan(v)]
    return Calibration(
        name=name,
        values=tuple(v for _, v in kept),
        ends=tuple(d for d, _ in kept),
        quantile=quantile,
        window=window,
    )
