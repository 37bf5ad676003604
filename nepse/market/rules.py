"""The dated NEPSE market-rules registry: which rule was in force on a given date.

The rules are data (`rules.toml` beside this module, one source per entry); this module only
reads them and answers "rule in force on day d". The calendar's weekday extrapolation, the data
quality price limit, the tradeable labels, the trading costs and the backtest all ask it.
"""

from __future__ import annotations

import bisect
import math
import tomllib
from dataclasses import dataclass
from datetime import date
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

    # --- questions the project asks --------------------------------------------------------
    def trading_weekdays(self, day: date) -> frozenset[int]:
        """Weekdays (Monday=0) NEPSE traded on in the week pattern in force on `day`."""
        return frozenset(WEEKDAYS[w] for w in self.entry("trading_week", day)["weekdays"])

    def session(self, day: date) -> tuple[str, str]:
        """Continuous session (start, end) as HH:MM in Asia/Kathmandu time."""
        start, end = self.entry("session", day)["continuous"].split("-")
        return start, end

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
        entries = self.tables[table]
        expr = pl.lit(float(entries[0][key]))
        for e in entries[1:]:
            expr = pl.when(day >= pl.lit(e["from"])).then(pl.lit(float(e[key]))).otherwise(expr)
        return expr

    def price_limit_expr(self, day: str = "date") -> pl.Expr:
        """The price limit in force on each row's `day` column."""
        return self.piecewise("price_limit", "limit", pl.col(day))

    def commission_expr(self, day: pl.Expr, value: pl.Expr) -> pl.Expr:
        """Broker commission rate of each row's trade `value` on its `day`."""
        entries = self.tables["commission"]
        out: pl.Expr = pl.lit(None, pl.Float64)
        for i, e in enumerate(entries):
            rate: pl.Expr = pl.lit(float(e["brackets"][-1][1]))
            for upto, r in reversed(e["brackets"][:-1]):
                rate = pl.when(value <= upto).then(pl.lit(float(r))).otherwise(rate)
            in_force = day >= pl.lit(e["from"]) if i else pl.lit(True)
            out = pl.when(in_force).then(rate).otherwise(out)
        return out

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
