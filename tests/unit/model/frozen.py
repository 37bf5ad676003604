"""A frozen walk-forward expectation: numbers computed by main's code before the refactor.

`python tests/unit/model/frozen.py OUT.json` (run with main's code on PYTHONPATH, e.g. from
/work/main with its venv) writes the numbers for the small synthetic panels below;
`test_frozen_walkforward.py` recomputes them with today's code and compares to 1e-9. Works with
both layouts (flat `nepse.walkforward` of main before issue 10, `nepse.model.*` after).
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import polars as pl

HERE = Path(__file__).parent
FROZEN = HERE / "data" / "walkforward_main.json"
FAST = {
    "retrain_every": 20,
    "valid_days": 15,
    "num_boost_round": 25,
    "early_stopping_rounds": 5,
    "lgbm_params": {"learning_rate": 0.1, "num_threads": 1},
    "horizon": 2,
    "train_years": 0.3,
}
WINDOWS = ("expanding", "rolling")


def _panels():
    spec = importlib.util.spec_from_file_location("model_panels", HERE / "panels.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _code():
    try:
        from nepse.model.final import train_final
        from nepse.model.walkforward import walk_forward
    except ImportError:  # main before the stage packages
        from nepse.walkforward import walk_forward

        from nepse.model import train_final
    return walk_forward, train_final


def case(window: str) -> tuple[pl.DataFrame, list[str], list[str], Any]:
    """The panel, features, categorical and settings of one frozen case."""
    from nepse.settings import load_settings

    panel, feats, cat = _panels().make_panel(30, 170, n_noise=2, seed=11, horizon=2)
    return panel, feats, cat, load_settings(**FAST, walk_forward_window=window)


def numbers(result, final_model, final_x: pl.DataFrame) -> dict[str, Any]:
    """What is compared: every summary field, predictions, aggregates of the rest."""
    dates = ("test_start", "test_end", "train_start", "fit_end", "valid_start", "train_end")
    return {
        "summary": result.summary.to_dicts(),
        "pred": result.predictions["pred_ret"].to_list(),
        "n_pred": result.predictions.height,
        "base": result.baseline_predictions.group_by("model")
        .agg(
            pl.col("pred_ret").sum().alias("s"),
            (pl.col("pred_ret") ** 2).sum().alias("s2"),
            pl.col("pred_ret").null_count().alias("n"),
        )
        .sort("model")
        .rows(),
        "daily": result.daily.drop("date")
        .group_by("model", "seed")
        .agg(pl.all().cast(pl.Float64).sum())
        .sort("model", "seed", nulls_last=True)
        .rows(),
        "importance": result.importance.rows(),
        "blocks": result.blocks.drop("seconds_lightgbm", "seconds_baselines")
        .with_columns(*[pl.col(c).cast(pl.String) for c in dates])
        .to_dicts(),
        "final": {
            "pred": final_model.predict(final_x)["pred_ret"].to_list(),
            **{
                k: final_model.meta[k]
                for k in (
                    "best_iteration",
                    "calibration",
                    "train_rmse",
                    "valid_rmse",
                    "n_fit",
                    "n_valid",
                    "train_start",
                    "fit_end",
                    "valid_start",
                    "train_end",
                    "data_fingerprint",
                    "importance_gain",
                )
            },
        },
    }


def compute(window: str, **walk_kw) -> dict[str, Any]:
    """The numbers of one case with the code on sys.path."""
    walk_forward, train_final = _code()
    panel, feats, cat, s = case(window)
    days = panel["date"].unique().sort().to_list()
    result = walk_forward(
        panel,
        feature_names=feats,
        categorical=cat,
        settings=s,
        test_start=days[110],
        seeds=[0, 5],
        **walk_kw,
    )
    model = train_final(panel, feature_names=feats, categorical=cat, settings=s, as_of=days[150])
    return numbers(result, model, panel.filter(pl.col("date") >= days[150]))


if __name__ == "__main__":
    out = {w: compute(w) for w in WINDOWS}
    Path(sys.argv[1]).write_text(json.dumps(out, default=str) + "\n")
