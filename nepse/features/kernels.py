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
QUANTILE_BLOCK = 1 << 13
"""Rows per block of the quantile kernel, whose 45 live buffers share the caches (3 MiB):
85 ms for five windows at 0.5 M rows, against 148 ms with BLOCK (bench/kernels.py)."""

Kernel = Callable[[np.ndarray], dict[str, np.ndarray]]


def _blocked(
    x: np.ndarray, overlap: int, kernel: Kernel, block: int | None = None
) -> dict[str, np.ndarray]:
    """Run `kernel` on blocks of `x` that carry `overlap` earlier rows; stitch the results.

    `kernel(block)` returns arrays as long as the block whose row i depends only on block rows
    <= i, and is right where at least `overlap` earlier rows exist.
    """
    block = block or BLOCK
    out: dict[str, np.ndarray] = {}
    for start in range(0, len(x), block):
        lo = max(0, start - overlap)
        res = kernel(x[lo : start + block])
        for name, values in res.items():
            if name not in out:
                out[name] = np.empty(len(x), dtype=values.dtype)
            out[name][start : start + len(values) - (start - lo)] = values[start - lo :]
    return out


def _struct(name: str, fields: dict[str, np.ndarray]) -> pl.Series:
    cols = [pl.Series(k, v, nan_to_null=True) for k, v in fields.items()]
    return pl.struct(cols, eager=True).alias(name)


def _values(s: pl.Series) -> np.ndarray:
    """Float64 values, nulls as NaN: filled by Polars, then a zero-copy view (`to_numpy()` of a
    column with nulls copies element by element, ~4x slower)."""
    return s.cast(pl.Float64).fill_null(np.nan).to_numpy()


def _nan_counts(block: np.ndarray) -> np.ndarray:
    """Running NaN counts (one longer than the block): window [t - w + 1, t] holds a NaN
    exactly where counts[t + 1] > counts[t + 1 - w]."""
    return np.concatenate(([0], np.cumsum(np.isnan(block), dtype=np.int64)))


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
        nans = _nan_counts(block)
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


# --- window quantiles from shared sorted runs ---------------------------------------------------
# A window of w rows ending at row t is the window of a rows ending at t followed (backwards) by
# the window of b = w - a rows ending at t - a. So the sorted values of every window come from
# merging the sorted values of two shorter windows, and the shorter windows' sorted values are
# computed once for every row and shared by all longer windows (shifted by a rows). A merge is
# Batcher's odd-even merging network, run on whole columns (one min and one max per comparator)
# and pruned to the sorted positions that some result needs. For windows 5-60 and quantiles
# 0.2/0.8 that is 159 comparators a row for all five windows, ~3x less CPU than Polars'
# rolling_quantile for each window and quantile (bench/kernels.py prints both).
@cache
def _merge_pairs(n: int) -> tuple[tuple[int, int], ...]:
    """Batcher's odd-even merge of two sorted halves of n wires each (n a power of two)."""

    def merge(lo: int, hi: int, r: int):
        step = 2 * r
        if step < hi - lo:
            yield from merge(lo, hi, step)
            yield from merge(lo + r, hi, step)
            yield from ((i, i + r) for i in range(lo + r, hi - r, step))
        else:
            yield (lo, lo + r)

    return tuple(merge(0, 2 * n - 1, 1))


Register = int | tuple[str, int]
"""A merge's value: ("a", i) / ("b", i) is sorted position i of an input, an int a result."""


@cache
def _merge_program(p: int, q: int, needed: frozenset[int]):
    """Ops merging sorted inputs a (p values) and b (q values), pruned to the `needed` positions.

    Returns (ops, outputs, a_used, b_used): ops are (register, ufunc, x, y); outputs maps each
    needed position to its register; a_used / b_used are the input positions the ops read.
    Both inputs are padded to a power of two with +inf, and comparators with a padding wire are
    resolved while the network is laid out (min(x, inf) = x), so they cost nothing.
    """
    half = 1 << max(0, (max(p, q) - 1).bit_length())
    wires: list[Register | None] = [("a", i) if i < p else None for i in range(half)]
    wires += [("b", i) if i < q else None for i in range(half)]
    ops: list[tuple[int, np.ufunc, Register, Register]] = []
    for i, j in _merge_pairs(half):
        x, y = wires[i], wires[j]
        if y is None:
            continue
        if x is None:
            wires[i], wires[j] = y, None
            continue
        ops += [(len(ops), np.minimum, x, y), (len(ops) + 1, np.maximum, x, y)]
        wires[i], wires[j] = len(ops) - 2, len(ops) - 1
    outputs = {k: wires[k] for k in sorted(needed)}
    live, kept = set(outputs.values()), []
    for op in reversed(ops):
        if op[0] in live:
            kept.append(op)
            live |= {op[2], op[3]}
    inputs = [r for r in live if isinstance(r, tuple)]
    a_used = tuple(sorted(i for side, i in inputs if side == "a"))
    b_used = tuple(sorted(i for side, i in inputs if side == "b"))
    return tuple(reversed(kept)), outputs, a_used, b_used


def _order_positions(w: int, q: float) -> tuple[int, int, float]:
    """Polars' linear interpolation: sorted[i] + (sorted[i + 1] - sorted[i]) * frac."""
    f = (w - 1) * q
    i = math.floor(f)
    return i, min(i + 1, w - 1), f - i


@cache
def _merge_tree(windows: tuple[int, ...], qs: tuple[float, ...]):
    """How each window size splits (a, b), and the sorted positions each size must provide.

    A size splits into the largest known size a with w/2 <= a < w (the windows themselves, then
    halves), so 60 = 30 + 30, 30 = 20 + 10, 20 = 10 + 10, 10 = 5 + 5, 5 = 3 + 2, 3 = 2 + 1.
    """
    splits: dict[int, tuple[int, int]] = {}

    def add(w: int) -> None:
        if w == 1 or w in splits:
            return
        known = [v for v in (*windows, *splits) if w / 2 <= v < w]
        a = max(known) if known else (w + 1) // 2
        splits[w] = (a, w - a)
        add(a)
        add(w - a)

    for w in sorted(windows):
        add(w)
    needs: dict[int, set[int]] = {1: set()}
    for w in windows:
        needs.setdefault(w, set()).update(p for q in qs for p in _order_positions(w, q)[:2])
    programs = {}
    for w in sorted(splits, reverse=True):  # every parent before its parts
        a, b = splits[w]
        programs[w] = _merge_program(a, b, frozenset(needs[w]))
        needs.setdefault(a, set()).update(programs[w][2])
        needs.setdefault(b, set()).update(programs[w][3])
    return tuple((w, splits[w], programs[w]) for w in sorted(splits))


Ref = tuple[int, int]
"""A value in the linear program: (register, offset): rows offset.. of the register's buffer."""


def _ref(runs: dict, local: dict, r: Register, a: int, b: int) -> Ref:
    """Where register r of the merge of runs a (ending at t) and b (ending at t - a) lives."""
    if not isinstance(r, tuple):
        return local[r]
    side, k = r
    # Run w's row i is the window ending at block row w - 1 + i: the a rows ending at t are run
    # a from its row b, the b rows ending at t - a are run b from its row 0.
    reg, off = runs[(a, k)] if side == "a" else runs[(b, k)]
    return reg, off + (b if side == "a" else 0)


@cache
def _linear_program(windows: tuple[int, ...], qs: tuple[float, ...]):
    """The merge tree as one list of ops on registers (register 0 is the block itself).

    Returns (ops, results): ops are (register, ufunc, x, y, w), computing the m - w + 1 values
    of a window of w rows; results maps (w, q) to the (lower, upper, frac) of interpolation.
    """
    runs: dict[tuple[int, int], Ref] = {(1, 0): (0, 0)}
    ops: list[tuple[int, np.ufunc, Ref, Ref, int]] = []
    for w, (a, b), (merge_ops, outputs, _, _) in _merge_tree(windows, qs):
        local: dict[Register, Ref] = {}
        for r, fn, x, y in merge_ops:
            reg = len(ops) + 1
            ops.append((reg, fn, _ref(runs, local, x, a, b), _ref(runs, local, y, a, b), w))
            local[r] = (reg, 0)
        runs.update({(w, k): _ref(runs, local, r, a, b) for k, r in outputs.items()})
    results = {}
    for w in windows:
        for q in qs:
            i, j, frac = _order_positions(w, q)
            results[(w, q)] = (runs[(w, i)], runs[(w, j)], frac)
    return tuple(ops), results


def _bind(windows: tuple[int, ...], qs: tuple[float, ...], m: int):
    """Buffers for blocks of m rows and the ops bound to views of them (buffers reused)."""
    ops, results = _linear_program(windows, qs)
    last = {0: len(ops)}  # the block is read by the results
    for t, (_, _, x, y, _) in enumerate(ops):
        last[x[0]] = last[y[0]] = t
    for lo, hi, _ in results.values():
        last[lo[0]] = last[hi[0]] = len(ops)
    buffers: dict[int, np.ndarray] = {0: np.empty(m)}
    free: list[np.ndarray] = []
    bound = []
    for t, (dst, fn, x, y, w) in enumerate(ops):
        n = m - w + 1
        if n <= 0:
            break
        buffers[dst] = free.pop() if free else np.empty(m)
        view = [buffers[r][off : off + n] for r, off in (x, y)]
        bound.append((fn, *view, buffers[dst][:n]))
        for r in {x[0], y[0]}:
            if last[r] == t and r:
                free.append(buffers[r])
    views = {}
    for key, (lo, hi, frac) in results.items():
        n = m - key[0] + 1
        if n > 0:
            views[key] = (*(buffers[r][off : off + n] for r, off in (lo, hi)), frac)
    return buffers[0], tuple(bound), views


def _quantiles(windows: tuple[int, ...], qs: tuple[float, ...]) -> Kernel:
    bound: dict[int, tuple] = {}  # blocks come in at most three lengths

    def kernel(block: np.ndarray) -> dict[str, np.ndarray]:
        m = len(block)
        if m not in bound:
            bound[m] = _bind(windows, qs, m)
        first, ops, views = bound[m]
        first[:] = block
        for fn, x, y, out in ops:
            fn(x, y, out=out)
        nans = _nan_counts(block)
        out = {}
        for w in windows:
            for q in qs:
                res = np.full(m, np.nan)
                if (w, q) in views:
                    lo, hi, frac = views[(w, q)]
                    res[w - 1 :] = lo + (hi - lo) * frac
                    # A window holding a NaN (a null) gives NaN, as Polars gives null.
                    res[w - 1 :][nans[w:] > nans[:-w]] = np.nan
                out[f"q{q}_w{w}"] = res
        return out

    return kernel


def rolling_quantiles(s: pl.Series, windows: tuple[int, ...], qs: tuple[float, ...]) -> pl.Series:
    """Struct `q{q}_w{w}`: `s.rolling_quantile(q, "linear", w, min_samples=w)`, exactly.

    Every window and quantile in one pass over cache-sized blocks (see the merge tree above).
    """
    if min(windows) < 1:
        raise ValueError(f"windows must hold at least 1 row, got {windows}")
    kernel = _quantiles(windows, qs)
    return _struct(s.name, _blocked(_values(s), max(windows) - 1, kernel, QUANTILE_BLOCK))


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
