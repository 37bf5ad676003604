"""One session of the portfolio: fill the orders made after the previous close, pay every cost.

The same step runs in the backtest (nepse.model.backtest) and in the paper ledger
(nepse.portfolio.paper): bonus shares first (the session's `split` factors), then the sales
(proceeds fund the session's buys), then the buys in order, each through the fill model
(nepse.portfolio.fills) and the cost schedule (nepse.portfolio.costs). A sale's tax rate is
that of its youngest lot (a sale mixing lots held over and under a year pays the higher rate:
conservative, and rare: only holdings outside the target are sold, whole).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date

from nepse.market.rules import MarketRules, market_rules
from nepse.portfolio.book import Book, Lot, take
from nepse.portfolio.costs import buy_cost, sell_cost
from nepse.portfolio.fills import COST_BOUND, FillModel, fill_buy, fill_sell
from nepse.portfolio.market import Quote
from nepse.portfolio.orders import BUY, SELL, Order


@dataclass(frozen=True)
class Trade:
    """What became of one order in one session."""

    date: date
    symbol: str
    side: str
    ordered: float
    shares: float
    price: float
    value: float
    cost: float
    reason: str


def trade_session(
    book: Book,
    orders: list[Order],
    day: date,
    quote: Callable[[str], Quote],
    *,
    split: Callable[[str], float],
    settled: Callable[[date], bool],
    model: FillModel,
    costs: bool = True,
    investor: str = "individual",
    rules: MarketRules | None = None,
) -> tuple[Book, list[Trade]]:
    """Fill `orders` in session `day`; return the book after it and one Trade per order."""
    r = rules or market_rules()
    names = {lot.symbol for lot in book.lots} | set(book.target.shares) | {o.symbol for o in orders}
    factors = {s: f for s in names if (f := split(s)) != 1.0}
    book = book.split(factors)
    cash, lots, paid = book.cash, book.lots, 0.0
    trades: list[Trade] = []
    for o in (o for o in orders if o.side == SELL):
        want = o.shares * factors.get(o.symbol, 1.0)
        ready = sum(x.shares for x in lots if x.symbol == o.symbol and settled(x.bought_on))
        f = fill_sell(want, ready, quote(o.symbol), model)
        cost = 0.0
        if f.shares > 0:
            lots, taken = take(lots, o.symbol, f.shares, settled)
            basis = sum(lot.basis * n / lot.shares for lot, n in taken)
            youngest = max(lot.bought_on for lot, _ in taken)
            if costs:
                cost = sell_cost(
                    f.value, day, basis=basis, held_days=(day - youngest).days,
                    investor=investor, rules=r,
                ).total  # fmt: skip
            cash += f.value - cost
            paid += cost
        trades.append(Trade(day, o.symbol, SELL, want, f.shares, f.price, f.value, cost, f.reason))
    new: list[Lot] = []
    for o in (o for o in orders if o.side == BUY):
        want = o.shares * factors.get(o.symbol, 1.0)
        f = fill_buy(want, quote(o.symbol), model, cash=cash, cost_rate=COST_BOUND if costs else 0)
        cost = buy_cost(f.value, day, rules=r).total if costs and f.shares > 0 else 0.0
        if f.shares > 0:
            cash -= f.value + cost
            paid += cost
            new.append(Lot(o.symbol, day, f.shares, f.value + cost))
        trades.append(Trade(day, o.symbol, BUY, want, f.shares, f.price, f.value, cost, f.reason))
    if math.isclose(cash, 0.0, abs_tol=1e-6):
        cash = 0.0
    lots = tuple(sorted((*lots, *new), key=lambda x: (x.symbol, x.bought_on)))
    return replace(book, cash=cash, lots=lots, costs_paid=book.costs_paid + paid), trades
