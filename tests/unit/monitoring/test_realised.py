"""Realised monitoring: in-sample days marked and excluded, Rank IC against its walk-forward."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest

from nepse.monitoring.realised import (
    in_sample_window,
    judge_rank_ic,
    load_rank_ic_calibration,
    mark_in_sample,
    rolling_out_of_sample,
    save_walkforward_daily,
)

D0 = date(2024, 1, 1)


def perf(n: int, version: str = "v1", rank_ic: float = 0.05, start: date = D0) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "date": [start + timedelta(days=i) for i in range(n)],
            "model_version": [version] * n,
            "rank_ic": [rank_ic] * n,
        }
    )


def test_days_inside_the_training_window_are_in_sample():
    meta = {"train_start": "2016-01-01", "train_end": "2024-01-10"}
    window = in_sample_window(meta)
    marked = mark_in_sample(perf(30), {"v1": window})
    assert marked.filter(pl.col("in_sample")).get_column("date").max() == date(2024, 1, 10)
    assert marked.filter(~pl.col("in_sample")).height == 20
    # A model without a known window (the naive baseline) has no in-sample days.
    assert not mark_in_sample(perf(3, "naive"), {"naive": None})["in_sample"].any()
    assert in_sample_window({}) is None


def test_in_sample_days_never_enter_the_rolling_figure():
    # 10 in-sample days with a flattering 0.41, then 20 honest out-of-sample days at 0.05.
    frame = pl.concat([perf(10, rank_ic=0.41), perf(20, rank_ic=0.05, start=D0 + timedelta(10))])
    marked = mark_in_sample(frame, {"v1": (date(2016, 1, 1), D0 + timedelta(9))})
    assert rolling_out_of_sample(marked) == pytest.approx(0.05)
    assert rolling_out_of_sample(marked.head(25)) is None  # only 15 out-of-sample days


def test_rank_ic_is_judged_against_its_walk_forward_distribution(tmp_path):
    rng = np.random.default_rng(0)
    wf = pl.DataFrame(
        {
            "date": [D0 + timedelta(days=i) for i in range(500)],
            "rank_ic": 0.08 + 0.1 * rng.standard_normal(500),
            "seed": [0] * 500,
        }
    )
    save_walkforward_daily(wf, tmp_path)
    cal = load_rank_ic_calibration(tmp_path, quantile=0.99)
    assert cal is not None and len(cal.values) == 481
    assert load_rank_ic_calibration(tmp_path / "missing") is None
    low = judge_rank_ic(-0.05, cal)
    ok = judge_rank_ic(0.08, cal)
    assert low.alarm and not ok.alarm and low.threshold < 0.08
    assert judge_rank_ic(None, cal) is None
