"""Rows of the synthetic market's files: price lines, planted bad lines, dividends, rights."""

from __future__ import annotations

import logging
from datetime import date, timedelta

import numpy as np
import polars as pl

from nepse import schema
from nepse.devdata.sample_params import (
    COMPANY_HEADER,
    DIVIDEND_HEADER,
    RIGHTS_HEADER,
)
from nepse.devdata.sample_universe import (
    _MANAGERS,
    SECTOR_NAMES,
    SECTORS,
    _Event,
    _num,
    _Universe,
)

logger = logging.getLogger(__name__)

BAD_ROW_SCHEMA: dict[str, pl.DataType] = {
    "symbol": pl.String(),
    "kind": pl.String(),
    "date": pl.Date(),  # the true date of the row the bad line is about
    "file": pl.String(),  # relative to the sample folder
    "line": pl.Int64(),  # 1-based line in that file (header = line 1)
    "raw": pl.String(),  # the bad line exactly as written
    "expect": pl.String(),  # schema.REASONS code, or 'keep' / 'dedupe'
    "detail": pl.String(),
}
BAD_KINDS: dict[str, str] = {
    "zero_close": "nonpositive_price",
    "high_below_low": "high_below_low",
    "conflicting_duplicate": "conflicting_duplicate",
    "exact_duplicate": "dedupe",
    "unparseable_date": "unparseable",
    "thousands_separator": "keep",
    "dash_open": "keep",
    "dash_close": "missing_close",
}
"""Corruptions written on purpose into prices.csv files, with what the quarantine should do."""


def _price_lines(prices: pl.DataFrame, split: date) -> pl.DataFrame:
    """prices.csv data lines per symbol, in file order: newest-first, then the appended tail."""
    num = [pl.col(c).cast(pl.String) for c in ("open", "high", "low", "close")]
    pct = ((pl.col("close") / pl.col("close").shift(1).over("symbol") - 1) * 100).round(2)
    return (
        prices.lazy()
        .sort("symbol", "date")
        .with_columns(
            text=pl.concat_str(
                [
                    pl.col("date").dt.strftime("%Y-%m-%d"),
                    *num,
                    (pct.fill_null(0.0) + 0.0).cast(pl.String),
                    pl.col("volume").cast(pl.Int64).cast(pl.String),
                    pl.col("turnover").cast(pl.String),
                ],
                separator=",",
            ),
            order=pl.when(pl.col("date") < split)
            .then(-pl.col("date").cast(pl.Int32))
            .otherwise(pl.col("date").cast(pl.Int32) + 1_000_000),
        )
        .sort("symbol", "order")
        .select("symbol", "date", "text")
        .collect()
    )


def _corrupt(
    lines: list[tuple[str, date]], kind: str, k: int
) -> tuple[list[tuple[str, date, str | None]], str]:
    """Plant one bad line of `kind` at/after data line k; returns the tagged lines and a detail."""
    out: list[tuple[str, date, str | None]] = [(t, d, None) for t, d in lines]
    text, day, _ = out[k]
    f = text.split(",")
    detail = ""
    if kind == "zero_close":
        f[4] = "0.0"
        out[k] = (",".join(f), day, kind)
    elif kind == "high_below_low":
        f[2], f[3] = f[3], f[2]
        out[k] = (",".join(f), day, kind)
        detail = "high and low swapped"
    elif kind == "conflicting_duplicate":
        f[4] = str(round(float(f[4]) * 1.02 + 0.1, 1))
        out.insert(k + 1, (",".join(f), day, kind))
        detail = f"second row for {day} with a different close; the line above is the true one"
    elif kind == "exact_duplicate":
        out.insert(k + 1, (text, day, kind))
        detail = "exact copy of the line above"
    elif kind == "unparseable_date":
        f[0] = f"{day:%Y-%m}-32"
        out.insert(k + 1, (",".join(f), day, kind))
        detail = "copy of the line above with an impossible date"
    elif kind == "thousands_separator":
        f[6] = f'"{int(f[6]):,}"'
        f[7] = f'"{float(f[7]):,.1f}"'
        out[k] = (",".join(f), day, kind)
        detail = "qty and turnover quoted with thousands separators; values are the true ones"
    elif kind == "dash_open":
        f[1] = "-"
        out[k] = (",".join(f), day, kind)
        detail = "open written as '-' (missing); the rest is true"
    elif kind == "dash_close":
        f[4] = "-"
        out[k] = (",".join(f), day, kind)
        detail = "ltp written as '-' (missing)"
    else:  # pragma: no cover - BAD_KINDS is the closed list
        raise ValueError(f"unknown bad-row kind {kind!r}")
    return out, detail


def _fits(kind: str, text: str) -> bool:
    """Whether a clean line can carry this kind of corruption visibly."""
    f = text.split(",")
    if kind == "high_below_low":
        return float(f[2]) > float(f[3])
    if kind == "thousands_separator":
        return float(f[6]) >= 1000 and float(f[7]) >= 1000
    return True


def _fmt_pct(x: float) -> str:
    return f"{x:.2f}" if round(x, 2) == x else _num(x)


def _dividend_rows(
    uni: _Universe, events: dict[int, list[_Event]], end: date, seed: int
) -> pl.DataFrame:
    rows = []
    for pos, evs in sorted(events.items()):
        rng = np.random.default_rng([seed, 5, int(uni.key[pos])])
        by_fy: dict[tuple[str, date], dict[str, float]] = {}
        for ev in evs:
            if ev.kind in ("bonus", "cash"):
                by_fy.setdefault((ev.fiscal_year or "", ev.ex_date), {})[ev.kind] = ev.percent
        for (fy, day), parts in sorted(by_fy.items(), reverse=True):
            bonus, cash = parts.get("bonus", 0.0), parts.get("cash", 0.0)
            blank = rng.random() < 0.4
            rows.append(
                {
                    "symbol": uni.symbol[pos],
                    "fiscal_year": fy,
                    "bonus_share": _fmt_pct(bonus) if bonus else ("" if blank else "0.00"),
                    "cash_dividend": _fmt_pct(cash) if cash else "",
                    "total_dividend": _fmt_pct(round(bonus + cash, 4)),
                    "book_closure_date": f"{day} [Closed]" if day <= end else f"{day}",
                }
            )
    cols = ["symbol", *DIVIDEND_HEADER.split(",")]
    return pl.DataFrame(rows, schema=dict.fromkeys(cols, pl.String))


def _right_rows(
    uni: _Universe, events: dict[int, list[_Event]], cal: list[date], seed: int
) -> pl.DataFrame:
    rows = []
    for pos, evs in sorted(events.items()):
        rng = np.random.default_rng([seed, 6, int(uni.key[pos])])
        mine = []
        for ev in evs:
            if ev.kind != "rights":
                continue
            # The file has no book-closure date: it is 7-15 trading days before opening.
            opening = cal[min(ev.t + int(rng.integers(7, 16)), len(cal) - 1)]
            mine.append(
                {
                    "symbol": uni.symbol[pos],
                    "ratio": ev.ratio,
                    "total_units": f"{int(rng.integers(500_000, 20_000_000)):.2f}",
                    "issue_price": f"{ev.issue_price:.2f}",
                    "opening_date": f"{opening}",
                    "closing_date": f"{opening + timedelta(days=int(rng.integers(14, 29)))}",
                    "status": "",
                    "issue_manager": str(rng.choice(_MANAGERS)),
                }
            )
        rows += sorted(mine, key=lambda r: r["opening_date"], reverse=True)
    cols = ["symbol", *RIGHTS_HEADER.split(",")]
    return pl.DataFrame(rows, schema=dict.fromkeys(cols, pl.String))


def _company_rows(uni: _Universe, end: date) -> pl.DataFrame:
    """CompanyList.csv rows (NEPSE API style, all strings): banks first, non-equities last."""
    regulator = {s.name: s.regulator for s in SECTORS} | {"Mutual Fund": "Nepal Rastra Bank"}
    rank = {name: i for i, name in enumerate(SECTOR_NAMES)}
    order = sorted(
        range(len(uni)),
        key=lambda k: (uni.instrument[k] != schema.EQUITY, rank.get(uni.sector[k], 99),
                       uni.symbol[k]),
    )  # fmt: skip
    rows = []
    for i, k in enumerate(order):
        domain = f"{uni.symbol[k].lower()}.com.np"
        rows.append(
            [
                f"info@{domain}",
                uni.company[k],
                str(131 + i),
                uni.instrument[k],
                regulator.get(uni.sector[k], "N/A"),
                uni.sector[k],
                uni.name[k],
                uni.status[k],
                uni.symbol[k],
                "" if i % 5 == 3 else f"www.{domain}",
                f"{end} 12:59:55.271204",
                f"{end}",
                "CompanyList",
            ]
        )
    return pl.DataFrame(
        rows, schema=dict.fromkeys(COMPANY_HEADER.split(","), pl.String), orient="row"
    )
