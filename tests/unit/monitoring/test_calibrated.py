"""Calibrated drift: market-neutral columns, the alarm line from history, a planted change."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import polars as pl
import pytest
from scipy import stats

from nepse.monitoring.baseline import (
    FEATURES,
    MARKET,
    PREDICTIONS,
    WORST,
    check,
    load_or_none,
)
from nepse.monitoring.calibrated import Calibration, judge, normed_wasserstein
from nepse.monitoring.comparable import column_kind, drift_columns, to_comparable
from tests.unit.monitoring.conftest import WINDOW, window_of


def test_distance_is_evidentlys_normed_wasserstein():
    rng = np.random.default_rng(0)
    ref, cur = rng.standard_normal(3000), 0.3 + 1.2 * rng.standard_normal(700)
    expected = stats.wasserstein_distance(ref, cur) / np.std(ref)
    assert normed_wasserstein(np.sort(ref), cur) == pytest.approx(expected, rel=1e-12)


def test_distance_matches_evidently_score():
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import ValueDrift

    rng = np.random.default_rng(1)
    ref = pl.DataFrame({"x": rng.standard_normal(2000)})
    cur = pl.DataFrame({"x": 0.2 + rng.standard_normal(500)})
    dd = DataDefinition(numerical_columns=["x"])
    snap = Report([ValueDrift(column="x", method="wasserstein")]).run(
        current_data=Dataset.from_pandas(cur.to_pandas(), data_definition=dd),
        reference_data=Dataset.from_pandas(ref.to_pandas(), data_definition=dd),
    )
    score = snap.dict()["metrics"][0]["value"]
    mine = normed_wasserstein(np.sort(ref["x"].to_numpy()), cur["x"].to_numpy())
    assert mine == pytest.approx(score, rel=1e-9)


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("f_ret_1", "z"),
        ("f_vol_20", "z"),
        ("f_ma_ratio_20", "z"),
        ("f_log_turnover_20", "level"),
        ("f_vratio_5", "level"),
        ("f_traded_share_20", "level"),
        ("f_rank_ret_1", "skip"),
        ("f_mkt_ret", "skip"),
    ],
)
def test_column_kinds(name, kind):
    assert column_kind(name) == kind


def test_a_market_wide_move_leaves_the_comparable_columns_unchanged(market):
    feat, days = market
    day = feat.filter(pl.col("date") == days[-1])
    cols = drift_columns(["f_ret_1", "f_vol_20", "f_log_turnover_20"])
    moved = day.with_columns(pl.col("f_ret_1") - 0.03, pl.col("f_vol_20") * 2)
    a, b = to_comparable(day, cols), to_comparable(moved, cols)
    for c in ("f_ret_1", "f_vol_20"):
        np.testing.assert_allclose(a[c].to_numpy(), b[c].to_numpy(), atol=1e-9)


def test_normal_weeks_raise_no_alarm(market, baseline):
    feat, days = market
    # Every window of the last 50 sessions (after the training period) is a normal week.
    verdicts = [check(baseline, window_of(feat, days, e)) for e in range(len(days) - 50, len(days))]
    alarmed = [v.end for v in verdicts if v.alarmed]
    # 99th-percentile lines over 4 statistics: a stray alarm in 50 windows is possible, a habit not.
    assert len(alarmed) <= 2, alarmed
    last = verdicts[-1]
    assert {a.name for a in last.alarms} == {FEATURES, WORST, MARKET, PREDICTIONS}
    assert all(0.0 <= a.position <= 1.0 and a.n_history > 200 for a in last.alarms)


def test_a_planted_feature_change_is_flagged_within_the_window(market, baseline):
    feat, days = market
    start = len(days) - 20
    # From `start` on, a third of the stocks' candle body (f_kmid) is five times too large (as
    # if computed from a wrong open): a change in shape that no market-wide move produces.
    third = pl.col("symbol").hash(seed=1) % 3 == 0
    changed = feat.with_columns(
        pl.when((pl.col("date") >= days[start]) & third)
        .then(pl.col("f_kmid") * 5)
        .otherwise(pl.col("f_kmid"))
        .alias("f_kmid")
    )
    before = check(baseline, window_of(changed, days, start - 1))
    assert not before.alarm(WORST).alarm
    delays = [
        e - start
        for e in range(start, start + WINDOW)
        if check(baseline, window_of(changed, days, e)).alarm(WORST).alarm
    ]
    assert delays and delays[0] < WINDOW, delays


def test_a_planted_market_volatility_change_is_flagged(market, baseline):
    feat, days = market
    start = len(days) - 20
    changed = feat.with_columns(
        pl.when(pl.col("date") >= days[start])
        .then(pl.col("f_ret_1") * 3)
        .otherwise(pl.col("f_ret_1"))
        .alias("f_ret_1")
    )
    first = next(
        e
        for e in range(start, start + WINDOW)
        if check(baseline, window_of(changed, days, e)).alarm(MARKET).alarm
    )
    assert first - start < WINDOW


def test_baseline_round_trips(tmp_path, baseline, market):
    feat, days = market
    baseline.save(tmp_path)
    back = load_or_none(tmp_path)
    assert back is not None and load_or_none(tmp_path / "none") is None
    assert back.calibrations[FEATURES] == baseline.calibrations[FEATURES]
    assert back.scales == baseline.scales
    cur = window_of(feat, days, len(days) - 1)
    assert check(back, cur).alarms == check(baseline, cur).alarms


def test_judge_above_and_below():
    cal = Calibration("x", tuple(float(i) for i in range(101)), (date(2020, 1, 1),) * 101, 0.99, 5)
    assert cal.threshold == pytest.approx(99.0)
    assert judge(99.5, cal).alarm and not judge(98.0, cal).alarm
    assert judge(50.0, cal).position == pytest.approx(51 / 101)
    floor = judge(0.5, cal, higher_is_worse=False)
    assert floor.alarm and floor.threshold == pytest.approx(1.0)
    assert not judge(math.nan, cal).alarm
