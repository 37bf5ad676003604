"""Which version of each trading day's rows a walk-forward job reads: what its checkpoint is
keyed by, so that a weekly retraining reuses the fits whose rows did not change.

Rebuilt with more days, the feature pipeline does not give back the earlier days bit for bit:
Polars' rolling means and standard deviations run over the whole sorted column and the
cross-sectional means over date slices, so the rounding of a row's value depends on the rows
stored before it; a new corporate action rescales its stock's whole history; exact ties (two
stocks closing at the same limit) then fall either way in the per-date ranks. So a day is
compared by a signature, not bit by bit (the measured differences: docs/replay.md):

- exactly: its symbols in order and which features and labels are missing;
- within `RTOL` of their size, or `FLOOR`: for every feature but the ranks, the label and the
  training target, the sum of absolute values, the sum and the sum of squares of the day's
  rows (a real change, such as a corrected price, moves them by far more; rounding noise moves
  them by about 1e-12 of their size, and by up to 1e-8 where a feature is all about zero).
- The rank features (`f_rank_*`, `f_tsrank_*`) only by which are missing: a rescaled stock's
  limit move (0.1 becomes 0.10000000000000009) leaves the tie with the other stocks at that
  limit and takes a neighbouring rank. A real change of a stock's return moves its own return,
  moving-average and volatility features, which are compared.

A day whose signature matches a recorded version of that day is that version (its id); else it
is a new version, recorded in `<checkpoint dir>/days.parquet`. A version's id is a hash of the
signature it was first recorded with, so two runs recording at once can only miss a reuse,
never share an id for different rows.
"""

from __future__ import annotations

import bisect
import hashlib
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

from nepse.model.walkforward.plan import PreparedPanel

RTOL = 1e-6
"""Relative tolerance of a day's sums (measured noise: below 1e-12 of them)."""
FLOOR = 1e-6
"""Absolute tolerance of a day's sums, for columns whose values are all about zero: measured on
the real replay (docs/replay.md), f_log_turnover_20 on 2011-03-17 summed to 0, 1.2e-8,
6.0e-9 in four rebuilds (a log of a ratio of 1), and with 1e-12 each rebuild refitted every
block; a real change of a feature moves a day's sum by far more than 1e-6."""
RANKS = ("f_rank_", "f_tsrank_")
"""Rank features: compared by which are missing only (module doc)."""
FILE = "days.parquet"
SCHEMA = {"day": pl.Date, "exact": pl.String, "sums": pl.List(pl.Float64), "id": pl.String}


def signatures(prep: PreparedPanel) -> tuple[list[str], np.ndarray]:
    """Per calendar day of `prep`: the exact part (a hash) and the sums (one row per day)."""
    cols = np.column_stack([prep.x, prep.y, prep.target])
    missing = np.isnan(cols)
    summed = [not n.startswith(RANKS) for n in prep.feature_names] + [True, True]
    filled = np.where(missing, 0.0, cols)[:, summed]
    parts = (np.abs(filled), filled, filled * filled)
    starts = prep.day_start[:-1]
    width = filled.shape[1]
    sums = np.zeros((len(prep.days), 3 * width))
    full = np.flatnonzero(np.diff(prep.day_start) > 0)
    if len(full):
        for k, part in enumerate(parts):
            block = np.add.reduceat(part, starts[full], axis=0)
            sums[full, k * width : (k + 1) * width] = block
    keys = prep.data.get_column("symbol").to_list()
    exact = []
    for i, day in enumerate(prep.days):
        lo, hi = int(prep.day_start[i]), int(prep.day_start[i + 1])
        h = hashlib.sha256(day.isoformat().encode())
        h.update("\x1f".join(keys[lo:hi]).encode())
        h.update(np.packbits(missing[lo:hi]).tobytes())
        exact.append(h.hexdigest())
    return exact, sums


def _close(a: np.ndarray, b: np.ndarray) -> bool:
    """Sums equal within RTOL of the day's absolute mass (L1 for sums, itself for squares)."""
    if a.shape != b.shape:
        return False
    l1, s, sq = np.split(a, 3)
    m1, t, sq2 = np.split(b, 3)
    return bool(
        np.all(np.abs(l1 - m1) <= RTOL * l1 + FLOOR)
        and np.all(np.abs(s - t) <= RTOL * l1 + FLOOR)
        and np.all(np.abs(sq - sq2) <= RTOL * sq + FLOOR)
    )


class DayVersions:
    """The recorded versions of each day's rows under a checkpoint folder, and `prep`'s."""

    def __init__(self, root: Path, prep: PreparedPanel) -> None:
        self.path = Path(root) / FILE
        self.days = list(prep.days)
        exact, sums = signatures(prep)
        known: dict[date, list[tuple[str, np.ndarray, str]]] = {}
        if self.path.is_file():
            for day, ex, s, vid in pl.read_parquet(self.path).iter_rows():
                known.setdefault(day, []).append((ex, np.asarray(s), vid))
        self.ids: list[str] = []
        new = []
        for day, ex, s in zip(self.days, exact, sums, strict=True):
            found = next((v for e, r, v in known.get(day, ()) if e == ex and _close(r, s)), None)
            if found is None:
                found = hashlib.sha256(ex.encode() + s.tobytes()).hexdigest()[:20]
                new.append({"day": day, "exact": ex, "sums": s.tolist(), "id": found})
            self.ids.append(found)
        self.new = len(new)
        if new:
            self._record(new)

    def _record(self, rows: list[dict]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        frame = pl.DataFrame(rows, schema=SCHEMA)
        if self.path.is_file():
            frame = pl.concat([pl.read_parquet(self.path), frame])
        tmp = self.path.with_name(f".{FILE}.{id(self)}.tmp")
        frame.write_parquet(tmp)
        tmp.replace(self.path)

    def digest(self, first: date, last: date) -> str:
        """A hash of the versions of days first..last (what a job reads of them)."""
        a, b = bisect.bisect_left(self.days, first), bisect.bisect_right(self.days, last)
        return hashlib.sha256(f"{first}..{last}|{'|'.join(self.ids[a:b])}".encode()).hexdigest()
