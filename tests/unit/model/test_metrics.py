"""Daily prediction metrics and their aggregation, against hand-computed values."""

from __future__ import annotations

import math
from datetime import date

import polars as pl
import pytest

from nepse.model.metrics import DAILY_SCHEMA, SUMMARY_FIELDS, daily_metrics, summarize

D1, D2 = date(2024, 1, 1), date(2024, 1, 2)


def frame(day: date, pred: list[float | None], y: list[float | None]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "date": [day] * len(y),
            "symbol": [f"S{i}" for i in range(len(y))],
            "pred_ret": pred,
            "y_ret": y,
        },
        schema={"date": pl.Date, "symbol": pl.String, "pred_ret": pl.Float64, "y_ret": pl.Float64},
    )


def test_perfect_predictor() -> None:
    y = [i / 100 for i in range(1, 11)]  # 0.01 .. 0.10
    d = daily_metrics(frame(D1, y, y), cost_bps=40).row(0, named=True)
    assert d["n"] == d["n_labelled"] == 10
    assert d["ic"] == pytest.approx(1.0)
    assert d["rank_ic"] == pytest.approx(1.0)
    assert d["rmse"] == 0.0 and d["mae"] == 0.0
    assert d["dir_acc"] == 1.0
    # k = floor(10 / 10) = 1: top = 0.10, bottom = 0.01.
    assert d["top_bottom"] == pytest.approx(0.09)
    assert d["top_bottom_net"] == pytest.approx(0.09 - 2 * 0.004)


def test_constant_predictor_has_undefined_ranking_metrics() -> None:
    y = [0.02, -0.01, 0.03, -0.02, 0.01, 0.0, 0.05, -0.04, 0.01, 0.02]
    d = daily_metrics(frame(D1, [0.01] * 10, y), cost_bps=40).row(0, named=True)
    assert d["ic"] is None and d["rank_ic"] is None
    assert d["top_bottom"] is None and d["top_bottom_net"] is None
    assert d["rmse"] == pytest.approx(math.sqrt(sum((0.01 - v) ** 2 for v in y) / 10))
    assert d["mae"] == pytest.approx(sum(abs(0.01 - v) for v in y) / 10)
    # y == 0 is neither right nor wrong: 6 of the 9 non-flat labels are positive.
    assert d["n_dir"] == 9
    assert d["dir_acc"] == pytest.approx(6 / 9)


def test_zero_predictor_reports_errors_and_nothing_else() -> None:
    y = [0.02, -0.01, 0.03]
    d = daily_metrics(frame(D1, [0.0] * 3, y), cost_bps=40).row(0, named=True)
    assert d["ic"] is None and d["rank_ic"] is None and d["dir_acc"] is None
    assert d["n_dir"] == 0
    assert d["rmse"] == pytest.approx(math.sqrt((0.0004 + 0.0001 + 0.0009) / 3))
    summary = summarize(daily_metrics(frame(D1, [0.0] * 3, y), cost_bps=40))
    assert summary["ic"] is None and summary["rank_ic"] is None and summary["icir"] is None
    assert summary["rmse"] == pytest.approx(d["rmse"])


def test_hand_computed_three_rows() -> None:
    # p = 1, 2, 3; y = 1, 3, 2: cov = 1, var = 2 each -> Pearson 0.5, ranks equal -> Spearman 0.5.
    d = daily_metrics(frame(D1, [1.0, 2.0, 3.0], [1.0, 3.0, 2.0]), cost_bps=0).row(0, named=True)
    assert d["ic"] == pytest.approx(0.5)
    assert d["rank_ic"] == pytest.approx(0.5)
    assert d["rmse"] == pytest.approx(math.sqrt(2 / 3))
    assert d["mae"] == pytest.approx(2 / 3)
    assert d["top_bottom"] is None  # fewer than 10 rows: no decile


def test_spearman_uses_average_ranks_for_ties() -> None:
    # Ranks of p with ties: 1.5, 1.5, 3, 4; y ranks 1..4 -> Pearson of ranks.
    d = daily_metrics(frame(D1, [0.1, 0.1, 0.2, 0.3], [0.1, 0.2, 0.3, 0.4]), cost_bps=0)
    rp, ry = [1.5, 1.5, 3, 4], [1, 2, 3, 4]
    mp, my = sum(rp) / 4, sum(ry) / 4
    cov = sum((a - mp) * (b - my) for a, b in zip(rp, ry, strict=True))
    expected = cov / math.sqrt(sum((a - mp) ** 2 for a in rp) * sum((b - my) ** 2 for b in ry))
    assert d["rank_ic"][0] == pytest.approx(expected)


@pytest.mark.parametrize(("n", "k"), [(10, 1), (19, 1), (20, 2), (35, 3)])
def test_decile_size_is_floor_n_over_10(n: int, k: int) -> None:
    y = [float(i) for i in range(n)]
    d = daily_metrics(frame(D1, y, y), cost_bps=0).row(0, named=True)
    top = sum(y[-k:]) / k
    bottom = sum(y[:k]) / k
    assert d["top_bottom"] == pytest.approx(top - bottom)


def test_nulls_coverage_and_single_row_day() -> None:
    day1 = frame(D1, [0.1, None, 0.3, 0.2], [0.1, 0.2, None, 0.3])
    day2 = frame(D2, [0.5], [0.4])
    d = daily_metrics(pl.concat([day1, day2]), cost_bps=0)
    assert d.schema == pl.Schema(DAILY_SCHEMA)
    assert d["date"].to_list() == [D1, D2]
    # Day 1: 3 labelled rows, 2 of them predicted; day 2: one row, correlation undefined.
    assert d["n_labelled"].to_list() == [3, 1]
    assert d["n"].to_list() == [2, 1]
    assert d["ic"][1] is None and d["rank_ic"][1] is None
    s = summarize(d)
    assert s["coverage"] == pytest.approx(3 / 4)
    assert s["n_days"] == 2 and s["n_rows"] == 3


def test_summarize_hand_computed() -> None:
    daily = pl.DataFrame(
        {
            "date": [D1, D2, date(2024, 1, 3)],
            "n_labelled": [4, 4, 2],
            "n": [2, 4, 2],
            "ic": [0.1, 0.3, None],
            "rank_ic": [0.2, 0.0, 0.1],
            "rmse": [1.0, 2.0, 1.0],
            "mae": [1.0, 1.5, 0.5],
            "n_dir": [2, 4, 0],
            "dir_acc": [0.5, 0.75, None],
            "top_bottom": [0.01, 0.03, None],
            "top_bottom_net": [0.0, 0.02, None],
        },
        schema=DAILY_SCHEMA,
    )
    s = summarize(daily)
    assert set(s) == set(SUMMARY_FIELDS)
    assert s["ic"] == pytest.approx(0.2)
    assert s["icir"] == pytest.approx(0.2 / math.sqrt(0.02))
    assert s["rank_ic"] == pytest.approx(0.1)
    assert s["rank_icir"] == pytest.approx(0.1 / 0.1)
    assert s["rmse"] == pytest.approx(math.sqrt((2 * 1 + 4 * 4 + 2 * 1) / 8))
    assert s["mae"] == pytest.approx((2 * 1.0 + 4 * 1.5 + 2 * 0.5) / 8)
    assert s["dir_acc"] == pytest.approx((1 + 3) / 6)
    assert s["top_bottom"] == pytest.approx(0.02)
    assert s["top_bottom_net"] == pytest.approx(0.01)
    assert s["top_bottom_t"] == pytest.approx(0.02 / math.sqrt(0.0002) * math.sqrt(2))
    assert s["coverage"] == pytest.approx(8 / 10)
    assert s["n_days"] == 3 and s["n_rows"] == 8


def test_missing_column_is_named() -> None:
    with pytest.raises(ValueError, match="pred_ret"):
        daily_metrics(pl.DataFrame({"date": [D1], "y_ret": [0.1]}), cost_bps=0)


def test_custom_column_names() -> None:
    df = frame(D1, [0.1, 0.2, 0.3], [0.1, 0.2, 0.3]).rename({"pred_ret": "p", "y_ret": "y"})
    d = daily_metrics(df, pred_col="p", label_col="y", cost_bps=0)
    assert d["ic"][0] == pytest.approx(1.0)
