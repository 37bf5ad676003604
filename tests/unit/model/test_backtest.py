"""The NEPSE backtest on hand-written frames: limit locks, missing days, T+2, costs by hand."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import pytest

from nepse.model.backtest import BacktestConfig, backtest, market_frame

D = [date(2025, 6, 1) + timedelta(days=i) for i in range(6)]


def _market(prices: dict[str, list[float | None]], *, low: dict | None = None) -> pl.DataFrame:
    rows = []
    for sym, closes in prices.items():
        for i, c in enumerate(closes):
            if c is None:
                continue  # no row: the symbol did not trade that session
            lo = (low or {}).get((sym, i), c * 0.99)
            rows.append((sym, D[i], c, c * 1.01, lo, 1.0, 1000.0, c * 1000.0 * 1000))
    frame = pl.DataFrame(
        rows,
        schema=[
            "symbol",
            "date",
            "adj_close",
            "adj_high",
            "adj_low",
            "adj_factor",
            "volume",
            "turnover",
        ],
        orient="row",
    )
    return market_frame(frame)


def _scores(best: list[str], others=("A", "B")) -> pl.DataFrame:
    rows = []
    for i, b in enumerate(best):
        for s in others:
            rows.append((D[i], s, 1.0 if s == b else 0.0))
    return pl.DataFrame(rows, schema=["date", "symbol", "pred_ret"], orient="row")


CFG = BacktestConfig(top_k=1, keep_k=0, capital=100_000.0, entry="close", costs=False)


def _held(res):
    return res.daily["n_held"].to_list()


def test_buys_at_the_next_close_and_marks_to_market():
    m = _market({"A": [10, 10, 10.5, 11, 11, 11], "B": [10] * 6})
    res = backtest(_scores(["A"] * 6), m, config=CFG)
    buy = res.trades.filter(pl.col("side") == "buy")
    assert buy["date"].to_list() == [D[1]]  # the score of D0 trades in session D1
    assert res.daily["equity"].to_list()[-1] == pytest.approx(110_000.0)
    assert res.daily["ret"][1] == pytest.approx(0.05)


def test_no_fill_on_an_upper_limit_lock_or_a_day_without_trades():
    # D1: A closes +10 % (locked up, close entry impossible); D2: A has no row; D3: fills.
    m = _market({"A": [10, 11, None, 11.5, 11.5, 11.5], "B": [10] * 6})
    res = backtest(_scores(["A"] * 6), m, config=CFG)
    t = res.trades.filter(pl.col("side") == "buy")
    assert t["filled"].to_list() == [False, False, True]
    assert t["reason"].to_list()[:2] == ["upper-limit lock", "no trade"]
    assert t.filter("filled")["date"].to_list() == [D[3]]
    assert res.summary["fill_rate"] == pytest.approx(1 / 3)


def test_vwap_entry_fills_when_the_day_traded_below_the_limit():
    m = _market({"A": [10, 11, 11, 11, 11, 11], "B": [10] * 6}, low={("A", 1): 10.2})
    cfg = BacktestConfig(top_k=1, keep_k=0, capital=100_000.0, entry="vwap", costs=False)
    res = backtest(_scores(["A"] * 6), m, config=cfg)
    assert res.trades.filter("filled")["date"].to_list() == [D[1]]


def test_held_until_settled_and_lower_limit_lock_is_carried():
    # Bought D1; from D1's score on, B is best. T+2: no sale on D2, sale allowed from D3,
    # but A is locked at its lower limit on D3 (close -10 %): carried, sold on D4.
    m = _market({"A": [10, 10, 10, 9, 9.1, 9.1], "B": [10] * 6})
    res = backtest(_scores(["A", "B", "B", "B", "B", "B"]), m, config=CFG)
    sells = res.trades.filter(pl.col("side") == "sell")
    assert sells["date"].to_list() == [D[3], D[4]]
    assert sells["filled"].to_list() == [False, True]
    assert sells["reason"][0] == "lower-limit lock"
    assert _held(res) == [1, 1, 1, 1, 1]  # B bought on D4 with the proceeds


def test_costs_computed_by_hand():
    m = _market({"A": [10, 10, 10.5, 11, 11, 11], "B": [10] * 6})
    cfg = BacktestConfig(top_k=1, keep_k=0, capital=100_000.0, entry="close", costs=True)
    # Hold A from D1, sell on D3 (settled) when B becomes best on D2's score.
    res = backtest(_scores(["A", "A", "B", "B", "B", "B"]), m, config=cfg)
    rate = 0.0033 + 0.00015  # commission bracket 50k-5 lakh + SEBON
    value = 100_000 / (1 + rate)  # all cash in, costs included
    units = value / 10
    proceeds = units * 11
    sell_costs = proceeds * rate + 25.0
    gain = proceeds - sell_costs - 100_000.0  # basis = value + buy costs = the whole capital
    cgt = 0.075 * gain
    sold = res.trades.filter((pl.col("side") == "sell") & pl.col("filled"))
    assert sold["date"].to_list() == [D[3]]
    assert sold["cost"][0] == pytest.approx(sell_costs + cgt)
    cash_after_sale = proceeds - sell_costs - cgt
    # B is bought at 10 on D3 for the target: equity at D2's close / k (A marked at 10.5).
    b_value = units * 10.5
    b_cost = b_value * (0.0033 + 0.00015)
    assert res.daily["equity"][-1] == pytest.approx(cash_after_sale - b_cost)
    assert res.daily["costs"].sum() == pytest.approx(100_000 - value + sell_costs + cgt + b_cost)


def test_turnover_cap_limits_the_fill():
    m = _market({"A": [10, 10, 10, 10, 10, 10], "B": [10] * 6})
    cfg = BacktestConfig(
        top_k=1, keep_k=0, capital=1e9, entry="close", costs=False, max_turnover_share=0.1
    )
    res = backtest(_scores(["A"] * 6), m, config=cfg)
    first = res.trades.filter("filled").row(0, named=True)
    assert first["value"] == pytest.approx(0.1 * 10 * 1000 * 1000)
    assert first["reason"] == "partial"
    later = res.trades.filter("filled")["reason"].to_list()[1:]
    assert later and set(later) == {"top-up"}  # topped up while A stays in the top k
    assert res.daily["invested"][-1] > res.daily["invested"][0]


def test_hysteresis_keeps_a_holding_inside_keep_k():
    m = _market({s: [10] * 6 for s in "ABC"})
    rows = [(D[0], "A", 3.0), (D[0], "B", 2.0), (D[0], "C", 1.0)]
    rows += [(D[i], s, v) for i in range(1, 6) for s, v in (("A", 2.0), ("B", 3.0), ("C", 1.0))]
    sc = pl.DataFrame(rows, schema=["date", "symbol", "pred_ret"], orient="row")
    keep = backtest(
        sc, m, config=BacktestConfig(top_k=1, keep_k=2, capital=1e5, entry="close", costs=False)
    )
    assert keep.trades.filter("filled")["symbol"].to_list() == ["A"]  # A stays (rank 2 <= 2)
    swap = backtest(sc, m, config=CFG)
    assert swap.trades.filter("filled")["symbol"].to_list() == ["A", "A", "B"]


def test_benchmarks_and_summary_fields():
    m = _market({"A": [10, 10, 10.5, 11, 11, 11], "B": [10, 10, 10, 10, 10, 9.5]})
    res = backtest(_scores(["A"] * 6), m, config=CFG)
    ew = res.daily["bench_ew"].to_list()
    assert ew[1] == pytest.approx(0.025)  # (5 % + 0 %) / 2 on D2
    for key in (
        "annual_return",
        "excess_ew_annual",
        "ir_ew",
        "t_ew",
        "max_drawdown",
        "turnover_daily",
        "fill_rate",
        "cost_drag_annual",
        "excess_tw_annual",
    ):
        assert key in res.summary


def test_min_hold_keeps_a_position_longer_than_settlement():
    m = _market({"A": [10] * 6, "B": [10] * 6})
    cfg = BacktestConfig(top_k=1, keep_k=0, capital=1e5, entry="close", costs=False, min_hold=4)
    res = backtest(_scores(["A", "B", "B", "B", "B", "B"]), m, config=cfg)
    sells = res.trades.filter((pl.col("side") == "sell") & pl.col("filled"))
    assert sells["date"].to_list() == [D[5]]  # bought D1, kept 4 sessions, not sold on D3
