"""Self-contained HTML evaluation report of a walk-forward (plotly inlined: works offline)."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go
import polars as pl
from plotly.subplots import make_subplots

from nepse.model.card import metrics_table
from nepse.model.walkforward import MODEL, WalkForwardResult


def add_rank_ic(fig: go.Figure, daily: pl.DataFrame, *, row: int) -> None:
    """Daily Rank IC as grey bars with its 20-day rolling mean, in subplot `row`."""
    roll = daily["rank_ic"].rolling_mean(20, min_samples=1)
    dates = daily["date"].to_list()
    fig.add_trace(
        go.Bar(
            x=dates, y=daily["rank_ic"].to_list(), name="daily Rank IC", marker_color="lightgray"
        ),
        row=row,
        col=1,
    )
    fig.add_trace(
        go.Scatter(x=dates, y=roll.to_list(), name="20-day mean", line={"color": "black"}),
        row=row,
        col=1,
    )


def _series(wf_result: WalkForwardResult) -> pl.DataFrame:
    """Per model and day: spread gross/net and Rank IC (LightGBM: mean over seeds)."""
    cols = ["top_bottom", "top_bottom_net", "rank_ic"]
    return (
        wf_result.daily.group_by("model", "date")
        .agg([pl.col(c).mean() for c in cols])
        .sort("model", "date")
        .with_columns(
            [
                pl.col(c).fill_null(0.0).cum_sum().over("model").alias(f"cum_{c}")
                for c in ("top_bottom", "top_bottom_net")
            ]
        )
    )


def evaluation_figure(wf_result: WalkForwardResult) -> go.Figure:
    """Cumulative spreads, daily Rank IC with 20-day mean, and feature importance."""
    series = _series(wf_result)
    models = [MODEL, *sorted(m for m in series["model"].unique().to_list() if m != MODEL)]
    fig = make_subplots(
        rows=4,
        cols=1,
        subplot_titles=(
            "Cumulative top-minus-bottom decile return, gross (sum of daily spreads)",
            f"Cumulative top-minus-bottom, net of {wf_result.info.get('cost_bps')} bps round trip",
            "LightGBM daily Rank IC and 20-day rolling mean",
            "LightGBM feature importance (gain share, top 25)",
        ),
        vertical_spacing=0.07,
    )
    for m in models:
        s = series.filter(pl.col("model") == m)
        if s.get_column("top_bottom").null_count() == s.height:
            continue  # the zero predictor has no spread
        width = 3 if m == MODEL else 1.5
        for row, col in ((1, "cum_top_bottom"), (2, "cum_top_bottom_net")):
            fig.add_trace(
                go.Scatter(
                    x=s["date"].to_list(),
                    y=s[col].to_list(),
                    name=m,
                    legendgroup=m,
                    showlegend=row == 1,
                    line={"width": width},
                ),
                row=row,
                col=1,
            )
    add_rank_ic(fig, series.filter(pl.col("model") == MODEL), row=3)
    imp = wf_result.importance.head(25).reverse()
    fig.add_trace(
        go.Bar(
            x=imp["share"].to_list(),
            y=imp["feature"].to_list(),
            orientation="h",
            name="gain share",
            showlegend=False,
        ),
        row=4,
        col=1,
    )
    fig.update_layout(height=1700, template="plotly_white", legend={"orientation": "h"})
    return fig


def evaluation_report(
    wf_result: WalkForwardResult, *, title: str = "Walk-forward evaluation"
) -> str:
    """The full HTML page: summary table, notes and the figure (plotly.js inlined)."""
    info = wf_result.info
    table = metrics_table(wf_result)
    rows = [line.strip("|").split("|") for line in table.splitlines()]
    head, body = rows[0], rows[2:]
    table_html = (
        "<table><thead><tr>"
        + "".join(f"<th>{html.escape(c.strip())}</th>" for c in head)
        + "</tr></thead><tbody>"
        + "".join(
            "<tr>" + "".join(f"<td>{html.escape(c.strip())}</td>" for c in r) + "</tr>"
            for r in body
        )
        + "</tbody></table>"
    )
    fig_html = evaluation_figure(wf_result).to_html(full_html=False, include_plotlyjs=True)
    note = (
        f"Test days {info.get('test_start')} .. {info.get('test_end')}, {info.get('n_blocks')} "
        f"blocks retrained every {info.get('retrain_every')} trading days, seeds "
        f"{info.get('seeds')}, embargo {info.get('horizon')} trading session(s). All numbers "
        "are out of sample; baselines are scored on the same rows. Spreads are a "
        "ranking-quality measure (NEPSE has no short selling), net assumes full daily turnover "
        "of both legs."
    )
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>"
        "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}"
        "</style></head><body>"
        f"<h1>{html.escape(title)}</h1><p>{html.escape(note)}</p>{table_html}{fig_html}"
        "</body></html>"
    )


def write_evaluation_report(
    wf_result: WalkForwardResult, path: Path, *, title: str = "Walk-forward evaluation"
) -> Path:
    """Write `evaluation_report` to `path` (e.g. `<models>/<version>/evaluation.html`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(evaluation_report(wf_result, title=title), encoding="utf-8")
    return path


# --- the trading report: Qlib-style pictures of the tradeable label and the backtest ---------
PICTURES = (
    "Cumulative return, net and gross of costs, vs the universe and the market proxy",
    "Cumulative excess return over the equal-weighted universe (net) and drawdown",
    "Daily Rank IC vs the tradeable label, 20-day mean; monthly mean Rank IC",
    "Cumulative mean label return by prediction quintile (5 = highest scores)",
    "Score autocorrelation (rank, day over day: a turnover proxy)",
)


def _cum(x: pl.Series) -> list[float]:
    return ((x.fill_null(0.0) + 1).cum_prod() - 1).to_list()


def trading_figures(
    net: Any, gross: Any, rank_ic: pl.DataFrame, quintiles: pl.DataFrame, autocorr: pl.DataFrame
) -> list[go.Figure]:
    """The five pictures, one figure each (ids trading-fig-0..4 in the page)."""
    d = net.daily
    x = d["date"].to_list()
    f1 = go.Figure()
    f1.add_scatter(x=x, y=_cum(d["ret"]), name="strategy, net of all costs and tax")
    f1.add_scatter(
        x=gross.daily["date"].to_list(),
        y=_cum(gross.daily["ret"]),
        name="strategy, gross",
        line={"dash": "dot"},
    )
    f1.add_scatter(x=x, y=_cum(d["bench_ew"]), name="equal-weighted universe")
    f1.add_scatter(x=x, y=_cum(d["bench_tw"]), name="turnover-weighted market")
    eq = d["equity"].to_numpy()
    dd = eq / np.maximum.accumulate(eq) - 1
    f2 = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        subplot_titles=("cumulative excess (net)", "drawdown (net)"),
    )
    f2.add_scatter(
        x=x,
        y=d["excess_ew"].fill_null(0.0).cum_sum().to_list(),
        name="excess vs universe",
        row=1,
        col=1,
    )
    f2.add_scatter(x=x, y=dd.tolist(), name="drawdown", fill="tozeroy", row=2, col=1)
    f3 = make_subplots(rows=2, cols=1, subplot_titles=("daily", "monthly mean"))
    add_rank_ic(f3, rank_ic, row=1)
    monthly = (
        rank_ic.group_by(pl.col("date").dt.truncate("1mo").alias("month"))
        .agg(pl.col("rank_ic").mean())
        .sort("month")
    )
    f3.add_bar(
        x=monthly["month"].to_list(),
        y=monthly["rank_ic"].to_list(),
        name="monthly Rank IC",
        row=2,
        col=1,
    )
    f4 = go.Figure()
    for q in range(1, 6):
        s = quintiles.filter(pl.col("quintile") == q).sort("date")
        f4.add_scatter(
            x=s["date"].to_list(),
            y=s["ret"].fill_null(0.0).cum_sum().to_list(),
            name=f"quintile {q}",
        )
    f5 = go.Figure()
    f5.add_scatter(
        x=autocorr["date"].to_list(), y=autocorr["autocorr"].to_list(), name="score autocorrelation"
    )
    figs = [f1, f2, f3, f4, f5]
    for title, f in zip(PICTURES, figs, strict=True):
        f.update_layout(
            title=title, template="plotly_white", height=420, legend={"orientation": "h"}
        )
    return figs


def _table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return ""
    head = list(rows[0])
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_cell(r[c]))}</td>" for c in head) + "</tr>"
        for r in rows
    )
    heads = "".join(f"<th>{html.escape(c)}</th>" for c in head)
    return f"<table><thead><tr>{heads}</tr></thead><tbody>{body}</tbody></table>"


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4f}"
    return "-" if v is None else str(v)


def trading_report(
    figures: list[go.Figure],
    *,
    title: str,
    note: str,
    tables: dict[str, list[dict[str, Any]]],
) -> str:
    """Self-contained HTML: notes, tables, then the figures (plotly.js inlined once)."""
    parts = []
    for i, f in enumerate(figures):
        parts.append(
            f.to_html(full_html=False, include_plotlyjs=(i == 0), div_id=f"trading-fig-{i}")
        )
    tabs = "".join(f"<h2>{html.escape(k)}</h2>{_table(v)}" for k, v in tables.items())
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>"
        "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}"
        "</style></head><body>"
        f"<h1>{html.escape(title)}</h1><p>{html.escape(note)}</p>{tabs}{''.join(parts)}"
        "</body></html>"
    )
