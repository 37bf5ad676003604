"""Issue 7b: LightGBM against the original design's RandomForest on identical walk-forward windows.

Data: the real ShareSansar panel (bench/realdata.py set-up: features and next-day labels of the
equity universe from nepse.features.panel.build_panel). Test period: the last `--blocks` blocks of
`--block-days` trading days. For each block, both models see exactly the same training window:
the `train_years` (8) calendar years ending `horizon` + 1 trading days before the block (no
training label reaches into the test block).

- `lightgbm`: the deployed model: nepse.model.final.train_final as of the day before the block with
  the project's settings and nepse.features.FEATURE_SPEC (whatever they are when this runs;
  the results record them), early stopping on the window's last `valid_days` days after the
  embargo; seed 0; then TrainedModel.predict.
- `lightgbm_11`: the same LightGBM on the RandomForest's 11 features only (model vs features).
- `random_forest`: the original design, sklearn RandomForestRegressor(n_estimators=100,
  max_depth=5) on lags, moving-average ratios and volatility (nepse.model.baselines.RF_FEATURES),
  bootstrap of the whole window (no subsampling), nulls filled with the window's medians,
  n_jobs=2.

Reported per model: training and scoring time (wall and CPU, summed over blocks), and the
out-of-sample daily Rank IC, IC, RMSE, directional accuracy (nepse.model.metrics).
Run: `.venv/bin/python bench/model_vs_rf.py [--blocks 4] [--block-days 63] [--work DIR]`
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import polars as pl
from common import measure, save
from realdata import DEFAULT_WORK, prepare, settings_for


def _medians(x: np.ndarray) -> np.ndarray:
    med = np.nanmedian(x, axis=0)
    return np.where(np.isnan(med), 0.0, med)


def _fill(x: np.ndarray, fill: np.ndarray) -> np.ndarray:
    return np.where(np.isnan(x), fill, x)


def main() -> None:
    """Fit both models block by block on identical windows; save bench/results/model_vs_rf.json."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--blocks", type=int, default=4)
    parser.add_argument("--block-days", type=int, default=63)
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK)
    args = parser.parse_args()

    from sklearn.ensemble import RandomForestRegressor

    from nepse.features import FEATURE_SPEC  # the deployed model's features
    from nepse.features.panel import build_panel
    from nepse.model.baselines import RF_FEATURES
    from nepse.model.data import feature_matrix, years_before
    from nepse.model.final import train_final
    from nepse.model.metrics import daily_metrics, summarize
    from nepse.store import open_store

    info = prepare(args.work)
    s = settings_for(Path(info["data_dir"]))
    with (
        open_store(s.database, read_only=True) as st,
        measure("build_panel (all history, with labels)") as m_panel,
    ):
        panel = build_panel(st, s).frame
    names, cat = list(FEATURE_SPEC.names), list(FEATURE_SPEC.categorical)
    data = panel.filter(pl.col("y_ret").is_not_null()).sort("date", "symbol")
    days = data["date"].unique().sort().to_list()
    day_idx = {d: i for i, d in enumerate(days)}
    row_day = np.array([day_idx[d] for d in data["date"].to_list()])
    start = np.searchsorted(row_day, np.arange(len(days) + 1))
    x = feature_matrix(data, names)
    y = data["y_ret"].cast(pl.Float64).to_numpy()
    rf_cols = [names.index(c) for c in RF_FEATURES]
    h = s.horizon

    n_test = args.blocks * args.block_days
    first_test = len(days) - n_test
    models = ("lightgbm", "lightgbm_11", "random_forest")
    preds = {m: np.full(len(y), np.nan) for m in models}
    timing = {
        m: {"train_wall_s": 0.0, "train_cpu_s": 0.0, "score_wall_s": 0.0, "score_cpu_s": 0.0}
        for m in models
    }
    blocks = []
    for b in range(args.blocks):
        s_idx = first_test + b * args.block_days
        e_idx = min(s_idx + args.block_days, len(days)) - 1
        train_end = s_idx - h - 1
        first = years_before(days[train_end], s.train_years)
        train_start = next(i for i, d in enumerate(days) if d >= first)
        win = slice(start[train_start], start[train_end + 1])
        test = slice(start[s_idx], start[e_idx + 1])
        print(
            f"block {b}: test {days[s_idx]}..{days[e_idx]}, "
            f"window {days[train_start]}..{days[train_end]} ({win.stop - win.start:,} rows)"
        )
        block = {
            "test_start": days[s_idx],
            "test_end": days[e_idx],
            "train_start": days[train_start],
            "train_end": days[train_end],
            "train_rows": int(win.stop - win.start),
            "test_rows": int(test.stop - test.start),
        }
        test_frame = data[test]
        for m, cols in (("lightgbm", names), ("lightgbm_11", list(RF_FEATURES))):
            # The deployed procedure: nepse.model.final.train_final as of the day before the block
            # (its window is the one computed above), then TrainedModel.predict.
            with measure(f"  {m} train") as t:
                model = train_final(
                    data,
                    feature_names=cols,
                    categorical=[c for c in cat if c in cols],
                    settings=s,
                    as_of=days[s_idx - 1],
                    seed=0,
                )
            with measure(f"  {m} score") as sc:
                preds[m][test] = model.predict(test_frame)["pred_ret"].to_numpy()
            block[f"{m}_rounds"] = model.meta.get("best_iteration")
            for k, v in (("train", t), ("score", sc)):
                timing[m][f"{k}_wall_s"] += v.wall_s
                timing[m][f"{k}_cpu_s"] += v.cpu_s
        xw = x[win][:, rf_cols]
        with measure("  random_forest train") as t:
            med = _medians(xw)
            rf = RandomForestRegressor(n_estimators=100, max_depth=5, n_jobs=2, random_state=0)
            rf.fit(_fill(xw, med), y[win])
        with measure("  random_forest score") as sc:
            preds["random_forest"][test] = rf.predict(_fill(x[test][:, rf_cols], med))
        for k, v in (("train", t), ("score", sc)):
            timing["random_forest"][f"{k}_wall_s"] += v.wall_s
            timing["random_forest"][f"{k}_cpu_s"] += v.cpu_s
        blocks.append(block)

    test_rows = slice(start[first_test], start[len(days)])
    keys = data[test_rows].select("date", "symbol", "y_ret")
    summary = []
    for m in models:
        frame = keys.with_columns(pl.Series("pred_ret", preds[m][test_rows]))
        sm = summarize(daily_metrics(frame, cost_bps=s.cost_bps))
        row = {
            "model": m,
            **{
                k: sm[k]
                for k in (
                    "rank_ic",
                    "rank_icir",
                    "ic",
                    "rmse",
                    "dir_acc",
                    "top_bottom",
                    "n_days",
                    "n_rows",
                )
            },
        }
        row.update({k: round(v, 3) for k, v in timing[m].items()})
        summary.append(row)
        print(row)
    save(
        "model_vs_rf",
        {
            "setup": info,
            "panel_rows": panel.height,
            "labelled_rows": data.height,
            "build_panel": m_panel.as_dict(),
            "blocks": blocks,
            "summary": summary,
            "feature_spec": {"version": FEATURE_SPEC.version, "n_features": len(names)},
            "settings": {
                "train_years": s.train_years,
                "valid_days": s.valid_days,
                "horizon": h,
                "lgbm": (
                    f"project settings: params {s.lgbm_params}, at most {s.num_boost_round} "
                    f"rounds, patience {s.early_stopping_rounds}, label_transform "
                    f"{getattr(s, 'label_transform', 'none')}"
                ),
            },
        },
    )


if __name__ == "__main__":
    main()
