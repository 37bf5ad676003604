"""Evidently's regression-quality report of stored predictions against realised returns."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from nepse.errors import DataQualityError
from nepse.monitoring.regression_report import performance_report


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
