"""The honest fill model: no trade, limit closes, turnover caps, cash, board lots."""

from __future__ import annotations

import math

import pytest

from nepse.portfolio.fills import FillModel, fill_buy, fill_sell
from nepse.portfolio.market import Quote

M = FillModel(turnover_share=0.10, lot=10)


def q(price=100.0, turnover=1_000_000.0, *, traded=True, up=False, down=False) -> Quote:
    return Quote(price, price, turnover, traded, up, down)


def test_a_buy_fills_in_whole_lots_at_the_session_price():
    f = fill_buy(55, q(), M, cash=1e9, cost_rate=0.0)
    assert (f.shares, f.price, f.value, f.reason) == (50, 100.0, 5000.0, "lot")


@pytest.mark.parametrize(
    ("quote", "reason"),
    [
        (q(traded=False), "no trade"),
        (Quote(math.nan, math.nan, 0.0, False, False, False), "no trade"),
        (q(up=True), "upper-limit close"),  # buyers queued at the limit: none of ours fills
    ],
)
def test_no_buy_without_trades_or_at_an_upper_limit_close(quote, reason):
    f = fill_buy(100, quote, M, cash=1e9, cost_rate=0.0)
    assert f.shares == 0 and f.value == 0 and f.reason == reason


def test_a_lower_limit_close_does_not_stop_a_buy_nor_an_upper_one_a_sale():
    assert fill_buy(100, q(down=True), M, cash=1e9, cost_rate=0.0).shares == 100
    assert fill_sell(100, 100, q(up=True), M).shares == 100


def test_fills_take_at_most_the_share_of_the_session_turnover():
    # 10 % of Rs 200,000 = Rs 20,000 = 200 shares at Rs 100.
    f = fill_buy(1000, q(turnover=200_000.0), M, cash=1e9, cost_rate=0.0)
    assert (f.shares, f.reason) == (200, "turnover cap")
    s = fill_sell(1000, 1000, q(turnover=200_000.0), M)
    assert (s.shares, s.reason) == (200, "turnover cap")


def test_a_buy_never_spends_more_than_the_cash_with_costs():
    f = fill_buy(1000, q(), M, cash=20_500.0, cost_rate=0.01)  # 20,500 / 101 = 202.97 shares
    assert (f.shares, f.reason) == (200, "cash")
    assert fill_buy(1000, q(), M, cash=-5.0, cost_rate=0.01).shares == 0


def test_a_sale_at_a_lower_limit_close_fills_nothing():
    s = fill_sell(100, 100, q(down=True), M)
    assert s.shares == 0 and s.reason == "lower-limit close"


def test_a_whole_holding_sells_with_its_odd_remainder_a_part_in_lots():
    assert fill_sell(113, 113, q(), M).shares == 113  # bonus shares left an odd lot
    part = fill_sell(113, 113, q(turnover=10_500.0), M)  # cap: 10.5 shares
    assert part.shares == 10 and part.reason == "turnover cap"
    assert fill_sell(200, 80, q(), M).shares == 80  # only what is sellable
