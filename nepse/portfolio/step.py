"""One session of the decision layer, as the backtest and the paper ledger both run it.

After session i's close: fill the orders made after the previous close (nepse.portfolio.session),
mark the book at the close, let the portfolio layer decide when it is a decision day and the day
has a ranking (nepse.portfolio.policy), and write the next session's orders
(nepse.portfolio.orders). Session numbers (`no`) count market sessions, so T+2 and the minimum
hold are in sessions, not calendar days.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date

from nepse.market.rules import MarketRules
from nepse.portfolio.book import Book
from nepse.portfolio.fills import FillModel
from nepse.portfolio.market import MarketDays
from nepse.portfolio.orders import HOLD, Order, make_orders
from nepse.portfolio.policy import PortfolioConfig, decide, is_decision_day
from nepse.portfolio.session import Trade, trade_session


@dataclass(frozen=True)
class Step:
    """The book after session i, what was traded in it, and the orders for the next one."""

    book: Book
    trades: list[Trade]
    equity: float
    decided: bool
    orders: list[Order]
    """Buys, sales and the target names that need no trade ('hold'), for the next session."""

    @property
    def to_send(self) -> list[Order]:
        """The orders that ask for a trade."""
        return [o for o in self.orders if o.side != HOLD]


def step(
    book: Book,
    orders: Sequence[Order],
    md: MarketDays,
    i: int,
    *,
    no: Callable[[date], int],
    previous: date | None,
    ranked: Sequence[str] | None,
    config: PortfolioConfig,
    model: FillModel,
    rules: MarketRules,
    sectors: dict[str, str] | None = None,
) -> Step:
    """Session `i` of `md`: trade `orders` (made after `previous`), mark, decide, order."""
    d = md.days[i]
    today, settle = no(d), rules.settlement_days(d)
    trades: list[Trade] = []
    if previous is not None:
        book, trades = trade_session(
            book, list(orders), d, lambda s: md.quote(i, s),
            split=lambda s: md.split_of(i, s),
            settled=lambda b: today - no(b) >= settle,
            model=model, costs=config.costs, investor=config.investor, rules=rules,
        )  # fmt: skip
    equity = book.value(lambda s: md.mark(i, s))
    decided = ranked is not None and (
        book.target.decided_on is None or is_decision_day(d, previous, config.cadence_weeks)
    )
    if decided:
        target = decide(
            d, ranked or [], book, config, equity=equity,
            close=lambda s: md.quote(i, s).close,
            turnover=lambda s: md.quote(i, s).turnover,
            held_sessions=lambda b: today - no(b),
            sectors=sectors, lot=model.lot,
        )  # fmt: skip
        book = replace(book, target=target)
    nxt = make_orders(
        book,
        lambda s: md.quote(i, s),
        settles=lambda b: no(b) + settle - (today + 1),
        lot=model.lot,
    )
    return Step(book=book, trades=trades, equity=equity, decided=decided, orders=nxt)
