"""The daily run's decision step on a small sample market: the paper ledger's days, tomorrow's
orders, the NAV picture and the index section, and a rerun that replaces a day and those after."""

from __future__ import annotations

import polars as pl
import pytest

from nepse.app import daily, ingest, paper
from nepse.store import open_store


@pytest.fixture(scope="module")
def market(tmp_path_factory):
    from nepse.devdata.sample import write_sample

    out = tmp_path_factory.mktemp("market")
    write_sample(out, symbols=40, years=1.5, seed=11)
    return out


def _days(settings, n):
    return list(ingest.store_calendar(settings).days[-n:])


def test_three_days_of_orders_and_ledger_and_a_rerun(settings, market):
    ingest.ingest_files(settings, market)
    days = _days(settings, 3)
    traded = []
    for d in days:
        daily.score_day(settings, d)  # no champion: the naive baseline's predictions
        traded.append(paper.trade_paper_day(settings, d, run_id=f"run-{d}"))
    first, last = traded[0], traded[-1]
    assert first.day.ret is None and last.day.ret is not None
    assert first.nav_start == settings.portfolio_capital
    # The first day decides and orders buys for the next session, written to DuckDB and Parquet.
    assert first.day.decided and any(o["side"] == "buy" for o in first.orders)
    orders = pl.read_parquet(first.orders_path)
    assert set(orders["symbol"]) == {o["symbol"] for o in first.orders}
    ledger = pl.read_parquet(last.ledger_path)
    assert ledger.get_column("date").to_list() == days
    # A day after a decision fills yesterday's orders at today's prices, every cost charged.
    assert traded[1].day.n_filled > 0 and traded[1].day.costs > 0
    html = last.chart_path.read_text(encoding="utf-8")
    assert "equal-weighted universe" in html and "plotly" in html
    section = paper.index_section(last)
    assert "NAV chart" in section and f"{last.day.nav:,.0f}" in section

    again = paper.trade_paper_day(settings, days[1], run_id="rerun")
    assert again.day.nav == traded[1].day.nav  # deterministic
    with open_store(settings.database, read_only=True) as st:
        kept = st.paper_rows("paper_ledger").get_column("date").to_list()
    assert kept == days[:2]  # the rerun replaced its day and dropped the later one
