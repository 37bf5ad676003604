"""ShareSansar's today's-price page rendered from a prices frame, for the fake exchange and the
fallback tests: the table shape nepse/sources/sharesansar_live.py reads."""

from __future__ import annotations

from datetime import date
from html import escape

import polars as pl

HEADER = (
    "S.No", "Symbol", "Conf.", "Open", "High", "Low", "Close", "VWAP", "Vol", "Prev. Close",
    "Turnover", "Trans.", "Diff", "Range", "Diff %", "Range %", "VWAP %", "120 Days",
    "180 Days", "52 Weeks High", "52 Weeks Low",
)  # fmt: skip


def _num(value: float | int | None, digits: int = 2) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}" if isinstance(value, float) else f"{value:,}"


def render_page(prices: pl.DataFrame, day: date) -> str:
    """The HTML page of `day` (rows of `prices` on that day, by symbol)."""
    rows = prices.filter(pl.col("date") == day).sort("symbol").iter_rows(named=True)
    body = []
    for n, r in enumerate(rows, start=1):
        vwap = r["turnover"] / r["volume"] if r["volume"] else None
        cells = [
            str(n),
            f'<a href="/company/{escape(r["symbol"].lower())}" title="{escape(r["symbol"])}">'
            f"{escape(r['symbol'])}</a>",
            "0.00",
            _num(r["open"]),
            _num(r["high"]),
            _num(r["low"]),
            _num(r["close"]),
            _num(vwap),
            _num(r["volume"]),
            _num(r["close"]),
            _num(r["turnover"]),
            _num(r["trades"]),
            *["0.00"] * 9,
        ]
        body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    head = "".join(f"<th>{escape(h)}</th>" for h in HEADER)
    return (
        "<html><body><div class='floatleft'><span>As of : "
        f"<span class='text-org'>{day.isoformat()}</span></span></div>"
        f'<table class="table" id="headFixed"><thead><tr>{head}</tr></thead><tbody>'
        + "\n".join(body)
        + "</tbody></table></body></html>"
    )
