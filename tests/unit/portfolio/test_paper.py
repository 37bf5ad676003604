"""The paper ledger on a small store: same path as the backtest, reruns, missed days, orders."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from nepse.features.universe import flag_tradeable
from nepse.ingest.service import ingest_read
from nepse.model.backtest import backtest
from nepse.model.evaluate import market_of
from nepse.portfolio.paper import run_paper_day
from nepse.portfolio.policy import PortfolioConfig
from nepse.schema import ReadResult
from nepse.store import open_store

SYMS = ["AAA", "BBB", "CCC", "DDD", "EEE", "FFF"]


def _sessions(n: int) -> list[date]:
    out, d = [], date(2025, 1, 5)  # a Sunday; NEPSE trades Sunday to Thursday
    while len(out) < n:
        if d.weekday() not in (4, 5):
            out.append(d)
        d += timedelta(days=1)
    return out


DAYS = _sessions(45)


def _prices() -> pl.DataFrame:
    rng = np.random.default_rng(3)
    rows = []
    for k, s in enumerate(SYMS):
        close = 100.0 + 20 * k
        for d in DAYS:
            close = round(close * (1 + rng.uniform(-0.04, 0.04)), 1)
            vol = float(rng.integers(2_000, 20_000))
            rows.append((s, d, close, close * 1.02, close * 0.98, close, vol, vol * close * 1.001))
    names = ["symbol", "date", "open", "high", "low", "close", "volume", "turnover"]
    return pl.DataFrame(rows, schema=names, orient="row").with_columns(
        source=pl.lit("t.csv"), line=pl.int_range(pl.len()), raw=pl.lit("")
    )


def _scores() -> pl.DataFrame:
    rng = np.random.default_rng(11)
    rows = [(d, s, float(rng.normal())) for d in DAYS for s in SYMS]
    return pl.DataFrame(rows, schema=["date", "symbol", "pred_ret"], orient="row")


@pytest.fixture
def store_and_settings(settings):
    s = settings.model_copy(
        update={
            "portfolio_top_k": 2, "portfolio_keep_k": 3, "portfolio_capital": 1_000_000.0,
            "universe_min_sessions": 3, "universe_min_turnover": 0.0,
        }
    )  # fmt: skip
    securities = pl.DataFrame(
        {"symbol": SYMS, "instrument_type": ["Equity"] * 6, "status": ["A"] * 6,
         "sector": ["bank", "bank", "hydro", "hydro", "life", "life"]}
    )  # fmt: skip
    read = ReadResult(fmt="test", prices=_prices(), securities=securities, sources=["t.csv"])
    with open_store(s.database) as st:
        ingest_read(st, read, settings=s, today=date(2026, 1, 1))
        for d, day in _scores().group_by("date"):
            st.replace_predictions(
                d[0],
                day.with_columns(
                    model_version=pl.lit("v1"), model_role=pl.lit("champion"),
                    pred_rank=pl.lit(0.5), flow_run_id=pl.lit("r"),
                    created_at=pl.lit(datetime(2026, 1, 1)),
                ),
            )  # fmt: skip
        yield st, s


def test_the_ledger_follows_the_backtest_to_the_rupee(store_and_settings):
    st, s = store_and_settings
    for d in DAYS[5:]:
        run_paper_day(st, s, d)
    led = st.paper_rows("paper_ledger")
    market = market_of(st, s)
    scores = flag_tradeable(_scores(), market, s, listed=st.first_trade_dates())
    scores = scores.filter(pl.col("date") >= DAYS[5])
    sectors = dict(st.securities().select("symbol", "sector").iter_rows())
    res = backtest(scores, market, config=PortfolioConfig.from_settings(s), sectors=sectors)
    both = led.join(res.daily, on="date")
    assert both.height == len(DAYS) - 6
    assert both["nav"].to_list() == pytest.approx(both["equity"].to_list(), rel=1e-12)
    assert both["bench_ew"].to_list() == pytest.approx(both["bench_ew_right"].to_list())
    assert led["n_filled"].sum() > 0 and led["costs"].sum() > 0
    assert (led["nav_gross"] - led["nav"]).to_list() == pytest.approx(
        led["costs"].cum_sum().to_list()
    )


def test_a_rerun_replaces_the_day_and_later_ones_identically(store_and_settings):
    st, s = store_and_settings
    for d in DAYS[5:30]:
        run_paper_day(st, s, d)
    before = {t: st.paper_rows(t) for t in ("paper_ledger", "paper_holdings", "paper_orders")}
    again = run_paper_day(st, s, DAYS[15])
    assert again.sessions == 1 and st.paper_last_day() == DAYS[15]
    for d in DAYS[16:30]:
        run_paper_day(st, s, d)
    for t, frame in before.items():
        after = st.paper_rows(t)
        assert after.drop("created_at", strict=False).equals(frame.drop("created_at", strict=False))


def test_missed_days_are_caught_up_as_if_they_had_run(store_and_settings, tmp_path):
    st, s = store_and_settings
    for d in DAYS[5:12]:
        run_paper_day(st, s, d)
    daily = st.paper_rows("paper_ledger").filter(pl.col("date") <= DAYS[11])
    st.replace_paper_from(DAYS[8], {})  # as if the runs of DAYS[8..11] never happened
    out = run_paper_day(st, s, DAYS[11])
    assert out.sessions == 4
    assert st.paper_rows("paper_ledger").drop("created_at").equals(daily.drop("created_at"))


def test_the_first_day_decides_and_writes_tomorrows_orders(store_and_settings):
    st, s = store_and_settings
    out = run_paper_day(st, s, DAYS[5])
    assert out.decided and out.n_filled == 0 and out.nav == 1_000_000.0
    orders = pl.read_parquet(out.orders_path)
    buys = orders.filter(pl.col("side") == "buy")
    # Top 2, spread to at most 4 names while capacity caps (10 % of turnover) leave cash idle.
    assert buys.height == out.n_orders and 2 <= out.n_orders <= 4
    assert (orders["shares"] % 10 == 0).all()  # whole board lots
    assert f"next session: {out.n_orders} buy(s)" in out.note
    nxt = run_paper_day(st, s, DAYS[6])
    assert not nxt.decided or nxt.day.weekday() == 6  # decides on the first session of a week
    assert nxt.n_filled >= 1


def test_a_day_without_prices_is_refused(store_and_settings):
    st, s = store_and_settings
    with pytest.raises(Exception, match="no stored prices"):
        run_paper_day(st, s, date(2030, 1, 1))


def test_the_panel_carries_the_universe_inputs_for_training(store_and_settings):
    from nepse.features.panel import build_panel

    st, s = store_and_settings
    frame = build_panel(st, s).frame
    last = frame.filter(pl.col("date") == DAYS[-1]).sort("symbol")
    assert last["sessions_listed"].to_list() == [len(DAYS) - 1] * len(SYMS)
    turnover = (
        _prices()
        .filter(pl.col("date") >= DAYS[-20])
        .group_by("symbol")
        .agg(pl.col("turnover").sum() / 20)
    )
    expect = dict(turnover.iter_rows())
    assert last["turnover_mean"].to_list() == pytest.approx([expect[x] for x in last["symbol"]])
