"""The season report as one HTML page that opens offline (plotly.js inlined once).

Sections: the season in numbers, the NAV picture (nepse.portfolio.chart), orders and costs,
realised Rank IC by day, every alert with what followed, every training with its decision,
per-step wall time by day, database and reports folder size by day, and the day table.
"""

from __future__ import annotations

import html
from typing import Any

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from nepse.portfolio.chart import nav_html
from nepse.replay.season import (
    MB,
    Season,
    alarms,
    days_table,
    drift_statistics,
    figures,
    orders,
    trainings,
)

STYLE = """
body{font-family:system-ui,sans-serif;margin:24px;max-width:1200px;color:#222}
table{border-collapse:collapse;margin:8px 0 20px}td,th{border:1px solid #ccc;padding:3px 7px;
font-size:13px;text-align:left;vertical-align:top}th{background:#f3f3f3}
.num{text-align:right}p.def{color:#555;font-size:13px}
"""


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:+.2%}"


def _num(x: Any, fmt: str = ",.0f") -> str:
    return "n/a" if x is None else format(x, fmt)


def _table(rows: list[dict[str, Any]], table_id: str) -> str:
    if not rows:
        return f"<p id='{table_id}'>None.</p>"
    cols = list(rows[0])
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_cell(r.get(c)))}</td>" for c in cols) + "</tr>"
        for r in rows
    )
    return f"<table id='{table_id}'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.4f}" if abs(v) < 10 else f"{v:,.1f}"
    return str(v)


def _figure(fig: go.Figure, div_id: str) -> str:
    fig.update_layout(template="plotly_white", height=360, legend={"orientation": "h"})
    return fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id)


def _steps_figure(season: Season) -> go.Figure:
    """Seconds of each step of each replayed day, stacked: the daily run's tasks, trainings."""
    days = [r["day"] for r in season.day_records]
    steps: dict[str, list[float]] = {}
    for i, r in enumerate(season.day_records):
        for run in r["runs"]:
            for name, sec in run["steps"].items():
                key = f"{run['flow']}: {name}"
                steps.setdefault(key, [0.0] * len(days))[i] += sec
            other = run["seconds"] - sum(run["steps"].values())
            key = f"{run['flow']}: outside tasks"
            steps.setdefault(key, [0.0] * len(days))[i] += max(other, 0.0)
        for t in r["trainings"]:
            steps.setdefault("train-model (whole run)", [0.0] * len(days))[i] += t["seconds"]
    fig = go.Figure()
    for name, values in sorted(steps.items()):
        fig.add_bar(x=days, y=values, name=name)
    fig.update_layout(barmode="stack", title="Wall time by step and day (s)", yaxis_title="s")
    return fig


def _sizes_figure(season: Season) -> go.Figure:
    days = [r.get("day") or r["unit"] for r in season.records]
    fig = go.Figure()
    for key in ("database", "reports", "models", "work", "data"):
        fig.add_scatter(x=days, y=[r["sizes"][key] / MB for r in season.records], name=key)
    fig.update_layout(title="Size after each day (MB)", yaxis_title="MB")
    return fig


def _rank_ic_figure(season: Season) -> go.Figure:
    p = season.performance.sort("date")
    fig = go.Figure()
    fig.add_bar(x=p["date"].to_list(), y=p["rank_ic"].to_list(), name="daily Rank IC")
    fig.add_scatter(x=p["date"].to_list(), y=p["rolling_rank_ic"].to_list(), name="20-day")
    fig.update_layout(title="Realised Rank IC by prediction day", yaxis_title="Rank IC")
    return fig


def season_html(season: Season) -> str:
    """The whole report page."""
    f = figures(season)
    growth, year = f["growth_mb_per_day"], f["growth_mb_per_year"]
    numbers = [
        {"figure": "replayed days", "value": f"{f['days']} ({f['first_day']} .. {f['last_day']})"},
        {"figure": "NAV net of every cost", "value": _pct(f["return_net"])},
        {"figure": "NAV with costs added back", "value": _pct(f["return_gross"])},
        {"figure": "equal-weighted universe", "value": _pct(f["return_universe"])},
        {"figure": "turnover-weighted market", "value": _pct(f["return_market"])},
        {"figure": "costs paid (Rs)", "value": _num(f["costs"])},
        {"figure": "mean realised Rank IC", "value": _num(f["rank_ic_mean"], "+.4f")},
        {"figure": "days with a drift alarm", "value": str(f["drift_alarm_days"])},
        {"figure": "alerts raised", "value": str(f["alerts"])},
        {"figure": "daily runs not completed", "value": str(f["daily_runs_not_completed"])},
        {"figure": "trainings / promotions", "value": f"{f['trainings']} / {f['promotions']}"},
        {"figure": "median wall time of a day (s)", "value": _num(f["day_seconds_median"], ".1f")},
        {
            "figure": "growth per day: database / reports / data folder (MB)",
            "value": f"{growth['database']:.2f} / {growth['reports']:.2f} / {growth['data']:.2f}",
        },
        {
            "figure": f"a year at {f['sessions_a_year']:.0f} sessions (MB)",
            "value": f"{year['database']:.0f} / {year['reports']:.0f} / {year['data']:.0f}",
        },
    ]
    drift_rows = [
        {"day": str(r["date"]), "model": r["model_version"], "beyond its line": drift_statistics(r)}
        for r in season.drift.filter(season.drift["dataset_drift"]).sort("date").to_dicts()
    ]
    train_cols = ("day", "trigger", "as_of", "run", "state", "status", "reason", "rank_ic",
                  "fitted", "seconds")  # fmt: skip
    sections = [
        f"<h1>Replayed season {season.start} .. {season.end}</h1>",
        f"<p>Source: {html.escape(season.source)}. Every day ran the service's own "
        "daily-predictions flow on that day's rows only, and train-model ran where its "
        "schedule in prefect.yaml fires (and after lasting drift when "
        "NEPSE_RETRAIN_ON_DRIFT_DAYS is set).</p>",
        "<h2 id='numbers'>The season in numbers</h2>",
        _table(numbers, "season-numbers"),
        "<p class='def'>NAV net: the paper portfolio after commission, SEBON fee, DP charges "
        "and capital-gains tax; with costs added back: the same trades without them. Universe: "
        "the equal-weighted tradeable universe, close to close; market: the turnover-weighted "
        "market proxy, both compounded over the same sessions from the ledger's capital. "
        "Realised Rank IC: each day's predictions against their label once known (the next "
        "session's VWAP held 5 sessions by default), in-sample days left out.</p>",
        "<h2 id='nav'>NAV</h2>",
        nav_html(season.ledger, plotlyjs=False, div_id="nav-chart")
        if season.ledger.height
        else "<p>No ledger rows.</p>",
        "<h2 id='orders'>Orders and costs</h2>",
        _table([{"orders": k, "count": v} for k, v in orders(season).items()], "orders-table"),
        "<h2 id='rank-ic'>Realised Rank IC</h2>",
        _figure(_rank_ic_figure(season), "rank-ic-chart")
        if season.performance.height
        else "<p id='rank-ic-none'>No realised Rank IC yet: a day's label is known only "
        "after its holding period (NEPSE_LABEL_HOLD sessions after the next one), later "
        "than this season's last day.</p>",
        "<h2 id='alarms'>Alerts and what followed</h2>",
        "<p class='def'>Each alert the replayed runs raised, with whether the next day alerted "
        "too, the next training and its decision, the mean realised Rank IC of the next 20 "
        "evaluated days and the NAV change over the next 20 sessions.</p>",
        _table(alarms(season), "alarms-table"),
        "<h3>Drift alarms</h3>",
        _table(drift_rows, "drift-table"),
        "<h2 id='trainings'>Trainings</h2>",
        _table([{c: t.get(c) for c in train_cols} for t in trainings(season)], "trainings-table"),
        "<h2 id='time'>Wall time</h2>",
        _figure(_steps_figure(season), "steps-chart"),
        "<h2 id='sizes'>Database and reports folder size</h2>",
        _figure(_sizes_figure(season), "sizes-chart"),
        "<h2 id='days'>Day by day</h2>",
        _table(days_table(season), "days-table"),
    ]
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>NEPSE replay {season.start} .. {season.end}</title><style>{STYLE}</style>"
        f"<script>{get_plotlyjs()}</script></head><body>{''.join(sections)}</body></html>"
    )
