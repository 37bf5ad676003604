"""The NAV picture: net and gross NAV beside what the capital became in each benchmark."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from nepse.portfolio.chart import nav_figure, nav_html, nav_series

LEDGER = pl.DataFrame(
    {
        "date": [date(2025, 1, 5), date(2025, 1, 6), date(2025, 1, 7)],
        "nav": [1e6, 1.01e6, 0.99e6],
        "nav_gross": [1e6, 1.012e6, 0.995e6],
        "bench_ew": [None, 0.02, -0.01],
        "bench_tw": [None, 0.0, 0.05],
        "capital": [1e6] * 3,
    }
)


def test_benchmarks_grow_the_same_capital():
    s = nav_series(LEDGER)
    assert s["universe"].to_list() == pytest.approx([1e6, 1.02e6, 1.02e6 * 0.99])
    assert s["market"].to_list() == pytest.approx([1e6, 1e6, 1.05e6])


def test_a_backtest_daily_frame_draws_too():
    daily = LEDGER.drop("capital").rename({"nav": "equity", "nav_gross": "equity_gross"})
    fig = nav_figure(daily, capital=1e6)
    assert [t.name for t in fig.data][:2] == [
        "NAV, net of every cost and tax",
        "NAV, costs added back",
    ]
    assert len(fig.data) == 4


def test_html_fragment_inlines_plotly_for_offline_pages():
    page = nav_html(LEDGER)
    assert 'id="nav-chart"' in page and "plotly" in page.lower() and len(page) > 1_000_000
    assert len(nav_html(LEDGER, plotlyjs="cdn")) < 100_000
