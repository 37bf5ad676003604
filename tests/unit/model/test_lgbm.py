"""Final model: training window ends where labels are known, deterministic, keys kept."""

from __future__ import annotations

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from nepse.errors import DataQualityError, NotEnoughHistoryError
from nepse.model.data import data_fingerprint
from nepse.model.final import TrainedModel, train_final
from nepse.model.lgbm import lgb_params
from nepse.settings import load_settings
from tests.unit.model.panels import make_panel

FAST = {"valid_days": 10, "num_boost_round": 15, "early_stopping_rounds": 5}


@pytest.fixture(scope="module")
def small():
    return make_panel(20, 90, n_noise=1, seed=7)


def fit(small, **over):
    panel, features, categorical = small
    days = panel.get_column("date").unique().sort().to_list()
    s = load_settings(**{**FAST, **over})
    return train_final(
        panel, feature_names=features, categorical=categorical, settings=s, as_of=days[80]
    ), days


def test_window_ends_where_labels_are_known_and_is_deterministic(small):
    a, days = fit(small, horizon=2)
    assert a.meta["train_end"] == days[78].isoformat()  # as_of index 80 minus horizon 2
    assert a.meta["valid_start"] == days[69].isoformat()  # last 10 days of the window
    assert a.meta["fit_end"] == days[66].isoformat()  # embargo of 2 days before validation
    assert a.reference["date"].max() <= days[78]
    b, _ = fit(small, horizon=2)
    x = small[0].filter(pl.col("date") == days[85])
    assert_frame_equal(a.predict(x), b.predict(x))
    assert a.meta["data_fingerprint"] == b.meta["data_fingerprint"]
    c, _ = fit(small, horizon=2, seed=3)
    assert not a.predict(x)["pred_ret"].equals(c.predict(x)["pred_ret"])


def test_predict_keeps_keys_and_save_load(small, tmp_path):
    model, days = fit(small)
    x = small[0].filter(pl.col("date") >= days[85]).sample(fraction=1.0, shuffle=True, seed=1)
    out = model.predict(x)
    assert out.columns == ["symbol", "date", "pred_ret"]
    assert_frame_equal(out.select("symbol", "date"), x.select("symbol", "date"))
    assert model.meta["train_rmse"] > 0 and model.meta["valid_rmse"] > 0
    loaded = TrainedModel.load(model.save(tmp_path / "m"))
    assert_frame_equal(loaded.predict(x), out)
    assert_frame_equal(loaded.reference, model.reference)
    with pytest.raises(DataQualityError, match="f_ret_1"):
        model.predict(x.drop("f_ret_1"))


def test_too_short_history_and_fingerprint_order_free(small):
    panel, features, categorical = small
    days = panel.get_column("date").unique().sort().to_list()
    with pytest.raises(NotEnoughHistoryError, match="valid_days"):
        train_final(
            panel,
            feature_names=features,
            categorical=categorical,
            settings=load_settings(**FAST),
            as_of=days[8],
        )
    shuffled = panel.sample(fraction=1.0, shuffle=True, seed=2)
    assert data_fingerprint(panel, features) == data_fingerprint(shuffled, features)
    changed = panel.with_columns(pl.col("f_ret_1") * 1.0001)
    assert data_fingerprint(panel, features) != data_fingerprint(changed, features)


def test_params_merge_over_defaults():
    p = lgb_params(load_settings(lgbm_params={"learning_rate": 0.1}), seed=4)
    assert p["learning_rate"] == 0.1 and p["num_leaves"] == 31 and p["seed"] == 4
    assert p["deterministic"] is True
