"""The dated NEPSE market-rules registry: which rule was in force on a given date.

The rules are data (`rules.toml` beside this module, one source per entry); this module only
reads them and answers "rule in force on day d". It is the only home of these facts: the week a
day may trade in (nepse/calendar.py, the sources, the backfill, staleness), the session close
(freshness deadlines), the price limit (the store's `beyond_limit` flag, the corporate-action
breaks, the backtest's limit locks), the settlement cycle (tradeable labels) and the trading
costs (nepse/model/costs.py) all ask it.
"""

from __future__ import annotations

import bisect
import math
import tomllib
from dataclasses import dataclass
from datetime import date, time
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import polars as pl

RULES_FILE = Path(__file__).with_name("rules.toml")
WEEKDAYS = {"Mon": 0, "Tue": 1, "Wed": 2, "Thu": 3, "Fri": 4, "Sat": 5, "Sun": 6}
TABLES = (
    "trading_week",
    "session",
    "close_price",
    "price_limit",
    "settlement",
    "commission",
    "sebon_fee",
    "dp_charge",
    "min_commission",
    "board_lot",
    "capital_gains_tax",
)
Investor = Literal["individual", "institution"]
LIMIT_TOLERANCE = 1e-6
"""Slack on every price-limit comparison: a +10 % limit-hit day computes as 0.10000000000000009,
and it is a real day, not a move beyond the limit."""


@dataclass(frozen=True)
class MarketRules:
    """Every table of the registry as periods sorted by their `from` date."""

    tables: dict[str, tuple[dict[str, Any], ...]]

    @classmethod
    def from_file(cls, path: Path = RULES_FILE) -> MarketRules:
        """Read and check a rules file (every table present, dated, sourced, sorted)."""
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        tables: dict[str, tuple[dict[str, Any], ...]] = {}
        for name in TABLES:
            entries = data.get(name)
            if not entries:
                raise ValueError(f"{path}: table [[{name}]] is missing or empty")
            for e in entries:
                if not isinstance(e.get("from"), date) or not e.get("source"):
                    raise ValueError(
                        f"{path}: every [[{name}]] entry needs a `from` date and a "
                        f"`source`; got {e}"
                    )
            if name == "trading_week" and not all(
                e.get("weekdays") and set(e["weekdays"]) <= set(WEEKDAYS) for e in entries
            ):
                raise ValueError(
                    f"{path}: every [[trading_week]] entry needs `weekdays`, a list of "
                    f"{', '.join(WEEKDAYS)}"
                )
            froms = [e["from"] for e in entries]
            if froms != sorted(froms) or len(set(froms)) != len(froms):
                raise ValueError(f"{path}: [[{name}]] entries must have increasing `from` dates")
            tables[name] = tuple(entries)
        return cls(tables=tables)

    def entry(self, table: str, day: date) -> dict[str, Any]:
        """The entry of `table` in force on `day` (the first entry for earlier days)."""
        entries = self.tables[table]
        i = bisect.bisect_right([e["from"] for e in entries], day) - 1
        return entries[max(i, 0)]

    def changes(self, table: str) -> list[date]:
        """The dates on which `table` changed (every `from` after the first)."""
        return [e["from"] for e in self.tables[table][1:]]

    def periods(self, table: str, key: str) -> tuple[tuple[date, Any], ...]:
        """(from, value of `key`) of every entry of `table`, oldest first."""
        return tuple((e["from"], e[key]) for e in self.tables[table])

    # --- questions the project asks --------------------------------------------------------
    def trading_weekdays(self, day: date) -> frozenset[int]:
        """Weekdays (Monday=0) NEPSE traded on in the week pattern in force on `day`."""
        return frozenset(WEEKDAYS[w] for w in self.entry("trading_week", day)["weekdays"])

    def close_time(self, day: date) -> time:
        """When `day`'s continuous session ends, Asia/Kathmandu wall-clock time (the day's
        closes are final only after it)."""
        return time.fromisoformat(self.entry("session", day)["continuous"].split("-")[1])

    def price_limit(self, day: date) -> float:
        """Per-stock daily price limit (fraction of the previous close) in force on `day`."""
        return float(self.entry("price_limit", day)["limit"])

    def settlement_days(self, day: date) -> int:
        """Settlement cycle in trading days for a trade on `day` (2 = T+2)."""
        return int(self.entry("settlement", day)["days"])

    def commission_rate(self, day: date, value: float) -> float:
        """Broker commission rate for one equity trade of `value` rupees on `day`."""
        for upto, rate in self.entry("commission", day)["brackets"]:
            if value <= upto:
                return float(rate)
        return float(self.entry("commission", day)["brackets"][-1][1])

    def sebon_fee(self, day: date) -> float:
        """SEBON transaction fee (fraction of trade value) on `day`."""
        return float(self.entry("sebon_fee", day)["rate"])

    def dp_charge(self, day: date, side: Literal["buy", "sell"] = "sell") -> float:
        """Depository charge in rupees per scrip per day on `side` (0 where that side pays none)."""
        e = self.entry("dp_charge", day)
        return float(e["per_scrip_per_day"]) if e["side"] in ("both", side) else 0.0

    def min_commission(self, day: date) -> float:
        """The least broker commission of one equity trade on `day`, in rupees."""
        return float(self.entry("min_commission", day)["rupees"])

    def board_lot(self, day: date) -> int:
        """Shares in one board lot of an equity on `day` (orders trade whole lots)."""
        return int(self.entry("board_lot", day)["shares"])

    def cgt_rate(self, day: date, *, held_days: int, investor: Investor = "individual") -> float:
        """Capital-gains tax rate on a sale on `day` of shares held `held_days` calendar days."""
        e = self.entry("capital_gains_tax", day)
        if investor == "institution":
            return float(e["institution"])
        return float(
            e["individual_long" if held_days >= e["long_after_days"] else "individual_short"]
        )

    # --- as Polars expressions, for frame steps ----------------------------------------------
    def piecewise(self, table: str, key: str, day: pl.Expr) -> pl.Expr:
        """`table`'s numeric `key` in force on the dates of `day`, as one expression."""
        (_, first), *later = self.periods(table, key)
        expr = pl.lit(float(first))
        for start, value in later:
            expr = pl.when(day >= pl.lit(start)).then(pl.lit(float(value))).otherwise(expr)
        return expr

    def price_limit_expr(self, day: str = "date") -> pl.Expr:
        """The price limit in force on each row's `day` column."""
        return self.piecewise("price_limit", "limit", pl.col(day))

    def describe(self) -> list[dict[str, Any]]:
        """Every entry flattened to one row (table, from, value summary, official, source)."""
        rows = []
        for name, entries in self.tables.items():
            for e in entries:
                value = {
                    k: v for k, v in e.items() if k not in ("from", "source", "note", "official")
                }
                rows.append(
                    {
                        "table": name,
                        "from": e["from"],
                        "value": _fmt(value),
                        "official": bool(e.get("official", False)),
                        "source": e["source"],
                        "note": e.get("note", ""),
                    }
                )
        return rows


def _fmt(value: dict[str, Any]) -> str:
    def one(v: Any) -> str:
        if isinstance(v, float) and math.isinf(v):
            return "above"
        if isinstance(v, list):
            return "[" + ", ".join(one(x) for x in v) + "]"
        return str(v)

    return "; ".join(f"{k}={one(v)}" for k, v in value.items())


@lru_cache(maxsize=4)
def market_rules(path: Path = RULES_FILE) -> MarketRules:
    """The registry (read once per process)."""
    return MarketRules.from_file(path)
