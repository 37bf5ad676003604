"""Orders for the next session: the difference between the target and the holdings, with notes.

Made after a session's close, for the next session. A holding outside the target is sold as far
as it has settled (T+2: a lot bought in session s is sellable from session s + 2; the rest
waits, and the note says until when); a target name held short of its target shares is bought,
in whole board lots (a holding short by less than `TOPUP_SHARE` is left alone), as far as the
buying power goes (cash and the sales' proceeds at today's close, costs kept aside). Notes warn of
what may not fill: a stock that closed at its upper limit today (a buy tomorrow fills nothing if
it closes there again) or at its lower limit (a sale likewise). Orders are in real shares;
`ref_price` is the day's close (the fill is at the next session's VWAP).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from nepse.portfolio.book import Book
from nepse.portfolio.fills import COST_BOUND
from nepse.portfolio.market import Quote

BUY, SELL, HOLD = "buy", "sell", "hold"
TOPUP_SHARE = 0.2
"""A held target name is topped up only when short of its target shares by more than this share
(a top-up of a few shares pays the minimum commission and a DP charge for little)."""


@dataclass(frozen=True)
class Order:
    """One line of tomorrow's orders (side 'hold': a target name needing no trade)."""

    symbol: str
    side: str
    shares: float
    ref_price: float
    note: str = ""


def make_orders(
    book: Book,
    quote: Callable[[str], Quote],
    *,
    settles: Callable[[date], int],
    lot: int = 10,
) -> list[Order]:
    """Sales, then buys, then the target names already held, each by symbol.

    One canonical order (a book read back from the store sends the same orders as the book in
    memory); it decides which buys get the cash when the cash runs short.

    `settles(bought_on)`: how many sessions from tomorrow's until that lot is sellable (<= 0:
    sellable tomorrow).
    """
    out: list[Order] = []
    target = book.target.shares
    held = book.holdings()
    for s in sorted(held):
        if s in target:
            continue
        q = quote(s)
        lots = [x for x in book.lots if x.symbol == s]
        ready = sum(x.shares for x in lots if settles(x.bought_on) <= 0)
        notes = [
            f"{x.shares:g} bought {x.bought_on} settle in {settles(x.bought_on)} more session(s)"
            for x in lots
            if settles(x.bought_on) > 0
        ]
        if q.down_close:
            notes.append("closed at the lower limit today: a sale fills nothing at another")
        if q.stale:
            notes.append("stopped trading: a sale settles at the last close")
        if ready > 0:
            out.append(Order(s, SELL, ready, _ref(q), "; ".join(notes)))
        else:
            out.append(Order(s, HOLD, 0.0, _ref(q), "not sellable yet (T+2): " + "; ".join(notes)))
    proceeds = sum(o.shares * o.ref_price for o in out if o.side == SELL and o.ref_price > 0)
    power = book.cash + proceeds * (1 - COST_BOUND)
    holds: list[Order] = []
    for s, want in sorted(target.items()):
        q = quote(s)
        ref, have = _ref(q), held.get(s, 0.0)
        need = math.floor((want - have) / lot + 1e-9) * lot
        if need <= 0 or (have > 0 and need < TOPUP_SHARE * want):
            holds.append(Order(s, HOLD, 0.0, ref))
            continue
        if ref > 0:
            need = min(need, math.floor(max(power, 0.0) / (ref * (1 + COST_BOUND)) / lot) * lot)
            power -= need * ref * (1 + COST_BOUND)
        if need <= 0:
            holds.append(Order(s, HOLD, 0.0, ref, "no buying power left: waits for sales"))
            continue
        note = (
            "closed at the upper limit today: a buy fills nothing at another" if q.up_close else ""
        )
        out.append(Order(s, BUY, float(need), ref, note))
    return out + holds


def _ref(q: Quote) -> float:
    """Today's close, or the last known one when the stock did not trade today."""
    return q.close if q.close == q.close else q.last


def trades_planned(orders: list[Order]) -> bool:
    """Whether any order asks for a trade (False: the portfolio does not trade tomorrow)."""
    return any(o.side in (BUY, SELL) for o in orders)
