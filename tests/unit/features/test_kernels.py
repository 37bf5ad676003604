"""NumPy window kernels equal their Polars counterparts (ties, nulls, short columns)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_series_equal

from nepse.features import kernels

WINDOWS = (5, 10, 20, 30, 60)


def _column(n: int, seed: int = 3) -> pl.Series:
    rng = np.random.default_rng(seed)
    x = np.round(100 + np.cumsum(rng.normal(0, 1, n)), 1)  # rounded: many ties
    s = pl.Series("x", x)
    return s.scatter(rng.integers(0, n, max(1, n // 200)), None) if n > 10 else s


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch):
    # Small blocks so the tests cross many block boundaries.
    monkeypatch.setattr(kernels, "BLOCK", 97)
    monkeypatch.setattr(kernels, "QUANTILE_BLOCK", 89)


@pytest.mark.parametrize("n", [3, 64, 5_000])
def test_rank_extremes_quantiles_equal_polars(n):
    s = _column(n)
    ranks = kernels.ts_rank(s, WINDOWS)
    hi = kernels.rolling_extreme(s, WINDOWS, "max")
    lo = kernels.rolling_extreme(s, WINDOWS, "min")
    for w in WINDOWS:
        tail = slice(w - 1, None)  # earlier rows are masked by the caller
        want = (s.rolling_rank(w, min_samples=w) / w)[tail]
        assert_series_equal(
            ranks.struct.field(f"w{w}")[tail], want, check_names=False, abs_tol=1e-15
        )
        assert_series_equal(
            hi.struct.field(f"w{w}")[tail],
            s.rolling_max(w, min_samples=w)[tail],
            check_names=False,
            check_exact=True,
        )
        assert_series_equal(
            lo.struct.field(f"w{w}")[tail],
            s.rolling_min(w, min_samples=w)[tail],
            check_names=False,
            check_exact=True,
        )
    qs = kernels.rolling_quantiles(s, WINDOWS, (0.2, 0.8))
    for w in WINDOWS:
        for q in (0.2, 0.8):
            want = s.rolling_quantile(q, "linear", w, min_samples=w)[w - 1 :]
            assert_series_equal(
                qs.struct.field(f"q{q}_w{w}")[w - 1 :], want, check_names=False, check_exact=True
            )


@pytest.mark.parametrize("n", [40, 3_000])
def test_quantiles_of_any_windows_equal_polars(n):
    # Sizes that split unevenly (7 = 4 + 3, 13 = 7 + 6, 64 = 32 + 32) and quantiles that land
    # on the first and last sorted values.
    s = _column(n, seed=5)
    windows, quantiles = (1, 2, 3, 7, 13, 64), (0.0, 0.25, 0.5, 0.9, 1.0)
    got = kernels.rolling_quantiles(s, windows, quantiles)
    for w in windows:
        for q in quantiles:
            want = s.rolling_quantile(q, "linear", w, min_samples=w)[w - 1 :]
            assert_series_equal(
                got.struct.field(f"q{q}_w{w}")[w - 1 :], want, check_names=False, check_exact=True
            )


def _run(program, a: np.ndarray, b: np.ndarray) -> dict[int, np.ndarray]:
    ops, outputs, _, _ = program
    regs = {("a", i): v for i, v in enumerate(a)} | {("b", i): v for i, v in enumerate(b)}
    for r, fn, x, y in ops:
        regs[r] = fn(regs[x], regs[y])
    return {k: regs[r] for k, r in outputs.items()}


@pytest.mark.parametrize(("p", "q"), [(1, 1), (2, 1), (3, 2), (5, 5), (10, 10), (20, 10), (7, 6)])
def test_merge_programs_merge_sorted_inputs(p, q):
    rng = np.random.default_rng(p * 100 + q)
    a = np.sort(rng.integers(0, 9, (p, 300)).astype(float), axis=0)  # ties included
    b = np.sort(rng.integers(0, 9, (q, 300)).astype(float), axis=0)
    want = np.sort(np.concatenate([a, b]), axis=0)
    merged = _run(kernels._merge_program(p, q, frozenset(range(p + q))), a, b)
    assert np.array_equal(np.array([merged[k] for k in range(p + q)]), want)
    # Pruned to two positions: fewer ops, the same values.
    few = frozenset({0, p + q - 1})
    pruned = kernels._merge_program(p, q, few)
    assert len(pruned[0]) <= len(kernels._merge_program(p, q, frozenset(range(p + q)))[0])
    assert all(np.array_equal(v, want[k]) for k, v in _run(pruned, a, b).items())


def test_day_numbers():
    rng = np.random.default_rng(1)
    d = pl.Series("date", rng.integers(18_000, 18_400, 3_000), dtype=pl.Int32).cast(pl.Date)
    assert_series_equal(kernels.day_numbers(d), d.rank("dense").cast(pl.Int64), check_names=False)
