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
    for w in (5, 10, 20):
        qs = kernels.rolling_quantiles(s, w, (0.2, 0.8))
        for q in (0.2, 0.8):
            want = s.rolling_quantile(q, "linear", w, min_samples=w)[w - 1 :]
            assert_series_equal(
                qs.struct.field(f"q{q}")[w - 1 :], want, check_names=False, check_exact=True
            )


def test_network_sorts():
    rng = np.random.default_rng(0)
    for n in (2, 5, 10, 20, 30):
        x = rng.random((n, 200))
        wires = list(x)
        for a, b in kernels._network(n):
            wires[a], wires[b] = np.minimum(wires[a], wires[b]), np.maximum(wires[a], wires[b])
        assert np.array_equal(np.array(wires), np.sort(x, axis=0)), n


def test_day_numbers_and_date_order():
    rng = np.random.default_rng(1)
    d = pl.Series("date", rng.integers(18_000, 18_400, 3_000), dtype=pl.Int32).cast(pl.Date)
    assert_series_equal(kernels.day_numbers(d), d.rank("dense").cast(pl.Int64), check_names=False)
    order = kernels.date_order(d)
    perm, inv = order.struct.field("perm"), order.struct.field("inv")
    assert d.gather(perm).is_sorted()
    assert_series_equal(pl.Series(range(len(d))).gather(perm).gather(inv), pl.Series(range(len(d))))
    # Stable: rows of one date keep their order.
    rows = pl.DataFrame({"date": d, "i": range(len(d))})[perm.to_list()]
    assert rows.group_by("date").agg(pl.col("i").is_sorted())["i"].all()
