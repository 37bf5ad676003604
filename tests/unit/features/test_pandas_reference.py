"""The pandas reference (tests/unit/features/pandas_reference.py, an independent implementation
written as the notebook pipeline was) computes every feature of FULL_SPEC, and equals
build_features on each; bench/features_vs_pandas.py times it, so the speed-up in
docs/benchmarks.md compares the same work."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from nepse.devdata.sample import iter_panel
from nepse.features import FULL_SPEC, build_features
from nepse.features.adjust import adjust_prices
from tests.unit.features.pandas_reference import pandas_features


@pytest.mark.parametrize("style", ["rolling", "transform"])
def test_pandas_reference_equals_polars_on_every_feature(settings, style):
    adj = pl.concat(
        adjust_prices(c.lazy(), None).collect()
        for c in iter_panel(symbols=8, years=1.5, seed=5, chunk_symbols=8)
    )
    ref = build_features(adj.lazy(), spec=FULL_SPEC).collect()
    got = pl.from_pandas(pandas_features(adj.to_pandas(), style=style)).sort("symbol", "date")
    assert set(FULL_SPEC.names) <= set(got.columns)
    assert got.select("symbol", "date").equals(ref.select("symbol", "date"))
    for name in FULL_SPEC.names:
        x = got[name].cast(pl.Float64).fill_null(np.nan).to_numpy()
        y = ref[name].cast(pl.Float64).fill_null(np.nan).to_numpy()
        assert (np.isnan(x) == np.isnan(y)).all(), f"{name}: null patterns differ"
        both = ~np.isnan(y)
        scale = np.maximum(1.0, np.abs(y[both]))
        assert (np.abs(x[both] - y[both]) / scale).max(initial=0.0) < 1e-9, name
