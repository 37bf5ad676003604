"""The per-day pieces of the paper ledger: the ranking it trades on, its row, its orders' note."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import polars as pl

from nepse.features.universe import add_tradeable
from nepse.portfolio.policy import WEEK_ZERO, PortfolioConfig, week_of
from nepse.portfolio.step import Step


def rankings(
    preds: pl.DataFrame, market: pl.DataFrame, listed: pl.DataFrame, sessions: list[date], s: Any
) -> tuple[dict[date, list[str]], pl.DataFrame]:
    """Per day, the tradeable symbols by prediction (best first); and every prediction with its
    `tradeable` flag (date, symbol, tradeable)."""
    flags = add_tradeable(
        market.lazy().select("symbol", "date", "turnover"),
        sessions=sessions,
        listed=listed.lazy(),
        min_sessions=s.universe_min_sessions,
        min_turnover=s.universe_min_turnover,
    ).select("symbol", "date", "tradeable")
    scored = (
        preds.lazy()
        .select("date", "symbol", "pred_ret")
        .join(flags, on=["symbol", "date"], how="left")
        .with_columns(pl.col("tradeable").fill_null(False))
        .collect()
    )
    best = (
        scored.filter(pl.col("tradeable") & pl.col("pred_ret").is_not_nan())
        .sort(["date", "pred_ret", "symbol"], descending=[False, True, False])
        .group_by("date", maintain_order=True)
        .agg("symbol")
    )
    ranked = dict(zip(best["date"].to_list(), best["symbol"].to_list(), strict=True))
    for d in scored.get_column("date").unique().to_list():
        ranked.setdefault(d, [])  # predictions, none tradeable: still a ranking (of nothing)
    return ranked, scored.select("date", "symbol", "tradeable")


def order_note(day: date, out: Step, ranked: bool, config: PortfolioConfig) -> str:
    """What the orders made after `day`'s close say, in a sentence."""
    buys = sum(o.side == "buy" for o in out.to_send)
    sells = len(out.to_send) - buys
    if not ranked:
        head = f"no predictions stored for {day}: the orders only finish the standing target"
    elif out.decided:
        head = f"decided after the close of {day}"
    else:
        w = week_of(day) + 1
        while config.cadence_weeks and w % config.cadence_weeks:
            w += 1
        nxt = WEEK_ZERO + timedelta(weeks=w)
        head = (
            f"no decision today (the portfolio decides on the first session of every "
            f"{config.cadence_weeks} week(s); next: the week from {nxt})"
        )
    if not out.to_send:
        return f"{head}; no trade next session"
    return f"{head}; next session: {buys} buy(s), {sells} sale(s)"


def ledger_row(
    day: date,
    out: Step,
    prev: dict[str, Any] | None,
    bench: dict[str, Any],
    config: PortfolioConfig,
    note: str,
) -> dict[str, Any]:
    """The ledger row of `day` (PAPER_LEDGER_SCHEMA; model_version and run_id left to fill)."""
    book = out.book
    nav, nav_gross = out.equity, out.equity + book.costs_paid
    traded = sum(t.value for t in out.trades)
    return {
        "date": day,
        "nav": nav,
        "nav_gross": nav_gross,
        "cash": book.cash,
        "invested": 1 - book.cash / nav if nav > 0 else 0.0,
        "n_holdings": len(book.symbols()),
        "traded": traded,
        "turnover": traded / (prev["nav"] if prev else config.capital),
        "costs": sum(t.cost for t in out.trades),
        "ret": nav / prev["nav"] - 1 if prev else None,
        "ret_gross": nav_gross / prev["nav_gross"] - 1 if prev else None,
        "bench_ew": bench.get("bench_ew"),
        "bench_tw": bench.get("bench_tw"),
        "n_orders": len(out.trades),
        "n_filled": sum(t.shares > 0 for t in out.trades),
        "decided": out.decided,
        "orders_note": note,
        "capital": config.capital,
    }
