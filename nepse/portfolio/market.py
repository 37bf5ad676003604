"""What the decision layer sees of the market: one row per (symbol, session), and as arrays.

`market_frame` is a pure step on adjusted prices (nepse.features.adjust.adjust_prices): the raw
close and VWAP a trade fills at, the session's turnover, whether the close sat at the upper or
lower price limit in force (nepse/market/rules.toml, on the adjusted close-to-close move, so an
ex-date is not a limit day), the adjusted return, and `split`: the factor by which a holding's
share count changes on that row (a bonus issue's 1 + B %; on a break, a move beyond the limit no
recorded action explains, the factor that keeps the holding's value unchanged, since no return
is computed across a break). Holdings are kept in real shares at raw prices, so a past day's
ledger never changes when a later corporate action rescales adjusted prices.

`MarketDays` holds the frame as (session x symbol) arrays for the day loop of the backtest and
of the paper ledger.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from nepse.market.rules import MarketRules, market_rules

LIMIT_SLACK = 0.002
"""A close within this of the price limit counts as at the limit (tick rounding)."""
STALE_SESSIONS = 20
"""A stock without a trade for this many sessions has stopped trading (merged, delisted or
suspended): a sale of it is settled at its last close (nepse.portfolio.fills)."""
COLUMNS = (
    "symbol",
    "date",
    "close",
    "vwap",
    "adj_close",
    "turnover",
    "traded",
    "up_close",
    "down_close",
    "ret",
    "split",
)


def market_frame(adjusted: pl.LazyFrame, rules: MarketRules | None = None) -> pl.LazyFrame:
    """Per (symbol, date): raw close and VWAP, turnover, limit closes, adjusted return, split."""
    r = rules or market_rules()
    prev = pl.col("adj_close").shift(1).over("symbol", order_by="date")
    prev_f = pl.col("adj_factor").shift(1).over("symbol", order_by="date")
    vol, turnover = pl.col("volume").fill_null(0.0), pl.col("turnover").fill_null(0.0)
    brk = pl.col("is_break").fill_null(False) if "is_break" in adjusted.collect_schema() else False
    move = pl.col("adj_close") / prev - 1
    at = pl.col("_limit") - LIMIT_SLACK
    return (
        adjusted.with_columns(
            _limit=r.price_limit_expr("date"),
            _brk=brk,
            traded=(vol > 0) & (turnover > 0),
            turnover=turnover,
        )
        .with_columns(
            vwap=pl.when("traded").then(turnover / vol).otherwise(None),
            up_close=((move >= at) & ~pl.col("_brk")).fill_null(False),
            down_close=((move <= -at) & ~pl.col("_brk")).fill_null(False),
            ret=pl.when(pl.col("_brk")).then(None).otherwise(move),
            split=pl.when(pl.col("_brk"))
            .then(pl.col("adj_factor") / prev_f * prev / pl.col("adj_close"))
            .otherwise(pl.col("adj_factor") / prev_f)
            .fill_null(1.0),
        )
        .select(COLUMNS)
    )


@dataclass(frozen=True)
class Quote:
    """One symbol in one session, as a trade sees it (raw rupee prices)."""

    close: float
    """Close of the session (NaN: no trade; marks use the last known close)."""
    price: float
    """Fill price of the session: its VWAP or close (NaN: no trade)."""
    turnover: float
    traded: bool
    up_close: bool
    down_close: bool
    stale: bool = False
    """No trade for STALE_SESSIONS sessions (or none in the frame at all)."""
    last: float = float("nan")
    """The last known close (bonus shares accounted for)."""


class MarketDays:
    """The market frame as (session x symbol) arrays, sessions in date order."""

    def __init__(self, frame: pl.DataFrame, *, entry: str = "vwap", days: list[date] | None = None):
        self.days = days or sorted(frame.get_column("date").unique().to_list())
        self.session = {d: i for i, d in enumerate(self.days)}
        self.symbols = sorted(frame.get_column("symbol").unique().to_list())
        self.col = {s: j for j, s in enumerate(self.symbols)}
        f = frame.filter(pl.col("date").is_in(self.days))
        self.close = self._matrix(f, "close")
        self.price = self._matrix(f, "close" if entry == "close" else "vwap")
        self.turnover = np.nan_to_num(self._matrix(f, "turnover"))
        self.traded = np.nan_to_num(self._matrix(f, "traded")) > 0
        self.up = np.nan_to_num(self._matrix(f, "up_close")) > 0
        self.down = np.nan_to_num(self._matrix(f, "down_close")) > 0
        self.split = np.nan_to_num(self._matrix(f, "split"), nan=1.0)
        last = self.close.copy()  # the last known raw close, carried over sessions without trade
        since = np.where(np.isnan(last), len(self.days), 0)  # sessions since the last trade
        for i in range(1, len(self.days)):
            gap = np.isnan(last[i])
            last[i, gap] = last[i - 1, gap] / self.split[i, gap]
            since[i, gap] = np.minimum(since[i - 1, gap] + 1, len(self.days))
        self.last, self.since = last, since
        self._row: tuple = (-1, [], [])
        self.fallback: dict[str, float] = {}
        """Last closes of symbols without a row in the frame (the paper ledger's holdings)."""

    def _matrix(self, frame: pl.DataFrame, col: str) -> np.ndarray:
        out = np.full((len(self.days), len(self.symbols)), np.nan)
        i = frame.get_column("date").replace_strict(self.session, return_dtype=pl.Int64).to_numpy()
        j = frame.get_column("symbol").replace_strict(self.col, return_dtype=pl.Int64).to_numpy()
        out[i, j] = frame.get_column(col).cast(pl.Float64).to_numpy()
        return out

    def quote(self, i: int, symbol: str) -> Quote:
        """`symbol` in session `i` (a symbol never seen: no trade)."""
        j = self.col.get(symbol)
        if j is None:
            return Quote(math.nan, math.nan, 0.0, False, False, False, True, self.mark(i, symbol))
        if self._row[0] != i:  # session i's values as Python lists: a quote is a lookup
            arrays = (self.close, self.price, self.turnover, self.traded, self.up, self.down)
            self._row = (
                i,
                [a[i].tolist() for a in arrays],
                (self.since[i] >= STALE_SESSIONS).tolist(),
            )
        close, price, turnover, traded, up, down = (v[j] for v in self._row[1])
        last = self.last[i, j].item()
        return Quote(
            close, price, turnover, traded, up, down, self._row[2][j],
            self.fallback.get(symbol, last) if last != last else last,
        )  # fmt: skip

    def mark(self, i: int, symbol: str) -> float:
        """Last known raw close of `symbol` at session `i` (`fallback` when the frame has none;
        NaN before its first trade)."""
        j = self.col.get(symbol)
        p = self.last[i, j].item() if j is not None else math.nan
        return self.fallback.get(symbol, math.nan) if p != p else p

    def split_of(self, i: int, symbol: str) -> float:
        """Share-count factor of `symbol` on session `i` (1.0 without an action)."""
        j = self.col.get(symbol)
        return float(self.split[i, j]) if j is not None else 1.0
