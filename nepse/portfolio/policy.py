"""The portfolio layer: which stocks to hold, decided on a cadence, with a band and a minimum hold.

On a decision day (`is_decision_day`: the first session of every `cadence_weeks`-th week, weeks
running Sunday to Saturday as NEPSE's do; or every session when the cadence is 0), `decide`
builds the target from the day's ranking of the tradeable universe:

1. keep every current name (target or holding) still ranked within the top `keep_k` (the
   no-trade band), and every holding opened fewer than `min_hold` sessions ago (the label's
   horizon: a position bought for a 5-session hold is not sold after 2);
2. fill the free places up to `top_k` with the best-ranked names not kept, at most
   `sector_cap` names per sector (0: no cap); while the target's value is short of the equity
   (capacity caps below), keep adding names, up to `max_names`, each taking at most the idle
   capital (capital left in cash earns nothing while the market moves);
3. a kept name keeps its target shares (no trade inside the band); a new name gets
   `equity / top_k` rupees, at most `turnover_share` of its turnover on the decision day (known
   when the order is made), in whole board lots at the day's close.

Between decision days the target stands: orders only finish what it asks (nepse.portfolio.orders).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from nepse.portfolio.book import Book, Target

SPREAD = 2
"""The target spreads to at most SPREAD x top_k names when capacity caps leave capital idle."""
WEEK_ZERO = date(2000, 1, 2)
"""A Sunday: weeks are counted from it (NEPSE's week starts on Sunday)."""


@dataclass(frozen=True)
class PortfolioConfig:
    """How the portfolio decides and trades (defaults: the Settings' portfolio_* fields)."""

    top_k: int = 20
    keep_k: int = 40
    cadence_weeks: int = 1
    """Decide on the first session of every n-th week; 0: every session."""
    min_hold: int = 5
    """Sessions a position is kept at least after it was opened."""
    sector_cap: int = 0
    max_names: int = 0
    """Names the target may spread to when capacity caps leave capital idle (0: top_k)."""
    capital: float = 10_000_000.0
    turnover_share: float = 0.10
    entry: Literal["vwap", "close"] = "vwap"
    investor: Literal["individual", "institution"] = "individual"
    costs: bool = True

    @classmethod
    def from_settings(cls, settings: Any, **override: Any) -> PortfolioConfig:
        """The Settings' portfolio fields (entry from the label: close for next_close)."""
        values = {
            "top_k": settings.portfolio_top_k,
            "keep_k": settings.portfolio_keep_k,
            "cadence_weeks": settings.portfolio_cadence_weeks,
            "min_hold": settings.label_hold
            if settings.portfolio_min_hold is None
            else settings.portfolio_min_hold,
            "sector_cap": settings.portfolio_sector_cap,
            "max_names": SPREAD * settings.portfolio_top_k,
            "capital": settings.portfolio_capital,
            "turnover_share": settings.portfolio_turnover_share,
            "entry": "close" if settings.label == "next_close" else "vwap",
            "investor": settings.portfolio_investor,
        }
        return cls(**{**values, **override})


def week_of(day: date) -> int:
    """Number of the Sunday-to-Saturday week of `day`."""
    return (day - WEEK_ZERO).days // 7


def is_decision_day(day: date, previous: date | None, cadence_weeks: int) -> bool:
    """Whether the portfolio decides after `day`'s close (`previous`: the session before)."""
    if cadence_weeks <= 0 or previous is None:
        return True
    w = week_of(day)
    return w != week_of(previous) and w % cadence_weeks == 0


def decide(
    day: date,
    ranked: Sequence[str],
    book: Book,
    config: PortfolioConfig,
    *,
    equity: float,
    close: Callable[[str], float],
    turnover: Callable[[str], float],
    held_sessions: Callable[[date], int],
    sectors: dict[str, str] | None = None,
    lot: int = 10,
) -> Target:
    """The new target from `ranked` (best first, tradeable symbols only)."""
    rank = {s: r for r, s in enumerate(ranked)}
    keep_k = max(config.keep_k, config.top_k)
    old = book.target
    holdings = book.holdings()
    held = set(holdings)
    young = {s for s in held if held_sessions(book.opened(s)) < config.min_hold}
    current = sorted(set(old.shares) | held, key=lambda s: rank.get(s, math.inf))
    keep = [s for s in current if s in young or rank.get(s, math.inf) < keep_k]
    most = max(config.max_names, config.top_k)
    if len(keep) > most:  # the worst-ranked go first, young holdings stay
        spare = [s for s in keep if s not in young][::-1]
        drop = set(spare[: len(keep) - most])
        keep = [s for s in keep if s not in drop]
    shares = {s: old.shares.get(s, holdings.get(s, 0.0)) for s in keep}
    per_sector: dict[str, int] = {}
    for s in keep:
        sec = (sectors or {}).get(s, "")
        per_sector[sec] = per_sector.get(sec, 0) + 1
    committed = sum(n * close(s) for s, n in shares.items() if close(s) > 0)
    for s in ranked:
        if len(shares) >= most or (len(shares) >= config.top_k and committed >= equity):
            break
        if s in shares:
            continue
        sec = (sectors or {}).get(s, "")
        if config.sector_cap and sec and per_sector.get(sec, 0) >= config.sector_cap:
            continue
        price = close(s)
        if not price > 0:
            continue
        value = min(equity / config.top_k, config.turnover_share * turnover(s))
        if len(shares) >= config.top_k:  # spreading idle capital: no more than is idle
            value = min(value, equity - committed)
        n = math.floor(value / price / lot) * lot
        if n <= 0:
            continue
        shares[s] = float(n)
        committed += n * price
        per_sector[sec] = per_sector.get(sec, 0) + 1
    return Target(shares=shares, decided_on=day)
