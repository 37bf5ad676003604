"""Benchmark of the decision layer (issue 27): honest fills, tradeable universe, portfolio layer.

Stages (each reads the previous stage's cache under --work, default /tmp/data-decision):

- `prepare`: the market frame (nepse.portfolio.market), the universe's inputs (sessions since
  listing, 20-session mean turnover), labels and sectors of the store DB, saved as Parquet.
  The walk-forward's out-of-sample predictions come from bench/evaluate_model.py
  (`--stage walkforward --out WORK/wf-full`), run once on the store that holds both the
  ShareSansar folder and the legacy nepalstock.com export (docs/model.md).
- `claims`: the issue's measured claims, recomputed.
- `choose`: the grid of universe and portfolio settings, judged on 2019-2023 only.
- `goals`: the chosen defaults on 2019-2023 (where they were chosen) and 2024-2026
  (confirmation), the survivorship effect, the baselines; writes the section of docs/model.md.

Run: .venv/bin/python bench/decision.py DB --stage all [--work DIR]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import polars as pl  # noqa: E402

from nepse.features.labels import LABEL_COLUMNS  # noqa: E402
from nepse.model.backtest import backtest  # noqa: E402
from nepse.portfolio.policy import PortfolioConfig  # noqa: E402

CHOOSE = (date(2019, 1, 1), date(2023, 12, 31))
CONFIRM = (date(2024, 1, 1), date(2026, 12, 31))


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def prepare(db: Path, work: Path) -> None:
    """Market frame, universe inputs, labels and sectors of `db`, as Parquet under `work`."""
    from nepse.features.adjust import adjust_prices
    from nepse.features.panel import build_panel, calendar_of
    from nepse.portfolio.market import market_frame
    from nepse.portfolio.universe import add_tradeable, listing_dates
    from nepse.settings import load_settings
    from nepse.store import open_store

    t = time.perf_counter()
    s = load_settings(db_path=db)
    with open_store(db, read_only=True) as st:
        prices = st.prices()
        actions = st.corporate_actions()
        securities = st.securities()
        days = calendar_of(st).days
        panel = build_panel(st, s, start=date(2018, 6, 1))
    market = market_frame(adjust_prices(prices.lazy(), actions, settings=s)).collect()
    inputs = add_tradeable(
        market.lazy().select("symbol", "date", "turnover"),
        sessions=list(days),
        listed=listing_dates(prices.lazy()),
        min_sessions=0,
        min_turnover=0.0,
    ).select("symbol", "date", "sessions_listed", "turnover_mean")
    work.mkdir(parents=True, exist_ok=True)
    market.write_parquet(work / "market.parquet")
    inputs.collect().write_parquet(work / "universe.parquet")
    panel.frame.select("date", "symbol", *LABEL_COLUMNS.values()).write_parquet(
        work / "labels.parquet"
    )
    securities.select("symbol", "sector").write_parquet(work / "sectors.parquet")
    print(f"prepare: {time.perf_counter() - t:.1f} s, load {_load()}", flush=True)


class Data:
    """The cached inputs of one store."""

    def __init__(self, work: Path, preds: Path) -> None:
        self.market = pl.read_parquet(work / "market.parquet")
        self.universe = pl.read_parquet(work / "universe.parquet")
        self.labels = pl.read_parquet(work / "labels.parquet")
        sec = pl.read_parquet(work / "sectors.parquet").drop_nulls()
        self.sectors = dict(zip(sec["symbol"], sec["sector"], strict=True))
        self.preds = pl.read_parquet(preds)

    def scores(self, model: str = "lightgbm", *, min_sessions: int, min_turnover: float):
        """(date, symbol, pred_ret, tradeable) of `model`."""
        sc = self.preds.filter(pl.col("model") == model).select("date", "symbol", "pred_ret")
        return sc.join(self.universe, on=["date", "symbol"], how="left").with_columns(
            tradeable=(
                (pl.col("sessions_listed") >= min_sessions)
                & (pl.col("turnover_mean") >= min_turnover)
            ).fill_null(False)
        )


def run(data: Data, config: PortfolioConfig, *, model="lightgbm", nmin=60, floor=2e6, sector=True):
    """One backtest over the whole test period."""
    sc = data.scores(model, min_sessions=nmin, min_turnover=floor)
    return backtest(sc, data.market, config=config, sectors=data.sectors if sector else None)


def period(res, start: date, end: date) -> dict[str, Any]:
    """The summary of `res` on start..end only."""
    from nepse.model.backtest import summarize

    d = res.daily.filter(pl.col("date").is_between(start, end))
    return summarize(d, res.trades)


def main() -> None:
    """Command line: see the module docstring."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("db", type=Path)
    p.add_argument("--work", type=Path, default=Path("/tmp/data-decision/cache-full"))
    p.add_argument(
        "--preds", type=Path, default=Path("/tmp/data-decision/wf-full/predictions.parquet")
    )
    p.add_argument("--stage", default="prepare")
    args = p.parse_args()
    if args.stage in ("prepare", "all"):
        prepare(args.db, args.work)


if __name__ == "__main__":
    main()
