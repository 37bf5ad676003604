"""Benchmark of the decision layer (issue 27): honest fills, tradeable universe, portfolio layer.

Inputs: two stores of the real data, FULL (the ShareSansar folder and the legacy nepalstock.com
export, merged by the source-aware store: the equities delisted or merged since are in) and SS
(the ShareSansar folder alone: survivors only), and out-of-sample walk-forward predictions (seed
0, 2019-01-01 on): WORK/wf-full and WORK/wf-ss (bench/evaluate_model.py `--stage walkforward`:
trained as `nepse train` trains by default, on every equity, with the baselines; on FULL and
on SS), and WORK/wf-tradeable (stage `walkforward`: trained on the tradeable universe only).

Stages (each caches under --work; `all` runs them in order):

- `prepare`: per store, the market frame (nepse.portfolio.market), the universe's inputs
  (sessions since listing, 20-session mean turnover), labels and sectors, as Parquet.
- `claims`: the issue's measured claims, recomputed on SS with the backtest as it was before
  issue 27 (nepse/model/backtest.py at commit 4ffb1d5, read from git).
- `choose`: the grid of universe and portfolio settings, judged on 2019-2023 only by the net
  excess over the equal-weighted universe, averaged over the decision weeks' phases (a cadence
  of n weeks has n possible anchor weeks; the anchor is arbitrary, so is each phase's luck).
- `goals`: the defaults of nepse/settings.py on FULL (wf-full's scores), 2019-2023 (where they
  were chosen) and 2024-2026 (confirmation) apart, beside the model trained on the tradeable
  universe only, the baselines and random scores through the same portfolio, the old default
  portfolio with honest fills, and the survivorship effect (SS vs FULL).
- `doc`: (also after any stage) the decision section of docs/model.md from the results.
- `paper`: `run_paper_day` day by day over 2025-10-01 .. 2026-03-25 on a copy of FULL with the
  walk-forward's scores stored as predictions: wall time per day, and the ledger's NAV against
  the backtest of the same scores (they must agree).
- `walkforward`: the walk-forward as `nepse train` runs it with NEPSE_UNIVERSE_TRAIN (the
  tradeable universe's rows, seed 0, 2019-01-01 on) into WORK/wf-tradeable.

Run: .venv/bin/python bench/decision.py --stage all [--work /tmp/data-decision]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import polars as pl  # noqa: E402

from nepse.features.labels import LABEL_COLUMNS  # noqa: E402
from nepse.model.backtest import backtest, summarize  # noqa: E402
from nepse.portfolio import policy  # noqa: E402
from nepse.portfolio.policy import PortfolioConfig  # noqa: E402

CHOOSE = (date(2019, 1, 1), date(2023, 12, 31))
CONFIRM = (date(2024, 1, 1), date(2026, 12, 31))
ALL = (date(2019, 1, 1), date(2026, 12, 31))
PERIODS = {"2019-2023": CHOOSE, "2024-2026": CONFIRM, "2019-2026": ALL}
UNIVERSES = ((0, 0.0), (60, 1e6), (60, 2e6), (120, 2e6))
CADENCES = (0, 1, 2, 4, 8)
KEEPS = (40, 80)
TOPS = (10, 20)
BASELINES = ("reversal", "momentum", "ridge", "random_forest")


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def prepare(db: Path, out: Path) -> None:
    """Market frame, universe inputs, labels and sectors of `db`, as Parquet under `out`."""
    from nepse.features.adjust import adjust_prices
    from nepse.features.panel import build_panel, calendar_of
    from nepse.features.universe import add_tradeable, listing_dates
    from nepse.portfolio.market import market_frame
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
    adjusted = adjust_prices(prices.lazy(), actions)
    market = market_frame(adjusted).collect()
    inputs = add_tradeable(
        market.lazy().select("symbol", "date", "turnover"),
        sessions=list(days),
        listed=listing_dates(prices.lazy()),
        min_sessions=0,
        min_turnover=0.0,
    ).select("symbol", "date", "sessions_listed", "turnover_mean")
    out.mkdir(parents=True, exist_ok=True)
    market.write_parquet(out / "market.parquet")
    inputs.collect().write_parquet(out / "universe.parquet")
    cols = ("date", "symbol", *LABEL_COLUMNS.values(), "f_ret_1")
    panel.frame.select(cols).write_parquet(out / "labels.parquet")
    securities.select("symbol", "sector").write_parquet(out / "sectors.parquet")
    # The backtest before issue 27 reads adjusted highs and lows (its limit-lock rule).
    adjusted.select(
        "symbol", "date", "adj_close", "adj_high", "adj_low", "adj_factor", "volume", "turnover"
    ).collect().write_parquet(out / "adjusted.parquet")
    print(f"prepare {db}: {time.perf_counter() - t:.1f} s, load {_load()}", flush=True)


class Data:
    """The cached inputs of one store and its walk-forward predictions."""

    def __init__(self, cache: Path, preds: Path) -> None:
        self.cache = cache
        self.market = pl.read_parquet(cache / "market.parquet")
        self.universe = pl.read_parquet(cache / "universe.parquet")
        self.labels = pl.read_parquet(cache / "labels.parquet")
        sec = pl.read_parquet(cache / "sectors.parquet").drop_nulls()
        self.sectors = dict(zip(sec["symbol"], sec["sector"], strict=True))
        self.preds = pl.read_parquet(preds).select("model", "date", "symbol", "pred_ret")
        self._joined: dict[str, pl.DataFrame] = {}
        lgb = self.preds.filter(pl.col("model") == "lightgbm")
        for seed in range(3):  # no-skill scores through the same portfolio
            noise = np.random.default_rng(seed).normal(size=lgb.height)
            rnd = lgb.with_columns(model=pl.lit(f"random{seed}"), pred_ret=pl.Series(noise))
            self.preds = pl.concat([self.preds, rnd])

    def scores(self, model: str, *, nmin: int, floor: float) -> pl.DataFrame:
        """(date, symbol, pred_ret, tradeable) of `model` for universe (nmin, floor)."""
        if model not in self._joined:
            sc = self.preds.filter(pl.col("model") == model).drop("model")
            self._joined[model] = sc.join(self.universe, on=["date", "symbol"], how="left")
        return self._joined[model].with_columns(
            tradeable=(
                (pl.col("sessions_listed") >= nmin) & (pl.col("turnover_mean") >= floor)
            ).fill_null(False)
        )


EVERY_EQUITY: dict[Path, pl.DataFrame] = {}
"""Per cache: every equity the walk-forward on every equity scored (the benchmark's universe)."""


def _every_equity(data: Data, nmin: int, floor: float) -> pl.DataFrame:
    rows = EVERY_EQUITY.get(data.cache)
    if rows is None:
        rows = pl.read_parquet(data.cache.parent / "wf-full" / "predictions.parquet")
        if data.cache.name == "cache-ss":
            rows = pl.read_parquet(data.cache.parent / "wf-ss" / "predictions.parquet")
        rows = rows.filter(pl.col("model") == "lightgbm").select("date", "symbol")
        rows = rows.join(data.universe, on=["date", "symbol"], how="left")
        EVERY_EQUITY[data.cache] = rows
    return rows.with_columns(
        tradeable=(
            (pl.col("sessions_listed") >= nmin) & (pl.col("turnover_mean") >= floor)
        ).fill_null(False)
    )


def run(data: Data, config: PortfolioConfig, *, model="lightgbm", nmin=60, floor=1e6, phase=0):
    """One backtest over the test period, its decision weeks anchored `phase` weeks later;
    the benchmarks average every equity scored, whatever rows `model` scored."""
    zero = policy.WEEK_ZERO
    policy.WEEK_ZERO = zero + timedelta(weeks=phase)
    try:
        sc = data.scores(model, nmin=nmin, floor=floor)
        return backtest(sc, data.market, config=config, sectors=data.sectors,
                        universe=_every_equity(data, nmin, floor))  # fmt: skip
    finally:
        policy.WEEK_ZERO = zero


def period(res, span: tuple[date, date]) -> dict[str, Any]:
    """Summary of `res` on the sessions of `span`, with the excess over the tradeable EW too."""
    d = res.daily.filter(pl.col("date").is_between(*span))
    s = summarize(d, res.trades)
    x = (d["ret"] - d["bench_ew_tradeable"].fill_null(0.0)).to_numpy()
    s["excess_ewt_annual"] = float(x.mean() * s["sessions_per_year"])
    s["t_ewt"] = float(x.mean() / x.std(ddof=1) * len(x) ** 0.5)
    return s


KEYS = (
    ("excess_ew_annual", "net excess vs EW universe /yr"),
    ("t_ew", "t"),
    ("excess_ewt_annual", "vs EW tradeable /yr"),
    ("excess_tw_annual", "vs market proxy /yr"),
    ("gross_excess_ew_annual", "gross excess vs EW /yr"),
    ("cost_drag_annual", "cost drag /yr"),
    ("turnover_daily", "turnover /day"),
    ("mean_invested", "invested"),
    ("fill_rate", "fill rate"),
    ("annual_return", "return /yr"),
    ("bench_ew_annual", "EW universe /yr"),
)


def _row(s: dict[str, Any]) -> dict[str, Any]:
    return {k: s.get(k) for k, _ in KEYS}


# --- claims ---------------------------------------------------------------------------------
def _old_backtest(work: Path):
    """nepse/model/backtest.py and costs.py as they were before issue 27 (from git)."""
    import importlib
    import subprocess

    old = work / "old"
    old.mkdir(parents=True, exist_ok=True)
    for src, dst in (("nepse/model/backtest.py", "old_backtest.py"),
                     ("nepse/model/costs.py", "old_costs.py")):  # fmt: skip
        text = subprocess.run(
            ["git", "show", f"4ffb1d5:{src}"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout
        text = text.replace("from nepse.model.costs import", "from old_costs import")
        text = text.replace("r.dp_charge(day)", "r.dp_charge(day, 'sell')")
        (old / dst).write_text(text)
    sys.path.insert(0, str(old))
    return importlib.import_module("old_backtest")


def claims(work: Path) -> dict[str, Any]:
    """The issue's claims, recomputed on the ShareSansar-only store and its walk-forward."""
    old = _old_backtest(work)
    cache = work / "cache-ss"
    preds = pl.read_parquet(work / "wf-ss" / "predictions.parquet")
    sc = preds.filter(pl.col("model") == "lightgbm").select("date", "symbol", "pred_ret")
    labels = pl.read_parquet(cache / "labels.parquet")
    market = old.market_frame(pl.read_parquet(cache / "adjusted.parquet"))
    res = old.backtest(sc, market, config=old.BacktestConfig())
    out: dict[str, Any] = {"old_default": {k: res.summary.get(k) for k, _ in KEYS}}
    # 1. VWAP buys in sessions that closed at the upper limit, and what they returned.
    prev = dict(zip(market["date"].unique().sort()[1:], market["date"].unique().sort()[:-1],
                    strict=False))  # fmt: skip
    buys = res.trades.filter((pl.col("side") == "buy") & pl.col("filled")).with_columns(
        t=pl.col("date").replace_strict(prev, default=None)
    )
    buys = buys.join(
        market.select("symbol", "date", "up_close", "up_all"), on=["symbol", "date"]
    ).join(labels.select("symbol", pl.col("date").alias("t"), "y_next_vwap"), on=["symbol", "t"])
    up = buys.filter("up_close")
    out["limit_up_buys"] = up.height
    out["limit_up_buys_mean_5s"] = up["y_next_vwap"].mean()
    out["other_buys"] = buys.height - up.height
    out["other_buys_mean_5s"] = buys.filter(~pl.col("up_close"))["y_next_vwap"].mean()
    span = market.filter(pl.col("date").is_between(*ALL))
    out["upper_limit_closes_2019_2026"] = int(span["up_close"].sum())
    out["whole_session_at_upper_limit_2019_2026"] = int(span["up_all"].sum())
    # 2. Round trips: sessions from the opening buy to the closing sale.
    out.update(_round_trips(res.trades, market))
    # 3. How fast the ranking moves: 5-session rank autocorrelation, weekly top-20 change.
    out.update(_score_motion(sc))
    # 4. New listings and thin names: the weekly top-10 gross excess (label terms).
    uni = pl.read_parquet(cache / "universe.parquet")
    out.update(_listing_effect(sc, labels, uni, pl.read_parquet(cache / "market.parquet")))
    return out


def _round_trips(trades: pl.DataFrame, market: pl.DataFrame) -> dict[str, Any]:
    """Sessions from a position's opening buy (and from its last buy) to the sale closing it."""
    days = market["date"].unique().sort().to_list()
    no = {d: i for i, d in enumerate(days)}
    opened: dict[str, int] = {}
    last: dict[str, int] = {}
    lengths, from_last = [], []
    for r in trades.filter("filled").sort("date").iter_rows(named=True):
        s, i = r["symbol"], no[r["date"]]
        if r["side"] == "buy":
            opened.setdefault(s, i)
            last[s] = i
        elif r["reason"] != "turnover cap" and s in opened:  # the sale that closed it
            lengths.append(i - opened.pop(s))
            from_last.append(i - last.pop(s))
    x, y = np.array(lengths), np.array(from_last)
    return {
        "round_trips": len(x),
        "round_trips_share_2_sessions": float((x == 2).mean()),
        "round_trips_share_2_sessions_from_last_buy": float((y == 2).mean()),
        "round_trips_median_sessions": float(np.median(x)),
    }


def _score_motion(sc: pl.DataFrame) -> dict[str, Any]:
    days = sc["date"].unique().sort().to_list()
    ahead = dict(zip(days[:-5], days[5:], strict=True))
    r = sc.with_columns(rk=pl.col("pred_ret").rank(descending=True).over("date"))
    later = r.select("symbol", pl.col("date").alias("d5"), pl.col("rk").alias("rk5"),
                     pl.col("pred_ret").alias("p5"))  # fmt: skip
    j = r.with_columns(d5=pl.col("date").replace_strict(ahead, default=None)).join(
        later, on=["symbol", "d5"]
    )
    ac = j.group_by("date").agg(a=pl.corr("pred_ret", "p5", method="spearman"))["a"].mean()
    top = (
        j.filter(pl.col("rk") <= 20).group_by("date").agg(changed=(pl.col("rk5") > 20).mean())
    )  # share of today's top 20 not in the top 20 five sessions later
    return {"rank_autocorr_5": ac, "top20_weekly_change": top["changed"].mean()}


def _listing_effect(sc: pl.DataFrame, labels: pl.DataFrame, uni: pl.DataFrame, market):
    """Weekly top-10 gross excess (label terms) with and without new listings; thin names."""
    from nepse.model.evaluate import daily_rank_ic, ic_summary

    j = (
        sc.join(labels, on=["date", "symbol"])
        .join(uni, on=["date", "symbol"], how="left")
        .join(market.select("symbol", "date", "turnover"), on=["date", "symbol"], how="left")
        .filter(pl.col("y_next_vwap").is_not_null())
    )
    days = j["date"].unique().sort().to_list()[::5]  # weekly, non-overlapping 5-session holds

    def top10(frame: pl.DataFrame) -> pl.DataFrame:
        f = frame.filter(pl.col("date").is_in(days)).with_columns(
            rk=pl.col("pred_ret").rank(descending=True).over("date"),
            ex=pl.col("y_next_vwap") - pl.col("y_next_vwap").mean().over("date"),
        )
        top = f.filter(pl.col("rk") <= 10)
        return top.group_by("date").agg(
            ex=pl.col("ex").mean(),
            thin_day=pl.col("ex").filter(pl.col("turnover") < 2e6).sum() / 10,
            thin_20=pl.col("ex").filter(pl.col("turnover_mean") < 2e6).sum() / 10,
        )

    full = top10(j)
    seasoned = j.filter(pl.col("sessions_listed") >= 60)
    ex = full["ex"].mean()
    return {
        "rows_in_first_60_sessions": 1 - seasoned.height / j.height,
        "top10_weekly_gross_excess": ex,
        "top10_weekly_gross_excess_without_first_60": top10(seasoned)["ex"].mean(),
        "rank_ic": ic_summary(daily_rank_ic(j, labels, "y_next_vwap"))["rank_ic"],
        "rank_ic_without_first_60": ic_summary(daily_rank_ic(seasoned, labels, "y_next_vwap"))[
            "rank_ic"
        ],
        "top10_excess_share_under_2m_that_day": full["thin_day"].mean() / ex,
        "top10_excess_share_under_2m_20d_mean": full["thin_20"].mean() / ex,
    }


# --- choose -----------------------------------------------------------------------------------
def choose(data: Data, out: Path) -> list[dict[str, Any]]:
    """The declared grid on 2019-2023, phase-averaged; rows sorted best first."""
    rows = []
    for (nmin, floor), cad, keep, k in itertools.product(UNIVERSES, CADENCES, KEEPS, TOPS):
        cfg = PortfolioConfig(top_k=k, keep_k=keep, cadence_weeks=cad, min_hold=5,
                              max_names=policy.SPREAD * k)  # fmt: skip
        runs = [period(run(data, cfg, nmin=nmin, floor=floor, phase=ph), CHOOSE)
                for ph in range(max(cad, 1))]  # fmt: skip
        row = {"nmin": nmin, "floor": floor, "cadence": cad, "keep": keep, "top_k": k}
        for key, _ in KEYS:
            vals = [r[key] for r in runs if r.get(key) is not None]
            row[key] = float(np.mean(vals)) if vals else None
        row["phase_min"] = min(r["excess_ew_annual"] for r in runs)
        row["phase_max"] = max(r["excess_ew_annual"] for r in runs)
        rows.append(row)
        print(json.dumps(row), flush=True)
    rows.sort(key=lambda r: -r["excess_ew_annual"])
    (out / "choose.json").write_text(json.dumps(rows, indent=1))
    return rows


DIMENSIONS = (("nmin", "floor"), ("cadence",), ("keep",), ("top_k",))


def pick(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The defaults, setting by setting in DIMENSIONS' order: the value whose cells lose least
    on average over the settings not yet chosen (2019-2023), among the cells of the values
    already chosen. One cell's lead over its neighbours is mostly luck (a daily cell has no
    phases to average; a cadence of n weeks spreads over n phases); a mean over many cells much
    less so. The universe is chosen among the tradeable ones (N or floor above 0): the issue
    asks for one."""
    out: dict[str, Any] = {"means": {}}
    left = [r for r in rows if r["nmin"] or r["floor"]]
    for dim in DIMENSIONS:
        means: dict[tuple, list[float]] = {}
        for r in left:
            means.setdefault(tuple(r[k] for k in dim), []).append(r["excess_ew_annual"])
        best = max(means, key=lambda v: float(np.mean(means[v])))
        out.update(dict(zip(dim, best, strict=True)))
        out["means"]["/".join(dim)] = {
            "/".join(map(str, v)): float(np.mean(x)) for v, x in means.items()
        }
        left = [r for r in left if tuple(r[k] for k in dim) == best]
    return {**out, "cell": left[0], "best_cell": rows[0]}


def extras(data: Data, best: dict[str, Any]) -> list[dict[str, Any]]:
    """The chosen configuration with a sector cap, a longer minimum hold (2019-2023)."""
    out = []
    for name, change in (("sector cap 3", {"sector_cap": 3}), ("min hold 10", {"min_hold": 10})):
        k = best["top_k"]
        base = {"top_k": k, "keep_k": best["keep"], "min_hold": 5,
                "cadence_weeks": best["cadence"], "max_names": policy.SPREAD * k}  # fmt: skip
        cfg = PortfolioConfig(**{**base, **change})
        runs = [period(run(data, cfg, nmin=best["nmin"], floor=best["floor"], phase=ph), CHOOSE)
                for ph in range(max(best["cadence"], 1))]  # fmt: skip
        out.append({"variant": name, **{k: float(np.mean([r[k] for r in runs])) for k, _ in KEYS}})
    return out


# --- goals ------------------------------------------------------------------------------------
def _ric(scores: pl.DataFrame, labels: pl.DataFrame, span) -> float | None:
    from nepse.model.evaluate import daily_rank_ic, ic_summary

    sc = scores.filter(pl.col("date").is_between(*span))
    return ic_summary(daily_rank_ic(sc, labels, "y_next_vwap"))["rank_ic"]


def _periods(res, spans=PERIODS) -> dict[str, Any]:
    return {name: _row(period(res, span)) for name, span in spans.items()}


def _phases(data: Data, cfg: PortfolioConfig, nmin: int, floor: float) -> dict[str, Any]:
    runs = [
        run(data, cfg, nmin=nmin, floor=floor, phase=ph) for ph in range(max(cfg.cadence_weeks, 1))
    ]
    out = {}
    for name, span in PERIODS.items():
        rows = [period(r, span) for r in runs]
        out[name] = {k: float(np.mean([r[k] for r in rows])) for k in ("excess_ew_annual", "t_ew")}
        out[name]["min"] = min(r["excess_ew_annual"] for r in rows)
        out[name]["max"] = max(r["excess_ew_annual"] for r in rows)
    return out


def goals(work: Path, settings: Any) -> dict[str, Any]:
    """Every figure of the decision section (see the module docstring)."""
    t0 = time.perf_counter()
    full = Data(work / "cache-full", work / "wf-full" / "predictions.parquet")
    mine = Data(work / "cache-full", work / "wf-tradeable" / "predictions.parquet")
    cfg = PortfolioConfig.from_settings(settings)
    nmin, floor = settings.universe_min_sessions, settings.universe_min_turnover
    rep: dict[str, Any] = {"config": cfg.__dict__, "universe": [nmin, floor], "load": _load()}
    default = run(full, cfg, nmin=nmin, floor=floor)
    rep["default"] = _periods(default)
    rep["default_phases"] = _phases(full, cfg, nmin, floor)
    rep["default_round_trips"] = _round_trips(default.trades, full.market)
    models = {}
    sources = [
        ("lightgbm", full, "lightgbm"),
        ("lightgbm trained on the tradeable universe", mine, "lightgbm"),
    ]
    sources += [(m, full, m) for m in (*BASELINES, "random0", "random1", "random2")]
    for name, data, m in sources:
        if data.preds.filter(pl.col("model") == m).is_empty():
            continue
        sc = data.scores(m, nmin=nmin, floor=floor)
        models[name] = {
            "rank_ic": {p: _ric(sc, full.labels, s) for p, s in PERIODS.items()},
            "rank_ic_tradeable": {
                p: _ric(sc.filter("tradeable"), full.labels, s) for p, s in PERIODS.items()
            },
            "backtest": _periods(run(data, cfg, model=m, nmin=nmin, floor=floor)),
            "phases": _phases(data, cfg, nmin, floor) if data is mine else None,
        }
        print(name, json.dumps(models[name]["backtest"]["2019-2023"]), flush=True)
    rep["models"] = models
    old = PortfolioConfig(top_k=20, keep_k=40, cadence_weeks=0, min_hold=0, capital=cfg.capital)
    rep["old_default_honest"] = _periods(run(full, old, nmin=0, floor=0.0))
    rep["old_default_honest_tradeable"] = _periods(run(full, old, nmin=nmin, floor=floor))
    rep["default_all_universe"] = _periods(run(full, cfg, nmin=0, floor=0.0))
    rep["survivorship"] = survivorship(work, cfg, nmin, floor, full)
    rep["seconds"] = round(time.perf_counter() - t0, 1)
    (work / "goals.json").write_text(json.dumps(rep, indent=1, default=str))
    return rep


def survivorship(work: Path, cfg: PortfolioConfig, nmin: int, floor: float, full: Data):
    """The same pipeline on the survivors-only store (SS) beside the full one."""
    ss = Data(work / "cache-ss", work / "wf-ss" / "predictions.parquet")
    out = {}
    for name, d in (
        ("survivors only (ShareSansar)", ss),
        ("with delisted (+ legacy export)", full),
    ):
        sc = d.scores("lightgbm", nmin=nmin, floor=floor)
        res = run(d, cfg, nmin=nmin, floor=floor)
        out[name] = {
            "symbols_2019_2021": sc.filter(
                pl.col("date").is_between(date(2019, 1, 1), date(2021, 12, 31))
            )["symbol"].n_unique(),
            "rank_ic": {p: _ric(sc, d.labels, s) for p, s in PERIODS.items()},
            "backtest": _periods(res),
        }
    return out


# --- the paper ledger, day by day, on a copy of the real store -------------------------------
PAPER_DAYS = (date(2025, 10, 1), date(2026, 3, 25))


def paper(work: Path, settings: Any) -> dict[str, Any]:
    """run_paper_day over PAPER_DAYS (the walk-forward's scores stored as predictions): wall
    time per day, and the NAV against the backtest of the same scores."""
    import shutil
    from datetime import datetime

    from nepse.features.panel import calendar_of
    from nepse.portfolio.paper import run_paper_day
    from nepse.store import open_store

    db = work / "paper" / "nepse.duckdb"
    db.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(work / "full" / "nepse.duckdb", db)
    s = settings.model_copy(update={"data_dir": db.parent, "db_path": db})
    # As a daily run stores them: every equity scored (the tradeable ones rank the orders).
    preds = pl.read_parquet(work / "wf-full" / "predictions.parquet").filter(
        (pl.col("model") == "lightgbm") & pl.col("date").is_between(*PAPER_DAYS)
    )
    walls = []
    with open_store(db) as st:
        st.replace_paper_from(date(1990, 1, 1), {})
        days = [d for d in calendar_of(st).days if PAPER_DAYS[0] <= d <= PAPER_DAYS[1]]
        for d in days:
            day = preds.filter(pl.col("date") == d).with_columns(
                model_version=pl.lit("walk-forward"), model_role=pl.lit("champion"),
                pred_rank=pl.lit(None, pl.Float64), flow_run_id=pl.lit(None, pl.String),
                created_at=pl.lit(datetime(2026, 12, 1)),
            )  # fmt: skip
            st.replace_predictions(d, day)
        for d in days:
            t = time.perf_counter()
            run_paper_day(st, s, d)
            walls.append(time.perf_counter() - t)
        ledger = st.paper_rows("paper_ledger")
    data = Data(work / "cache-full", work / "wf-full" / "predictions.parquet")
    sc = data.scores("lightgbm", nmin=s.universe_min_sessions, floor=s.universe_min_turnover)
    sc = sc.filter(pl.col("date").is_between(*PAPER_DAYS))
    res = backtest(sc, data.market.filter(pl.col("date") <= PAPER_DAYS[1]),
                   config=PortfolioConfig.from_settings(s), sectors=data.sectors)  # fmt: skip
    both = ledger.join(res.daily, on="date")
    out = {
        "days": len(days),
        "wall_median_s": float(np.median(walls)),
        "wall_max_s": float(np.max(walls)),
        "load": _load(),
        "max_abs_nav_gap_vs_backtest": float((both["nav"] - both["equity"]).abs().max()),
        "nav_end": float(ledger["nav"][-1]),
        "orders_filled": int(ledger["n_filled"].sum()),
        "orders_sent": int(ledger["n_orders"].sum()),
        "decision_days": int(ledger["decided"].sum()),
    }
    (work / "paper.json").write_text(json.dumps(out, indent=1))
    print(out, flush=True)
    return out


# --- the walk-forward as training runs it: the tradeable universe's rows ------------------------
def walkforward(db: Path, work: Path, settings: Any) -> None:
    """LightGBM (seed 0) trained and scored as `nepse train` does with NEPSE_UNIVERSE_TRAIN
    (features/labels.py training_view: the tradeable universe's rows) into WORK/wf-tradeable."""
    from nepse.features.labels import training_view
    from nepse.features.panel import build_panel
    from nepse.model.walkforward import MODEL, walk_forward
    from nepse.store import open_store

    t = time.perf_counter()
    with open_store(db, read_only=True) as st:
        panel = build_panel(st, settings.model_copy(update={"db_path": db}))
    view, wf_settings = training_view(
        panel.frame, settings.model_copy(update={"universe_train": True})
    )
    res = walk_forward(
        view,
        feature_names=list(panel.spec.names),
        categorical=[c for c in panel.spec.categorical if c in panel.spec.names],
        settings=wf_settings,
        test_start=CHOOSE[0],
        seeds=[0],
        baselines=False,
        progress=lambda p: print(f"job {p.done}/{p.total} ({p.label})", flush=True),
    )
    out = work / "wf-tradeable"
    out.mkdir(parents=True, exist_ok=True)
    res.predictions.select(
        pl.lit(MODEL).alias("model"), "date", "symbol", "pred_ret"
    ).write_parquet(out / "predictions.parquet")
    info = {"rows": view.height, "seconds": round(time.perf_counter() - t, 1), "load": _load()}
    (out / "walkforward.json").write_text(json.dumps(info))
    print(info, flush=True)


def main() -> None:
    """Command line: see the module docstring."""
    from nepse.settings import load_settings

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--work", type=Path, default=Path("/tmp/data-decision"))
    p.add_argument("--stage", default="all")
    p.add_argument("--no-doc", action="store_true")
    args = p.parse_args()
    w = args.work
    every = ("prepare", "walkforward", "claims", "choose", "goals", "paper")
    stages = every if args.stage == "all" else (args.stage,)
    s = load_settings()
    for stage in stages:
        t = time.perf_counter()
        if stage == "prepare":
            prepare(w / "full" / "nepse.duckdb", w / "cache-full")
            prepare(w / "ss" / "nepse.duckdb", w / "cache-ss")
        elif stage == "claims":
            c = claims(w)
            (w / "claims.json").write_text(json.dumps(c, indent=1, default=str))
            print(json.dumps(c, indent=1, default=str))
        elif stage in ("choose", "pick"):
            full = Data(w / "cache-full", w / "wf-full" / "predictions.parquet")
            if stage == "choose":
                rows = choose(full, w)
            else:  # the choice again from a finished grid
                rows = json.loads((w / "choose.json").read_text())
            chosen = pick(rows)
            (w / "pick.json").write_text(json.dumps(chosen, indent=1))
            ext = extras(full, chosen)
            (w / "extras.json").write_text(json.dumps(ext, indent=1))
            print("chosen", json.dumps(chosen), "\nextras", json.dumps(ext), flush=True)
        elif stage == "goals":
            goals(w, s)
        elif stage == "doc":
            pass
        elif stage == "paper":
            paper(w, s)
        elif stage == "walkforward":
            walkforward(w / "full" / "nepse.duckdb", w, s)
        else:
            p.error(f"unknown stage {stage!r}")
        print(f"stage {stage}: {time.perf_counter() - t:.1f} s, load {_load()}", flush=True)
    if not args.no_doc and (w / "goals.json").is_file():
        from decision_doc import write_section

        write_section(w, ROOT / "docs" / "model.md")


if __name__ == "__main__":
    main()
