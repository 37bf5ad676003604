"""Evaluation pieces on hand-written frames, and the in-sample refusal."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import pytest

from nepse.model.evaluate import (
    InSampleError,
    daily_rank_ic,
    evaluate_days,
    ic_summary,
    quintile_returns,
    score_autocorrelation,
)

D = [date(2025, 1, 1) + timedelta(days=i) for i in range(3)]
SYMS = [f"S{i}" for i in range(10)]


def _frames():
    scores = pl.DataFrame(
        [(d, s, float(i)) for d in D for i, s in enumerate(SYMS)],
        schema=["date", "symbol", "pred_ret"],
        orient="row",
    )
    labels = pl.DataFrame(
        [
            (d, s, float(i) / 100 if k < 2 else -float(i) / 100)
            for k, d in enumerate(D)
            for i, s in enumerate(SYMS)
        ],
        schema=["date", "symbol", "y_next_vwap"],
        orient="row",
    )
    return scores, labels


def test_rank_ic_per_day_and_summary():
    scores, labels = _frames()
    d = daily_rank_ic(scores, labels, "y_next_vwap")
    assert d["rank_ic"].to_list() == pytest.approx([1.0, 1.0, -1.0])
    s = ic_summary(d)
    assert s["rank_ic"] == pytest.approx(1 / 3) and s["n_days"] == 3


def test_quintiles_and_autocorrelation():
    scores, labels = _frames()
    q = quintile_returns(scores, labels, "y_next_vwap").filter(pl.col("date") == D[0])
    assert q["quintile"].to_list() == [1, 2, 3, 4, 5]
    assert q["ret"].to_list() == pytest.approx([0.005, 0.025, 0.045, 0.065, 0.085])
    ac = score_autocorrelation(scores)
    assert ac["date"].to_list() == D[1:] and ac["autocorr"].to_list() == pytest.approx([1, 1])


class _Model:
    def __init__(self) -> None:
        self.meta = {"version": "v1", "train_end": "2025-06-30"}


def test_days_inside_the_training_window_are_refused_naming_the_first_day_out(settings):
    from nepse.ingest.service import ingest_read
    from nepse.schema import ReadResult
    from nepse.store import open_store

    days = [date(2025, 6, 29), date(2025, 6, 30), date(2025, 7, 2)]  # 07-01: a holiday
    rows = [(s, d, 100.0) for d in days for s in ("A", "B", "C")]
    prices = pl.DataFrame(rows, schema=["symbol", "date", "close"], orient="row")
    read = ReadResult(fmt="t", prices=prices.with_columns(source=pl.lit("t"), line=pl.lit(1)))
    with open_store(settings.database) as st:
        ingest_read(st, read, settings=settings, today=date(2026, 1, 1))
        with pytest.raises(InSampleError, match=r"first out-of-sample day is 2025-07-02"):
            evaluate_days(st, settings, _Model(), start=date(2025, 6, 1), end=date(2025, 12, 31))
