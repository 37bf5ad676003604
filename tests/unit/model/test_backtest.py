"""The NEPSE backtest on hand-written frames: next-session fills, limit closes, T+2, costs."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import pytest

from nepse.model.backtest import backtest
from nepse.portfolio.market import market_frame
from nepse.portfolio.policy import PortfolioConfig

D = [date(2025, 6, 1) + timedelta(days=i) for i in range(10)]
VOLUME = 10_000.0


def _market(closes: dict[str, list], *, vwap: dict | None = None, factor: dict | None = None):
    """Rows (symbol, session i): close, VWAP = close unless given, 10,000 shares traded."""
    rows = []
    for sym, series in closes.items():
        for i, c in enumerate(series):
            if c is None:
                continue  # no row: the symbol did not trade that session
            v = (vwap or {}).get((sym, i), c)
            f = (factor or {}).get(sym, [1.0] * len(series))[i]
            rows.append((sym, D[i], c, c * f, f, VOLUME, v * VOLUME, False))
    names = ["symbol", "date", "close", "adj_close", "adj_factor", "volume", "turnover", "is_break"]
    return market_frame(pl.LazyFrame(rows, schema=names, orient="row")).collect()


def _scores(best: list[str], others=("A", "B")) -> pl.DataFrame:
    rows = [(D[i], s, 1.0 if s == b else 0.0) for i, b in enumerate(best) for s in others]
    return pl.DataFrame(rows, schema=["date", "symbol", "pred_ret"], orient="row")


CFG = PortfolioConfig(
    top_k=1, keep_k=0, cadence_weeks=0, min_hold=0, capital=100_000.0, costs=False,
    turnover_share=1.0,
)  # fmt: skip


def _fills(res, side="buy"):
    t = res.trades.filter((pl.col("side") == side) & pl.col("filled"))
    return list(zip(t["date"].to_list(), t["shares"].to_list(), strict=True))


def test_buys_at_the_next_session_vwap_in_lots_and_marks_at_the_close():
    m = _market(
        {"A": [10, 10, 10.5, 11, 11, 11, 11, 11, 11, 11], "B": [10] * 10}, vwap={("A", 1): 9.9}
    )
    res = backtest(_scores(["A"] * 10), m, config=CFG)
    # D0's score trades in D1: Rs 100,000 at D0's close of 10, 1 % kept aside for costs:
    # 9,900 shares (whole lots).
    assert _fills(res) == [(D[1], 9_900.0)]
    buy = res.trades.filter("filled").row(0, named=True)
    assert buy["price"] == 9.9  # at D1's VWAP
    assert res.daily["equity"][0] == pytest.approx(100_000 - 9_900 * 9.9 + 9_900 * 10)
    assert res.daily["equity"][-1] == pytest.approx(100_000 - 9_900 * 9.9 + 9_900 * 11)


def test_no_buy_in_a_session_that_closes_at_the_upper_limit():
    # D1 closes +10 % (the VWAP was lower, but buyers ended queued at the limit): no fill.
    m = _market({"A": [10, 11, None, 11.5, 11.5, 11.5, 11.5, 11.5], "B": [10] * 10},
                vwap={("A", 1): 10.4})  # fmt: skip
    res = backtest(_scores(["A"] * 10), m, config=CFG)
    t = res.trades.filter(pl.col("side") == "buy")
    # D3: the 10,000 shares sized at D0's close cost more than the cash at 11.5: a part fills.
    assert t["reason"].to_list()[:3] == ["upper-limit close", "no trade", "cash"]
    assert _fills(res) == [(D[3], 8_690.0)]  # 100,000 / 11.5 in lots


def test_settlement_and_a_lower_limit_close_delay_the_sale():
    # Bought D1; B is best from D1's score on. T+2: no sale ordered for D2; the D3 sale meets a
    # lower-limit close (-10 %): carried, sold on D4.
    m = _market({"A": [10, 10, 10, 9, 9.1, 9.1, 9.1, 9.1], "B": [10] * 10})
    res = backtest(_scores(["A"] + ["B"] * 9), m, config=CFG)
    sells = res.trades.filter(pl.col("side") == "sell")
    assert sells["date"].to_list()[:2] == [D[3], D[4]]
    assert sells["reason"][0] == "lower-limit close"
    assert _fills(res, "sell")[0][0] == D[4]


def test_costs_by_hand_dp_on_both_sides():
    m = _market({"A": [10, 10, 10.5, 11, 11, 11, 11, 11, 11, 11], "B": [10] * 10})
    cfg = PortfolioConfig(**{**CFG.__dict__, "costs": True})
    res = backtest(_scores(["A", "A", "B", "B", "B", "B", "B", "B"]), m, config=cfg)
    # The buy: 100,000 / (10 * 1.01 cost bound) = 9,900.99 -> 9,900 shares, Rs 99,000 (the
    # 100 shares short of the target are not topped up: under TOPUP_SHARE).
    rate = 0.0033 + 0.00015  # commission bracket 50k-5 lakh + SEBON
    buy_cost = 99_000 * rate + 25.0
    (sold,) = res.trades.filter((pl.col("side") == "sell") & pl.col("filled")).iter_rows(named=True)
    proceeds = 9_900 * 11.0
    sell_costs = proceeds * rate + 25.0
    cgt = 0.075 * (proceeds - sell_costs - (99_000 + buy_cost))
    assert sold["date"] == D[3] and sold["cost"] == pytest.approx(sell_costs + cgt)
    first = res.trades.filter("filled").row(0, named=True)
    assert first["cost"] == pytest.approx(buy_cost)


def test_position_sized_on_the_previous_turnover_and_filled_on_the_session_turnover():
    m = _market({"A": [10] * 10, "B": [10] * 10})
    cfg = PortfolioConfig(**{**CFG.__dict__, "capital": 1e9, "turnover_share": 0.1})
    res = backtest(_scores(["A"] * 10), m, config=cfg)
    # Target: 10 % of D0's Rs 100,000 turnover = 1,000 shares; filled within 10 % of D1's.
    assert _fills(res) == [(D[1], 1_000.0)]
    assert res.summary["mean_invested"] < 0.01  # the capital cannot go into a thin stock


def test_bonus_shares_keep_the_holding_whole():
    # A 100 % bonus on D3: the raw close halves, the shares double.
    f = [0.5, 0.5, 0.5, 1, 1, 1, 1, 1]
    m = _market({"A": [20, 20, 20, 10, 10, 10, 10, 10], "B": [10] * 10}, factor={"A": f})
    res = backtest(_scores(["A"] * 10), m, config=CFG)
    assert res.daily["equity"].to_list() == pytest.approx([100_000.0] * res.daily.height)


def test_gross_adds_every_cost_back():
    m = _market(
        {"A": [10, 10, 10.5, 11, 11, 11, 11, 11, 11, 11], "B": [10, 10, 10, 10, 10, 10, 9.5, 9]}
    )
    cfg = PortfolioConfig(**{**CFG.__dict__, "costs": True})
    res = backtest(_scores(["A", "B"] * 4), m, config=cfg)
    d = res.daily
    paid = d["costs"].cum_sum()
    assert (d["equity_gross"] - d["equity"]).to_list() == pytest.approx(paid.to_list())
    assert res.gross().daily["ret"].to_list() == d["ret_gross"].to_list()
    assert res.summary["gross_excess_ew_annual"] > res.summary["excess_ew_annual"]


def test_decisions_only_on_the_cadence():
    # 2025-06-01 is a Sunday: with a weekly cadence the first decision stands all week.
    m = _market({"A": [10] * 10, "B": [10] * 10})
    cfg = PortfolioConfig(**{**CFG.__dict__, "cadence_weeks": 1})
    res = backtest(_scores(["A", "B", "B", "B", "B", "B", "B", "B"]), m, config=cfg)
    assert res.trades.filter("filled")["symbol"].to_list() == ["A", "A", "B"]
    # A bought D1 (Monday); the switch to B waits for the next week's first session (D7),
    # whose orders trade in D8.
    assert _fills(res, "sell") == [(D[8], 9_900.0)]


def test_only_tradeable_symbols_are_bought():
    m = _market({"A": [10] * 10, "B": [10] * 10})
    sc = _scores(["A"] * 10).with_columns(tradeable=pl.col("symbol") != "A")
    res = backtest(sc, m, config=CFG)
    assert set(res.trades.filter("filled")["symbol"]) == {"B"}


def test_benchmarks_and_summary_fields():
    m = _market(
        {"A": [10, 10, 10.5, 11, 11, 11, 11, 11, 11, 11], "B": [10, 10, 10, 10, 10, 9.5, 9.5, 9]}
    )
    sc = _scores(["A"] * 10).with_columns(tradeable=pl.col("symbol") == "A")
    res = backtest(sc, m, config=CFG)
    row = res.daily.filter(pl.col("date") == D[2]).row(0, named=True)
    assert row["bench_ew"] == pytest.approx(0.025)  # (5 % + 0 %) / 2
    assert row["bench_ew_tradeable"] == pytest.approx(0.05)
    keys = {"annual_return", "excess_ew_annual", "t_ew", "max_drawdown", "turnover_daily"}
    keys |= {"fill_rate", "cost_drag_annual", "excess_tw_annual", "gross_excess_ew_annual"}
    assert keys <= set(res.summary)


def test_a_holding_that_stops_trading_is_settled_at_its_last_close():
    # A trades for 3 sessions then never again (merged away); from D2's score on, B is best.
    days = [date(2025, 6, 1) + timedelta(days=i) for i in range(30)]
    rows = [("A", d, 10.0) for d in days[:3]] + [("B", d, 10.0) for d in days]
    names = ["symbol", "date", "close"]
    m = market_frame(
        pl.LazyFrame(rows, schema=names, orient="row").with_columns(
            adj_close=pl.col("close"), adj_factor=pl.lit(1.0), volume=pl.lit(VOLUME),
            turnover=pl.col("close") * VOLUME, is_break=pl.lit(False),
        )
    ).collect()  # fmt: skip
    sc = pl.DataFrame(
        [(d, s, float((s == "A") == (i < 2))) for i, d in enumerate(days) for s in "AB"],
        schema=["date", "symbol", "pred_ret"],
        orient="row",
    )
    res = backtest(sc, m, config=CFG)
    sold = res.trades.filter((pl.col("side") == "sell") & pl.col("filled")).row(0, named=True)
    # Last trade D2; stale once 20 sessions passed without one (D22), settled at Rs 10.
    assert sold["date"] == days[22] and sold["price"] == 10.0
    assert sold["reason"].startswith("stopped trading")
    assert res.trades.filter((pl.col("side") == "sell") & ~pl.col("filled")).height == 19


def test_the_benchmark_universe_can_be_wider_than_the_scores():
    m = _market({"A": [10, 10, 10.5, 11, 11, 11, 11, 11], "B": [10, 10, 10, 10, 10, 9.5, 9.5, 9]})
    only_a = _scores(["A"] * 8, others=("A",))
    res = backtest(only_a, m, config=CFG, universe=_scores(["A"] * 8).select("date", "symbol"))
    row = res.daily.filter(pl.col("date") == D[2]).row(0, named=True)
    assert row["bench_ew"] == pytest.approx(0.025)  # A and B, though only A was scored
    narrow = backtest(only_a, m, config=CFG).daily.filter(pl.col("date") == D[2])
    assert narrow["bench_ew"][0] == pytest.approx(0.05)
