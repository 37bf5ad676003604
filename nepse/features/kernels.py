"""NumPy kernels for what Polars has no fast native form of: rolling ranks, extremes, quantiles.

They take the whole column of a frame sorted by (symbol, date) and return whole-column results:
windows run across symbol and segment boundaries, and the caller masks them by the row's position
in its segment (features/steps.py), exactly as for the native rolling expressions. A null input
is NaN here; a window holding one gives NaN, which the caller gets back as null (a window of w
rows with `min_samples=w` is null when any of its values is null, as in Polars).

The work runs in blocks of rows that stay in the CPU cache: each kernel makes tens of passes
over its input, and at 25 M rows whole-column passes would be bound by memory bandwidth.
Every result equals its Polars counterpart exactly (tests/unit/features/test_kernels.py):
extremes and order statistics are exact, and the arithmetic is the same.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import cache

import numpy as np
import polars as pl

BLOCK = 1 << 15
"""Rows per block (plus the window's overlap): 256 KiB arrays, inside the 2 MiB L2 cache."""

Kernel = Callable[[np.ndarray], dict[str, np.ndarray]]


def _blocked(x: np.ndarray, overlap: int, kernel: Kernel) -> dict[str, np.ndarray]:
    """Run `kernel` on blocks of `x` that carry `overlap` earlier rows; stitch the results.

    `kernel(block)` returns arrays as long as the block whose row i depends only on block rows
    <= i, and is right where at least `overlap` earlier rows exist.
    """
    out: dict[str, np.ndarray] = {}
    for start in range(0, len(x), BLOCK):
        lo = max(0, start - overlap)
        res = kernel(x[lo : start + BLOCK])
        for name, values in res.items():
            if name not in out:
                out[name] = np.empty(len(x), dtype=values.dtype)
            out[name][start : start + len(values) - (start - lo)] = values[start - lo :]
    return out


def _struct(name: str, fields: dict[str, np.ndarray]) -> pl.Series:
    cols = [pl.Series(k, v, nan_to_null=True) for k, v in fields.items()]
    return pl.struct(cols, eager=True).alias(name)


def _values(s: pl.Series) -> np.ndarray:
    return s.cast(pl.Float64).to_numpy(allow_copy=True)


# --- rank of the last value in its window --------------------------------------------------------
def _ranks(windows: tuple[int, ...]) -> Kernel:
    top = max(windows)
    if top > 128:
        raise ValueError(f"rank windows must be at most 128 rows (int8 sums), got {top}")

    def kernel(block: np.ndarray) -> dict[str, np.ndarray]:
        m = len(block)
        # Comparisons into bytes summed as int8: ~4x faster than float sign() sums.
        acc = np.zeros(m, dtype=np.int8)
        gt, lt = np.zeros(m, dtype=bool), np.zeros(m, dtype=bool)
        nans = np.concatenate(([0], np.cumsum(np.isnan(block), dtype=np.int64)))
        out = {}
        for k in range(1, top):
            if k < m:
                np.greater(block[k:], block[:-k], out=gt[k:])
                np.less(block[k:], block[:-k], out=lt[k:])
                a = acc[k:]
                np.add(a, gt[k:].view(np.int8), out=a)
                np.subtract(a, lt[k:].view(np.int8), out=a)
            if k + 1 in windows:
                w = k + 1
                res = ((w + 1 + acc.astype(np.float64)) * 0.5) * (1.0 / w)
                # A comparison with NaN is False both ways: mark windows that hold a NaN.
                res[w - 1 :][nans[w:] > nans[:-w]] = np.nan
                res[: w - 1][nans[1:w] > 0] = np.nan
                out[f"w{w}"] = res
        return out

    return kernel


def ts_rank(s: pl.Series, windows: tuple[int, ...]) -> pl.Series:
    """Struct `w{w}` per window: average rank of each value among the last w values, over w.

    Equals `s.rolling_rank(w, method="average", min_samples=w) / w` (to 1 ulp: Polars sums tied
    ranks in floating point, these are exact half-integers; Polars divides by a scalar as a
    product with its reciprocal, and so does this). The rank is (w + 1 + S) / 2 where S sums
    sign(x[t] - x[t - k]) over the w - 1 earlier rows (a tie counts half); the running sum over
    the lags gives every shorter window on the way to the longest.
    """
    if min(windows) < 2:
        raise ValueError(f"windows must hold at least 2 rows, got {windows}")
    return _struct(s.name, _blocked(_values(s), max(windows) - 1, _ranks(windows)))


# --- window maxima and minima --------------------------------------------------------------------
def _extremes(windows: tuple[int, ...], pick: np.ufunc) -> Kernel:
    def kernel(block: np.ndarray) -> dict[str, np.ndarray]:
        # level[k][t] = pick over rows t-k+1..t (k a power of two), built by doubling; a window
        # of w rows is the union of two overlapping power-of-two windows.
        level, k = {1: block}, 1
        while 2 * k <= max(windows):
            prev, cur = level[k], block.copy()
            pick(prev[k:], prev[:-k], out=cur[k:])
            level[2 * k] = cur
            k *= 2
        out = {}
        for w in windows:
            p = 1 << (w.bit_length() - 1)
            base, res, shift = level[p], level[p].copy(), w - p
            if shift:
                pick(base[shift:], base[:-shift], out=res[shift:])
            out[f"w{w}"] = res
        return out

    return kernel


def rolling_extreme(s: pl.Series, windows: tuple[int, ...], how: str) -> pl.Series:
    """Struct `w{w}` per window: `s.rolling_max(w, min_samples=w)` (or min), exactly."""
    pick = {"max": np.maximum, "min": np.minimum}[how]
    return _struct(s.name, _blocked(_values(s), max(windows) - 1, _extremes(windows, pick)))


# --- window quantiles through a sorting network --------------------------------------------------
@cache
def _network(n: int) -> tuple[tuple[int, int], ...]:
    """Batcher's odd-even merge sort for n wires (the next power of two, pruned to n)."""
    size = 1 << max(0, (n - 1).bit_length())
    pairs = []
    p = 1
    while p < size:
        k = p
        while k >= 1:
            for j in range(k % p, size - k, 2 * k):
                for i in range(min(k, size - j - k)):
                    a, b = i + j, i + j + k
                    if a // (2 * p) == b // (2 * p) and b < n:
                        pairs.append((a, b))
            k //= 2
        p *= 2
    return tuple(pairs)


def _order_positions(w: int, q: float) -> tuple[int, int, float]:
    """Polars' linear interpolation: sorted[i] + (sorted[i + 1] - sorted[i]) * frac."""
    f = (w - 1) * q
    i = math.floor(f)
    return i, min(i + 1, w - 1), f - i


@cache
def _plan(w: int, needed: frozenset[int]) -> tuple[tuple[int, int, bool, bool], ...]:
    """The network's comparators that the `needed` sorted positions depend on (liveness)."""
    live, steps = set(needed), []
    for a, b in reversed(_network(w)):
        want_lo, want_hi = a in live, b in live
        if want_lo or want_hi:
            steps.append((a, b, want_lo, want_hi))
            live |= {a, b}
    return tuple(reversed(steps))


def _quantiles(w: int, qs: tuple[float, ...]) -> Kernel:
    positions = {q: _order_positions(w, q) for q in qs}
    plan = _plan(w, frozenset(p for i, j, _ in positions.values() for p in (i, j)))

    def kernel(block: np.ndarray) -> dict[str, np.ndarray]:
        m = len(block)
        if m < w:
            return {f"q{q}": np.full(m, np.nan) for q in qs}
        # Wire j holds the window's j-th oldest value, for windows ending at rows w-1..m-1.
        wires = [block[j : m - w + 1 + j] for j in range(w)]
        for a, b, want_lo, want_hi in plan:
            lo = np.minimum(wires[a], wires[b]) if want_lo else None
            if want_hi:
                wires[b] = np.maximum(wires[a], wires[b])
            if lo is not None:
                wires[a] = lo
        out = {}
        for q, (i, j, frac) in positions.items():
            res = np.full(m, np.nan)
            res[w - 1 :] = wires[i] + (wires[j] - wires[i]) * frac
            out[f"q{q}"] = res
        return out

    return kernel


def rolling_quantiles(s: pl.Series, w: int, qs: tuple[float, ...]) -> pl.Series:
    """Struct `q{q}` per quantile: `s.rolling_quantile(q, "linear", w, min_samples=w)`, exactly.

    Sorts each window with a sorting network (vectorised across windows), so it pays off for
    short windows only: ~w log² w comparisons against Polars' ~60 ns a row per quantile.
    """
    return _struct(s.name, _blocked(_values(s), w - 1, _quantiles(w, qs)))


# --- market day numbers --------------------------------------------------------------------------
def day_numbers(s: pl.Series) -> pl.Series:
    """Dense rank (1 = first) of each date among the column's distinct dates, as Int64.

    Equals `s.rank("dense")` without a sort: dates are small integers, so a table from day to
    rank does it in two passes.
    """
    days = s.to_physical().to_numpy().astype(np.int64)
    if len(days) == 0:
        return pl.Series(s.name, [], dtype=pl.Int64)
    first = days.min()
    present = np.zeros(days.max() - first + 1, dtype=np.int64)
    present[days - first] = 1
    return pl.Series(s.name, np.cumsum(present)[days - first], dtype=pl.Int64)


def date_order(s: pl.Series) -> pl.Series:
    """Struct (`perm`, `inv`): a stable order of the rows by date, and its inverse.

    `x.gather(perm)` lists the rows date by date (each date's rows in their original order);
    `y.gather(inv)` puts a result computed in that order back. A radix sort of the market day
    numbers (they fit 16 bits for 260 years) takes ~20 ns a row, a tenth of sorting the frame.
    """
    days = day_numbers(s).to_numpy()
    if len(days) and days.max() < 1 << 16:
        days = days.astype(np.uint16)
    perm = np.argsort(days, kind="stable")
    inv = np.empty_like(perm)
    inv[perm] = np.arange(len(perm))
    return pl.struct(
        [pl.Series("perm", perm, dtype=pl.Int64), pl.Series("inv", inv, dtype=pl.Int64)],
        eager=True,
    ).alias(s.name)
