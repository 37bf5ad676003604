"""Calibrated drift: market-neutral columns, the alarm line from history, a planted change."""

from __future__ import annotations

import dataclasses
import json
import math
from datetime import date

import numpy as np
import polars as pl
import pytest
from scipy import stats

from nepse.features import FEATURE_SPEC
from nepse.monitoring.baseline import (
    BASELINE_FILE,
    FEATURES,
    MARKET,
    PREDICTIONS,
    WORST,
    build_baseline,
    check,
    load_or_none,
    per_statistic,
)
from nepse.monitoring.calibrated import Calibration, judge, normed_wasserstein
from nepse.monitoring.comparable import column_kind, drift_columns, to_comparable
from nepse.monitoring.daily_drift import sessions_of
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
    alarmed = [v.end for v in verdicts if v.dataset_drift]
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


def test_the_alarm_quantile_is_the_familys(baseline):
    # Four statistics at the configured 0.99: each alarms beyond its own 1 - 0.01 / 4 quantile,
    # so any one of them alarms on at most ~1 % of the calibration windows, not ~4 %.
    assert per_statistic(0.99, 4) == pytest.approx(0.9975)
    assert {c.quantile for c in baseline.calibrations.values()} == {per_statistic(0.99, 4)}
    cals = list(baseline.calibrations.values())
    n = len(cals[0].values)
    beyond = {
        i for c in cals for i, v in enumerate(c.values) if v > c.threshold
    }  # window numbers where some statistic is beyond its line
    assert len(beyond) / n <= 0.01 + len(cals) / n


def test_calculated_closes_are_flagged_as_market_drift(market, baseline):
    # NEPSE 2025-03-20..2025-09-21: closes were a calculated price, mostly off the Rs 0.1 tick.
    feat, days = market
    assert feat["close"].is_not_null().all()
    start = len(days) - 20
    calc = (pl.col("date") >= days[start]) & (pl.col("symbol").hash(seed=2) % 5 != 0)
    changed = feat.with_columns(
        pl.when(calc).then(pl.col("close") + 0.037).otherwise(pl.col("close")).alias("close")
    )
    assert not check(baseline, window_of(changed, days, start - 1)).alarm(MARKET).alarm
    first = next(
        (
            e - start
            for e in range(start, start + WINDOW)
            if check(baseline, window_of(changed, days, e)).alarm(MARKET).alarm
        ),
        None,
    )
    assert first is not None and first < WINDOW
    verdict = check(baseline, window_of(changed, days, start + WINDOW))
    assert max(verdict.market, key=verdict.market.get) == "m_close_offtick"


def test_without_out_of_sample_predictions_there_is_no_prediction_statistic(market):
    feat, days = market
    panel = feat.drop("pred_ret").filter(pl.col("date") <= days[-60])
    sessions = sessions_of(panel)(days[-60], 405)
    base = build_baseline(
        sessions,
        features=list(FEATURE_SPEC.names),
        categorical=list(FEATURE_SPEC.categorical),
        window=WINDOW,
        reference_days=100,
        calibration_days=300,
        quantile=0.99,
    )
    assert PREDICTIONS not in base.calibrations
    assert {c.quantile for c in base.calibrations.values()} == {per_statistic(0.99, 3)}
    verdict = check(base, window_of(feat, days, len(days) - 1))  # the window has pred_ret
    assert verdict.alarm(PREDICTIONS) is None and verdict.alarm(FEATURES) is not None


def test_a_baseline_saved_before_a_market_column_existed_still_judges(baseline, market):
    feat, days = market
    old = dataclasses.replace(baseline, market=baseline.market.drop("m_close_offtick"))
    verdict = check(old, window_of(feat, days, len(days) - 1))
    assert "m_close_offtick" not in verdict.market
    assert verdict.alarm(MARKET) is not None


def test_prediction_drift_waits_for_a_window_predicted_on_every_session(market, baseline):
    """A new champion's first days have predictions on fewer sessions than the calibration
    windows had; that smaller sample reads far by chance, so it is not judged until full."""
    feat, days = market
    window = window_of(feat, days, len(days) - 1)
    assert check(baseline, window).alarm(PREDICTIONS) is not None
    last = window.get_column("date").max()
    first_day = window.with_columns(
        pl.when(pl.col("date") == last).then(pl.col("pred_ret")).alias("pred_ret")
    )
    verdict = check(baseline, first_day)
    assert verdict.alarm(PREDICTIONS) is None and verdict.alarm(FEATURES) is not None


@pytest.mark.parametrize(
    "edit",
    [
        lambda f: (f / BASELINE_FILE).write_text(
            (f / BASELINE_FILE).read_text().replace('"window": 5', '"window": 6')
        ),
        lambda f: (f / BASELINE_FILE).write_bytes((f / BASELINE_FILE).read_bytes()[:-40]),
        lambda f: (f / "drift_reference.parquet").write_bytes(b"PAR1 edited"),
        lambda f: (f / "drift_market.parquet").unlink(),
    ],
    ids=["alarm window edited", "json cut", "reference replaced", "market file gone"],
)
def test_an_edited_baseline_is_an_integrity_error_not_new_alarm_lines(tmp_path, baseline, edit):
    from nepse.errors import ModelNotFoundError
    from nepse.model import files

    files.seal(tmp_path, [])  # a model folder's manifest, before the baseline joins it
    baseline.save(tmp_path)
    assert {"drift_baseline.json", "drift_reference.parquet", "drift_market.parquet"} <= set(
        json.loads((tmp_path / files.MANIFEST_FILE).read_text())["sha256"]
    )
    edit(tmp_path)
    with pytest.raises(ModelNotFoundError, match=r"drift_(baseline|reference|market)"):
        load_or_none(tmp_path)


def test_a_baseline_saved_unsealed_by_older_code_is_derived_again(tmp_path, baseline, caplog):
    from nepse.model import files

    baseline.save(tmp_path)
    files.seal(tmp_path, ["drift_baseline.json"])  # an older model: only part of it listed
    assert load_or_none(tmp_path) is None
    assert "not sealed" in caplog.text


def test_a_full_disk_keeps_the_saved_baseline(tmp_path, baseline, disk):
    baseline.save(tmp_path)
    saved = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    disk.fill()
    with pytest.raises(OSError, match=r"drift_reference\.parquet: no space left on device"):
        baseline.save(tmp_path)
    disk.free()
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == saved  # nothing half-written
    assert load_or_none(tmp_path) is not None
