"""The daily run's library: fallback chain, idempotent prediction store, realised evaluation."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import pytest

from nepse.atomic import write_parquet
from nepse.errors import ModelNotFoundError
from nepse.model.scoring import (
    NAIVE_VERSION,
    Candidate,
    prediction_rows,
    score_with_fallback,
)
from nepse.monitoring.performance import check_performance, evaluate_realised, reference_rmse
from nepse.store import open_store


def save_predictions(st, out, *, as_of, flow_run_id, parquet_dir):
    """What the score task does with an outcome: the table, then the Parquet copy."""
    rows = prediction_rows(out, as_of=as_of, flow_run_id=flow_run_id)
    st.replace_predictions(as_of, rows)
    return write_parquet(rows, parquet_dir / f"{as_of.isoformat()}.parquet")


D0 = date(2026, 11, 2)


def features(day: date = D0, n: int = 12) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "symbol": [f"S{i:02d}" for i in range(n)],
            "date": [day] * n,
            "f_ret_1": [0.01 * (i - n / 2) for i in range(n)],
        }
    )


class Fixed:
    def __init__(self, value: float) -> None:
        self.value = value

    def predict(self, f: pl.DataFrame) -> pl.DataFrame:
        return f.select("symbol", "date", pl.lit(self.value).alias("pred_ret"))


def broken() -> Fixed:
    raise ModelNotFoundError("model folder has no model.txt")


def test_champion_scores_when_it_loads():
    out = score_with_fallback(features(), [Candidate("v2", "champion", lambda: Fixed(0.5))])
    assert out.model_version == "v2" and not out.is_fallback and out.problems == ()
    assert out.predictions["pred_ret"].to_list() == [0.5] * 12


def test_previous_champion_then_naive_baseline():
    chain = [Candidate("v2", "champion", broken), Candidate("v1", "previous_champion", broken)]
    out = score_with_fallback(features(), chain)
    assert out.model_version == NAIVE_VERSION and out.is_fallback
    assert len(out.problems) == 2 and "model.txt" in out.problems[0]
    # one-day reversal: the biggest loser today is the top pick
    top = out.predictions.sort("pred_rank", descending=True)["symbol"][0]
    assert top == "S00"
    chain = [
        Candidate("v2", "champion", broken),
        Candidate("v1", "previous_champion", lambda: Fixed(1.0)),
    ]
    out = score_with_fallback(features(), chain)
    assert out.model_version == "v1" and out.model_role == "previous_champion"


def test_pred_rank_is_a_per_day_percentile():
    out = score_with_fallback(features(n=4), [])
    assert sorted(out.predictions["pred_rank"].to_list()) == [0.25, 0.5, 0.75, 1.0]


def test_predictions_are_stored_idempotently(tmp_path):
    with open_store(tmp_path / "db.duckdb") as st:
        out = score_with_fallback(features(), [Candidate("v2", "champion", lambda: Fixed(0.1))])
        for _ in range(2):
            path = save_predictions(st, out, as_of=D0, flow_run_id="r1", parquet_dir=tmp_path / "p")
        stored = st.predictions()
    assert (stored.height, stored["model_version"].min()) == (12, "v2")
    assert path.name == "2026-11-02.parquet" and pl.read_parquet(path).height == 12


def test_realised_evaluation_and_rolling_metrics(tmp_path):
    with open_store(tmp_path / "db.duckdb") as st:
        days = [D0 + timedelta(days=i) for i in range(3)]
        labels = []
        for i, d in enumerate(days):
            f = features(d)
            perfect = Fixed(0.0)
            perfect.predict = lambda fr: fr.select(
                "symbol", "date", pl.col("f_ret_1").alias("pred_ret")
            )
            out = score_with_fallback(f, [Candidate("v", "champion", lambda p=perfect: p)])
            save_predictions(st, out, as_of=d, flow_run_id=None, parquet_dir=tmp_path)
            sign = 1.0 if i < 2 else -1.0  # the last day the model is exactly wrong
            labels.append(f.select("symbol", "date", (sign * pl.col("f_ret_1")).alias("y_ret")))
        assert st.pending_evaluation() == days
        stored = evaluate_realised(st, pl.concat(labels), cost_bps=0, dates=days)
        assert stored["rank_ic"].to_list() == pytest.approx([1.0, 1.0, -1.0])
        assert stored["rolling_rank_ic"].to_list() == pytest.approx([1.0, 1.0, 1 / 3])
        assert stored["rmse"][0] == pytest.approx(0.0)
        assert st.pending_evaluation() == []


@pytest.mark.parametrize(("label_of", "rank_ic"), [(None, -1.0), ({"v": "y_next_vwap"}, 1.0)])
def test_predictions_are_scored_against_the_label_their_model_was_trained_on(
    tmp_path, label_of, rank_ic
):
    """A model trained on the next-session VWAP label is judged on it, not close-to-close."""
    perfect = Fixed(0.0)
    perfect.predict = lambda fr: fr.select("symbol", "date", pl.col("f_ret_1").alias("pred_ret"))
    with open_store(tmp_path / "db.duckdb") as st:
        f = features()
        out = score_with_fallback(f, [Candidate("v", "champion", lambda: perfect)])
        save_predictions(st, out, as_of=D0, flow_run_id=None, parquet_dir=tmp_path)
        labels = f.select(
            "symbol",
            "date",
            (-pl.col("f_ret_1")).alias("y_ret"),  # close-to-close: exactly wrong
            pl.col("f_ret_1").alias("y_next_vwap"),  # the trained label: exactly right
        )
        stored = evaluate_realised(st, labels, cost_bps=0, dates=[D0], label_of=label_of)
    assert stored["rank_ic"].to_list() == pytest.approx([rank_ic])


def test_unknown_labels_are_not_evaluated_yet(tmp_path):
    with open_store(tmp_path / "db.duckdb") as st:
        out = score_with_fallback(features(), [])
        save_predictions(st, out, as_of=D0, flow_run_id=None, parquet_dir=tmp_path)
        labels = features().select("symbol", "date", pl.lit(None, pl.Float64).alias("y_ret"))
        assert evaluate_realised(st, labels, cost_bps=0, dates=[D0]).is_empty()
        assert st.pending_evaluation() == [D0]


@pytest.mark.parametrize(
    ("latest", "days", "expected"),
    [
        ({"rolling_rank_ic": 0.05, "rolling_rmse": 0.02}, 30, []),
        ({"rolling_rank_ic": -0.01, "rolling_rmse": 0.02}, 30, ["Rank IC -0.0100"]),
        ({"rolling_rank_ic": -0.01, "rolling_rmse": 0.02}, 5, []),  # too few days to judge
        ({"rolling_rank_ic": 0.05, "rolling_rmse": 0.031}, 30, ["RMSE 0.03100 over the last 20"]),
        # One evaluated day is one market day's dispersion: no RMSE alert before 20 days.
        ({"rolling_rank_ic": 0.05, "rolling_rmse": 0.07432}, 1, []),
        ({"rolling_rank_ic": 0.05, "rolling_rmse": 0.031}, 19, []),
        ({"rolling_rank_ic": 0.05, "rolling_rmse": 0.031}, 20, ["1.5 x the model's walk-forward"]),
    ],
)
def test_performance_alert_rules(latest, days, expected):
    verdict = check_performance(
        latest,
        min_rolling_rank_ic=0.0,
        rmse_ratio=1.5,
        walk_forward_rmse=0.02,
        rmse_min_days=20,
        evaluated_days=days,
    )
    assert len(verdict.alerts) == len(expected)
    for want, got in zip(expected, verdict.alerts, strict=True):
        assert want in got


def test_the_rmse_alert_names_what_it_compares_with():
    verdict = check_performance(
        {"rolling_rank_ic": 0.05, "rolling_rmse": 0.031},
        min_rolling_rank_ic=0.0,
        rmse_ratio=1.5,
        walk_forward_rmse=0.02,
        rmse_min_days=20,
        label="buying at the next session's VWAP and selling at the VWAP 5 sessions later",
        evaluated_days=25,
    )
    (text,) = verdict.alerts
    assert "walk-forward out-of-sample RMSE 0.02000" in text and "training" not in text
    assert "same label: the return of buying at the next session's VWAP" in text
    assert verdict.numbers["walk_forward_rmse"] == 0.02
    assert verdict.numbers["evaluated_days"] == 25 and verdict.numbers["window_days"] == 20


def test_the_reference_rmse_is_the_walk_forward_summary_row():
    assert reference_rmse({"rmse": 0.0213, "rank_ic": 0.03}) == 0.0213
    assert reference_rmse('{"rmse": 0.0213}') == 0.0213  # a registry row read back as JSON
    assert reference_rmse(None) is None and reference_rmse({"rmse": float("nan")}) is None
