"""The day's drift value: features beyond their own lines, the verdict, the stored row."""

from __future__ import annotations

import dataclasses
import json
import math
from datetime import date

import duckdb
import polars as pl
import pytest

from nepse.monitoring.baseline import WORST, check
from nepse.monitoring.calibrated import Alarm
from nepse.monitoring.drift import PREDICTIONS, ColumnDrift, DriftSummary
from nepse.store import open_store
from tests.unit.monitoring.conftest import window_of


def _kmid_five_times(feat: pl.DataFrame, days: list[date], start: int) -> pl.DataFrame:
    """From session `start` on, a third of the stocks' candle body is five times too large."""
    third = pl.col("symbol").hash(seed=1) % 3 == 0
    return feat.with_columns(
        pl.when((pl.col("date") >= days[start]) & third)
        .then(pl.col("f_kmid") * 5)
        .otherwise(pl.col("f_kmid"))
        .alias("f_kmid")
    )


def test_a_feature_is_drifted_exactly_when_it_makes_the_worst_feature_statistic_alarm(
    market, baseline
):
    feat, days = market
    start = len(days) - 20
    changed = _kmid_five_times(feat, days, start)
    summaries = [check(baseline, window_of(feat, days, e)) for e in range(start, len(days))]
    summaries += [check(baseline, window_of(changed, days, e)) for e in range(start, len(days))]
    assert any(s.alarm(WORST).alarm for s in summaries)  # both cases are exercised
    assert any(not s.alarm(WORST).alarm for s in summaries)
    for s in summaries:
        assert (s.n_drifted > 0) == s.alarm(WORST).alarm, s.describe()
    planted = next(s for s in summaries if s.alarm(WORST).alarm)
    assert [c.column for c in planted.drifted_columns] == ["f_kmid"]
    assert planted.top_columns(1)[0].column == "f_kmid"  # the page shows it first


def test_each_features_line_is_the_worst_feature_line_in_its_own_units(market, baseline):
    feat, days = market
    summary = check(baseline, window_of(feat, days, len(days) - 1))
    line = baseline.calibrations[WORST].threshold
    by_column = {c.column: c for c in summary.columns}
    assert set(by_column) == set(baseline.columns)
    for column, scale in baseline.scales.items():
        assert by_column[column].threshold == pytest.approx(line * scale, rel=1e-12)
    unscaled = [c for c in summary.columns if c.column not in baseline.scales]
    assert all(c.threshold is None and not c.drifted for c in unscaled)


def test_top_columns_rank_by_distance_in_units_of_the_line():
    cols = (
        ColumnDrift("f_far_but_wide", 0.9, 3.0),  # 0.3 of its line
        ColumnDrift("f_near_line", 0.05, 0.06),  # 0.83
        ColumnDrift("f_beyond", 0.2, 0.1),  # 2.0: drifted
        ColumnDrift("f_no_line", 5.0, None),
        ColumnDrift("f_empty", math.nan, 0.1),
    )
    summary = DriftSummary(date(2026, 1, 5), date(2026, 1, 9), (), cols)
    assert [c.column for c in summary.top_columns(3)] == [
        "f_beyond",
        "f_near_line",
        "f_far_but_wide",
    ]
    assert (summary.n_drifted, summary.n_columns, summary.share_drifted) == (1, 5, 0.2)


def test_the_value_round_trips_through_json(market, baseline):
    feat, days = market
    summary = check(baseline, window_of(feat, days, len(days) - 1))
    summary = dataclasses.replace(summary, html_path=None)
    back = DriftSummary.from_dict(json.loads(json.dumps(summary.to_dict())))
    assert back == summary
    assert back.prediction_drift == summary.alarm(PREDICTIONS) is not None


def _summary(drifted: int, html: str = "/x/drift.html") -> DriftSummary:
    alarm = Alarm(PREDICTIONS, 0.03, 0.05, 0.99, 0.4, 250, False)
    return DriftSummary(
        date(2026, 4, 27),
        date(2026, 5, 3),
        (alarm, Alarm(WORST, 3.0 if drifted else 1.0, 2.0, 0.99, 0.9, 250, bool(drifted))),
        (
            ColumnDrift("f_a", 0.3 if drifted >= 1 else 0.01, 0.2),
            ColumnDrift("f_b", 0.5 if drifted >= 2 else 0.02, 0.3),
        ),
        html_path=html,
    )


def test_save_drift_is_an_idempotent_upsert(tmp_path):
    db = tmp_path / "nepse.duckdb"
    with open_store(db) as st:
        st.save_drift(date(2026, 5, 3), "v1", _summary(1).to_dict())
        st.save_drift(date(2026, 5, 3), "v1", _summary(1).to_dict())
        st.save_drift(date(2026, 5, 3), "v2", _summary(0).to_dict())
    con = duckdb.connect(str(db))

    rows = con.execute(
        "SELECT date, model_version, share_drifted, dataset_drift, n_drifted, n_columns, "
        "drifted_columns, prediction_drift, html_path, alarms FROM drift_reports "
        "ORDER BY model_version"
    ).fetchall()
    assert len(rows) == 2
    assert rows[0][:6] == (date(2026, 5, 3), "v1", 0.5, True, 1, 2)
    assert json.loads(rows[0][6]) == [{"column": "f_a", "method": "wasserstein", "score": 0.3}]
    assert json.loads(rows[0][7]) == {
        "column": "pred_ret",
        "method": "wasserstein",
        "score": 0.03,
        "threshold": 0.05,
        "drifted": False,
    }
    assert rows[0][8] == "/x/drift.html"
    assert [a["name"] for a in json.loads(rows[0][9])] == [PREDICTIONS, WORST]
    assert json.loads(rows[1][6]) == [] and rows[1][3] is False

    # A rerun of the day replaces its row instead of failing on the primary key.
    con.close()
    with open_store(db) as st:
        st.save_drift(date(2026, 5, 3), "v1", _summary(2, html="/y/drift.html").to_dict())
    con = duckdb.connect(str(db))
    again = con.execute(
        "SELECT n_drifted, html_path, json_array_length(drifted_columns::JSON) "
        "FROM drift_reports WHERE model_version = 'v1'"
    ).fetchall()
    assert again == [(2, "/y/drift.html", 2)]
    assert con.execute("SELECT count(*) FROM drift_reports").fetchone() == (2,)
    con.close()


def test_rows_stored_before_the_one_value_still_make_the_index(tmp_path):
    """A drift_reports row written by the old Kolmogorov-Smirnov summary (no alarms) reads."""
    from nepse.monitoring.reports import build_index

    db = tmp_path / "nepse.duckdb"
    old = {
        "share_drifted": 0.25,
        "n_drifted": 1,
        "n_columns": 4,
        "dataset_drift": False,
        "columns": [{"column": "f_a", "method": "ks", "score": 0.01, "drifted": True}],
        "prediction_drift": {"column": "pred_ret", "method": "ks", "score": 0.3, "drifted": False},
        "html_path": "/x/drift.html",
    }
    with open_store(db) as st:
        st.save_drift(date(2026, 5, 3), "v0", old)
        st.save_drift(date(2026, 5, 4), "v1", _summary(1).to_dict())
        rows = st.report_index_rows()
    text = build_index(tmp_path, rows).read_text(encoding="utf-8")
    assert "2026-05-03" in text and "25.0%" in text and "worst feature" in text
