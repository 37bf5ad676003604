"""NEPSE trading costs of one trade, from the dated market-rules registry (nepse/market/).

A buy pays broker commission (the rate of the trade value's bracket on the whole value, and at
least the registry's minimum commission), the SEBON fee and the depository (DP) charge per scrip
per day. A sale pays the same plus capital-gains tax on its net gain: proceeds less sale costs
less the cost basis (purchase value plus purchase costs), withheld per sale by the broker, so a
loss on one sale does not offset a gain on another.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from nepse.market.rules import Investor, MarketRules, market_rules


@dataclass(frozen=True)
class TradeCost:
    """Rupee costs of one trade, by kind."""

    commission: float
    sebon: float
    dp: float = 0.0
    cgt: float = 0.0

    @property
    def total(self) -> float:
        """Everything paid on the trade."""
        return self.commission + self.sebon + self.dp + self.cgt


def commission(value: float, day: date, *, rules: MarketRules | None = None) -> float:
    """Broker commission of one equity trade of `value` rupees on `day` (the minimum applies)."""
    r = rules or market_rules()
    if value <= 0:
        return 0.0
    return max(r.commission_rate(day, value) * value, r.min_commission(day))


def buy_cost(value: float, day: date, *, rules: MarketRules | None = None) -> TradeCost:
    """Costs of buying shares worth `value` rupees of one scrip on `day`."""
    r = rules or market_rules()
    return TradeCost(
        commission=commission(value, day, rules=r),
        sebon=r.sebon_fee(day) * value,
        dp=r.dp_charge(day, "buy"),
    )


def sell_cost(
    value: float,
    day: date,
    *,
    basis: float,
    held_days: int,
    investor: Investor = "individual",
    rules: MarketRules | None = None,
) -> TradeCost:
    """Costs of selling shares worth `value` rupees of one scrip on `day`.

    `basis` is what those shares cost, purchase costs included; `held_days` the calendar days
    since purchase (sets the individual's tax rate).
    """
    r = rules or market_rules()
    fee = commission(value, day, rules=r)
    sebon = r.sebon_fee(day) * value
    dp = r.dp_charge(day, "sell")
    gain = value - fee - sebon - dp - basis
    cgt = max(gain, 0.0) * r.cgt_rate(day, held_days=held_days, investor=investor)
    return TradeCost(commission=fee, sebon=sebon, dp=dp, cgt=cgt)


def round_trip_share(value: float, day: date, *, rules: MarketRules | None = None) -> float:
    """Cost of buying and selling `value` at an unchanged price, as a share of `value`."""
    b = buy_cost(value, day, rules=rules)
    s = sell_cost(value, day, basis=value + b.total, held_days=1, rules=rules)
    return (b.total + s.total) / value
