"""The portfolio's state between sessions: cash, lots of shares with their buy dates, the target.

A lot is the shares of one symbol bought in one session: its buy date decides when it settles
(T+2: sellable from the second session after the purchase, nepse/market/rules.toml
`settlement`) and its capital-gains tax rate; its basis (purchase value plus purchase costs) is
what the tax is computed on. Sales take the oldest settled lots first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date


@dataclass(frozen=True)
class Lot:
    """Shares of `symbol` bought in the session `bought_on`, with their rupee cost basis."""

    symbol: str
    bought_on: date
    shares: float
    basis: float


@dataclass(frozen=True)
class Target:
    """What the portfolio layer wants held: shares per symbol, and when it last decided."""

    shares: dict[str, float] = field(default_factory=dict)
    decided_on: date | None = None


@dataclass(frozen=True)
class Book:
    """Cash, open lots, the target and the costs paid so far."""

    cash: float
    lots: tuple[Lot, ...] = ()
    target: Target = Target()
    costs_paid: float = 0.0

    def symbols(self) -> list[str]:
        """Symbols held, sorted."""
        return sorted({lot.symbol for lot in self.lots})

    def shares(self, symbol: str) -> float:
        """Shares of `symbol` held."""
        return sum(lot.shares for lot in self.lots if lot.symbol == symbol)

    def holdings(self) -> dict[str, float]:
        """Shares held per symbol."""
        out: dict[str, float] = {}
        for lot in self.lots:
            out[lot.symbol] = out.get(lot.symbol, 0.0) + lot.shares
        return out

    def opened(self, symbol: str) -> date | None:
        """When the holding of `symbol` was opened: its oldest lot's buy session.

        Sales only hit holdings outside the target, so a target name's oldest lot is its first.
        """
        return min((lot.bought_on for lot in self.lots if lot.symbol == symbol), default=None)

    def sellable(self, symbol: str, settled: Callable[[date], bool]) -> float:
        """Shares of `symbol` in lots that have settled (`settled(bought_on)`)."""
        return sum(
            lot.shares for lot in self.lots if lot.symbol == symbol and settled(lot.bought_on)
        )

    def value(self, price: Callable[[str], float]) -> float:
        """Cash plus every lot at `price(symbol)` (a holding without a price counts 0)."""
        held = 0.0
        for symbol, shares in self.holdings().items():
            p = price(symbol)
            if p == p:  # not NaN
                held += shares * p
        return self.cash + held

    def split(self, factors: dict[str, float]) -> Book:
        """Share counts (lots and target) multiplied by each symbol's factor (bonus issues)."""
        if not factors:
            return self
        lots = tuple(
            replace(lot, shares=lot.shares * factors[lot.symbol]) if lot.symbol in factors else lot
            for lot in self.lots
        )
        shares = {s: n * factors.get(s, 1.0) for s, n in self.target.shares.items()}
        return replace(self, lots=lots, target=replace(self.target, shares=shares))


def take(lots: tuple[Lot, ...], symbol: str, shares: float, settled: Callable[[date], bool]):
    """Remove `shares` of `symbol` from its settled lots, oldest first.

    Returns (lots left, [(lot taken, shares taken from it)]).
    """
    left: list[Lot] = []
    taken: list[tuple[Lot, float]] = []
    need = shares
    for lot in sorted(lots, key=lambda x: (x.symbol != symbol, x.bought_on)):
        if lot.symbol == symbol and need > 1e-9 and settled(lot.bought_on):
            n = min(lot.shares, need)
            need -= n
            taken.append((lot, n))
            rest = lot.shares - n
            if rest > 1e-9:
                left.append(replace(lot, shares=rest, basis=lot.basis * rest / lot.shares))
        else:
            left.append(lot)
    return tuple(sorted(left, key=lambda x: (x.symbol, x.bought_on))), taken
