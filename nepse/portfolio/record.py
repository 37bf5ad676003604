"""The paper portfolio's state as table rows and back (nepse/store/paper.py holds the rows).

A day's rows say everything the next day needs: the ledger row (cash, and the costs paid so far
as nav_gross - nav), the lots held after the close (paper_holdings), and the orders made after
it with the target's shares (paper_orders; the target's decision day is the last ledger row
with `decided`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from datetime import date

import polars as pl

from nepse.portfolio.book import Book, Lot, Target
from nepse.portfolio.orders import HOLD, Order
from nepse.portfolio.session import Trade
from nepse.schema import PAPER_HOLDING_SCHEMA, PAPER_ORDER_SCHEMA, PAPER_TRADE_SCHEMA, conform


def holding_rows(day: date, book: Book, mark: Callable[[str], float]) -> pl.DataFrame:
    """One row per lot held after `day`'s close, with the close it was marked at."""
    rows = [
        {**asdict(lot), "date": day, "close": mark(lot.symbol)}
        for lot in sorted(book.lots, key=lambda x: (x.symbol, x.bought_on))
    ]
    return pl.DataFrame(rows, schema=PAPER_HOLDING_SCHEMA)


def order_rows(day: date, orders: list[Order], target: Target) -> pl.DataFrame:
    """The orders made after `day`'s close, with the shares the target asks of each symbol."""
    rows = [
        {**asdict(o), "date": day, "target_shares": target.shares.get(o.symbol)} for o in orders
    ]
    return pl.DataFrame(rows, schema=PAPER_ORDER_SCHEMA)


def trade_rows(trades: list[Trade]) -> pl.DataFrame:
    """What became of each order sent to a session."""
    return conform(pl.DataFrame([asdict(t) for t in trades]), PAPER_TRADE_SCHEMA)


def book_from_rows(
    ledger: dict, holdings: pl.DataFrame, orders: pl.DataFrame, decided_on: date | None
) -> tuple[Book, list[Order]]:
    """The book after a stored day and the orders it sent to the next session."""
    lots = tuple(
        Lot(r["symbol"], r["bought_on"], r["shares"], r["basis"])
        for r in holdings.sort("symbol", "bought_on").iter_rows(named=True)
    )
    target = orders.filter(pl.col("target_shares").is_not_null())
    book = Book(
        cash=ledger["cash"],
        lots=lots,
        target=Target(
            shares=dict(zip(target["symbol"], target["target_shares"], strict=True)),
            decided_on=decided_on,
        ),
        costs_paid=ledger["nav_gross"] - ledger["nav"],
    )
    sent = [
        Order(r["symbol"], r["side"], r["shares"], r["ref_price"], r["note"] or "")
        for r in orders.filter(pl.col("side") != HOLD).iter_rows(named=True)
    ]
    return book, sent
