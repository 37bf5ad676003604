"""Walk-forward: embargo, early-stopping slice, determinism, baselines on the model's rows."""

from __future__ import annotations

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import nepse.model.lgbm as lgbm
import nepse.model.walkforward as wf
from nepse.errors import NotEnoughHistoryError
from nepse.model.baselines import BASELINE_NAMES, RidgeBaseline
from nepse.model.metrics import SUMMARY_FIELDS
from nepse.settings import load_settings
from tests.unit.model.panels import make_panel

FAST = {
    "retrain_every": 20,
    "valid_days": 15,
    "num_boost_round": 25,
    "early_stopping_rounds": 5,
    "lgbm_params": {"learning_rate": 0.1},
}


@pytest.fixture(scope="module")
def small():
    return make_panel(40, 160, n_noise=2, seed=3)


@pytest.fixture(scope="module")
def days(small):
    return small[0].get_column("date").unique().sort().to_list()


@pytest.fixture(scope="module")
def result(small, days):
    panel, features, categorical = small
    calls = []
    res = wf.walk_forward(
        panel,
        feature_names=features,
        categorical=categorical,
        settings=load_settings(**FAST),
        test_start=days[100],
        seeds=[0, 1],
        progress=lambda p: calls.append((p.done, p.total)),
    )
    return res, calls


def day_index_panel(small, days):
    """The same panel with y_ret = calendar index of the row's date: labels tell their date."""
    panel, features, categorical = small
    index = pl.DataFrame({"date": days, "day_idx": list(range(len(days)))})
    panel = (
        panel.join(index, on="date")
        .with_columns(
            pl.when(pl.col("y_ret").is_not_null())
            .then(pl.col("day_idx").cast(pl.Float64))
            .alias("y_ret")
        )
        .drop("day_idx")
    )
    return panel, features, categorical


@pytest.mark.parametrize("horizon", [1, 3])
@pytest.mark.parametrize("window", ["expanding", "rolling"])
def test_no_training_label_reaches_the_test_block(small, days, monkeypatch, horizon, window):
    panel, features, categorical = day_index_panel(small, days)
    seen: list[tuple[float, float, float, float]] = []
    ridge_seen: list[float] = []
    real_fit = lgbm.fit_booster

    def spy(x, y, fit_idx, valid_idx, **kw):
        seen.append((y[fit_idx].min(), y[fit_idx].max(), y[valid_idx].min(), y[valid_idx].max()))
        return real_fit(x, y, fit_idx, valid_idx, **kw)

    real_ridge_fit = RidgeBaseline.fit

    def ridge_spy(self, x, y):
        ridge_spy.calls.append(y.max())
        return real_ridge_fit(self, x, y)

    ridge_spy.calls = ridge_seen
    monkeypatch.setattr(lgbm, "fit_booster", spy)
    monkeypatch.setattr(RidgeBaseline, "fit", ridge_spy)
    settings = load_settings(**FAST, horizon=horizon, walk_forward_window=window, train_years=0.25)
    res = wf.walk_forward(
        panel,
        feature_names=features,
        categorical=categorical,
        settings=settings,
        test_start=days[100],
        seeds=[0],
    )
    blocks = res.blocks.to_dicts()
    assert len(seen) == len(blocks) == 3
    assert len(ridge_seen) == 3
    for (fit_lo, fit_hi, valid_lo, valid_hi), ridge_hi, block in zip(
        seen, ridge_seen, blocks, strict=True
    ):
        first_test = days.index(block["test_start"])
        # The label of a row dated at index i is known at i + horizon: before the test block.
        assert valid_hi + horizon < first_test
        assert valid_hi + horizon == first_test - 1  # the window ends as late as allowed
        assert ridge_hi + horizon < first_test
        # Early-stopping slice: the last valid_days of the window, embargoed from the fit slice.
        assert valid_hi - valid_lo + 1 == settings.valid_days
        assert fit_hi + horizon < valid_lo
        if window == "rolling":
            assert days[int(fit_lo)] == block["train_start"]
            assert (block["train_end"] - block["train_start"]).days <= round(0.25 * 365.25)
        else:
            assert fit_lo == 0
    if window == "rolling":
        assert blocks[-1]["train_start"] > days[0]


def test_segments_recorded_per_block(result, days):
    res, calls = result
    assert calls == [(k, 7) for k in range(8)]  # 3 blocks x 2 seeds + 1 baseline group
    for b in res.blocks.to_dicts():
        assert b["train_start"] <= b["fit_end"] < b["valid_start"] <= b["train_end"]
        assert b["train_end"] < b["test_start"] <= b["test_end"]
        assert days.index(b["test_start"]) - days.index(b["train_end"]) == 2  # horizon 1 + 1
        assert len(b["best_iteration"]) == 2
        assert all(1 <= it <= FAST["num_boost_round"] for it in b["best_iteration"])
    assert res.blocks["n_test_days"].to_list() == [20, 20, 19]  # the last day has no label


def test_same_seed_same_predictions_other_seed_differs(small, days, result):
    panel, features, categorical = small
    res, _ = result
    kw = {
        "feature_names": features,
        "categorical": categorical,
        "settings": load_settings(**FAST),
        "test_start": days[100],
        "baselines": False,
    }
    a = wf.walk_forward(panel, seeds=[0], **kw)
    b = wf.walk_forward(panel, seeds=[0], **kw)
    c = wf.walk_forward(panel, seeds=[1], **kw)
    assert_frame_equal(a.predictions, b.predictions)
    assert not a.predictions["pred_ret"].equals(c.predictions["pred_ret"])
    # The two-seed run's prediction is the mean of the one-seed runs.
    mean = (a.predictions["pred_ret"] + c.predictions["pred_ret"]) / 2
    assert (res.predictions["pred_ret"] - mean).abs().max() < 1e-12


def test_baselines_scored_on_exactly_the_model_rows(result):
    res, _ = result
    keys = res.predictions.select("date", "symbol").sort("date", "symbol")
    assert keys.height == res.predictions.height > 0
    assert res.predictions["y_ret"].null_count() == 0
    assert set(res.baseline_predictions["model"].unique()) == set(BASELINE_NAMES)
    for name, part in res.baseline_predictions.group_by("model"):
        assert_frame_equal(part.select("date", "symbol").sort("date", "symbol"), keys), name
    labelled = res.daily.group_by("model", "seed").agg(pl.col("n_labelled").sum())
    assert labelled["n_labelled"].n_unique() == 1
    assert labelled["n_labelled"][0] == keys.height


def test_summary_and_importance(result):
    res, _ = result
    s = res.summary
    assert s["model"].to_list() == ["lightgbm", *BASELINE_NAMES]
    lgbm = res.summary_dict()["lightgbm"]
    assert set(SUMMARY_FIELDS) <= set(lgbm)
    assert lgbm["n_seeds"] == 2 and lgbm["rank_ic_std"] is not None
    # The planted signal (IC about 0.1) is found out of sample (tiny windows: a noisy estimate);
    # the zero baseline has no IC.
    assert lgbm["rank_ic"] > 0
    assert res.rank_ic("ridge") > 0.03
    assert res.rank_ic("zero") is None
    assert res.summary_dict()["zero"]["rmse"] > 0
    assert res.summary_dict()["reversal"]["rank_ic"] > 0
    top = res.importance["feature"].head(3).to_list()
    assert "f_ma_ratio_10" in top
    assert res.importance["share"].sum() == pytest.approx(1.0)
    assert (
        res.model_daily.height == res.daily.filter(pl.col("model") == "lightgbm")["date"].n_unique()
    )


def test_too_little_history_is_refused(small, days):
    panel, features, categorical = small
    with pytest.raises(NotEnoughHistoryError, match="too little history"):
        wf.walk_forward(
            panel,
            feature_names=features,
            categorical=categorical,
            settings=load_settings(**FAST),
            test_start=days[10],
            seeds=[0],
            baselines=False,
        )
