"""The honest fill model: what part of an order a NEPSE session could have filled, and at what.

One model for every simulated fill (the backtest, the paper ledger, the replay). An order made
after the close of session t fills in session t+1 at that session's price (its VWAP by default,
or its close), with these rules:

- No trade in the session (no row, or no volume): nothing fills.
- A buy in a session that closed at the upper price limit fills `LIMIT_BUY_SHARE` (0) of the
  order, a sale in a session that closed at the lower limit `LIMIT_SELL_SHARE` (0). Why none:
  NEPSE matches orders by price then time; a session that ends at the limit ends with buyers
  queued at the limit price and no sellers left (mirrored for a lower-limit close), and an order
  sent for the day cannot know it would have been ahead of that queue. The 2019-2026 backtest
  bought 486 times on such days at a VWAP that the queue made unreachable (docs/model.md).
- A fill takes at most `turnover_share` of the session's own turnover (the rest of the order is
  left for later sessions); the order itself was sized on the previous session's turnover
  (nepse.portfolio.orders), known when it was made.
- Whole board lots only (nepse/market/rules.toml `board_lot`); a sale of a whole holding sells
  an odd remainder too (odd lots left by bonus shares go to NEPSE's odd-lot book, assumed at the
  same price).
- A buy never spends more cash than there is (proceeds of the session's sales included: brokers
  settle both legs T+2, so they net).
- A stock that has stopped trading (no trade for `STALE_SESSIONS` sessions: merged, delisted,
  suspended) is settled at its last close when sold: the data holds no swap ratios, and a
  holding frozen at its last price for years would hold capital no investor would leave there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from nepse.portfolio.market import STALE_SESSIONS, Quote

LIMIT_BUY_SHARE = 0.0
"""Share of a buy filled in a session that closed at the upper limit (see the module doc)."""
LIMIT_SELL_SHARE = 0.0
"""Share of a sale filled in a session that closed at the lower limit."""
COST_BOUND = 0.01
"""Costs per rupee bought, at most (commission <= 0.6 %, SEBON, DP on a >= Rs 10,000 trade):
what an order keeps aside of its cash."""
__all__ = ["COST_BOUND", "STALE_SESSIONS", "Fill", "FillModel", "fill_buy", "fill_sell"]


STOPPED = "stopped trading: settled at the last close"


@dataclass(frozen=True)
class FillModel:
    """The fill model's two knobs (Settings: portfolio_turnover_share, board lot from rules)."""

    turnover_share: float = 0.10
    """A fill takes at most this share of the session's turnover; an order is sized on at most
    this share of the previous session's turnover."""
    lot: int = 10


@dataclass(frozen=True)
class Fill:
    """What one order got in one session."""

    shares: float
    price: float
    reason: str = ""
    """Why less than the order filled: '' (all of it), 'no trade', 'upper-limit close',
    'lower-limit close', 'turnover cap', 'cash', 'lot'; a stopped stock's settlement says
    'stopped trading: settled at the last close'."""

    @property
    def value(self) -> float:
        """Rupees traded."""
        return self.shares * self.price if self.shares else 0.0


def _lots(shares: float, lot: int) -> float:
    return math.floor(shares / lot + 1e-9) * lot


def fill_buy(shares: float, quote: Quote, model: FillModel, *, cash: float, cost_rate: float):
    """The part of a buy order of `shares` that fills in the session of `quote`.

    `cost_rate` (costs per rupee bought, a bound) keeps the fill and its costs within `cash`.
    """
    if not quote.traded or not math.isfinite(quote.price) or quote.price <= 0:
        return Fill(0.0, math.nan, "no trade")
    want, why = shares, ""
    if quote.up_close:
        want, why = shares * LIMIT_BUY_SHARE, "upper-limit close"
    cap = model.turnover_share * quote.turnover / quote.price
    if cap < want:
        want, why = cap, "turnover cap"
    afford = max(cash, 0.0) / (quote.price * (1 + cost_rate))
    if afford < want:
        want, why = afford, "cash"
    got = _lots(want, model.lot)
    if got < want and not why:
        why = "lot"
    return Fill(got, quote.price, why if got < shares else "")


def fill_sell(shares: float, held: float, quote: Quote, model: FillModel) -> Fill:
    """The part of a sale of `shares` (out of `held` sellable) that fills in `quote`'s session."""
    if not quote.traded or not math.isfinite(quote.price) or quote.price <= 0:
        if quote.stale and math.isfinite(quote.last) and quote.last > 0:
            return Fill(min(shares, held), quote.last, STOPPED)
        return Fill(0.0, math.nan, "no trade")
    want, why = min(shares, held), ""
    if quote.down_close:
        want, why = want * LIMIT_SELL_SHARE, "lower-limit close"
    cap = model.turnover_share * quote.turnover / quote.price
    if cap < want:
        want, why = cap, "turnover cap"
    got = want if want >= held - 1e-9 else _lots(want, model.lot)
    return Fill(got, quote.price, why if got < shares - 1e-9 else "")
