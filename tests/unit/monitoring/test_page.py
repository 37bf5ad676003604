"""Evidently's run of the day says what the calibrated verdict says: one verdict on the page."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from nepse.monitoring.baseline import MARKET, WORST, check
from nepse.monitoring.comparable import PREDICTION
from nepse.monitoring.drift import PREDICTIONS
from nepse.monitoring.page import ALARM_TAG, OK_TAG, RANK_IC, day_snapshot, page_html
from tests.unit.monitoring.conftest import window_of


def _statuses(snapshot) -> dict[str, str]:
    """{column: Evidently's test status} of the run (statistics, features and prediction)."""
    data = snapshot.dict()
    column = {m["id"]: m["config"]["column"] for m in data["metrics"]}
    return {column[t["metric_config"]["metric_id"]]: str(t["status"]) for t in data["tests"]}


def _values(snapshot) -> dict[str, float]:
    return {m["config"]["column"]: m["value"] for m in snapshot.dict()["metrics"]}


def _window(market, change: str) -> pl.DataFrame:
    feat, days = market
    start = len(days) - 20
    if change == "worst feature":  # a third of the stocks' candle body five times too large
        third = pl.col("symbol").hash(seed=1) % 3 == 0
        feat = feat.with_columns(
            pl.when((pl.col("date") >= days[start]) & third)
            .then(pl.col("f_kmid") * 5)
            .otherwise(pl.col("f_kmid"))
            .alias("f_kmid")
        )
    elif change == "market":  # the market three times as volatile
        feat = feat.with_columns(
            pl.when(pl.col("date") >= days[start])
            .then(pl.col("f_ret_1") * 3)
            .otherwise(pl.col("f_ret_1"))
            .alias("f_ret_1")
        )
    return window_of(feat, days, start + 4)


@pytest.mark.parametrize("change", ["none", "worst feature", "market"])
def test_evidently_fails_exactly_what_the_verdict_counts(market, baseline, change):
    _, days = market
    window = _window(market, change)
    summary = check(baseline, window)
    snap = day_snapshot(baseline, window, summary, day=days[-1], model_version="v1", columns=6)
    statuses = _statuses(snap)

    expected_fail = {a.name for a in summary.alarms if a.alarm and a.name != PREDICTIONS}
    expected_fail |= {c.column for c in summary.top_columns(6) if c.drifted}
    pred = summary.prediction_drift
    if pred is not None and pred.alarm:
        expected_fail.add(PREDICTION)
    failed = {c for c, s in statuses.items() if s.endswith("FAIL")}
    assert failed == expected_fail
    assert bool(failed) == summary.dataset_drift  # the Tests tab and the verdict agree
    assert set(statuses) >= {a.name for a in summary.alarms if a.name != PREDICTIONS}
    tags = snap.dump_dict()["tags"]
    assert (ALARM_TAG if summary.dataset_drift else OK_TAG) in tags
    if change == "none":
        assert not summary.dataset_drift and not failed
    elif change == "worst feature":
        assert summary.alarm(WORST).alarm and "f_kmid" in failed
    else:
        assert summary.alarm(MARKET).alarm and MARKET in failed


def test_evidentlys_scores_are_the_distances_the_verdict_judged(market, baseline):
    feat, days = market
    window = window_of(feat, days, len(days) - 1)
    summary = check(baseline, window)
    snap = day_snapshot(
        baseline, window, summary, day=days[-1], model_version="v1", columns=8, rank_ic=0.04
    )
    values = _values(snap)
    for c in summary.top_columns(8):
        assert values[c.column] == pytest.approx(c.score, rel=1e-9)
    assert values[PREDICTION] == pytest.approx(summary.prediction_drift.value, rel=1e-9)
    for a in summary.alarms:
        if a.name != PREDICTIONS:
            assert values[a.name] == pytest.approx(a.value, rel=1e-12)
    assert values[RANK_IC] == pytest.approx(0.04)
    assert RANK_IC not in _statuses(snap)  # plotted, not tested


def test_the_run_names_its_day_model_and_verdict(market, baseline):
    feat, days = market
    window = window_of(feat, days, len(days) - 1)
    summary = check(baseline, window)
    snap = day_snapshot(baseline, window, summary, day=days[-1], model_version="v7", columns=3)
    meta = snap.dump_dict()
    assert meta["name"] == f"drift {days[-1]} v7"
    assert meta["metadata"]["model_version"] == "v7"
    assert meta["metadata"]["day"] == str(days[-1])
    assert meta["metadata"]["verdict"] == OK_TAG
    assert set(meta["metadata"]) >= {a.name for a in summary.alarms}
    html = page_html(snap)
    assert "nepse-verdict" not in html  # Evidently's own page: nothing spliced in
    assert "Less or Equal" in html  # the statistics' tests at their lines


def test_a_prediction_not_judged_is_not_shown(market, baseline):
    feat, days = market
    window = window_of(feat, days, len(days) - 1)
    last = window.get_column("date").max()
    first_day = window.with_columns(  # a new champion: predictions on one session of five
        pl.when(pl.col("date") == last).then(pl.col("pred_ret")).alias("pred_ret")
    )
    summary = check(baseline, first_day)
    assert summary.prediction_drift is None
    snap = day_snapshot(baseline, first_day, summary, day=days[-1], model_version="v1", columns=3)
    assert PREDICTION not in _values(snap)
    assert np.isfinite(list(_values(snap).values())).all()


def test_the_workspace_run_is_the_verdict_alone(market, baseline):
    """`columns=0`: every statistic (the predictions' too) tested at its line, no feature, small."""
    _, days = market
    window = _window(market, "worst feature")
    summary = check(baseline, window)
    snap = day_snapshot(baseline, window, summary, day=days[-1], model_version="v1", columns=0)
    statuses = _statuses(snap)
    assert set(statuses) == {a.name for a in summary.alarms}
    assert {c for c, s in statuses.items() if s.endswith("FAIL")} == {
        a.name for a in summary.alarms if a.alarm
    }
    full = day_snapshot(baseline, window, summary, day=days[-1], model_version="v1", columns=8)
    assert len(snap.dumps()) * 5 < len(full.dumps())
