"""Summarising a walk-forward: fits of every block and seed -> daily metrics, tables, result."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from nepse.model.data import LABEL, PRED
from nepse.model.metrics import DAILY_SCHEMA, SUMMARY_FIELDS, daily_metrics, summarize
from nepse.model.walkforward.jobs import BaselineFit, SeedFit
from nepse.model.walkforward.plan import BlockPlan, PreparedPanel
from nepse.settings import Settings

MODEL = "lightgbm"
FRAMES = (
    "daily",
    "model_daily",
    "predictions",
    "baseline_predictions",
    "importance",
    "summary",
    "blocks",
)
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

    def save(self, folder: Path) -> Path:
        """Write every frame as Parquet and `info` as JSON into `folder`."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for name in FRAMES:
            getattr(self, name).write_parquet(folder / f"{name}.parquet")
        (folder / "info.json").write_text(json.dumps(self.info, indent=2, default=str) + "\n")
        return folder

    @classmethod
    def load(cls, folder: Path) -> WalkForwardResult:
        """Read a result written by `save`."""
        folder = Path(folder)
        frames = {name: pl.read_parquet(folder / f"{name}.parquet") for name in FRAMES}
        return cls(**frames, info=json.loads((folder / "info.json").read_text()))


def _block_rows(
    plans: Sequence[BlockPlan],
    fits: dict[tuple[int, int], SeedFit],
    seeds: Sequence[int],
    base_seconds: dict[int, float],
) -> list[dict[str, Any]]:
    rows = []
    for p in plans:
        mine = [fits[(p.block, s)] for s in seeds]
        rows.append(
            {
                "block": p.block,
                "test_start": p.test_start,
                "test_end": p.test_end,
                "n_test_days": p.n_test_days,
                "train_start": p.train_start,
                "fit_end": p.fit_end,
                "valid_start": p.valid_start,
                "train_end": p.train_end,
                "n_fit": p.fit_rows[1] - p.fit_rows[0],
                "n_valid": p.valid_rows[1] - p.valid_rows[0],
                "n_test": p.n_test,
                "best_iteration": [f.best_iteration for f in mine],
                "calibration_slope": [f.slope for f in mine],
                "seconds_lightgbm": round(sum(f.seconds for f in mine), 2),
                "seconds_baselines": round(base_seconds.get(p.block, 0.0), 2),
            }
        )
    return rows


def _lgb_summary(per_seed: list[dict[str, Any]], n_seeds: int) -> dict[str, Any]:
    out: dict[str, Any] = {"model": MODEL, "n_seeds": n_seeds}
    for f in SUMMARY_FIELDS:
        vals = [s[f] for s in per_seed if s[f] is not None]
        out[f] = float(np.mean(vals)) if vals else None
        out[f"{f}_std"] = float(np.std(vals, ddof=1)) if len(vals) > 1 else None
    for f in ("n_days", "n_rows"):
        out[f] = per_seed[0][f]
    return out


def _importance(gains: np.ndarray, feature_names: list[str]) -> pl.DataFrame:
    total = gains.sum(axis=1, keepdims=True)
    share = np.divide(gains, total, out=np.zeros_like(gains), where=total > 0)
    n_seeds = gains.shape[0]
    return (
        pl.DataFrame(
            {
                "feature": feature_names,
                "gain_mean": gains.mean(axis=0),
                "gain_std": gains.std(axis=0, ddof=1)
                if n_seeds > 1
                else np.full(len(feature_names), np.nan),
                "share": share.mean(axis=0),
            }
        )
        .with_columns(pl.col("gain_std").fill_nan(None))
        .sort("gain_mean", descending=True)
    )


def summarise(
    prep: PreparedPanel,
    plans: Sequence[BlockPlan],
    fits: Sequence[SeedFit],
    baseline_fits: Sequence[BaselineFit],
    *,
    settings: Settings,
    seeds: Sequence[int],
    info: dict[str, Any],
) -> WalkForwardResult:
    """Assemble the result from every block x seed fit and every baseline group (any order)."""
    by_key = {(f.block, f.seed): f for f in fits}
    missing = [(p.block, s) for p in plans for s in seeds if (p.block, s) not in by_key]
    if missing:
        raise ValueError(f"summarise: no fit for (block, seed) {missing[:5]}")
    test_rows = np.concatenate([np.arange(*p.test_rows) for p in plans])
    preds = np.stack([np.concatenate([by_key[(p.block, s)].pred for p in plans]) for s in seeds])
    gains = np.stack([sum(by_key[(p.block, s)].gains for p in plans) for s in seeds])
    keys = prep.data[test_rows].select("date", "symbol", LABEL)

    daily_parts, per_seed = [], []
    for i, seed in enumerate(seeds):
        d = daily_metrics(keys.with_columns(pl.Series(PRED, preds[i])), cost_bps=settings.cost_bps)
        daily_parts.append(
            d.select(pl.lit(MODEL).alias("model"), pl.lit(seed).alias("seed"), pl.all())
        )
        per_seed.append(summarize(d))

    groups = sorted(baseline_fits, key=lambda g: g.blocks[0])
    names = list(groups[0].pred) if groups else []
    summaries, base_frames = [], []
    base_fit_at: dict[str, list[int]] = {n: [] for n in names}
    base_seconds: dict[int, float] = {}
    for g in groups:
        base_seconds.update(g.seconds)
        for n in names:
            base_fit_at[n].extend(g.fit_at[n])
    for name in names:
        p = np.concatenate([g.pred[name] for g in groups])
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
    summary = pl.DataFrame(
        [_lgb_summary(per_seed, len(seeds)), *summaries],
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
    info = {
        **info,
        "n_test_rows": len(test_rows),
        "baseline_fit_blocks": base_fit_at,
        "baseline_notes": {n: f"refit every {groups[0].every.get(n, 1)} block(s)" for n in names},
    }
    return WalkForwardResult(
        daily=daily,
        model_daily=model_daily,
        predictions=keys.select("date", "symbol", pl.Series(PRED, preds.mean(axis=0)), LABEL),
        baseline_predictions=baseline_predictions,
        importance=_importance(gains, prep.feature_names),
        summary=summary,
        blocks=pl.DataFrame(_block_rows(plans, by_key, seeds, base_seconds)),
        info=info,
    )
