"""Tomorrow's orders: target minus holdings, T+2 and limit notes, one canonical order."""

from __future__ import annotations

from datetime import date

from nepse.portfolio.book import Book, Lot, Target
from nepse.portfolio.market import Quote
from nepse.portfolio.orders import make_orders, trades_planned

D1, D2, D3 = date(2025, 1, 5), date(2025, 1, 6), date(2025, 1, 7)


def quote(up=(), down=()):
    return lambda s: Quote(100.0, 100.0, 1e6, True, s in up, s in down)


def test_sales_outside_the_target_and_buys_short_of_it():
    book = Book(
        cash=0.0,
        lots=(Lot("OLD", D1, 50.0, 5e3), Lot("KEEP", D1, 100.0, 1e4)),
        target=Target({"KEEP": 100.0, "NEW": 35.0, "ADD": 200.0}),
    )
    book = Book(cash=1e6, lots=(*book.lots, Lot("ADD", D1, 120.0, 1.2e4)), target=book.target)
    orders = make_orders(book, quote(), settles=lambda b: 0)
    got = [(o.symbol, o.side, o.shares) for o in orders]
    # ADD: 80 short -> 8 lots; NEW: 35 -> 3 lots; KEEP: held in full.
    assert got == [("OLD", "sell", 50.0), ("ADD", "buy", 80.0), ("NEW", "buy", 30.0),
                   ("KEEP", "hold", 0.0)]  # fmt: skip
    assert trades_planned(orders)


def test_unsettled_lots_wait_and_say_until_when():
    book = Book(cash=0.0, lots=(Lot("X", D1, 10.0, 1e3), Lot("X", D3, 20.0, 2e3)))
    settles = {D1: 0, D3: 2}.get
    (o,) = make_orders(book, quote(), settles=settles)
    assert (o.side, o.shares) == ("sell", 10.0)
    assert "20 bought 2025-01-07 settle in 2 more session(s)" in o.note
    (w,) = make_orders(Book(cash=0.0, lots=(Lot("X", D3, 20.0, 2e3),)), quote(), settles=settles)
    assert w.side == "hold" and w.note.startswith("not sellable yet (T+2)")


def test_limit_closes_are_flagged():
    book = Book(cash=1e5, lots=(Lot("DOWN", D1, 10.0, 1e3),), target=Target({"UP": 100.0}))
    orders = {o.symbol: o for o in make_orders(book, quote({"UP"}, {"DOWN"}), settles=lambda b: 0)}
    assert "upper limit" in orders["UP"].note and "lower limit" in orders["DOWN"].note


def test_nothing_to_do_is_said():
    book = Book(cash=0.0, lots=(Lot("A", D1, 100.0, 1e4),), target=Target({"A": 100.0}))
    orders = make_orders(book, quote(), settles=lambda b: 0)
    assert [o.side for o in orders] == ["hold"] and not trades_planned(orders)


def test_buys_stay_within_the_buying_power():
    # Rs 2,000 cash + the sale of 50 OLD at 100 (costs kept aside): 2,000 + 4,950 = 6,950.
    book = Book(
        cash=2_000.0,
        lots=(Lot("OLD", D1, 50.0, 5e3),),
        target=Target({"A": 40.0, "B": 40.0}),
    )
    orders = {o.symbol: o for o in make_orders(book, quote(), settles=lambda b: 0)}
    assert (orders["A"].side, orders["A"].shares) == ("buy", 40.0)  # Rs 4,040 with the reserve
    assert (orders["B"].side, orders["B"].shares) == ("buy", 20.0)  # Rs 2,910 left: 2 lots
    poor = Book(cash=500.0, target=Target({"A": 40.0}))
    (o,) = make_orders(poor, quote(), settles=lambda b: 0)
    assert o.side == "hold" and "no buying power" in o.note


def test_a_stock_that_stopped_trading_is_flagged():
    def stale(s):
        return Quote(float("nan"), float("nan"), 0.0, False, False, False, True, 80.0)

    book = Book(cash=0.0, lots=(Lot("GONE", D1, 10.0, 1e3),))
    (o,) = make_orders(book, stale, settles=lambda b: 0)
    assert (o.side, o.ref_price) == ("sell", 80.0) and "settles at the last close" in o.note
