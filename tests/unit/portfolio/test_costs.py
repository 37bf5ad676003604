"""Trade costs computed by hand from the registry's schedule."""

from __future__ import annotations

from datetime import date

import pytest

from nepse.portfolio.costs import buy_cost, round_trip_share, sell_cost

DAY = date(2025, 6, 1)  # 0.36/0.33/0.31/0.27/0.24 % schedule, SEBON 0.015 %, DP Rs 25 each side


def test_buy_cost_by_hand():
    c = buy_cost(100_000, DAY)
    assert c.commission == pytest.approx(330.0)  # 0.33 % bracket (50k < value <= 5 lakh)
    assert c.sebon == pytest.approx(15.0)
    assert c.dp == 25.0 and c.cgt == 0  # DP on the purchase too
    assert buy_cost(40_000, DAY).commission == pytest.approx(144.0)  # 0.36 %
    assert buy_cost(100_000, date(2022, 1, 1)).commission == pytest.approx(370.0)  # 0.37 %


def test_sell_cost_with_gain_short_and_long():
    c = sell_cost(120_000, DAY, basis=100_345.0, held_days=10)
    assert c.commission == pytest.approx(396.0)
    assert c.sebon == pytest.approx(18.0)
    assert c.dp == 25.0
    gain = 120_000 - 396 - 18 - 25 - 100_345
    assert c.cgt == pytest.approx(gain * 0.075)
    long = sell_cost(120_000, DAY, basis=100_345.0, held_days=400)
    assert long.cgt == pytest.approx(gain * 0.05)
    inst = sell_cost(120_000, DAY, basis=100_345.0, held_days=10, investor="institution")
    assert inst.cgt == pytest.approx(gain * 0.10)


def test_no_tax_on_a_loss():
    assert sell_cost(90_000, DAY, basis=100_000.0, held_days=3).cgt == 0.0


def test_minimum_commission_binds_on_small_trades():
    assert buy_cost(5_000, DAY).commission == 25.0  # 0.36 % would be Rs 18
    assert buy_cost(7_000, DAY).commission == pytest.approx(25.2)  # above the minimum
    assert buy_cost(0, DAY).commission == 0.0


def test_round_trip_of_one_lakh():
    # 2 x 0.33 % + 2 x 0.015 % + 2 x Rs 25 on Rs 1 lakh = 0.74 %
    assert round_trip_share(100_000, DAY) == pytest.approx(0.0074)
