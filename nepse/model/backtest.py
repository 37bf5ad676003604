"""A NEPSE backtest of a daily signal: the portfolio layer and the honest fills, session by session.

The backtest is the paper ledger run over the past: every session it fills the orders made after
the previous close (nepse.portfolio.session: bonus shares, sales, buys; the fill model of
nepse.portfolio.fills; every cost of nepse.portfolio.costs), marks the holdings at the close, and,
when the day has scores, lets the portfolio layer (nepse.portfolio.policy) decide and writes the
next session's orders (nepse.portfolio.orders). Only symbols flagged `tradeable` on the scoring
day (nepse.features.universe) are ranked; holdings are marked and sold whatever their flag.

`ret_gross` adds the costs back (NAV had no cost been paid; the costs are not reinvested), so
gross = net + cost drag exactly. Benchmarks on the same sessions: the equal-weighted universe
(mean adjusted close-to-close return of every scored symbol that traded, rebalanced daily at
closes at no cost), the same over the tradeable symbols, and a turnover-weighted market proxy
(weights: each symbol's turnover on its previous row).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

import numpy as np
import polars as pl

from nepse.market.rules import MarketRules, market_rules
from nepse.portfolio.benchmark import benchmarks
from nepse.portfolio.book import Book
from nepse.portfolio.fills import FillModel
from nepse.portfolio.market import MarketDays
from nepse.portfolio.orders import Order
from nepse.portfolio.policy import PortfolioConfig
from nepse.portfolio.step import step

BacktestConfig = PortfolioConfig
"""The backtest is configured by the portfolio layer's settings."""


@dataclass
class BacktestResult:
    """Daily series and summary of one backtest."""

    daily: pl.DataFrame
    """date, equity, ret, equity_gross, ret_gross, traded, costs, n_held, invested, bench_ew,
    bench_ew_tradeable, bench_tw, excess_ew, excess_tw."""
    trades: pl.DataFrame
    """date, symbol, side, ordered, shares, price, value, cost, filled, reason."""
    summary: dict[str, Any] = field(default_factory=dict)

    def gross(self) -> BacktestResult:
        """The same run with the costs added back (ret = ret_gross)."""
        d = self.daily.with_columns(
            equity=pl.col("equity_gross"),
            ret=pl.col("ret_gross"),
            costs=pl.lit(0.0),
            excess_ew=pl.col("ret_gross") - pl.col("bench_ew").fill_null(0.0),
            excess_tw=pl.col("ret_gross") - pl.col("bench_tw").fill_null(0.0),
        )
        return BacktestResult(daily=d, trades=self.trades, summary=summarize(d, self.trades))


def _ranked(scores: pl.DataFrame, score: str) -> dict[date, list[str]]:
    eligible = scores.filter(pl.col("tradeable")) if "tradeable" in scores.columns else scores
    by_day = (
        eligible.sort(["date", score, "symbol"], descending=[False, True, False])
        .group_by("date", maintain_order=True)
        .agg("symbol")
    )
    return dict(zip(by_day["date"].to_list(), by_day["symbol"].to_list(), strict=True))


def backtest(
    scores: pl.DataFrame,
    market: pl.DataFrame,
    *,
    config: PortfolioConfig = PortfolioConfig(),
    score: str = "pred_ret",
    sectors: dict[str, str] | None = None,
    rules: MarketRules | None = None,
    universe: pl.DataFrame | None = None,
) -> BacktestResult:
    """Trade the scores (date, symbol, `score`[, tradeable]) over the `market` frame's sessions.

    `universe` (date, symbol[, tradeable]): the equities the benchmarks average each day when
    the scores cover fewer (a walk-forward trained and scored on the tradeable universe only);
    default: the scores' own rows.
    """
    r = rules or market_rules()
    if config.top_k < 1:
        raise ValueError("top_k must be >= 1")
    scores = scores.filter(pl.col(score).is_not_null() & pl.col(score).is_not_nan())
    first = scores.get_column("date").min()
    days = sorted(market.filter(pl.col("date") >= first).get_column("date").unique().to_list())
    if len(days) < 2:
        raise ValueError("backtest needs at least two market sessions from the first score on")
    symbols = scores.get_column("symbol").unique()
    md = MarketDays(
        market.filter(pl.col("symbol").is_in(symbols.implode())), entry=config.entry, days=days
    )
    ranked = _ranked(scores, score)
    model = FillModel(turnover_share=config.turnover_share, lot=r.board_lot(days[0]))
    book = Book(cash=config.capital)
    orders: list[Order] = []
    rows: list[dict[str, Any]] = []
    trades: list[dict[str, Any]] = []
    for i, d in enumerate(days):
        n_orders = len(orders)
        out = step(
            book, orders, md, i, no=md.session.__getitem__,
            previous=days[i - 1] if i else None, ranked=ranked.get(d),
            config=config, model=model, rules=r, sectors=sectors,
        )  # fmt: skip
        book, orders = out.book, out.to_send
        trades.extend(asdict(t) for t in out.trades)
        rows.append(
            {
                "date": d,
                "equity": out.equity,
                "costs_paid": book.costs_paid,
                "traded": sum(t.value for t in out.trades),
                "costs": sum(t.cost for t in out.trades),
                "n_orders": n_orders,
                "n_held": len(book.symbols()),
                "invested": 1 - book.cash / out.equity if out.equity > 0 else 0.0,
            }
        )
    bench_rows = scores if universe is None else universe
    daily = _daily(pl.DataFrame(rows), market, bench_rows, days, config.capital)
    trade_frame = pl.DataFrame(trades, schema=TRADE_SCHEMA).with_columns(
        filled=pl.col("shares") > 0
    )
    return BacktestResult(daily=daily, trades=trade_frame, summary=summarize(daily, trade_frame))


TRADE_SCHEMA = {
    "date": pl.Date,
    "symbol": pl.String,
    "side": pl.String,
    "ordered": pl.Float64,
    "shares": pl.Float64,
    "price": pl.Float64,
    "value": pl.Float64,
    "cost": pl.Float64,
    "reason": pl.String,
}


def _daily(rows: pl.DataFrame, market, scores, days, capital) -> pl.DataFrame:
    prev = pl.col("equity").shift(1, fill_value=capital)
    prev_gross = (pl.col("equity") + pl.col("costs_paid")).shift(1, fill_value=capital)
    d = rows.with_columns(
        ret=pl.col("equity") / prev - 1,
        equity_gross=pl.col("equity") + pl.col("costs_paid"),
        ret_gross=(pl.col("equity") + pl.col("costs_paid")) / prev_gross - 1,
    ).join(benchmarks(market, scores, days), on="date", how="left")
    return d.with_columns(
        excess_ew=pl.col("ret") - pl.col("bench_ew").fill_null(0.0),
        excess_tw=pl.col("ret") - pl.col("bench_tw").fill_null(0.0),
    ).slice(1)  # the first session only places orders


def summarize(daily: pl.DataFrame, trades: pl.DataFrame) -> dict[str, Any]:
    """Annualised return, excess (net and gross), IR, t of daily excess, drawdown, turnover,
    fill rate, cost drag."""
    n = daily.height
    if n == 0:
        return {"n_days": 0}
    span_years = max((daily["date"][-1] - daily["date"][0]).days / 365.25, 1e-9)
    per_year = n / span_years if n > 1 else 240.0
    out: dict[str, Any] = {"n_days": n, "sessions_per_year": round(per_year, 1)}
    ret = daily["ret"].to_numpy()
    out["total_return"] = float(np.prod(1 + ret) - 1)
    out["annual_return"] = float((1 + out["total_return"]) ** (1 / span_years) - 1)
    for b in ("ew", "tw"):
        x = daily[f"excess_{b}"].to_numpy()
        sd = float(np.std(x, ddof=1)) if n > 1 else math.nan
        bench = daily[f"bench_{b}"].fill_null(0.0).to_numpy()
        out[f"bench_{b}_annual"] = float(np.prod(1 + bench) ** (1 / span_years) - 1)
        out[f"excess_{b}_annual"] = float(np.mean(x) * per_year)
        out[f"ir_{b}"] = float(np.mean(x) / sd * math.sqrt(per_year)) if sd > 0 else None
        out[f"t_{b}"] = float(np.mean(x) / sd * math.sqrt(n)) if sd > 0 else None
    if "ret_gross" in daily.columns:
        g = daily["ret_gross"].to_numpy() - daily["bench_ew"].fill_null(0.0).to_numpy()
        sd = float(np.std(g, ddof=1)) if n > 1 else math.nan
        out["gross_excess_ew_annual"] = float(np.mean(g) * per_year)
        out["t_gross_ew"] = float(np.mean(g) / sd * math.sqrt(n)) if sd > 0 else None
    equity = daily["equity"].to_numpy()
    peak = np.maximum.accumulate(equity)
    out["max_drawdown"] = float(np.min(equity / peak - 1))
    avg_equity = float(np.mean(equity))
    out["turnover_daily"] = float(daily["traded"].sum() / n / avg_equity)
    out["cost_drag_annual"] = float(daily["costs"].sum() / n / avg_equity * per_year)
    wanted = trades.filter(pl.col("date").is_between(daily["date"][0], daily["date"][-1]))
    out["fill_rate"] = float(wanted["filled"].mean()) if wanted.height else None
    out["n_trades"] = int(wanted["filled"].sum()) if wanted.height else 0
    out["mean_held"] = float(daily["n_held"].mean())
    out["mean_invested"] = float(daily["invested"].mean())
    return out
