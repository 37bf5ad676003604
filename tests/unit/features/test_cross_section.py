"""The per-date kernels equal Polars: the date order, and ranks on each date (ties, NaN, +-0.0,
+-inf, nulls, dates with one or no value, blocks of dates)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal, assert_series_equal

from nepse.features import cross_section


def _panel(days: int, seed: int) -> pl.DataFrame:
    """Dates of 0 to ~40 rows, sorted by date, with every kind of float Polars orders."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(0, 40, days)
    sizes[rng.integers(0, days, max(1, days // 10))] = 1  # dates with a single row
    date = np.repeat(np.arange(19_000, 19_000 + days), sizes)
    n = len(date)
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, -np.nan, 1.5, -1.5])
    x = np.where(rng.random(n) < 0.3, rng.choice(special, n), np.round(rng.normal(0, 1, n), 1))
    y = rng.normal(0, 1, n)  # no ties, no NaN: the kernel's fast path
    nulls = rng.random(n) < 0.15
    return pl.DataFrame(
        {
            "date": pl.Series(date, dtype=pl.Int32).cast(pl.Date),
            "x": pl.Series(x).scatter(np.flatnonzero(nulls), None),
            "y": y,
            "z": pl.Series([None] * n, dtype=pl.Float64),  # all null
            "i": rng.integers(-3, 3, n),  # integers: ties
        }
    )


@pytest.mark.parametrize("threads", [1, 3])
@pytest.mark.parametrize(("days", "block"), [(1, 1 << 15), (300, 97), (300, 1), (2_000, 512)])
def test_date_ranks_equal_polars(monkeypatch, days, block, threads):
    monkeypatch.setattr(cross_section, "BLOCK", block)
    # Blocks of dates rank on as many threads as Polars has: one, or several side by side.
    monkeypatch.setattr(cross_section.pl, "thread_pool_size", lambda: threads)
    df = _panel(days, seed=days + block)
    cols = ["x", "y", "z", "i"]
    got = df.select(pl.map_batches(["date", *cols], cross_section.date_ranks).alias("r")).unnest(
        "r"
    )
    want = df.select(cross_section.polars_date_rank(c) for c in cols)
    # Exactly: -0.0 ties with 0.0 and every NaN with every other NaN, as in Polars.
    assert_frame_equal(got, want, check_exact=True)
    assert got["x"].null_count() == df["x"].null_count()


def test_date_ranks_of_nothing():
    empty = pl.DataFrame({"date": [], "x": []}, schema={"date": pl.Date, "x": pl.Float64})
    out = cross_section.date_ranks([empty["date"], empty["x"]])
    assert out.len() == 0
    assert out.struct.fields == ["x"]


def test_date_order():
    rng = np.random.default_rng(1)
    d = pl.Series("date", rng.integers(18_000, 18_400, 3_000), dtype=pl.Int32).cast(pl.Date)
    order = cross_section.date_order(d)
    perm, inv = order.struct.field("perm"), order.struct.field("inv")
    assert perm.dtype == pl.get_index_type()
    assert d.gather(perm).is_sorted()
    assert_series_equal(pl.Series(range(len(d))).gather(perm).gather(inv), pl.Series(range(len(d))))
    # Stable: rows of one date keep their order.
    rows = pl.DataFrame({"date": d, "i": range(len(d))})[perm.to_list()]
    assert rows.group_by("date").agg(pl.col("i").is_sorted())["i"].all()
