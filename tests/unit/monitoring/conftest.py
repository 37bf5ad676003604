"""Shared fixtures of the monitoring tests: a sample market's features and its drift baseline."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from nepse.devdata.sample import generate_panel
from nepse.features import FEATURE_SPEC, build_features
from nepse.features.adjust import adjust_prices
from nepse.monitoring.baseline import DriftBaseline, build_baseline

WINDOW = 5


def window_of(feat: pl.DataFrame, days: list[date], end: int) -> pl.DataFrame:
    """The WINDOW sessions of `feat` ending at session number `end`."""
    return feat.filter(pl.col("date").is_between(days[end - WINDOW + 1], days[end]))


@pytest.fixture(scope="session")
def market() -> tuple[pl.DataFrame, list[date]]:
    """Features of a 3-year, 80-stock sample market, with a stand-in prediction column."""
    prices = generate_panel(symbols=80, years=3, seed=3)
    feat = build_features(adjust_prices(prices, None), None).collect()
    feat = feat.with_columns(pred_ret=-pl.col("f_ret_1") + 0.01 * pl.col("f_ma_ratio_20"))
    return feat, sorted(feat["date"].unique().to_list())


@pytest.fixture(scope="session")
def baseline(market) -> DriftBaseline:
    feat, days = market
    return build_baseline(
        feat.filter(pl.col("date") <= days[-60]),
        features=list(FEATURE_SPEC.names),
        categorical=list(FEATURE_SPEC.categorical),
        window=WINDOW,
        reference_days=100,
        calibration_days=300,
        quantile=0.99,
    )
