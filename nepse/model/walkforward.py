"""Walk-forward evaluation of the LightGBM model and its baselines, out of sample only.

Segments, in trading days of the panel's own calendar (every date present in it):

- Test days (from `test_start` to `test_end`, days with at least one label) are cut into blocks
  of `settings.retrain_every` consecutive trading days. Each block gets a fresh model.
- Training window of a block starting on day s: rows dated up to s - horizon - 1, so the label
  of the last training row (known at its date + horizon) is dated before s: no training label
  reaches into the test block. It starts at the first day (expanding) or `train_years` calendar
  years before its end (rolling), per `settings.walk_forward_window`.
- Validation slice: the last `valid_days` trading days of the training window. The fit slice
  ends `horizon` trading days before it (the same embargo), LightGBM early-stops on the
  validation slice. Baselines with a fit (ridge, random forest) use the whole training window.

Speed: the panel is converted to one float64 matrix once and sorted by date, so every window is
a contiguous row range. LightGBM bins (the only feature-distribution statistic it learns) are
computed once, from the first block's fit slice, i.e. from data strictly before the first test
day; every block then trains on a `Dataset.subset` of one binned panel instead of re-binning.
Trees split on raw thresholds, so predictions do not depend on how later data is binned.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import lightgbm as lgb
import numpy as np
import polars as pl

from nepse.errors import NotEnoughHistoryError
from nepse.model.baselines import make_baselines
from nepse.model.lgbm import (
    KEYS,
    LABEL,
    PRED,
    best_iteration,
    calibrate,
    check_panel,
    feature_matrix,
    fit_booster,
    lgb_params,
    trading_days,
    training_target,
    years_before,
)
from nepse.model.metrics import DAILY_SCHEMA, SUMMARY_FIELDS, daily_metrics, summarize
from nepse.settings import Settings

logger = logging.getLogger(__name__)

MODEL = "lightgbm"
METRIC_COLUMNS = [c for c in DAILY_SCHEMA if c != "date"]


@dataclass
class WalkForwardResult:
    """Everything a walk-forward produced; frames are small enough to keep in memory."""

    daily: pl.DataFrame
    """Per-day metrics: model, seed (null for baselines), date, metric columns."""
    model_daily: pl.DataFrame
    """Per-day LightGBM metrics over seeds: date, <metric>_mean, <metric>_std."""
    predictions: pl.DataFrame
    """Out-of-sample LightGBM predictions: date, symbol, pred_ret (mean over seeds), y_ret."""
    baseline_predictions: pl.DataFrame
    """Baseline predictions on the same rows: model, date, symbol, pred_ret, y_ret."""
    importance: pl.DataFrame
    """feature, gain_mean, gain_std (over seeds, summed over blocks), share (of total gain)."""
    summary: pl.DataFrame
    """One row per model: model, n_seeds, the summarize() fields and <field>_std over seeds."""
    blocks: pl.DataFrame
    """One row per block: its test days and training/validation segment bounds."""
    info: dict[str, Any] = field(default_factory=dict)
    """Settings used, seeds, baselines' speed shortcuts, timings."""

    def summary_dict(self) -> dict[str, dict[str, Any]]:
        """The summary table as {model: {field: value}} (JSON-ready)."""
        return {row.pop("model"): row for row in self.summary.to_dicts()}

    def rank_ic(self, model: str = MODEL) -> float | None:
        """Mean daily Rank IC of one model (LightGBM: mean over seeds)."""
        row = self.summary.filter(pl.col("model") == model)
        return None if row.height == 0 else row.get_column("rank_ic")[0]


def default_test_start(days: Sequence[date]) -> date:
    """About the last two years of the calendar (used when neither argument nor setting is set)."""
    start = years_before(days[-1], 2.0)
    return next(d for d in days if d >= start)


def _blocks(test_idx: np.ndarray, size: int) -> list[np.ndarray]:
    return [test_idx[i : i + size] for i in range(0, len(test_idx), size)]


def walk_forward(
    panel: pl.DataFrame,
    *,
    feature_names: list[str],
    categorical: list[str],
    settings: Settings,
    test_start: date | None = None,
    test_end: date | None = None,
    seeds: Sequence[int] | None = None,
    baselines: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> WalkForwardResult:
    """Retrain every `retrain_every` test days, predict the next block, score model + baselines."""
    t0_wall, t0_cpu = time.perf_counter(), time.process_time()
    check_panel(panel, feature_names, categorical, where="walk_forward")
    seeds = list(settings.seeds if seeds is None else seeds)
    if not seeds:
        raise ValueError("walk_forward: seeds is empty; pass at least one seed")
    h = settings.horizon
    days = trading_days(panel)
    if not days:
        raise NotEnoughHistoryError("walk_forward: the panel is empty")
    days_np = np.array(days, dtype="datetime64[D]")
    start = test_start or settings.test_start or default_test_start(days)

    data = (
        panel.lazy()
        .select([*KEYS, LABEL, *feature_names])
        .filter(pl.col(LABEL).is_not_null())
        .sort(["date", "symbol"])
        .collect()
    )
    row_day = np.searchsorted(days_np, data.get_column("date").to_numpy().astype("datetime64[D]"))
    # Rows are sorted by date: rows of day i are [day_start[i], day_start[i + 1]).
    day_start = np.searchsorted(row_day, np.arange(len(days) + 1))
    in_test = (days_np >= np.datetime64(start)) & (
        days_np <= np.datetime64(test_end) if test_end else True
    )
    has_rows = np.diff(day_start) > 0
    test_idx = np.flatnonzero(in_test & has_rows)
    if len(test_idx) == 0:
        raise NotEnoughHistoryError(
            f"walk_forward: no labelled trading day in the test period {start}..{test_end or '-'}"
        )
    blocks = _blocks(test_idx, settings.retrain_every)

    def rows(a: int, b: int) -> np.ndarray:
        """Row indices of calendar days a..b inclusive."""
        return np.arange(day_start[max(a, 0)], day_start[b + 1]) if b >= a else np.arange(0)

    plans = []
    for k, blk in enumerate(blocks):
        s, e = int(blk[0]), int(blk[-1])
        train_end = s - h - 1
        if settings.walk_forward_window == "rolling" and train_end >= 0:
            first = np.datetime64(years_before(days[train_end], settings.train_years))
            train_start = int(np.searchsorted(days_np, first))
        else:
            train_start = 0
        valid_start = max(train_start, train_end - settings.valid_days + 1)
        fit_end = valid_start - h - 1
        fit_rows, valid_rows = rows(train_start, fit_end), rows(valid_start, train_end)
        if len(fit_rows) == 0 or len(valid_rows) == 0:
            raise NotEnoughHistoryError(
                f"walk_forward: block {k} (test from {days[s]}) has {len(fit_rows)} fit and "
                f"{len(valid_rows)} validation rows: too little history before the test period "
                f"for valid_days={settings.valid_days} and horizon={h}; pass a later "
                "test_start or load more history"
            )
        plans.append((k, s, e, train_start, fit_end, valid_start, train_end, fit_rows, valid_rows))

    x = feature_matrix(data, feature_names)
    y = data.get_column(LABEL).cast(pl.Float64).to_numpy()
    # Per-date ranks (label_transform "rank") use only labels of their own date: no leak.
    target = training_target(data, settings)
    # Bins from the first fit slice only: no statistic of test-period features leaks in.
    bin_params = lgb_params(settings, seeds[0])
    ref = lgb.Dataset(
        x[plans[0][7]],
        label=target[plans[0][7]],
        feature_name=feature_names,
        categorical_feature=categorical or "auto",
        params=bin_params,
        free_raw_data=False,
    ).construct()
    full = lgb.Dataset(
        x,
        label=target,
        reference=ref,
        feature_name=feature_names,
        categorical_feature=categorical or "auto",
        params=bin_params,
        free_raw_data=False,
    ).construct()
    t_bins = time.perf_counter() - t0_wall

    test_rows = np.concatenate([rows(p[1], p[2]) for p in plans])
    n_test = len(test_rows)
    preds = np.full((len(seeds), n_test), np.nan)
    gains = np.zeros((len(seeds), len(feature_names)))
    base_models = make_baselines(feature_names, categorical, seed=seeds[0]) if baselines else []
    base_preds = {b.name: np.full(n_test, np.nan) for b in base_models}
    base_fit_at: dict[str, list[int]] = {b.name: [] for b in base_models}
    block_rows: list[dict[str, Any]] = []
    t_lgb = t_base = 0.0
    offset = 0
    for k, s, e, train_start, fit_end, valid_start, train_end, fit_rows, valid_rows in plans:
        trows = rows(s, e)
        xt = x[day_start[s] : day_start[e + 1]]
        iters, slopes = [], []
        t = time.perf_counter()
        for i, seed in enumerate(seeds):
            booster = fit_booster(
                x,
                y,
                fit_rows,
                valid_rows,
                feature_names=feature_names,
                categorical=categorical,
                settings=settings,
                seed=seed,
                dataset=full,
                target=target,
            )
            best = best_iteration(booster)
            iters.append(best)
            # Score -> return map from the validation slice (out of sample for the booster).
            a, b = calibrate(
                booster.predict(x[valid_rows], num_iteration=best), y[valid_rows], settings
            )
            slopes.append(b)
            preds[i, offset : offset + len(trows)] = a + b * booster.predict(xt, num_iteration=best)
            gains[i] += booster.feature_importance("gain", iteration=best)
        dt_lgb = time.perf_counter() - t
        t_lgb += dt_lgb
        t = time.perf_counter()
        # Windows are contiguous row ranges: slices are views, not copies.
        train_rows = slice(day_start[train_start], day_start[train_end + 1])
        for b in base_models:
            if k % b.retrain_every_blocks == 0:
                b.fit(x[train_rows], y[train_rows])
                base_fit_at[b.name].append(k)
            base_preds[b.name][offset : offset + len(trows)] = b.predict(xt)
        dt_base = time.perf_counter() - t
        t_base += dt_base
        block_rows.append(
            {
                "block": k,
                "test_start": days[s],
                "test_end": days[e],
                "n_test_days": e - s + 1,
                "train_start": days[train_start],
                "fit_end": days[fit_end],
                "valid_start": days[valid_start],
                "train_end": days[train_end],
                "n_fit": len(fit_rows),
                "n_valid": len(valid_rows),
                "n_test": len(trows),
                "best_iteration": iters,
                "calibration_slope": slopes,
                "seconds_lightgbm": round(dt_lgb, 2),
                "seconds_baselines": round(dt_base, 2),
            }
        )
        offset += len(trows)
        if progress is not None:
            progress(k + 1, len(plans))
        logger.debug("walk-forward block %d/%d done (%s..%s)", k + 1, len(plans), days[s], days[e])

    keys = data[test_rows].select("date", "symbol", LABEL)
    daily_parts, summaries = [], []
    per_seed = []
    for i, seed in enumerate(seeds):
        frame = keys.with_columns(pl.Series(PRED, preds[i]))
        d = daily_metrics(frame, cost_bps=settings.cost_bps)
        daily_parts.append(
            d.select(pl.lit(MODEL).alias("model"), pl.lit(seed).alias("seed"), pl.all())
        )
        per_seed.append(summarize(d))
    base_frames = []
    for name, p in base_preds.items():
        frame = keys.with_columns(pl.Series(PRED, p).fill_nan(None))
        d = daily_metrics(frame, cost_bps=settings.cost_bps)
        daily_parts.append(
            d.select(pl.lit(name).alias("model"), pl.lit(None, pl.Int64).alias("seed"), pl.all())
        )
        summaries.append({"model": name, "n_seeds": 0, **summarize(d)})
        base_frames.append(frame.select(pl.lit(name).alias("model"), "date", "symbol", PRED, LABEL))
    daily = pl.concat(
        [p.with_columns(pl.col("seed").cast(pl.Int64)) for p in daily_parts], how="vertical"
    )

    lgb_summary: dict[str, Any] = {"model": MODEL, "n_seeds": len(seeds)}
    for f in SUMMARY_FIELDS:
        vals = [s[f] for s in per_seed if s[f] is not None]
        lgb_summary[f] = float(np.mean(vals)) if vals else None
        lgb_summary[f"{f}_std"] = float(np.std(vals, ddof=1)) if len(vals) > 1 else None
    for f in ("n_days", "n_rows"):
        lgb_summary[f] = per_seed[0][f]
    summary = pl.DataFrame(
        [lgb_summary, *summaries],
        schema={
            "model": pl.String,
            "n_seeds": pl.Int64,
            **{f: pl.Float64 for f in SUMMARY_FIELDS if f not in ("n_days", "n_rows")},
            "n_days": pl.Int64,
            "n_rows": pl.Int64,
            **{f"{f}_std": pl.Float64 for f in SUMMARY_FIELDS},
        },
    )

    model_daily = (
        daily.filter(pl.col("model") == MODEL)
        .group_by("date")
        .agg(
            *[pl.col(c).cast(pl.Float64).mean().alias(f"{c}_mean") for c in METRIC_COLUMNS],
            *[pl.col(c).cast(pl.Float64).std().alias(f"{c}_std") for c in METRIC_COLUMNS],
        )
        .sort("date")
    )
    predictions = keys.select("date", "symbol", pl.Series(PRED, preds.mean(axis=0)), LABEL)
    baseline_predictions = (
        pl.concat(base_frames)
        if base_frames
        else pl.DataFrame(
            schema={
                "model": pl.String,
                "date": pl.Date,
                "symbol": pl.String,
                PRED: pl.Float64,
                LABEL: pl.Float64,
            }
        )
    )
    total = gains.sum(axis=1, keepdims=True)
    share = np.divide(gains, total, out=np.zeros_like(gains), where=total > 0)
    importance = (
        pl.DataFrame(
            {
                "feature": feature_names,
                "gain_mean": gains.mean(axis=0),
                "gain_std": gains.std(axis=0, ddof=1)
                if len(seeds) > 1
                else np.full(len(feature_names), np.nan),
                "share": share.mean(axis=0),
            }
        )
        .with_columns(pl.col("gain_std").fill_nan(None))
        .sort("gain_mean", descending=True)
    )
    blocks_df = pl.DataFrame(block_rows)
    wall, cpu = time.perf_counter() - t0_wall, time.process_time() - t0_cpu
    info = {
        "seeds": seeds,
        "horizon": h,
        "retrain_every": settings.retrain_every,
        "walk_forward_window": settings.walk_forward_window,
        "train_years": settings.train_years,
        "valid_days": settings.valid_days,
        "cost_bps": settings.cost_bps,
        "label_transform": settings.label_transform,
        "num_boost_round": settings.num_boost_round,
        "early_stopping_rounds": settings.early_stopping_rounds,
        "params": lgb_params(settings, seeds[0]),
        "test_start": days[int(test_idx[0])].isoformat(),
        "test_end": days[int(test_idx[-1])].isoformat(),
        "n_blocks": len(plans),
        "n_rows": data.height,
        "n_test_rows": n_test,
        "baseline_fit_blocks": base_fit_at,
        "baseline_notes": {
            b.name: f"refit every {b.retrain_every_blocks} block(s)" for b in base_models
        },
        "seconds": {
            "total": round(wall, 2),
            "cpu": round(cpu, 2),
            "prepare_and_bins": round(t_bins, 2),
            "lightgbm": round(t_lgb, 2),
            "baselines": round(t_base, 2),
        },
    }
    logger.info(
        "walk-forward %s..%s: %d blocks x %d seeds in %.1fs, LightGBM Rank IC %.4f",
        info["test_start"],
        info["test_end"],
        len(plans),
        len(seeds),
        wall,
        lgb_summary["rank_ic"] if lgb_summary["rank_ic"] is not None else float("nan"),
    )
    return WalkForwardResult(
        daily=daily,
        model_daily=model_daily,
        predictions=predictions,
        baseline_predictions=baseline_predictions,
        importance=importance,
        summary=summary,
        blocks=blocks_df,
        info=info,
    )
