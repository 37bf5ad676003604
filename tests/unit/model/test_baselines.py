"""Baselines: ridge equals sklearn's on standardised inputs, rules need no fit, nulls stay null."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import Ridge

from nepse.model.baselines import RandomForestBaseline, RidgeBaseline, make_baselines


def test_ridge_matches_sklearn_on_training_window_scaling():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2000, 4)) * [1, 2, 3, 4] + 1
    y = x @ [1.0, 0.0, 2.0, -1.0] + rng.standard_normal(2000)
    x[rng.random(x.shape) < 0.05] = np.nan
    ours = RidgeBaseline([0, 1, 2, 3], alpha=10.0).fit(x, y)
    filled = np.where(np.isnan(x), ours.median_, x)
    z = (filled - filled.mean(axis=0)) / filled.std(axis=0)
    ref = Ridge(alpha=10.0).fit(z, y)
    np.testing.assert_allclose(ours.predict(x), ref.predict(z), atol=1e-10)
    # Test rows are scaled with the training window's statistics, not their own.
    shifted = x[:10] + 100.0
    assert np.all(np.abs(ours.predict(shifted)) > 50)


def test_rules_and_skips():
    names = ["f_ret_1", "f_roc_5", "f_sector"]
    by_name = {b.name: b for b in make_baselines(names, ["f_sector"])}
    assert set(by_name) == {"zero", "reversal", "momentum", "ridge", "random_forest"}
    x = np.array([[0.01, 0.05, 3.0], [np.nan, -0.02, 1.0]])
    np.testing.assert_array_equal(by_name["zero"].predict(x), [0.0, 0.0])
    rev = by_name["reversal"].predict(x)
    assert rev[0] == pytest.approx(-0.01) and np.isnan(rev[1])
    np.testing.assert_allclose(by_name["momentum"].predict(x), [0.05, -0.02])
    assert by_name["ridge"].columns == [0, 1]  # the categorical code is not a number to scale
    assert by_name["random_forest"].columns == [0]  # only f_ret_1 of the RF features exists
    assert {b.name for b in make_baselines(["f_noise"], [])} == {"zero", "ridge"}


def test_random_forest_is_seeded_and_handles_nulls():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3000, 3))
    y = x[:, 0] + 0.1 * rng.standard_normal(3000)
    x[::7, 1] = np.nan
    a = RandomForestBaseline([0, 1, 2], seed=3, max_samples=500).fit(x, y).predict(x[:50])
    b = RandomForestBaseline([0, 1, 2], seed=3, max_samples=500).fit(x, y).predict(x[:50])
    np.testing.assert_allclose(a, b, rtol=1e-12)  # threads may sum trees in another order
    assert np.corrcoef(a, y[:50])[0, 1] > 0.8
