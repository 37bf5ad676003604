"""The market-rules registry: dated, sourced, and answering "rule in force on day d"."""

from __future__ import annotations

from datetime import date

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


def test_price_limit_expr_and_calendar_use_the_registry():
    import polars as pl

    from nepse.calendar import TradingCalendar
    from nepse.features.adjust import price_limit_expr
    from nepse.settings import load_settings

    frame = pl.DataFrame({"date": [date(2026, 4, 19), date(2026, 4, 20)]})
    got = frame.select(price_limit_expr(load_settings()).alias("x"))["x"].to_list()
    assert got == [0.10, 0.15]
    override = load_settings(price_limit_after=0.2)
    assert frame.select(price_limit_expr(override).alias("x"))["x"].to_list() == [0.10, 0.2]
    # Past the data the registry's week pattern decides: Thursday 2026-04-09 -> Friday 04-10.
    cal = TradingCalendar.from_dates(
        [date(2026, 4, 5), date(2026, 4, 9)], weekday_rule=market_rules().trading_weekdays
    )
    assert cal.next(date(2026, 4, 9)) == date(2026, 4, 10)
    assert TradingCalendar.from_dates([date(2026, 4, 5), date(2026, 4, 9)]).next(
        date(2026, 4, 9)
    ) == date(2026, 4, 12)
