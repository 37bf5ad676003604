"""The daily run's decision step: the paper ledger's day, tomorrow's orders, the NAV picture.

`trade_paper_day` fills the orders made after the previous close at the scored day's prices
(the honest fill model), charges every cost, marks the book, records the day and writes the
orders for the next session (`nepse.portfolio.run_paper_day`); then it saves what people and
the API read: the orders of the day (`data/orders/<day>.parquet`), the ledger as that day left it
(`data/work/paper/<day>-ledger.parquet`) and the NAV picture (`data/reports/paper/nav.html`).
"""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl

from nepse.atomic import write_parquet
from nepse.monitoring.files import write_text_atomic
from nepse.portfolio import PaperDay, nav_html, run_paper_day
from nepse.settings import Settings
from nepse.store import open_store

log = logging.getLogger(__name__)

CHART = Path("paper") / "nav.html"
"""The NAV picture, relative to the reports folder (the index links it)."""
ORDER_COLUMNS = ("symbol", "side", "shares", "ref_price", "target_shares", "note")


@dataclass(frozen=True)
class PaperTraded:
    """The paper ledger's day and where its files are (small: a task's value)."""

    day: PaperDay
    orders: tuple[dict, ...]
    """Tomorrow's orders (symbol, side, shares, reference price, target, note), buys first."""
    ledger_path: Path
    chart_path: Path | None
    """The NAV picture (None when it could not be written: the orders stand)."""
    nav_start: float
    """The ledger's first NAV (the configured capital at its start)."""
    ew_growth: float
    """What the equal-weighted universe made of one rupee over the same sessions."""

    @property
    def orders_path(self) -> Path | None:
        """data/orders/<day>.parquet (None when no orders file was written)."""
        return self.day.orders_path


def trade_paper_day(settings: Settings, as_of: date, *, run_id: str | None = None) -> PaperTraded:
    """Record `as_of` in the paper ledger (and any session a missed run left out), write the
    orders for the next session and the NAV picture."""
    with open_store(settings.database, lock_timeout_s=settings.lock_timeout_s) as st:
        day = run_paper_day(st, settings, as_of, run_id=run_id)
        ledger = st.paper_rows("paper_ledger", end=as_of)
        orders = st.paper_rows("paper_orders", as_of, as_of)
    ledger_path = write_parquet(
        ledger, settings.data_dir / "work" / "paper" / f"{as_of.isoformat()}-ledger.parquet"
    )
    chart: Path | None = settings.data_dir / "reports" / CHART
    try:  # a picture: the orders and the ledger stand without it (the index says so too)
        write_text_atomic(chart, _chart_page(ledger, as_of))
    except OSError as exc:
        log.warning("paper portfolio NAV chart not written: %s", exc)
        chart = None
    shown = orders.sort(pl.col("side").replace_strict({"buy": 0, "sell": 1, "hold": 2}), "symbol")
    ew = (ledger.get_column("bench_ew").fill_null(0.0) + 1).product()
    return PaperTraded(
        day=day,
        orders=tuple(shown.select(ORDER_COLUMNS).to_dicts()),
        ledger_path=ledger_path,
        chart_path=chart,
        nav_start=float(ledger.get_column("capital")[0]) if ledger.height else 0.0,
        ew_growth=float(ew),
    )


def _chart_page(ledger: pl.DataFrame, day: date) -> str:
    """The NAV picture as a page that opens offline (plotly.js inlined)."""
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>NEPSE paper portfolio to {day}</title></head><body>"
        f"<h1>Paper portfolio to {day}</h1>"
        "<p>NAV net of every cost and tax (commission, SEBON fee, DP charges, capital-gains tax) "
        "and with the costs added back, against the equal-weighted universe and the "
        "turnover-weighted market proxy over the same sessions, in rupees.</p>"
        f"{nav_html(ledger, plotlyjs=True)}</body></html>"
    )


def index_section(paper: PaperTraded) -> str:
    """The report index's paper-portfolio section: the day's NAV, tomorrow's orders, the chart."""
    d = paper.day
    since = d.nav / paper.nav_start - 1 if paper.nav_start else float("nan")
    rows = "".join(
        "<tr>"
        + "".join(
            f"<td>{html.escape(_cell(o[c]))}</td>" for c in ("symbol", "side", "shares", "note")
        )
        + "</tr>"
        for o in paper.orders
        if o["side"] != "hold"
    )
    chart = f"<a href='{CHART.as_posix()}'>NAV chart</a>" if paper.chart_path else ""
    table = (
        f"<table id='orders'><thead><tr><th>Symbol</th><th>Side</th><th>Shares</th>"
        f"<th>Note</th></tr></thead><tbody>{rows}</tbody></table>"
        if rows
        else ""
    )
    return (
        "<section id='paper'><h2>Paper portfolio and tomorrow's orders</h2>"
        f"<p>{d.day}: NAV Rs {d.nav:,.0f} ({since:+.2%} since the start, net of every cost; "
        f"equal-weighted universe {paper.ew_growth - 1:+.2%} over the same sessions). "
        f"{html.escape(d.note)} {chart}</p>{table}</section>"
    )


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.0f}" if value == int(value) else f"{value:,.2f}"
    return "" if value is None else str(value)
