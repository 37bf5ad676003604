"""Score stored past days with a registered model, without writing predictions, and judge them.

`evaluate_days` builds the panel (features + every label) for the days asked, predicts them with
a given model, and reports per label (the tradeable ones first, close-to-close beside them) the
daily Rank IC on the whole universe and on the tradeable one (nepse/features/universe.py), and
the NEPSE backtest of the portfolio layer (nepse/model/backtest.py), beside the rule baselines
(reversal, momentum) and random scores on exactly the same rows. Days inside the model's own
training window (its rows up to `train_end` in meta.json, validation slice included) are in
sample: they are refused (the message names the first out-of-sample day) unless
`allow_in_sample`, and then marked and kept out of every out-of-sample figure.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

import numpy as np
import polars as pl

from nepse.errors import NotEnoughHistoryError
from nepse.features.adjust import adjust_prices
from nepse.features.labels import LABEL_COLUMNS, TRADEABLE, label_column
from nepse.features.panel import build_panel, calendar_of
from nepse.features.universe import flag_tradeable
from nepse.model.backtest import BacktestResult, backtest
from nepse.portfolio.market import market_frame
from nepse.portfolio.policy import PortfolioConfig
from nepse.settings import Settings

log = logging.getLogger(__name__)
PRED = "pred_ret"


class InSampleError(ValueError):
    """The days asked overlap the model's training window."""


def daily_rank_ic(scores: pl.DataFrame, labels: pl.DataFrame, col: str) -> pl.DataFrame:
    """Per day: Spearman correlation of `pred_ret` with label `col` (date, rank_ic, n)."""
    j = scores.join(labels.select("date", "symbol", col), on=["date", "symbol"], how="inner")
    j = j.filter(pl.col(col).is_not_null() & pl.col(PRED).is_not_null())
    return (
        j.group_by("date")
        .agg(
            rank_ic=pl.corr(PRED, col, method="spearman"),
            n=pl.len(),
        )
        .filter(pl.col("n") >= 5)
        .with_columns(pl.col("rank_ic").fill_nan(None))
        .sort("date")
    )


def ic_summary(daily: pl.DataFrame) -> dict[str, Any]:
    """Mean daily Rank IC, its ICIR and t-statistic, over the days with one."""
    x = daily.get_column("rank_ic").drop_nulls().to_numpy()
    if len(x) < 2:
        return {
            "rank_ic": float(x.mean()) if len(x) else None,
            "icir": None,
            "t": None,
            "n_days": len(x),
        }
    sd = float(np.std(x, ddof=1))
    return {
        "rank_ic": float(x.mean()),
        "icir": float(x.mean() / sd) if sd > 0 else None,
        "t": float(x.mean() / sd * math.sqrt(len(x))) if sd > 0 else None,
        "n_days": len(x),
    }


def quintile_returns(scores: pl.DataFrame, labels: pl.DataFrame, col: str) -> pl.DataFrame:
    """Mean label per day and prediction quintile (1 = lowest), as Qlib's group return."""
    j = scores.join(labels.select("date", "symbol", col), on=["date", "symbol"], how="inner")
    j = j.filter(pl.col(col).is_not_null() & pl.col(PRED).is_not_null())
    q = (pl.col(PRED).rank("ordinal").over("date") - 1) * 5 // pl.len().over("date") + 1
    return (
        j.with_columns(quintile=q.cast(pl.Int64))
        .group_by("date", "quintile")
        .agg(ret=pl.col(col).mean())
        .sort("date", "quintile")
    )


def score_autocorrelation(scores: pl.DataFrame) -> pl.DataFrame:
    """Per day: rank correlation of each symbol's score with its previous scored day's."""
    s = scores.sort("symbol", "date").with_columns(
        prev=pl.col(PRED).shift(1).over("symbol"),
        prev_date=pl.col("date").shift(1).over("symbol"),
    )
    days = s.select(pl.col("date").unique().sort()).with_columns(day_before=pl.col("date").shift(1))
    s = s.join(days, on="date").filter(pl.col("prev_date") == pl.col("day_before"))
    return (
        s.group_by("date")
        .agg(autocorr=pl.corr(PRED, "prev", method="spearman"), n=pl.len())
        .filter(pl.col("n") >= 5)
        .sort("date")
    )


@dataclass
class Evaluation:
    """What `evaluate_days` found: scores, label metrics, the backtests (model and baselines)."""

    scores: pl.DataFrame
    """symbol, date, model_version, prediction, in_sample, tradeable."""
    labels: pl.DataFrame
    rank_ic: dict[str, pl.DataFrame]
    """Per label, the model's daily Rank IC on the whole universe ('<label>') and on the
    tradeable one ('<label> tradeable')."""
    net: BacktestResult | None
    gross: BacktestResult | None
    info: dict[str, Any] = field(default_factory=dict)
    baselines: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per baseline, on the same rows: Rank IC (whole, tradeable) and its backtest summary."""

    def summary(self) -> dict[str, Any]:
        """JSON-ready: per label Rank IC, backtest summaries, baselines, what was in sample."""
        out = dict(self.info)
        out["labels"] = {name: ic_summary(d) for name, d in self.rank_ic.items()}
        out["backtest_net"] = self.net.summary if self.net else None
        out["backtest_gross"] = self.gross.summary if self.gross else None
        out["baselines"] = self.baselines
        return out


def judge(
    scores: pl.DataFrame,
    labels: pl.DataFrame,
    market: pl.DataFrame,
    *,
    settings: Settings,
    label: str | None = None,
    config: PortfolioConfig | None = None,
    sectors: dict[str, str] | None = None,
) -> tuple[dict[str, pl.DataFrame], BacktestResult | None, BacktestResult | None]:
    """Rank IC per label (the chosen one first; whole and tradeable universe) and the backtest
    (net; gross = the same run with its costs added back). `scores` has date, symbol, pred_ret
    and `tradeable`."""
    label = label or settings.label
    names = [label, *[n for n in (*TRADEABLE, "close_to_close") if n != label]]
    ric: dict[str, pl.DataFrame] = {}
    tradeable = scores.filter("tradeable") if "tradeable" in scores.columns else scores
    for n in names:
        ric[n] = daily_rank_ic(scores, labels, label_column(n))
        ric[f"{n} tradeable"] = daily_rank_ic(tradeable, labels, label_column(n))
    if scores.is_empty():
        return ric, None, None
    cfg = config or PortfolioConfig.from_settings(settings)
    net = backtest(scores, market, config=cfg, sectors=sectors)
    return ric, net, net.gross()


def baseline_scores(frame: pl.DataFrame, seed: int = 0) -> dict[str, pl.DataFrame]:
    """Scores of the rule baselines on the panel rows `frame` (date, symbol, pred_ret): the
    walk-forward's `reversal` (-f_ret_1) and `momentum` (f_roc_5), and `random` (no skill)."""
    rng = np.random.default_rng(seed)
    keys = frame.select("date", "symbol")
    return {
        "reversal": keys.with_columns(pred_ret=-frame.get_column("f_ret_1")),
        "momentum": keys.with_columns(pred_ret=frame.get_column("f_roc_5")),
        "random": keys.with_columns(pred_ret=pl.Series(rng.normal(size=frame.height))),
    }


def market_of(store: Any, settings: Settings, *, start: date | None = None) -> pl.DataFrame:
    """The backtest's market frame (nepse.portfolio.market.market_frame) of the stored prices
    from `start` (None: all of them)."""
    prices = store.prices(start=start, end=None)
    adjusted = adjust_prices(prices.lazy(), store.corporate_actions())
    return market_frame(adjusted).collect()


def evaluate_days(
    store: Any,
    settings: Settings,
    model: Any,
    *,
    start: date,
    end: date,
    label: str | None = None,
    allow_in_sample: bool = False,
) -> Evaluation:
    """Score the stored days start..end with `model` (a TrainedModel) and judge the scores
    beside the rule baselines on the same rows."""
    t0, c0 = time.perf_counter(), time.process_time()
    label = label or settings.label
    label_column(label)
    version = model.meta.get("version", "?")
    train_end = model.meta.get("train_end")
    train_end_d = date.fromisoformat(train_end) if train_end else None
    calendar = calendar_of(store)
    if train_end_d and start <= train_end_d and not allow_in_sample:
        first_oos = next((d for d in calendar.days if d > train_end_d), "the next stored session")
        raise InSampleError(
            f"model {version} was trained on rows up to {train_end} (validation slice included): "
            f"days {start}..{min(end, train_end_d)} are in sample. The first out-of-sample day "
            f"is {first_oos}: evaluate from it (--from {first_oos}), or pass --allow-in-sample "
            "to score the earlier days marked as in sample"
        )
    # No `end` cut: the labels of the last days need the sessions after them.
    panel = build_panel(store, settings, start=start, active_only=False, calendar=calendar)
    frame = panel.frame.filter(pl.col("date").is_between(start, end))
    if frame.is_empty():
        raise NotEnoughHistoryError(f"no stored rows between {start} and {end}")
    preds = model.predict(frame)
    in_sample = pl.col("date") <= pl.lit(train_end_d) if train_end_d else pl.lit(False)
    first = calendar.latest(on_or_before=start) or start
    market = market_of(store, settings, start=calendar.days[max(0, calendar.day_no(first) - 30)])
    listed = store.first_trade_dates()
    scores = flag_tradeable(
        preds.with_columns(model_version=pl.lit(version), in_sample=in_sample),
        market,
        settings,
        listed=listed,
        sessions=calendar.days,
    )
    labels = frame.select("date", "symbol", *LABEL_COLUMNS.values())
    oos = scores.filter(~pl.col("in_sample")).select("date", "symbol", PRED, "tradeable")
    sectors = dict(store.securities().select("symbol", "sector").drop_nulls().iter_rows())
    ric, net, gross = judge(oos, labels, market, settings=settings, label=label, sectors=sectors)
    base: dict[str, dict[str, Any]] = {}
    rows = frame.join(oos.select("date", "symbol", "tradeable"), on=["date", "symbol"])
    for name, sc in baseline_scores(rows).items():
        sc = sc.join(oos.select("date", "symbol", "tradeable"), on=["date", "symbol"])
        b_ric, b_net, _ = judge(sc, labels, market, settings=settings, label=label, sectors=sectors)
        base[name] = {
            "rank_ic": ic_summary(b_ric[label])["rank_ic"],
            "rank_ic_tradeable": ic_summary(b_ric[f"{label} tradeable"])["rank_ic"],
            "backtest_net": b_net.summary if b_net else None,
        }
    info = {
        "model_version": version,
        "label": label,
        "label_hold": settings.label_hold,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "train_end": train_end,
        "first_out_of_sample": calendar.next(train_end_d).isoformat() if train_end_d else None,
        "n_days": frame.get_column("date").n_unique(),
        "n_in_sample_days": scores.filter("in_sample").get_column("date").n_unique(),
        "n_rows": scores.height,
        "n_tradeable_rows": int(oos.get_column("tradeable").sum()),
        "portfolio": asdict(PortfolioConfig.from_settings(settings)),
        "universe": {
            "min_sessions": settings.universe_min_sessions,
            "min_turnover": settings.universe_min_turnover,
        },
        "seconds": round(time.perf_counter() - t0, 2),
        "cpu_seconds": round(time.process_time() - c0, 2),
    }
    out_scores = scores.select(
        "symbol", "date", "model_version", pl.col(PRED).alias("prediction"), "in_sample",
        "tradeable",
    )  # fmt: skip
    return Evaluation(out_scores, labels, ric, net, gross, info, base)


def write_trading_report(
    wf_result: Any, market: pl.DataFrame, settings: Settings, path, *, net: Any = None
) -> Any:
    """The Qlib-style pictures of a walk-forward's LightGBM predictions, as self-contained HTML
    (`net`: its net backtest, when already run)."""
    from pathlib import Path

    from nepse.model.report import trading_figures, trading_report

    preds = wf_result.predictions  # date, symbol, pred_ret, y_ret (the training label)
    scores = flag_tradeable(preds.select("date", "symbol", PRED), market, settings)
    labels = preds.select("date", "symbol", "y_ret")
    if scores.is_empty():
        return None
    cfg = PortfolioConfig.from_settings(settings)
    net = backtest(scores, market, config=cfg) if net is None else net
    gross = net.gross()
    figs = trading_figures(
        net,
        gross,
        daily_rank_ic(scores, labels, "y_ret"),
        quintile_returns(scores, labels, "y_ret"),
        score_autocorrelation(scores),
    )
    page = trading_report(
        figs,
        title=f"Walk-forward on label {settings.label} (hold {settings.label_hold}): backtest",
        note=f"Out-of-sample walk-forward {wf_result.info.get('test_start')} .. "
        f"{wf_result.info.get('test_end')}; the portfolio layer, fills and costs of "
        "nepse/portfolio and nepse/market/rules.toml.",
        tables={"Backtest (net)": [net.summary], "Backtest (gross)": [gross.summary]},
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path


def walk_forward_backtests(wf_result: Any, market: pl.DataFrame, settings: Any) -> dict[str, Any]:
    """The net backtest of every walk-forward model's predictions on the tradeable universe
    (None: a constant predictor, like `zero`, picks nothing)."""
    cfg = PortfolioConfig.from_settings(settings)
    out: dict[str, Any] = {}
    frames = {"lightgbm": wf_result.predictions}
    base = wf_result.baseline_predictions
    for name in base.get_column("model").unique().to_list():
        frames[name] = base.filter(pl.col("model") == name)
    for name, f in frames.items():
        sc = f.select("date", "symbol", "pred_ret")
        if sc.get_column("pred_ret").drop_nulls().n_unique() < 2:
            out[name] = None
            continue
        out[name] = backtest(flag_tradeable(sc, market, settings), market, config=cfg)
    return out


def backtest_excess(runs: dict[str, Any]) -> dict[str, Any]:
    """Net annual excess over the universe of every walk-forward model (promotion's test), from
    `walk_forward_backtests`."""
    return {n: None if r is None else r.summary.get("excess_ew_annual") for n, r in runs.items()}
