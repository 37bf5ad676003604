"""The paper portfolio's NAV against the benchmarks, as a plotly figure or an HTML fragment.

One picture for the report index, a run's artifact and the backtest: NAV net of every cost,
NAV with the costs added back, and what the capital would have become in the equal-weighted
universe and in the turnover-weighted market proxy over the same sessions (all in rupees).
"""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
import polars as pl

TITLE = "Paper portfolio: NAV net and gross of costs vs the universe and the market proxy"


def nav_series(ledger: pl.DataFrame, capital: float | None = None) -> pl.DataFrame:
    """date, nav, nav_gross, universe, market (rupees) from ledger rows (paper_ledger) or a
    backtest's daily frame (equity, equity_gross)."""
    d = ledger.sort("date")
    if "nav" not in d.columns:
        d = d.rename({"equity": "nav", "equity_gross": "nav_gross"})
    start = capital if capital is not None else float(d["capital"][0] if "capital" in d.columns
                                                       else d["nav"][0])  # fmt: skip
    growth = {
        b: (pl.col(b).fill_null(0.0) + 1).cum_prod() * start for b in ("bench_ew", "bench_tw")
    }
    return d.select(
        "date", "nav", "nav_gross", universe=growth["bench_ew"], market=growth["bench_tw"]
    )


def nav_figure(ledger: pl.DataFrame, *, capital: float | None = None, title: str = TITLE):
    """The NAV picture (plotly Figure)."""
    s = nav_series(ledger, capital)
    x = s["date"].to_list()
    fig = go.Figure()
    fig.add_scatter(x=x, y=s["nav"].to_list(), name="NAV, net of every cost and tax")
    fig.add_scatter(x=x, y=s["nav_gross"].to_list(), name="NAV, costs added back",
                    line={"dash": "dot"})  # fmt: skip
    fig.add_scatter(x=x, y=s["universe"].to_list(), name="equal-weighted universe")
    fig.add_scatter(x=x, y=s["market"].to_list(), name="turnover-weighted market")
    fig.update_layout(title=title, template="plotly_white", height=420, yaxis_title="rupees",
                      legend={"orientation": "h"})  # fmt: skip
    return fig


def nav_html(ledger: pl.DataFrame, *, plotlyjs: Any = True, div_id: str = "nav-chart") -> str:
    """The NAV picture as an HTML fragment (`plotlyjs`: True inlines plotly.js, so the page
    opens offline; 'cdn' or a path to a shared copy keep pages small)."""
    fig = nav_figure(ledger)
    return fig.to_html(full_html=False, include_plotlyjs=plotlyjs, div_id=div_id)
