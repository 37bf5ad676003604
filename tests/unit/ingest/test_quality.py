"""Data-quality rules: one reason per rejected row, in the documented order; duplicates."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from nepse.ingest.quality import CLEAN_SCHEMA, validate
from nepse.schema import READ_PRICE_SCHEMA, REASONS, REJECT_SCHEMA, conform, empty
from nepse.settings import load_settings

TODAY = date(2026, 4, 30)
DAY = date(2026, 4, 1)


def row(**kw) -> dict:
    """One valid price row, with fields overridden by `kw`."""
    base = {
        "symbol": "NABIL",
        "date": DAY,
        "open": 100.0,
        "high": 105.0,
        "low": 95.0,
        "close": 101.0,
        "volume": 1000.0,
        "turnover": 101000.0,
        "trades": 10,
        "source": "f.csv",
        "line": 2,
        "raw": "raw",
    }
    return {**base, **kw}


def frame(*rows: dict) -> pl.DataFrame:
    rows = [
        {**r, "line": r.get("line", 2) if len(rows) == 1 else i + 2} for i, r in enumerate(rows)
    ]
    return conform(pl.DataFrame(rows, schema_overrides=READ_PRICE_SCHEMA), READ_PRICE_SCHEMA)


def run(df: pl.DataFrame, securities: pl.DataFrame | None = None, **settings):
    return validate(df, settings=load_settings(**settings), today=TODAY, securities=securities)


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"symbol": None}, "missing_symbol"),
        ({"symbol": "  "}, "missing_symbol"),
        ({"close": None}, "missing_close"),
        ({"close": float("nan")}, "missing_close"),
        ({"close": 0.0}, "nonpositive_price"),
        ({"close": -5.0, "low": -6.0}, "nonpositive_price"),
        ({"open": 0.0}, "nonpositive_price"),
        ({"low": 0.0}, "nonpositive_price"),
        ({"high": 90.0, "low": 95.0}, "high_below_low"),
        ({"date": date(2026, 5, 1)}, "future_date"),
        ({"date": None}, "unparseable"),
        # first failing rule wins: missing close beats high < low and a future date
        ({"close": None, "high": 90.0, "date": date(2027, 1, 1)}, "missing_close"),
        ({"close": 0.0, "high": 90.0}, "nonpositive_price"),
        ({"high": 90.0, "low": 95.0, "close": 200.0}, "high_below_low"),
        ({"symbol": "", "close": None}, "missing_symbol"),
    ],
)
def test_rule_rejects_with_one_reason(fields, reason):
    result = run(frame(row(**fields)))
    assert result.clean.height == 0
    assert result.rejects["reason"].to_list() == [reason]
    assert reason in REASONS
    assert result.rejects["detail"][0]
    assert result.rejects.schema == pl.Schema(REJECT_SCHEMA)
    assert result.rejects.select("source", "line", "raw").row(0) == ("f.csv", 2, "raw")


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"open": None, "high": None, "low": None},  # only a close: the legacy export has no open
        {"volume": 0.0, "turnover": 0.0, "trades": 0},  # zero volume is not a price
        {"date": TODAY},  # today itself is not in the future
        {"open": 105.0, "close": 95.0},  # on the bounds
    ],
)
def test_valid_rows_pass_unflagged(fields):
    df = frame(row(**fields))
    result = run(df)
    assert result.rejects.height == 0
    assert result.clean["flag"].to_list() == [None]
    expected = df.select([c for c in CLEAN_SCHEMA if c != "flag"])
    assert_frame_equal(result.clean.drop("flag"), expected)


@pytest.mark.parametrize(
    ("fields", "high", "low"),
    [
        ({"close": 110.0}, 110.0, 95.0),
        ({"close": 90.0}, 105.0, 90.0),
        ({"open": 120.0, "close": 80.0}, 120.0, 80.0),
        ({"close": 90.0, "high": None}, None, 90.0),  # a missing bound is not invented
    ],
)
def test_ohlc_repair_widens_and_flags(fields, high, low):
    result = run(frame(row(**fields)), ohlc_policy="repair")
    assert result.rejects.height == 0
    assert result.clean.select("high", "low", "flag").row(0) == (high, low, "ohlc_repaired")
    assert result.flagged == {"ohlc_repaired": 1}


@pytest.mark.parametrize("fields", [{"close": 110.0}, {"open": 94.0}])
def test_ohlc_reject_policy(fields):
    result = run(frame(row(**fields)), ohlc_policy="reject")
    assert result.clean.height == 0
    assert result.reasons == {"ohlc_inconsistent": 1}


def test_future_date_checked_after_ohlc():
    # A future row with an inconsistent close is reported as ohlc_inconsistent (rule 5 < 6).
    df = frame(row(date=date(2026, 6, 1), close=200.0))
    assert run(df, ohlc_policy="reject").reasons == {"ohlc_inconsistent": 1}
    assert run(df, ohlc_policy="repair").reasons == {"future_date": 1}


SECURITIES = pl.DataFrame(
    {
        "symbol": ["NABIL", "NMF1", "NBLD87"],
        "instrument_type": ["Equity", "Mutual Funds", "Non-Convertible Debentures"],
    }
)


@pytest.mark.parametrize(
    ("policy", "kept"),
    [("keep", ["NABIL", "NMF1", "NBLD87", "NEWCO"]), ("skip", ["NABIL", "NEWCO"])],
)
def test_non_equity_policy(policy, kept):
    df = frame(*(row(symbol=s) for s in ["NABIL", "NMF1", "NBLD87", "NEWCO"]))
    result = run(df, securities=SECURITIES, non_equity_policy=policy)
    # NEWCO is absent from the master: absence is not proof it is not an equity.
    assert result.clean["symbol"].to_list() == kept
    if policy == "skip":
        assert result.rejects["reason"].to_list() == ["not_equity", "not_equity"]
        assert "Mutual Funds" in result.rejects["detail"][0]


def test_exact_duplicates_keep_one_and_are_counted():
    df = frame(row(volume=None), row(volume=None), row(volume=None), row(symbol="HBL"))
    result = run(df)
    assert result.duplicates == 2
    assert result.rejects.height == 0
    assert result.clean["symbol"].to_list() == ["NABIL", "HBL"]
    assert result.clean["line"].to_list() == [2, 5]  # the first copy is kept


def test_conflicting_duplicates_reject_every_copy():
    df = frame(row(close=101.0), row(close=101.0), row(close=102.5), row(symbol="HBL"))
    result = run(df)
    assert result.duplicates == 0
    assert result.clean["symbol"].to_list() == ["HBL"]
    assert result.rejects["reason"].to_list() == ["conflicting_duplicate"] * 3
    assert result.rejects["line"].to_list() == [2, 3, 4]
    assert "101.0, 102.5" in result.rejects["detail"][0]


def test_copies_differing_in_volume_only_conflict():
    result = run(frame(row(volume=1000.0), row(volume=1001.0)))
    assert result.reasons == {"conflicting_duplicate": 2}
    assert result.rejects["detail"][0] == (
        "2 rows for NABIL 2026-04-01 differ; closes: 101.0 (other columns differ)"
    )


def test_a_copy_rejected_for_another_rule_does_not_conflict():
    result = run(frame(row(high=90.0, low=95.0), row()))
    assert result.reasons == {"high_below_low": 1}
    assert result.clean["line"].to_list() == [3]
    assert result.duplicates == 0


def test_parse_rejects_pass_through_and_identity():
    parse = pl.DataFrame(
        {
            "source": ["f.csv"],
            "line": [9],
            "raw": ["x,y"],
            "reason": ["unparseable"],
            "detail": ["d"],
        }
    )
    df = frame(row(), row(), row(close=0.0, symbol="HBL"), row(symbol="ADBL"))
    result = validate(df, settings=load_settings(), today=TODAY, parse_rejects=parse)
    assert result.rows_in == 5
    assert (result.clean.height, result.rejects.height, result.duplicates) == (2, 2, 1)
    assert result.reasons == {"nonpositive_price": 1, "unparseable": 1}
    assert result.rejects["line"].to_list()[0] == 9  # parse rejects first
    result.check_identity()


def test_empty_input():
    result = run(empty(READ_PRICE_SCHEMA))
    assert (result.clean.height, result.rejects.height, result.duplicates) == (0, 0, 0)
    assert result.clean.schema == pl.Schema(CLEAN_SCHEMA)
