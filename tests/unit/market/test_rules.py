"""The market-rules registry: dated, sourced, and answering "rule in force on day d"."""

from __future__ import annotations

from datetime import date, time

import polars as pl
import pytest

from nepse.market.rules import TABLES, MarketRules, market_rules


def test_every_entry_is_dated_and_sourced():
    rules = market_rules()
    for name in TABLES:
        assert rules.tables[name], name
        for e in rules.tables[name]:
            assert isinstance(e["from"], date) and e["source"].strip()


@pytest.mark.parametrize(
    ("day", "value", "rate"),
    [
        (date(2024, 5, 14), 50_000, 0.0036),
        (date(2024, 5, 14), 50_001, 0.0033),
        (date(2025, 1, 1), 2_000_000, 0.0031),
        (date(2025, 1, 1), 20_000_000, 0.0024),
        (date(2024, 5, 13), 100_000, 0.0037),  # the day before the new schedule
        (date(2021, 6, 1), 30_000, 0.0040),
        (date(2020, 12, 26), 30_000, 0.0060),
    ],
)
def test_commission_by_value_and_date(day, value, rate):
    assert market_rules().commission_rate(day, value) == rate


def test_limits_settlement_week_and_tax():
    r = market_rules()
    assert r.price_limit(date(2026, 4, 19)) == 0.10
    assert r.price_limit(date(2026, 4, 20)) == 0.15
    assert r.settlement_days(date(2021, 1, 21)) == 3
    assert r.settlement_days(date(2021, 1, 24)) == 2
    assert r.trading_weekdays(date(2025, 1, 1)) == frozenset({6, 0, 1, 2, 3})  # Sun-Thu
    assert r.trading_weekdays(date(2026, 4, 10)) == frozenset({0, 1, 2, 3, 4})  # Mon-Fri
    assert r.cgt_rate(date(2025, 1, 1), held_days=364) == 0.075
    assert r.cgt_rate(date(2025, 1, 1), held_days=365) == 0.05
    assert r.cgt_rate(date(2025, 1, 1), held_days=5, investor="institution") == 0.10
    assert r.sebon_fee(date(2025, 1, 1)) == 0.00015
    assert r.dp_charge(date(2025, 1, 1)) == 25.0
    assert r.dp_charge(date(2025, 1, 1), "buy") == 25.0  # both sides pay it


def test_minimum_commission_and_board_lot():
    r = market_rules()
    assert r.min_commission(date(2025, 1, 1)) == 25.0
    assert r.board_lot(date(2025, 1, 1)) == 10


def test_unsorted_or_unsourced_file_is_refused(tmp_path):
    text = open_text()
    bad = text.replace(
        'source = "https://everestbankltd.com/faq/what-is-t3/ (T+3 settlement)"', 'source = ""'
    )
    path = tmp_path / "rules.toml"
    path.write_text(bad)
    with pytest.raises(ValueError, match="source"):
        MarketRules.from_file(path)


def open_text() -> str:
    from nepse.market.rules import RULES_FILE

    return RULES_FILE.read_text(encoding="utf-8")


def test_trading_week_of_2022():
    r = market_rules()
    assert r.trading_weekdays(date(2022, 5, 14)) == frozenset({6, 0, 1, 2, 3})  # Sun-Thu
    assert r.trading_weekdays(date(2022, 5, 15)) == frozenset({0, 1, 2, 3, 4})  # Mon-Fri
    assert r.trading_weekdays(date(2022, 6, 15)) == frozenset({6, 0, 1, 2, 3, 4})  # Sun-Fri
    assert r.trading_weekdays(date(2022, 9, 18)) == frozenset({6, 0, 1, 2, 3})  # Sun-Thu


def test_session_close():
    assert market_rules().close_time(date(2025, 1, 1)) == time(15, 0)


def test_price_limit_expr_and_periods_agree_with_the_dated_lookup():
    r = market_rules()
    days = [date(1990, 1, 1), date(2026, 4, 19), date(2026, 4, 20), date(2030, 1, 1)]
    got = pl.DataFrame({"date": days}).select(x=r.price_limit_expr())["x"].to_list()
    assert got == [r.price_limit(d) for d in days] == [0.10, 0.10, 0.15, 0.15]
    assert r.periods("price_limit", "limit") == (
        (date(1994, 1, 13), 0.10),
        (date(2026, 4, 20), 0.15),
    )
    assert r.changes("price_limit") == [date(2026, 4, 20)]


def test_a_trading_week_with_an_unknown_weekday_is_refused(tmp_path):
    text = open_text().replace('weekdays = ["Sun", "Mon"', 'weekdays = ["Sun", "Mun"', 1)
    path = tmp_path / "rules.toml"
    path.write_text(text)
    with pytest.raises(ValueError, match="trading_week"):
        MarketRules.from_file(path)
