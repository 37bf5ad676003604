"""Drift summary from Evidently: verdicts, all-null columns, prediction drift, the table."""

from __future__ import annotations

import json
from datetime import date

import duckdb
import numpy as np
import polars as pl
import pytest
from scipy.stats import norm

from nepse.errors import ConfigError, DataQualityError
from nepse.monitoring.drift import (
    ALL_NULL,
    ColumnDrift,
    DriftSummary,
    performance_report,
    run_drift,
)
from nepse.store import open_store

FEATURES = ["f_ret_1", "f_mom_5", "f_vol_20"]
SECTORS = ["bank", "hydro", "insurance", "finance"]


def panel(n: int, *, seed: int, shift: dict[str, float] | None = None) -> pl.DataFrame:
    """Synthetic cross-section: three numerical features, a sector, a prediction.

    Values are normal quantiles (and exact sector shares) in a seeded random order, so two
    panels without a shift have the same distribution and no test flags them by chance.
    """
    rng = np.random.default_rng(seed)
    shift = shift or {}
    quantiles = norm.ppf((np.arange(n) + 0.5) / n)
    data = {f: rng.permutation(quantiles) + shift.get(f, 0.0) for f in FEATURES}
    data["f_sector"] = rng.permutation(np.resize(SECTORS, n))
    data["pred_ret"] = rng.permutation(quantiles) * 0.01 + shift.get("pred_ret", 0.0)
    return pl.DataFrame(data)


@pytest.fixture(scope="module")
def reference() -> pl.DataFrame:
    return panel(2000, seed=1)


def drift(reference, current, tmp_path, **kw):
    kw.setdefault("features", FEATURES)
    kw.setdefault("categorical", ["f_sector"])
    return run_drift(reference, current, out_html=tmp_path / "r" / "drift.html", **kw)


def test_identical_distributions_show_no_drift(reference, tmp_path):
    summary = drift(reference, panel(250, seed=2), tmp_path)

    assert summary.n_columns == 4
    assert summary.n_drifted == 0
    assert summary.share_drifted == 0.0
    assert summary.dataset_drift is False
    assert [c.column for c in summary.columns] == [*FEATURES, "f_sector"]
    methods = {c.column: c.method for c in summary.columns}
    assert methods == {"f_ret_1": "ks", "f_mom_5": "ks", "f_vol_20": "ks", "f_sector": "chisquare"}
    assert all(c.score is not None and c.score > 0.05 for c in summary.columns)
    assert summary.prediction_drift is not None
    assert summary.prediction_drift.drifted is False
    html = summary.html_path.read_text(encoding="utf-8")
    assert summary.html_path == tmp_path / "r" / "drift.html"
    assert "f_mom_5" in html


def test_shifted_column_is_detected_with_method_and_score(reference, tmp_path):
    summary = drift(reference, panel(250, seed=3, shift={"f_mom_5": 1.0}), tmp_path)

    by_name = {c.column: c for c in summary.columns}
    shifted = by_name["f_mom_5"]
    assert shifted.drifted is True
    assert shifted.method == "ks"
    assert shifted.threshold == 0.05
    assert shifted.score is not None and shifted.score < 1e-6
    assert [c.column for c in summary.drifted_columns] == ["f_mom_5"]
    assert summary.n_drifted == 1
    assert summary.share_drifted == pytest.approx(0.25)
    # 1 of 4 is below the default 0.5 share; a 0.2 share makes it a dataset drift.
    assert summary.dataset_drift is False
    lower = drift(reference, panel(250, seed=3, shift={"f_mom_5": 1.0}), tmp_path, drift_share=0.2)
    assert lower.dataset_drift is True


def test_dataset_drift_when_share_reaches_threshold(reference, tmp_path):
    shift = {f: 1.0 for f in FEATURES}
    summary = drift(reference, panel(250, seed=4, shift=shift), tmp_path, drift_share=0.5)

    assert summary.n_drifted == 3
    assert summary.dataset_drift is True


def test_prediction_drift_is_reported_separately(reference, tmp_path):
    summary = drift(reference, panel(250, seed=5, shift={"pred_ret": 0.02}), tmp_path)

    assert summary.n_drifted == 0
    assert "pred_ret" not in [c.column for c in summary.columns]
    pred = summary.prediction_drift
    assert pred is not None
    assert (pred.column, pred.method, pred.drifted) == ("pred_ret", "ks", True)
    assert pred.score is not None and pred.score < 0.05


def test_no_prediction_column(reference, tmp_path):
    summary = drift(reference.drop("pred_ret"), panel(250, seed=6), tmp_path, prediction=None)

    assert summary.prediction_drift is None
    assert summary.to_dict()["prediction_drift"] is None


@pytest.mark.parametrize(
    ("nulled", "in_reference_too", "drifted"),
    [
        ("f_vol_20", False, True),
        ("f_vol_20", True, False),
        ("f_sector", False, True),
    ],
)
def test_all_null_column_is_reported_not_crashing(
    reference, tmp_path, nulled, in_reference_too, drifted
):
    dtype = pl.String if nulled == "f_sector" else pl.Float64
    current = panel(250, seed=7).with_columns(pl.lit(None, dtype=dtype).alias(nulled))
    ref = (
        reference.with_columns(pl.lit(None, dtype=dtype).alias(nulled))
        if in_reference_too
        else reference
    )

    summary = drift(ref, current, tmp_path)

    col = {c.column: c for c in summary.columns}[nulled]
    assert col == ColumnDrift(nulled, ALL_NULL, None, None, drifted)
    assert summary.n_columns == 4
    assert summary.n_drifted == int(drifted)
    assert summary.html_path.is_file()


def test_non_finite_values_count_as_null(reference, tmp_path):
    current = panel(250, seed=8).with_columns(pl.lit(float("inf")).alias("f_ret_1"))

    summary = drift(reference, current, tmp_path)

    assert summary.columns[0].method == ALL_NULL
    assert summary.columns[0].drifted is True


def test_every_column_null_still_writes_a_page(reference, tmp_path):
    current = panel(250, seed=9).with_columns(
        *[pl.lit(None, dtype=pl.Float64).alias(f) for f in [*FEATURES, "pred_ret"]],
        pl.lit(None, dtype=pl.String).alias("f_sector"),
    )

    summary = drift(reference, current, tmp_path)

    assert summary.n_drifted == summary.n_columns == 4
    assert summary.dataset_drift is True
    assert summary.prediction_drift is not None and summary.prediction_drift.drifted
    assert "no drift test ran" in summary.html_path.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("case", "drifted"),
    [
        ("one_row", set()),
        ("single_sector", {"f_sector"}),
        ("unseen_sector", {"f_sector"}),
        ("constant_column", {"f_mom_5"}),
    ],
)
def test_awkward_current_days_still_get_a_verdict(reference, tmp_path, case, drifted):
    current = {
        "one_row": lambda p: p.head(1),
        "single_sector": lambda p: p.with_columns(pl.lit("bank").alias("f_sector")),
        "unseen_sector": lambda p: p.with_columns(pl.lit("mutual_fund").alias("f_sector")),
        "constant_column": lambda p: p.with_columns(pl.lit(0).alias("f_mom_5")),
    }[case](panel(250, seed=14))

    summary = drift(reference, current, tmp_path)

    assert {c.column for c in summary.drifted_columns} == drifted
    assert all(c.score is not None for c in summary.columns)


@pytest.mark.parametrize("share", [0.0, -0.1, 1.5])
def test_drift_share_outside_unit_interval_is_a_config_error(reference, tmp_path, share):
    with pytest.raises(ConfigError, match=r"drift_share must be in \(0, 1\]"):
        drift(reference, panel(10, seed=15), tmp_path, drift_share=share)


def test_empty_current_data_is_a_clear_error(reference, tmp_path):
    with pytest.raises(DataQualityError, match="current data is empty"):
        drift(reference, reference.head(0), tmp_path)


def test_missing_feature_column_is_a_clear_error(reference, tmp_path):
    with pytest.raises(DataQualityError, match=r"current data lacks column\(s\) f_mom_5"):
        drift(reference, panel(50, seed=10).drop("f_mom_5"), tmp_path)


def test_missing_reference_predictions_say_how_to_fix(reference, tmp_path):
    with pytest.raises(DataQualityError, match="prediction=None"):
        drift(reference.drop("pred_ret"), panel(50, seed=11), tmp_path)


def test_reference_is_capped_by_a_seeded_sample(reference, tmp_path):
    a = drift(reference, panel(250, seed=12), tmp_path, max_reference_rows=500)
    b = drift(reference, panel(250, seed=12), tmp_path, max_reference_rows=500)
    full = drift(reference, panel(250, seed=12), tmp_path, max_reference_rows=None)

    assert [c.score for c in a.columns] == [c.score for c in b.columns]
    assert [c.score for c in a.columns] != [c.score for c in full.columns]


def test_summary_to_dict_is_json_serialisable(reference, tmp_path):
    summary = drift(reference, panel(250, seed=3, shift={"f_mom_5": 1.0}), tmp_path)

    data = json.loads(json.dumps(summary.to_dict()))

    assert data["n_drifted"] == 1
    assert data["columns"][1] == {
        "column": "f_mom_5",
        "method": "ks",
        "score": summary.columns[1].score,
        "threshold": 0.05,
        "drifted": True,
    }
    assert data["prediction_drift"]["column"] == "pred_ret"
    assert data["html_path"] == str(tmp_path / "r" / "drift.html")


def _summary(n_drifted: int, html: str = "/x/drift.html") -> DriftSummary:
    cols = [
        ColumnDrift("f_a", "ks", 0.001, 0.05, n_drifted >= 1),
        ColumnDrift("f_b", "ks", 0.5, 0.05, n_drifted >= 2),
    ]
    return DriftSummary(
        share_drifted=n_drifted / 2,
        n_drifted=n_drifted,
        n_columns=2,
        dataset_drift=n_drifted / 2 >= 0.5,
        columns=cols,
        prediction_drift=ColumnDrift("pred_ret", "ks", 0.3, 0.05, False),
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
        "drifted_columns, prediction_drift, html_path FROM drift_reports ORDER BY model_version"
    ).fetchall()
    assert len(rows) == 2
    assert rows[0][:6] == (date(2026, 5, 3), "v1", 0.5, True, 1, 2)
    assert json.loads(rows[0][6]) == [{"column": "f_a", "method": "ks", "score": 0.001}]
    assert json.loads(rows[0][7])["drifted"] is False
    assert rows[0][8] == "/x/drift.html"
    assert json.loads(rows[1][6]) == []

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


def test_performance_report_writes_html_and_skips_unrealised_rows(tmp_path):
    rng = np.random.default_rng(13)
    y = rng.normal(scale=0.02, size=300)
    df = pl.DataFrame({"y_ret": y, "pred_ret": y * 0.3 + rng.normal(scale=0.01, size=300)})
    df = pl.concat([df, pl.DataFrame({"y_ret": [None] * 5, "pred_ret": [0.01] * 5})])

    out = performance_report(df, out_html=tmp_path / "perf" / "performance.html")

    assert out == tmp_path / "perf" / "performance.html"
    html = out.read_text(encoding="utf-8")
    assert "Regression Model Performance" in html
    assert "Predicted vs Actual" in html


def test_performance_report_without_realised_rows_is_a_clear_error(tmp_path):
    df = pl.DataFrame(
        {"y_ret": [None, None], "pred_ret": [0.1, 0.2]}, schema_overrides={"y_ret": pl.Float64}
    )

    with pytest.raises(DataQualityError, match="label horizon"):
        performance_report(df, out_html=tmp_path / "p.html")
