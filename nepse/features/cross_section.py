"""NumPy kernels for the per-date (cross-sectional) features: the date order and per-date ranks.

The per-date ranks run on columns listed date by date (`date_order`). Polars' `rank().over(day)`
costs ~75-120 ns a value here (it ranks each date's slice as its own Series); `date_ranks` lays
a block of dates out as a dense (dates x rows-of-the-busiest-date) matrix that stays in the CPU
cache and ranks every row of it with one `argsort(axis=1)` of integer keys, ~20-30 ns a value.
Its result equals Polars' `rank("average").over(day)`, scaled to [0, 1], exactly
(tests/unit/features/test_cross_section.py).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import polars as pl

from nepse.features.kernels import day_numbers

BLOCK = 1 << 15
"""Rows per block of dates (whole dates, so a block can hold more): its matrices stay in L2."""

_SIGN = np.uint64(1 << 63)
_NAN = np.uint64(0xFFF8_0000_0000_0000)
"""The key of every NaN: above +inf's (0xFFF0...), as Polars sorts NaN after every number."""
_LAST = np.uint64((1 << 64) - 1)
"""The key of nulls and of the padding of short dates: after every value."""


def date_order(s: pl.Series) -> pl.Series:
    """Struct (`perm`, `inv`): a stable order of the rows by date, and its inverse.

    `x.gather(perm)` lists the rows date by date (each date's rows in their original order);
    `y.gather(inv)` puts a result computed in that order back. A radix sort of the market day
    numbers (they fit 16 bits for 260 years) takes ~20 ns a row, a tenth of sorting the frame.
    Both are Polars' index type (`pl.get_index_type()`), which `gather` takes without a cast.
    """
    days = day_numbers(s).to_numpy()
    if len(days) and days.max() < 1 << 16:
        days = days.astype(np.uint16)
    idx = pl.get_index_type()
    np_idx = np.uint32 if idx == pl.UInt32 else np.uint64
    if len(days) > np.iinfo(np_idx).max:
        raise ValueError(f"{len(days)} rows do not fit Polars' index type {idx}")
    perm = np.argsort(days, kind="stable").astype(np_idx)
    inv = np.empty_like(perm)
    inv[perm] = np.arange(len(perm), dtype=np_idx)
    return pl.struct(
        [pl.Series("perm", perm, dtype=idx), pl.Series("inv", inv, dtype=idx)], eager=True
    ).alias(s.name)


def polars_date_rank(col: str, by: str = "date") -> pl.Expr:
    """The Polars expression `date_ranks` equals (its reference in tests and bench/kernels.py):
    the average rank of `col` on each date, scaled to [0, 1], 0.5 for a date's only value,
    null where the value is null. ~75-120 ns a value, against the kernel's 20-30."""
    n = pl.col(col).count().over(by)
    r = pl.col(col).rank("average").over(by)
    scaled = pl.when(n > 1).then((r - 1.0) / (n - 1.0)).otherwise(0.5)
    return pl.when(pl.col(col).is_not_null()).then(scaled).alias(col)


def _keys(v: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Unsigned integers that sort as Polars sorts the floats `v`: -0.0 equal to 0.0, every NaN
    equal and after +inf, nulls (`~valid`) last."""
    b = (v + 0.0).view(np.uint64)  # -0.0 + 0.0 is 0.0
    # Negative floats: all bits flipped (larger magnitude sorts first); others: sign bit set.
    k = b ^ ((b.view(np.int64) >> 63).view(np.uint64) | _SIGN)
    nan = np.isnan(v)  # nulls are NaN here (date_ranks fills them), so this also finds them
    if nan.any():
        k[nan] = _NAN
        k[~valid] = _LAST
    return k


class _Block:
    """A block of whole dates laid out as a (dates x width) matrix, width = its busiest date."""

    def __init__(self, starts: np.ndarray, sizes: np.ndarray):
        self.starts, self.sizes = starts, sizes
        days, self.width = len(starts), int(sizes.max())
        self.cells = days * self.width
        self.row0 = np.arange(0, self.cells, self.width)
        # Each value's cell; the padding of short dates holds `_LAST` and sorts last.
        self.cell = np.arange(int(sizes.sum())) + np.repeat(self.row0 - starts, sizes)
        self.column = np.tile(np.arange(self.width, dtype=np.float64), days)

    def rank(self, v: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """Ranks in [0, 1] of each date's values (as date_ranks); NaN where null."""
        keys = np.full(self.cells, _LAST)
        keys[self.cell] = _keys(v, valid)
        order = np.argsort(keys.reshape(-1, self.width), axis=1)
        order += self.row0[:, None]
        order = order.ravel()
        srt = keys[order]
        # A value's 0-based rank is its column in the sorted row, unless it ties with another.
        tie = np.empty(self.cells, dtype=bool)
        tie[0] = False
        np.equal(srt[1:], srt[:-1], out=tie[1:])
        tie[self.row0] = False
        tie &= srt != _LAST
        rank0 = np.empty(self.cells)
        rank0[order] = self._average(tie) if tie.any() else self.column
        r = rank0[self.cell]
        count = np.add.reduceat(valid, self.starts)
        # (rank - 1) / (count - 1); a date's only value ranks 0.5.
        r /= np.repeat(np.maximum(count - 1, 1), self.sizes)
        alone = count == 1
        if alone.any():
            r[np.repeat(alone, self.sizes) & valid] = 0.5
        r[~valid] = np.nan
        return r

    def _average(self, tie: np.ndarray) -> np.ndarray:
        """Polars' "average" rank (0-based) of each sorted cell: a run of equal values ranks
        its first column + (length - 1) / 2."""
        run = np.flatnonzero(~tie)
        length = np.diff(run, append=self.cells)
        return np.repeat(self.column[run] + (length - 1) * 0.5, length)


def _in_threads(fn: Callable[[tuple[int, int]], None], spans: list[tuple[int, int]]) -> None:
    """`fn` of every span, on as many threads as Polars' pool has.

    NumPy lets go of the GIL in its sorts, ufuncs and fancy indexing, so blocks of dates rank
    side by side: 7 columns at 0.5 M rows in 51 ms against 79 ms on one thread (CPU 70 ms
    against 79); the whole build 0.457 -> 0.437 s (medians of 8 alternating fresh processes).
    The per-symbol kernels (features/kernels.py) stay on one thread each: they run beside one
    another and beside Polars' rolling moments, and threads there made the build slower
    (0.465 -> 0.506 s).
    """
    threads = min(len(spans), pl.thread_pool_size())
    if threads <= 1:
        for span in spans:
            fn(span)
        return
    with ThreadPoolExecutor(threads, thread_name_prefix="nepse-ranks") as pool:
        for _ in pool.map(fn, spans):
            pass  # re-raises a block's error


def date_ranks(cols: list[pl.Series]) -> pl.Series:
    """Struct of each x's rank on its date, for `cols = [day, x1, x2, ...]` with the rows
    listed date by date (`day` sorted).

    A rank is `(rank("average") - 1) / (count - 1)` among x's non-null values of the date, in
    [0, 1] (0.5 when the date has one; null stays null). Runs in blocks of whole dates of
    ~BLOCK rows.
    """
    day, *xs = cols
    d = day.to_physical().to_numpy()
    valid = [x.is_not_null().to_numpy() for x in xs]
    # Nulls as NaN (`valid` tells them apart), then a zero-copy view: ~4x faster than
    # `to_numpy()` of a column with nulls, which copies element by element holding the GIL.
    v = [x.cast(pl.Float64).fill_null(np.nan).to_numpy() for x in xs]
    out = [np.empty(len(d)) for _ in xs]
    if len(d):
        starts = np.flatnonzero(np.concatenate(([True], d[1:] != d[:-1])))
        sizes = np.diff(starts, append=len(d))
        # Block edges: the first date starting at or after each multiple of BLOCK rows.
        edges = np.unique(np.searchsorted(starts, np.arange(0, len(d), BLOCK)))
        edges = edges[edges < len(starts)]

        def rank_block(span: tuple[int, int]) -> None:
            lo, hi = span
            a = starts[lo]
            b = starts[hi] if hi < len(starts) else len(d)
            block = _Block(starts[lo:hi] - a, sizes[lo:hi])
            for k in range(len(xs)):
                out[k][a:b] = block.rank(v[k][a:b], valid[k][a:b])

        _in_threads(rank_block, list(zip(edges, [*edges[1:], len(starts)], strict=True)))
    fields = [pl.Series(x.name, r, nan_to_null=True) for x, r in zip(xs, out, strict=True)]
    return pl.struct(fields, eager=True).alias(day.name)
