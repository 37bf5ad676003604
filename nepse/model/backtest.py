"""A NEPSE backtest of a daily signal: long only, top k, next-session fills, T+2, real costs.

Rules (every number from the dated registry nepse/market/rules.toml unless a setting):

- The score of day t is known after t's close. Orders go to session t+1 and fill at its close or
  VWAP (`entry`): the first price anyone could trade at.
- Target: the `top_k` best scores of day t, equal weight (equity at t's close / k). With
  hysteresis (`keep_k` > top_k) a holding is kept while it ranks within the top `keep_k`.
- A holding is sold only once settled: bought in session s, sold from session s + T (T+2),
  and not before `min_hold` sessions if that is longer.
- No fill where the symbol has no trade in session t+1, or is locked at its upper price limit
  (a close entry: it closed at the limit; a VWAP entry: it traded only at the limit). No exit
  where it has no trade or is locked at its lower limit: the position is carried to the next
  session and marked at its last price meanwhile.
- A trade takes at most `max_turnover_share` of the stock's turnover that session (a buy is
  filled partly and topped up on later sessions while the stock stays in the top k; a sale
  leaves the rest for the next session).
- Costs of every trade by value and date (nepse/model/costs.py): commission, SEBON fee, DP
  charge per scrip per selling day, capital-gains tax per sale on its net gain.
- Simplification: sale proceeds can fund buys in the same session (brokers lend against them);
  cash earns nothing.

Benchmarks on the same sessions: the equal-weighted universe (mean close-to-close return of the
scored symbols that traded both days) and a turnover-weighted market proxy (weights: each
symbol's turnover the session before).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

import numpy as np
import polars as pl

from nepse.market.rules import Investor, MarketRules, market_rules
from nepse.model.costs import buy_cost, sell_cost

LIMIT_SLACK = 0.002
"""A move within this of the price limit counts as at the limit (tick rounding)."""
TOPUP_SHARE = 0.2
"""A held top-k position is topped up when it is short of its target by more than this share."""
Entry = Literal["close", "vwap"]


@dataclass(frozen=True)
class BacktestConfig:
    """How the portfolio trades (defaults: the Settings' backtest_* fields)."""

    top_k: int = 20
    keep_k: int = 40
    capital: float = 10_000_000.0
    max_turnover_share: float = 0.10
    entry: Entry = "vwap"
    investor: Investor = "individual"
    costs: bool = True
    min_hold: int = 0
    """Sessions a holding is kept at least (0: only until it settles)."""

    @classmethod
    def from_settings(cls, settings: Any, **override: Any) -> BacktestConfig:
        """The Settings' backtest fields (entry from the label: close for next_close)."""
        entry: Entry = "close" if settings.label == "next_close" else "vwap"
        values = {
            "top_k": settings.backtest_top_k,
            "keep_k": settings.backtest_keep_k,
            "capital": settings.backtest_capital,
            "max_turnover_share": settings.backtest_max_turnover_share,
            "entry": entry,
            "investor": settings.backtest_investor,
        }
        return cls(**{**values, **override})


@dataclass
class BacktestResult:
    """Daily series and summary of one backtest."""

    daily: pl.DataFrame
    """date, equity, ret, bench_ew, bench_tw, excess_ew, excess_tw, traded, costs, n_held,
    invested (share of equity in positions)."""
    trades: pl.DataFrame
    """date, symbol, side, value, cost, filled (False: wanted but not filled), reason."""
    summary: dict[str, Any] = field(default_factory=dict)


def market_frame(adjusted: pl.DataFrame, rules: MarketRules | None = None) -> pl.DataFrame:
    """Per (symbol, date): adjusted close and VWAP, rupee turnover, limit locks, traded flag.

    `adjusted` has symbol, date, adj_close, adj_high, adj_low, adj_factor, volume, turnover
    (nepse.features.adjust.adjust_prices output).
    """
    r = rules or market_rules()
    limit = r.price_limit_expr("date")
    prev = pl.col("adj_close").shift(1).over("symbol", order_by="date")
    vol, turnover = pl.col("volume").fill_null(0.0), pl.col("turnover").fill_null(0.0)
    traded = (vol > 0) & (turnover > 0)
    vwap = pl.when(traded).then(turnover / vol * pl.col("adj_factor")).otherwise(None)
    return (
        adjusted.lazy()
        .select("symbol", "date", "adj_close", "adj_high", "adj_low", "adj_factor", vol, turnover)
        .with_columns(_prev=prev, _limit=limit, traded=traded, adj_vwap=vwap)
        .with_columns(
            up_close=pl.col("adj_close") / pl.col("_prev") - 1 >= pl.col("_limit") - LIMIT_SLACK,
            down_close=pl.col("adj_close") / pl.col("_prev") - 1 <= -pl.col("_limit") + LIMIT_SLACK,
            up_all=pl.col("adj_low") / pl.col("_prev") - 1 >= pl.col("_limit") - LIMIT_SLACK,
            down_all=pl.col("adj_high") / pl.col("_prev") - 1 <= -pl.col("_limit") + LIMIT_SLACK,
        )
        .with_columns(pl.col("up_close", "down_close", "up_all", "down_all").fill_null(False))
        .select(
            "symbol",
            "date",
            "adj_close",
            "adj_vwap",
            "turnover",
            "traded",
            "up_close",
            "down_close",
            "up_all",
            "down_all",
        )
        .collect()
    )


def _matrix(frame: pl.DataFrame, col: str, days: list[date], symbols: list[str]) -> np.ndarray:
    wide = (
        frame.select("date", "symbol", col)
        .pivot(on="symbol", index="date", values=col)
        .join(pl.DataFrame({"date": days}, schema={"date": pl.Date}), on="date", how="right")
    )
    out = np.full((len(days), len(symbols)), np.nan)
    for j, s in enumerate(symbols):
        if s in wide.columns:
            out[:, j] = wide.get_column(s).cast(pl.Float64).to_numpy()
    return out


def backtest(
    scores: pl.DataFrame,
    market: pl.DataFrame,
    *,
    config: BacktestConfig = BacktestConfig(),
    score: str = "pred_ret",
    rules: MarketRules | None = None,
) -> BacktestResult:
    """Run the daily top-k strategy of `scores` (date, symbol, score) over `market` sessions."""
    r = rules or market_rules()
    if config.top_k < 1:
        raise ValueError("top_k must be >= 1")
    keep_k = max(config.keep_k, config.top_k)
    scores = scores.filter(pl.col(score).is_not_null() & pl.col(score).is_not_nan())
    symbols = sorted(scores.get_column("symbol").unique().to_list())
    first = scores.get_column("date").min()
    days = sorted(market.filter(pl.col("date") >= first).get_column("date").unique().to_list())
    if len(days) < 2:
        raise ValueError("backtest needs at least two market sessions from the first score on")
    mkt = market.filter(pl.col("symbol").is_in(symbols) & pl.col("date").is_in(days))
    close = _matrix(mkt, "adj_close", days, symbols)
    price = _matrix(mkt, "adj_close" if config.entry == "close" else "adj_vwap", days, symbols)
    turnover = np.nan_to_num(_matrix(mkt, "turnover", days, symbols))
    traded = np.nan_to_num(_matrix(mkt, "traded", days, symbols)) > 0
    up = (
        np.nan_to_num(
            _matrix(mkt, "up_close" if config.entry == "close" else "up_all", days, symbols)
        )
        > 0
    )
    down = (
        np.nan_to_num(
            _matrix(mkt, "down_close" if config.entry == "close" else "down_all", days, symbols)
        )
        > 0
    )
    sc = _matrix(scores.rename({score: "_s"}), "_s", days, symbols)
    last = close.copy()  # last known close, for marking carried positions
    for i in range(1, len(days)):
        last[i] = np.where(np.isnan(last[i]), last[i - 1], last[i])

    cash = config.capital
    units: dict[int, float] = {}  # symbol index -> units (adjusted-price shares)
    basis: dict[int, float] = {}  # rupee cost basis incl. buy costs
    bought: dict[int, tuple[int, date]] = {}  # session index and date of the latest buy
    rows: list[dict[str, Any]] = []
    trades: list[dict[str, Any]] = []
    equity_prev = config.capital

    def mark(i: int) -> float:
        return cash + sum(u * last[i, j] for j, u in units.items() if not np.isnan(last[i, j]))

    for i, d in enumerate(days):
        traded_value = costs_paid = 0.0
        if i > 0 and not np.all(np.isnan(sc[i - 1])):
            s = sc[i - 1]
            order = np.argsort(-np.nan_to_num(s, nan=-np.inf))
            n_scored = int(np.sum(~np.isnan(s)))
            rank = np.empty(len(s), dtype=int)
            rank[order] = np.arange(len(s))
            target_value = equity_prev / config.top_k
            settle = r.settlement_days(d)
            # Sales: holdings that fell out of the top keep_k, once settled and sellable.
            for j in list(units):
                if rank[j] < keep_k and not np.isnan(s[j]):
                    continue
                if i - bought[j][0] < max(settle, config.min_hold):
                    continue
                if not traded[i, j] or down[i, j] or np.isnan(price[i, j]):
                    trades.append(
                        _t(
                            d,
                            symbols[j],
                            "sell",
                            0.0,
                            0.0,
                            False,
                            "no trade" if not traded[i, j] else "lower-limit lock",
                        )
                    )
                    continue
                value = units[j] * price[i, j]
                sell = min(value, config.max_turnover_share * turnover[i, j])
                share = sell / value
                cost = 0.0
                if config.costs:
                    cost = sell_cost(
                        sell,
                        d,
                        basis=basis[j] * share,
                        held_days=(d - bought[j][1]).days,
                        investor=config.investor,
                        rules=r,
                    ).total
                cash += sell - cost
                traded_value += sell
                costs_paid += cost
                trades.append(
                    _t(
                        d,
                        symbols[j],
                        "sell",
                        sell,
                        cost,
                        True,
                        "" if share >= 1 else "turnover cap",
                    )
                )
                if share >= 1 - 1e-12:
                    del units[j], basis[j], bought[j]
                else:
                    units[j] *= 1 - share
                    basis[j] *= 1 - share
            # Buys: the best-ranked symbols not held, into the free slots; holdings in the top
            # k that are well under target (a capped fill earlier) are topped up.
            free = config.top_k - len(units)
            for j in order[: min(config.top_k, n_scored)]:
                held = j in units
                want = target_value
                if held:
                    want -= units[j] * (last[i - 1, j] if i > 0 else price[i, j])
                    if want < TOPUP_SHARE * target_value:
                        continue
                elif free <= 0:
                    continue
                if not traded[i, j] or up[i, j] or np.isnan(price[i, j]):
                    why = "no trade" if not traded[i, j] else "upper-limit lock"
                    trades.append(_t(d, symbols[j], "buy", 0.0, 0.0, False, why))
                    continue
                value = min(want, config.max_turnover_share * turnover[i, j], cash)
                if value <= 0:
                    break
                cost = buy_cost(value, d, rules=r).total if config.costs else 0.0
                if value + cost > cash:
                    value = cash / (1 + cost / value)
                    cost = buy_cost(value, d, rules=r).total if config.costs else 0.0
                cash -= value + cost
                units[j] = units.get(j, 0.0) + value / price[i, j]
                basis[j] = basis.get(j, 0.0) + value + cost
                # Conservative: a top-up restarts the settlement (and tax) clock of the holding.
                bought[j] = (i, d)
                traded_value += value
                costs_paid += cost
                free -= 0 if held else 1
                why = "top-up" if held else ("" if value >= want * (1 - 1e-9) else "partial")
                trades.append(_t(d, symbols[j], "buy", value, cost, True, why))
        equity = mark(i)
        invested = 1 - cash / equity if equity > 0 else 0.0
        rows.append(
            {
                "date": d,
                "equity": equity,
                "ret": equity / equity_prev - 1 if i > 0 else 0.0,
                "traded": traded_value,
                "costs": costs_paid,
                "n_held": len(units),
                "invested": invested,
            }
        )
        equity_prev = equity
    daily = pl.DataFrame(rows).join(benchmarks(mkt, days), on="date", how="left")
    daily = daily.with_columns(
        excess_ew=pl.col("ret") - pl.col("bench_ew").fill_null(0.0),
        excess_tw=pl.col("ret") - pl.col("bench_tw").fill_null(0.0),
    ).slice(1)  # the first session only places orders
    trade_frame = pl.DataFrame(
        trades,
        schema={
            "date": pl.Date,
            "symbol": pl.String,
            "side": pl.String,
            "value": pl.Float64,
            "cost": pl.Float64,
            "filled": pl.Boolean,
            "reason": pl.String,
        },
    )
    return BacktestResult(daily=daily, trades=trade_frame, summary=summarize(daily, trade_frame))


def _t(d: date, sym: str, side: str, value: float, cost: float, filled: bool, reason: str):
    return {
        "date": d,
        "symbol": sym,
        "side": side,
        "value": value,
        "cost": cost,
        "filled": filled,
        "reason": reason,
    }


def benchmarks(market: pl.DataFrame, days: list[date]) -> pl.DataFrame:
    """Equal-weighted and previous-turnover-weighted close-to-close returns per session."""
    m = (
        market.filter(pl.col("date").is_in(days))
        .sort("symbol", "date")
        .with_columns(
            _ret=(pl.col("adj_close") / pl.col("adj_close").shift(1) - 1).over("symbol"),
            _w=pl.col("turnover").shift(1).over("symbol"),
        )
        .filter(pl.col("_ret").is_not_null() & pl.col("_ret").is_finite())
    )
    return m.group_by("date").agg(
        bench_ew=pl.col("_ret").mean(),
        bench_tw=(pl.col("_ret") * pl.col("_w")).sum() / pl.col("_w").sum(),
    )


def summarize(daily: pl.DataFrame, trades: pl.DataFrame) -> dict[str, Any]:
    """Annualised return, excess, IR, t of daily excess, drawdown, turnover, fill rate, costs."""
    n = daily.height
    if n == 0:
        return {"n_days": 0}
    span_years = max((daily["date"][-1] - daily["date"][0]).days / 365.25, 1e-9)
    per_year = n / span_years if n > 1 else 240.0
    out: dict[str, Any] = {"n_days": n, "sessions_per_year": round(per_year, 1)}
    ret = daily["ret"].to_numpy()
    equity = daily["equity"].to_numpy()
    out["total_return"] = float(equity[-1] / (equity[0] / (1 + ret[0])) - 1)
    out["annual_return"] = float((1 + out["total_return"]) ** (1 / span_years) - 1)
    for b in ("ew", "tw"):
        x = daily[f"excess_{b}"].to_numpy()
        sd = float(np.std(x, ddof=1)) if n > 1 else math.nan
        bench = daily[f"bench_{b}"].fill_null(0.0).to_numpy()
        out[f"bench_{b}_annual"] = float(np.prod(1 + bench) ** (1 / span_years) - 1)
        out[f"excess_{b}_annual"] = float(np.mean(x) * per_year)
        out[f"ir_{b}"] = float(np.mean(x) / sd * math.sqrt(per_year)) if sd > 0 else None
        out[f"t_{b}"] = float(np.mean(x) / sd * math.sqrt(n)) if sd > 0 else None
    peak = np.maximum.accumulate(equity)
    out["max_drawdown"] = float(np.min(equity / peak - 1))
    avg_equity = float(np.mean(equity))
    out["turnover_daily"] = float(daily["traded"].sum() / n / avg_equity)
    out["cost_drag_annual"] = float(daily["costs"].sum() / n / avg_equity * per_year)
    wanted = trades.height
    out["fill_rate"] = float(trades["filled"].sum() / wanted) if wanted else None
    out["n_trades"] = int(trades["filled"].sum()) if wanted else 0
    out["mean_held"] = float(daily["n_held"].mean())
    out["mean_invested"] = float(daily["invested"].mean())
    return out
