"""Corporate-action adjustment (bonus, rights, cash) and price-limit breaks."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from nepse.features.adjust import adjust_prices, adjustment_report, locate_ex_dates
from nepse.schema import CORPORATE_ACTION_SCHEMA, PRICE_COLUMNS, conform

D0 = date(2024, 1, 1)


def _prices(
    closes: list[float], *, symbol: str = "A", start: date = D0, dates=None
) -> pl.DataFrame:
    dates = dates or [start + timedelta(days=i) for i in range(len(closes))]
    return conform(
        pl.DataFrame(
            {
                "symbol": symbol,
                "date": dates,
                "open": closes,
                "high": [c * 1.01 for c in closes],
                "low": [c * 0.99 for c in closes],
                "close": closes,
                "volume": [1000.0] * len(closes),
                "turnover": [c * 1000.0 for c in closes],
            }
        ),
        PRICE_COLUMNS,
    )


def _actions(rows: list[dict]) -> pl.DataFrame:
    return conform(pl.DataFrame(rows), CORPORATE_ACTION_SCHEMA) if rows else None


def test_bonus_adjusts_earlier_rows_and_leaves_raw_alone(settings):
    prices = _prices([120.0, 121.0, 100.0, 101.0])
    acts = _actions(
        [
            {
                "symbol": "A",
                "kind": "bonus",
                "percent": 20.0,
                "book_closure_date": D0 + timedelta(days=2),
            }
        ]
    )
    before = prices.clone()
    out = adjust_prices(prices.lazy(), acts.lazy()).collect()
    assert_frame_equal(prices, before)  # raw prices are never edited
    assert out["adj_factor"].to_list() == pytest.approx([1 / 1.2, 1 / 1.2, 1.0, 1.0])
    assert out["adj_close"].to_list() == pytest.approx([100.0, 121 / 1.2, 100.0, 101.0])
    assert out["adj_volume"].to_list() == pytest.approx([1200.0, 1200.0, 1000.0, 1000.0])
    assert out["adj_high"][0] == pytest.approx(120 * 1.01 / 1.2)
    assert not out["is_break"].any()
    assert_frame_equal(out.select(prices.columns), prices)
    assert set(out.columns) >= {
        "adj_open",
        "adj_high",
        "adj_low",
        "adj_close",
        "adj_volume",
        "adj_factor",
        "is_break",
    }


def test_bonus_on_a_non_trading_day_applies_to_the_next_row(settings):
    dates = [D0, D0 + timedelta(days=1), D0 + timedelta(days=5)]
    prices = _prices([115.0, 115.0, 100.0], dates=dates)
    acts = _actions(
        [
            {
                "symbol": "A",
                "kind": "bonus",
                "percent": 15.0,
                "book_closure_date": D0 + timedelta(days=3),
            }
        ]
    )
    ex = locate_ex_dates(prices, acts).collect()
    assert ex["ex_date"].to_list() == [D0 + timedelta(days=5)]
    assert ex["method"].to_list() == ["book_closure"]
    out = adjust_prices(prices, acts).collect()
    assert out["adj_close"].to_list() == pytest.approx([100.0, 100.0, 100.0])


def test_without_the_bonus_record_the_drop_is_a_break(settings):
    out = adjust_prices(_prices([115.0, 115.0, 100.0]), None).collect()
    assert out["is_break"].to_list() == [False, False, True]
    assert out["adj_factor"].to_list() == [1.0, 1.0, 1.0]


@pytest.mark.parametrize("percent", [100.0, 1000.0])
def test_a_bonus_where_the_price_never_moved_is_not_applied(settings, percent):
    prices = _prices([110.0, 111.0, 112.0, 111.5])  # no drop on the book-closure row
    acts = _actions(
        [
            {
                "symbol": "A",
                "kind": "bonus",
                "percent": percent,
                "book_closure_date": D0 + timedelta(2),
            }
        ]
    )
    assert locate_ex_dates(prices, acts).collect().is_empty()
    out = adjust_prices(prices, acts).collect()
    assert out["adj_close"].to_list() == prices["close"].to_list()  # history not divided
    assert not out["is_break"].any()


def test_rights_factor_and_ex_date_matched_before_opening(settings):
    # P = 200, 1:0.5 rights at 100: (200 + 100*0.5) / 1.5 = 166.67; drop on day 10.
    closes = [200.0] * 10 + [200 * (250 / 1.5) / 200] + [167.0] * 30
    prices = _prices(closes)
    opening = D0 + timedelta(days=30)
    acts = _actions(
        [
            {
                "symbol": "A",
                "kind": "rights",
                "percent": None,
                "ratio": "1: 0.5",
                "issue_price": 100.0,
                "book_closure_date": opening,
            }
        ]
    )
    ex = locate_ex_dates(prices, acts).collect()
    assert ex["ex_date"].to_list() == [D0 + timedelta(days=10)]
    assert ex["method"].to_list() == ["matched_move"]
    assert ex["factor"][0] == pytest.approx(250 / 1.5 / 200)
    out = adjust_prices(prices, acts).collect()
    assert out["adj_close"][0] == pytest.approx(250 / 1.5)
    assert not out["is_break"].any()


def test_small_rights_without_a_visible_drop_use_the_default_offset(settings):
    prices = _prices([110.0] * 40)
    opening = D0 + timedelta(days=35)
    acts = _actions(
        [
            {
                "symbol": "A",
                "kind": "rights",
                "percent": 5.0,
                "issue_price": 100.0,
                "book_closure_date": opening,
            }
        ]
    )
    ex = locate_ex_dates(prices, acts).collect()
    assert ex["method"].to_list() == ["default_offset"]
    assert ex["ex_date"].to_list() == [opening - timedelta(days=22)]
    assert ex["factor"][0] == pytest.approx((110 + 5) / (1.05 * 110))


def test_big_unlocated_rights_are_not_applied(settings):
    # An expected -30% drop that the data never shows must not create a break.
    prices = _prices([300.0] * 40)
    acts = _actions(
        [
            {
                "symbol": "A",
                "kind": "rights",
                "percent": 100.0,
                "issue_price": 100.0,
                "book_closure_date": D0 + timedelta(days=35),
            }
        ]
    )
    assert locate_ex_dates(prices, acts).collect().height == 0
    assert not adjust_prices(prices, acts).collect()["is_break"].any()


def test_cash_dividends_are_not_adjusted_and_factors_compound(settings):
    prices = _prices([110.0, 100.0, 100.0, 50.0, 50.0])
    acts = _actions(
        [
            {
                "symbol": "A",
                "kind": "bonus",
                "percent": 10.0,
                "book_closure_date": D0 + timedelta(days=1),
            },
            {
                "symbol": "A",
                "kind": "cash",
                "percent": 30.0,
                "book_closure_date": D0 + timedelta(days=2),
            },
            {
                "symbol": "A",
                "kind": "bonus",
                "percent": 100.0,
                "book_closure_date": D0 + timedelta(days=3),
            },
            # The same record twice (two loads) must not apply twice.
            {
                "symbol": "A",
                "kind": "bonus",
                "percent": 100.0,
                "book_closure_date": D0 + timedelta(days=3),
            },
            {"symbol": "B", "kind": "bonus", "percent": 50.0, "book_closure_date": D0},
        ]
    )
    out = adjust_prices(prices, acts).collect()
    assert out["adj_factor"].to_list() == pytest.approx([1 / 1.1 / 2, 0.5, 0.5, 1.0, 1.0])
    assert out["adj_close"].to_list() == pytest.approx([50.0, 50.0, 50.0, 50.0, 50.0])


@pytest.mark.parametrize(
    ("day", "prev", "close", "is_break"),
    [
        (date(2026, 1, 5), 100.0, 110.0, False),  # exactly +10%: a limit-hit day
        (date(2026, 1, 5), 100.0, 100.0 * 1.1, False),  # 0.10000000000000009 counts as 10%
        (date(2026, 1, 5), 100.0, 90.0, False),
        (date(2026, 1, 5), 100.0, 110.01, True),
        (date(2026, 1, 5), 100.0, 89.99, True),
        (date(2026, 4, 19), 100.0, 115.0, True),  # the wider limit starts 2026-04-20
        (date(2026, 4, 20), 100.0, 115.0, False),
        (date(2026, 4, 20), 100.0, 85.0, False),
        (date(2026, 4, 20), 100.0, 115.1, True),
    ],
)
def test_limit_breaks(settings, day, prev, close, is_break):
    assert (100.0 * 1.1) / 100.0 - 1.0 == 0.10000000000000009  # the float case really occurs
    prices = _prices([prev, close], dates=[day - timedelta(days=1), day])
    out = adjust_prices(prices, None).collect()
    assert out["is_break"].to_list() == [False, is_break]


def test_breaks_are_per_symbol(settings):
    prices = pl.concat([_prices([100.0, 101.0], symbol="A"), _prices([300.0, 301.0], symbol="B")])
    out = adjust_prices(prices.sample(fraction=1.0, shuffle=True, seed=1), None).collect()
    assert out["symbol"].to_list() == ["A", "A", "B", "B"]
    assert not out["is_break"].any()


def test_adjustment_report_counts(settings):
    prices = pl.concat(
        [_prices([120.0, 100.0, 100.0], symbol="A"), _prices([100.0, 150.0, 151.0], symbol="B")]
    )
    acts = _actions(
        [
            {
                "symbol": "A",
                "kind": "bonus",
                "percent": 20.0,
                "book_closure_date": D0 + timedelta(days=1),
            }
        ]
    )
    rep = adjustment_report(prices, acts)
    assert rep["returns"] == 4
    assert rep["beyond_limit_raw"] == 2
    assert rep["beyond_limit_adjusted"] == 1
    assert rep["explained_by_actions"] == 1
    assert rep["share_beyond_raw"] == pytest.approx(0.5)
    assert rep["located_by"] == {"bonus/book_closure": 1}


# --- real data ---------------------------------------------------------------------------------
def _read_sharesansar(root) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A small reader for the test (nepse/sources/readers.py is the real one)."""
    prices, acts = [], []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        sym = folder.name
        raw = pl.read_csv(folder / "prices.csv", infer_schema_length=0)
        num = {
            c: pl.col(c).str.replace_all(",", "").cast(pl.Float64, strict=False)
            for c in raw.columns
        }
        prices.append(
            raw.select(
                pl.lit(sym).alias("symbol"),
                pl.col("date").str.strptime(pl.Date, "%Y-%m-%d", strict=False),
                num["open"].alias("open"),
                num["high"].alias("high"),
                num["low"].alias("low"),
                num["ltp"].alias("close"),
                num["qty"].alias("volume"),
                num["turnover"].alias("turnover"),
            )
        )
        bcd = (
            pl.col("book_closure_date")
            .str.extract(r"(\d{4}-\d{2}-\d{2})")
            .str.strptime(pl.Date, strict=False)
        )
        if (folder / "dividend.csv").exists():
            div = pl.read_csv(folder / "dividend.csv", infer_schema_length=0)
            for kind, col in (("bonus", "bonus_share"), ("cash", "cash_dividend")):
                acts.append(
                    div.select(
                        pl.lit(sym).alias("symbol"),
                        pl.lit(kind).alias("kind"),
                        pl.col(col).cast(pl.Float64, strict=False).alias("percent"),
                        bcd.alias("book_closure_date"),
                    )
                )
        if (folder / "right-share.csv").exists():
            rs = pl.read_csv(folder / "right-share.csv", infer_schema_length=0)
            acts.append(
                rs.select(
                    pl.lit(sym).alias("symbol"),
                    pl.lit("rights").alias("kind"),
                    "ratio",
                    pl.col("issue_price").cast(pl.Float64, strict=False),
                    pl.col("opening_date").alias("book_closure_date"),
                ).with_columns(bcd)
            )
    p = (
        conform(pl.concat(prices), PRICE_COLUMNS)
        .filter(pl.col("date").is_not_null() & (pl.col("close") > 0))
        .unique(["symbol", "date"], keep="first", maintain_order=True)
    )
    a = conform(pl.concat(acts, how="diagonal_relaxed"), CORPORATE_ACTION_SCHEMA)
    return p, a


def real_prices_and_actions():
    """Real ShareSansar prices and actions (skips when the shared data is absent)."""
    from tests.conftest import shared_data

    return _read_sharesansar(shared_data("sharesansar-company-wise"))


@pytest.mark.realdata
@pytest.mark.slow
@pytest.mark.realdata
def test_adjustment_report_on_real_data(settings):
    prices, acts = real_prices_and_actions()
    rep = adjustment_report(prices.lazy(), acts.lazy())
    print("adjustment report:", rep)
    assert rep["returns"] > 400_000
    assert rep["share_beyond_adjusted"] < rep["share_beyond_raw"] / 2
    assert rep["explained_by_actions"] > 0.6 * rep["beyond_limit_raw"]
    assert rep["breaks_created_by_adjustment"] < 0.1 * rep["explained_by_actions"]
