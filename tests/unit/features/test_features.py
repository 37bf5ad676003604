"""Features: backward-looking only, break-aware, lookback-complete, and robust to thin data."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from nepse.features import (
    ALL_FEATURES,
    BASE_FEATURES,
    CARRY,
    FEATURE_SPEC,
    FULL_SPEC,
    KEYS,
    NEPSE_SECTORS,
    FeatureSpec,
    build_features,
)

SECTORS = pl.DataFrame(
    {
        "symbol": ["S0", "S1", "S2", "S3"],
        "sector": ["Commercial Banks", "Hydro Power", "Hydro Power", "Space Mining"],
    }
)


def make_panel(n_days: int = 900, seed: int = 7) -> pl.DataFrame:
    """Adjusted prices of 5 symbols: gaps, a suspension, a break, a null open, a 1-row symbol."""
    rng = np.random.default_rng(seed)
    days = [
        date(2022, 1, 2) + timedelta(days=i)
        for i in range(int(n_days * 1.5))
        if i % 7 not in (4, 5)
    ]
    days = days[:n_days]
    frames = []
    for k in range(5):
        rets = np.clip(rng.normal(0.0005, 0.02, n_days), -0.1, 0.1)
        close = 100.0 * (k + 1) * np.exp(np.cumsum(np.log1p(rets)))
        keep = rng.random(n_days) > 0.08 * k  # thinner symbols trade less
        if k == 2:
            keep[200:320] = False  # suspended for 120 sessions
        df = pl.DataFrame(
            {
                "symbol": f"S{k}",
                "date": days,
                "adj_open": close * (1 + rng.normal(0, 0.005, n_days)),
                "adj_close": close,
                "adj_volume": rng.integers(100, 10_000, n_days).astype(float),
                "turnover": rng.integers(100, 10_000, n_days) * close,
            }
        ).filter(pl.Series(keep))
        frames.append(df)
    df = pl.concat(frames).with_columns(
        adj_high=pl.max_horizontal("adj_open", "adj_close") * 1.01,
        adj_low=pl.min_horizontal("adj_open", "adj_close") * 0.99,
        is_break=False,
    )
    # A break on S1's 300th row; legacy rows without an open on S3.
    s1_break = df.filter(pl.col("symbol") == "S1")["date"][300]
    df = df.with_columns(
        is_break=(pl.col("symbol") == "S1") & (pl.col("date") == s1_break),
        adj_open=pl.when((pl.col("symbol") == "S3") & (pl.col("date") < days[100]))
        .then(None)
        .otherwise(pl.col("adj_open")),
    )
    one = (
        df.filter(pl.col("symbol") == "S0")
        .head(1)
        .with_columns(symbol=pl.lit("ONE"), date=pl.lit(days[350]))
    )
    return pl.concat([df, one]).sort("symbol", "date")


@pytest.fixture(scope="module")
def panel() -> pl.DataFrame:
    return make_panel()


@pytest.fixture(scope="module")
def feats(panel) -> pl.DataFrame:
    """Every feature of the catalogue (the model's spec uses a subset of them)."""
    return build_features(panel.lazy(), SECTORS, spec=FULL_SPEC).collect()


def test_columns_names_and_order(panel, feats):
    assert feats.columns == [*KEYS, *ALL_FEATURES, *CARRY]
    model = build_features(panel.lazy(), SECTORS).collect()
    assert model.columns == [*KEYS, *FEATURE_SPEC.names, *CARRY]
    assert set(FEATURE_SPEC.names) <= set(ALL_FEATURES)
    # The model's columns equal the catalogue's: selecting fewer changes no value.
    assert_frame_equal(model, feats.select(model.columns))
    assert FEATURE_SPEC.names[: len(BASE_FEATURES)] == BASE_FEATURES
    assert "f_roc_5" in FEATURE_SPEC.names
    assert len(set(FEATURE_SPEC.names)) == len(FEATURE_SPEC.names)
    assert all(n.startswith("f_") for n in FEATURE_SPEC.names)


def test_spec_json_round_trip():
    spec = FeatureSpec.from_json(FEATURE_SPEC.to_json())
    assert spec == FEATURE_SPEC
    assert spec.categorical == ("f_sector",)


def test_leakage_features_ignore_later_rows(panel):
    full = build_features(panel.lazy(), SECTORS).collect()
    for cut in (date(2022, 6, 1), date(2023, 3, 15), date(2023, 9, 30)):
        part = build_features(panel.lazy().filter(pl.col("date") <= cut), SECTORS).collect()
        expected = full.filter(pl.col("date") <= cut)
        assert part.height == expected.height > 0
        # Whole-column rolling sums accumulate float noise across symbols: equal to 1e-12.
        assert_frame_equal(part, expected, check_exact=False, rel_tol=1e-12, abs_tol=1e-12)


def test_lookback_reproduces_the_last_day(panel):
    full = build_features(panel.lazy(), SECTORS).collect()
    days = panel["date"].unique().sort()
    start = days[-FEATURE_SPEC.lookback_days]
    short = build_features(panel.lazy().filter(pl.col("date") >= start), SECTORS).collect()
    # The last few days, so every symbol that still trades is checked at least once.
    recent = pl.col("date") >= days[-3]
    a = full.filter(recent).sort("symbol", "date")
    b = short.filter(recent).sort("symbol", "date")
    assert a["symbol"].n_unique() >= 5
    assert_frame_equal(b, a, check_exact=False, rel_tol=0, abs_tol=1e-9)
    # ...and a too-short history does not (the EMAs have not forgotten their start).
    shorter = build_features(panel.lazy().filter(pl.col("date") >= days[-60]), SECTORS).collect()
    c = shorter.filter(recent).sort("symbol", "date")
    assert (c["f_macd"] - a["f_macd"]).abs().max() > 1e-6 or c["f_macd"].null_count() > 0


def test_returns_and_windows_never_cross_a_break(panel, feats):
    s1 = feats.filter(pl.col("symbol") == "S1").with_row_index("i")
    b = s1.filter("is_break")["i"][0]
    assert s1["f_ret_1"][b] is None
    assert s1["f_ret_lag_1"][b + 1] is None
    assert s1["f_vol_5"][b + 4] is None and s1["f_vol_5"][b + 5] is not None
    assert s1["f_ma_ratio_20"][b + 18] is None and s1["f_ma_ratio_20"][b + 19] is not None
    assert s1["f_roc_5"][b + 4] is None and s1["f_roc_5"][b + 5] is not None
    # Liquidity features do not care about price breaks.
    assert s1["f_tratio_5"][b + 1] is not None


def _naive(panel: pl.DataFrame, symbol: str) -> pl.DataFrame:
    """Reference implementation with pandas, one symbol without breaks."""
    pdf = panel.filter(pl.col("symbol") == symbol).sort("date").to_pandas()
    c = pdf["adj_close"]
    ret = c.pct_change()
    delta = c.diff()
    gain = delta.clip(lower=0).ewm(alpha=1 / 14, adjust=False, min_periods=14).mean()
    loss = (-delta).clip(lower=0).ewm(alpha=1 / 14, adjust=False, min_periods=14).mean()
    return pl.DataFrame(
        {
            "f_ret_1": ret,
            "f_ret_lag_2": ret.shift(2),
            "f_ma_ratio_10": c.rolling(10).mean() / c - 1,
            "f_vol_20": ret.rolling(20).std(),
            "f_max_5": pdf["adj_high"].rolling(5).max() / c - 1,
            "f_qtlu_10": c.rolling(10).quantile(0.8) / c - 1,
            "f_tsrank_5": c.rolling(5).rank() / 5,
            "f_rsi_14": 100 * gain / (gain + loss),
        },
        nan_to_null=True,
    )


@pytest.mark.parametrize("symbol", ["S0", "S4"])
def test_against_a_reference_implementation(panel, feats, symbol):
    ours = feats.filter(pl.col("symbol") == symbol).sort("date")
    ref = _naive(panel, symbol)
    got = ours.select(ref.columns)
    # RSI: pandas seeds the EMA with the first diff, as we do, so they agree after warm-up.
    assert_frame_equal(got, ref, check_exact=False, rel_tol=1e-9, abs_tol=1e-9)


def test_null_open_gives_null_candles_only(panel, feats):
    no_open = panel.filter(pl.col("adj_open").is_null()).select(KEYS)
    assert no_open.height > 50
    s3 = feats.join(no_open, on=list(KEYS))
    for col in (
        "f_kmid",
        "f_klen",
        "f_kmid2",
        "f_kup",
        "f_kup2",
        "f_klow",
        "f_klow2",
        "f_ksft",
        "f_ksft2",
    ):
        assert s3[col].null_count() == s3.height, col
    assert s3["f_ret_1"].null_count() == 1
    later = feats.filter(pl.col("symbol") == "S3").tail(10)
    assert later["f_kmid"].null_count() == 0


def test_candle_values():
    one = pl.DataFrame(
        {
            "symbol": "A",
            "date": [date(2024, 1, 1)],
            "adj_open": [100.0],
            "adj_high": [110.0],
            "adj_low": [95.0],
            "adj_close": [105.0],
            "adj_volume": [10.0],
            "turnover": [1000.0],
            "is_break": [False],
        }
    )
    f = build_features(one.lazy(), None, spec=FULL_SPEC).collect().row(0, named=True)
    assert f["f_kmid"] == pytest.approx(0.05)
    assert f["f_klen"] == pytest.approx(0.15)
    assert f["f_kup"] == pytest.approx(0.05)
    assert f["f_klow"] == pytest.approx(0.05)
    assert f["f_ksft"] == pytest.approx((210 - 110 - 95) / 100)
    assert f["f_kmid2"] == pytest.approx(5 / 15)


def test_single_row_symbol_and_unknown_sector(feats):
    one = feats.filter(pl.col("symbol") == "ONE").row(0, named=True)
    assert one["f_ret_1"] is None and one["f_vol_5"] is None and one["f_macd"] is None
    assert one["f_days_since_trade"] is None
    assert one["f_traded_share_20"] == pytest.approx(1 / 20)
    assert one["f_sector"] == -1 and one["f_sector_ret"] is None
    codes = dict(feats.select("symbol", "f_sector").unique().iter_rows())
    assert codes["S0"] == NEPSE_SECTORS.index("Commercial Banks")
    assert codes["S1"] == codes["S2"] == NEPSE_SECTORS.index("Hydro Power")
    assert codes["S3"] == -1  # a sector not in the spec's list


def test_suspended_symbol_days_since_trade(panel, feats):
    s2 = feats.filter(pl.col("symbol") == "S2")
    assert s2["f_days_since_trade"].max() >= 120
    resumed = s2.filter(pl.col("f_days_since_trade") >= 120).row(0, named=True)
    # The first session after a suspension: one row traded in the last 20 market days.
    assert resumed["f_traded_share_20"] == pytest.approx(1 / 20)
    # The return over the suspension is a real (limit-bounded) move, so it is kept.
    assert resumed["f_ret_1"] is not None


def test_cross_section(feats):
    day = (
        feats.filter(pl.col("f_ret_1").is_not_null())
        .group_by("date")
        .len()
        .filter(pl.col("len") >= 4)["date"][0]
    )
    d = feats.filter(pl.col("date") == day)
    assert d["f_mkt_ret"].n_unique() == 1
    assert d["f_mkt_ret"][0] == pytest.approx(d["f_ret_1"].mean())
    hydro = d.filter(pl.col("f_sector") == NEPSE_SECTORS.index("Hydro Power"))
    if hydro["f_ret_1"].null_count() == 0:
        assert hydro["f_sector_ret"][0] == pytest.approx(hydro["f_ret_1"].mean())
    ranks = d["f_rank_ret_1"].drop_nulls()
    assert ranks.min() == 0.0 and ranks.max() == 1.0
    assert d.sort("f_ret_1", nulls_last=True)["f_rank_ret_1"].drop_nulls().is_sorted()


@pytest.mark.parametrize(
    "names",
    [("f_ret_1", "f_rank_roc_5", "f_mkt_ret"), ("f_ret_1", "f_sector_ret"), ("f_rank_vol_20",)],
)
def test_a_smaller_spec_gives_the_same_values(panel, feats, names):
    # The ranks are one kernel call: a spec asks it for only the ranks it names.
    spec = FeatureSpec(version="subset", names=names)
    got = build_features(panel.lazy(), SECTORS, spec=spec).collect()
    assert [c for c in got.columns if c.startswith("f_")] == list(names)
    assert_frame_equal(
        got.select(names), feats.select(names), check_exact=False, rel_tol=1e-12, abs_tol=1e-12
    )


def test_row_order_of_the_input_changes_nothing(panel, feats):
    shuffled = panel.sample(fraction=1.0, shuffle=True, seed=4)
    got = build_features(shuffled.lazy(), SECTORS, spec=FULL_SPEC).collect()
    assert_frame_equal(got, feats, check_exact=False, rel_tol=1e-12, abs_tol=1e-12)


def test_features_invariant_to_a_later_adjustment_factor(panel):
    # A later bonus rescales all earlier adjusted prices; ratio features must not move.
    scaled = panel.with_columns(
        [pl.col(c) * 0.5 for c in ("adj_open", "adj_high", "adj_low", "adj_close")],
        adj_volume=pl.col("adj_volume") * 2,
    )
    a = build_features(panel.lazy(), SECTORS).collect().drop("adj_close")
    b = build_features(scaled.lazy(), SECTORS).collect().drop("adj_close")
    assert_frame_equal(a, b, check_exact=False, rel_tol=1e-9, abs_tol=1e-9)


@pytest.mark.realdata
@pytest.mark.slow
def test_real_data_keeps_every_row_and_no_return_crosses_a_break(settings):
    from nepse.features.adjust import adjust_prices
    from tests.conftest import shared_data
    from tests.unit.features.test_adjust import real_prices_and_actions

    prices, acts = real_prices_and_actions()
    adj = adjust_prices(prices.lazy(), acts.lazy()).collect()
    company = pl.read_csv(
        shared_data("nepse-api-2025-08-30", "CompanyList.csv"), infer_schema_length=0
    )
    sec = company.select("symbol", pl.col("sectorName").alias("sector"))
    # (Its speed is a benchmark's business: bench/features_vs_pandas.py times build_features.)
    out = build_features(adj.lazy(), sec).collect()
    assert out.height == adj.height
    assert set(FEATURE_SPEC.names) <= set(out.columns)
    assert out["f_ret_1"].abs().max() <= 0.15 + 1e-6  # no return across a break
