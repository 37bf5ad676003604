"""The paper-trading record of the daily run: fill yesterday's orders, mark, write tomorrow's.

`run_paper_day(store, settings, day)` continues the record from its last day before `day`: for
every stored session after it up to `day` (normally just `day`; more when runs were missed), it
fills the orders made after the previous close with the honest fill model, pays every cost,
marks the holdings at the close, and, from the session's stored predictions, lets the portfolio
layer decide and writes the orders for the next session (nepse.portfolio.step: the same code as
the backtest). A rerun of a day replaces that day and every later one; the result depends only
on the stored prices, predictions and the record before the day, so it is deterministic.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from nepse.atomic import write_parquet
from nepse.errors import NotEnoughHistoryError
from nepse.features.adjust import adjust_prices
from nepse.features.panel import calendar_of
from nepse.features.universe import TURNOVER_WINDOW
from nepse.market.rules import market_rules
from nepse.portfolio.benchmark import benchmarks
from nepse.portfolio.book import Book
from nepse.portfolio.days import ledger_row, order_note, rankings
from nepse.portfolio.fills import FillModel
from nepse.portfolio.market import MarketDays, market_frame
from nepse.portfolio.policy import PortfolioConfig
from nepse.portfolio.record import book_from_rows, holding_rows, order_rows, trade_rows
from nepse.portfolio.step import step

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PaperDay:
    """What the paper ledger recorded for `day` (small: for a task's return and log line)."""

    day: date
    nav: float
    ret: float | None
    costs: float
    n_filled: int
    n_orders: int
    """Buy and sell orders made for the next session (0: the portfolio does not trade)."""
    decided: bool
    note: str
    sessions: int
    """Sessions recorded by this call (more than 1 when earlier runs were missed)."""
    orders_path: Path | None = None


def run_paper_day(store: Any, settings: Any, day: date, *, run_id: str | None = None) -> PaperDay:
    """Record `day` (and any unrecorded session before it) in the paper tables; write the
    orders for the next session to DuckDB and to `<data_dir>/orders/<day>.parquet`."""
    cal = calendar_of(store)
    if day not in cal:
        raise NotEnoughHistoryError(f"{day} has no stored prices in {store.path}: ingest it first")
    last = store.paper_last_day(before=day)
    todo = [d for d in cal.days if (last is None or d > last) and d <= day]
    if last is None:
        todo = [day]
    config = PortfolioConfig.from_settings(settings)
    rules = market_rules()
    start = cal.days[max(0, cal.day_no(todo[0]) - TURNOVER_WINDOW - 5)]
    prices = store.prices(start=start, end=day)
    market = market_frame(adjust_prices(prices.lazy(), store.corporate_actions()))
    market = market.collect()
    window = [d for d in cal.days if start <= d <= day]
    md = MarketDays(market, entry=config.entry, days=window)
    preds = store.predictions(start=cal.previous(todo[0]) or todo[0], end=day)
    ranked, flags = rankings(preds, market, store.first_trade_dates(), list(cal.days), settings)
    bench = benchmarks(market, flags, window)
    sectors = dict(store.securities().select("symbol", "sector").drop_nulls().iter_rows())
    book, orders, prev_close = _state(store, last, config)
    model = FillModel(turnover_share=config.turnover_share, lot=rules.board_lot(day))
    frames: dict[str, list[pl.DataFrame]] = {
        "ledger": [],
        "holdings": [],
        "trades": [],
        "orders": [],
    }
    prev_nav = (
        None if last is None else store.paper_rows("paper_ledger", last, last).row(0, named=True)
    )
    for d in todo:
        i = md.session[d]
        md.fallback = prev_close  # holdings without a row in the window: their stored close
        out = step(
            book, orders, md, i, no=cal.day_no, previous=last, ranked=ranked.get(d),
            config=config, model=model, rules=rules, sectors=sectors,
        )  # fmt: skip
        note = order_note(d, out, ranked.get(d) is not None, config)
        b = bench.filter(pl.col("date") == d)
        row = ledger_row(d, out, prev_nav, b.row(0, named=True) if b.height else {}, config, note)
        row["model_version"], row["run_id"] = _version(preds, d), run_id
        frames["ledger"].append(pl.DataFrame([row]))
        mark = {s: md.mark(i, s) for s in out.book.symbols()}
        prev_close = {s: p if p == p else prev_close.get(s, p) for s, p in mark.items()}
        frames["holdings"].append(holding_rows(d, out.book, prev_close.__getitem__))
        frames["trades"].append(trade_rows(out.trades))
        frames["orders"].append(order_rows(d, out.orders, out.book.target))
        book, orders, last, prev_nav = out.book, out.to_send, d, row
    tables = {f"paper_{k}": pl.concat(v, how="diagonal_relaxed") for k, v in frames.items()}
    store.replace_paper_from(todo[0], tables)
    # Written under a temporary name and renamed: a reader never sees half a file.
    path = write_parquet(
        tables["paper_orders"].filter(pl.col("date") == day),
        settings.data_dir / "orders" / f"{day}.parquet",
    )
    return PaperDay(
        day=day, nav=row["nav"], ret=row["ret"], costs=row["costs"], n_filled=row["n_filled"],
        n_orders=len(out.to_send), decided=out.decided, note=note, sessions=len(todo),
        orders_path=path,
    )  # fmt: skip


def _state(store: Any, last: date | None, config: PortfolioConfig):
    """The book, the orders it sent and the holdings' closes after the stored day `last`."""
    if last is None:
        return Book(cash=config.capital), [], {}
    ledger = store.paper_rows("paper_ledger", end=last)
    decided = ledger.filter("decided").get_column("date")
    holdings = store.paper_rows("paper_holdings", last, last)
    book, orders = book_from_rows(
        ledger.row(-1, named=True),
        holdings,
        store.paper_rows("paper_orders", last, last),
        decided.max() if len(decided) else None,
    )
    return book, orders, dict(zip(holdings["symbol"], holdings["close"], strict=False))


def _version(preds: pl.DataFrame, day: date) -> str | None:
    """The model that made most of `day`'s predictions (None: no predictions)."""
    v = preds.filter(pl.col("date") == day).get_column("model_version").mode()
    return v.sort()[0] if len(v) else None
