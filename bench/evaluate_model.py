"""Evaluate the model on the real market: tradeable label, NEPSE backtest with costs, docs/model.md.

Two stages, so the expensive one runs once and the report can be redone from its output:

1. `walkforward`: panel (store -> adjust -> features -> every label -> equity universe), then the
   walk-forward (monthly retraining) trained on the label `NEPSE_LABEL` (default next_vwap,
   holding `NEPSE_LABEL_HOLD` sessions) with its embargo set to the label's reach; LightGBM and
   the baselines' out-of-sample predictions go to OUT/predictions.parquet with timings.
2. `report`: every model's predictions scored against the tradeable and the close-to-close
   labels (Rank IC side by side), run through the NEPSE backtest (nepse/model/backtest.py, all
   costs of nepse/market/rules.toml), drawn in OUT/evaluation.html and written to docs/model.md.

Run (the real data ingested into a scratch database, see docs/model.md):
    .venv/bin/python bench/evaluate_model.py /tmp/quant/nepse.duckdb --out /tmp/quant/eval
    .venv/bin/python bench/evaluate_model.py DB --stage report --out /tmp/quant/eval
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import polars as pl  # noqa: E402

from nepse.features.labels import (  # noqa: E402
    LABEL_COLUMNS,
    check_hold,
    label_column,
    label_reach,
    training_view,
)
from nepse.features.panel import build_panel  # noqa: E402
from nepse.settings import load_settings  # noqa: E402
from nepse.store import open_store  # noqa: E402


def _stamp() -> dict[str, Any]:
    return {"wall": time.perf_counter(), "cpu": time.process_time(), "load": os.getloadavg()}


def _since(t0: dict[str, Any]) -> dict[str, Any]:
    return {
        "wall_s": round(time.perf_counter() - t0["wall"], 1),
        "cpu_s": round(time.process_time() - t0["cpu"], 1),
        "load_start": [round(x, 2) for x in t0["load"]],
        "load_end": [round(x, 2) for x in os.getloadavg()],
    }


def stage_walkforward(args: argparse.Namespace) -> None:
    """Train/predict out of sample on the tradeable label; save predictions and timings."""
    from nepse.model.walkforward import MODEL, executor_for, walk_forward

    settings = load_settings(db_path=args.db)
    label, hold = settings.label, settings.label_hold
    check_hold(label, hold)
    col = label_column(label)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t = _stamp()
    with open_store(settings.database, read_only=True) as store:
        panel = build_panel(store, settings)
    t_panel = _since(t)
    feats = list(panel.spec.names) if hasattr(panel.spec, "names") else None
    if feats is None:
        feats = [c for c in panel.frame.columns if c.startswith("f_")]
    categorical = [c for c in getattr(panel.spec, "categorical", ()) if c in feats]
    # As training reads it: the tradeable universe's rows (NEPSE_UNIVERSE_MIN_SESSIONS=0 and
    # NEPSE_UNIVERSE_MIN_TURNOVER=0: every equity), y_ret := the label, embargoed by its reach.
    frame, wf_settings = training_view(panel.frame, settings)
    t = _stamp()
    seeds = [int(s) for s in args.seeds.split(",")]
    res = walk_forward(
        frame,
        feature_names=feats,
        categorical=categorical,
        settings=wf_settings,
        test_start=date.fromisoformat(args.test_start),
        test_end=date.fromisoformat(args.test_end) if args.test_end else None,
        seeds=seeds,
        baselines=not args.no_baselines,
        executor=executor_for(settings),
        progress=lambda p: print(f"walk-forward job {p.done}/{p.total} ({p.label})", flush=True),
    )
    t_wf = _since(t)
    preds = pl.concat(
        [
            res.predictions.select(pl.lit(MODEL).alias("model"), "date", "symbol", "pred_ret"),
            res.baseline_predictions.select("model", "date", "symbol", "pred_ret"),
        ]
    )
    preds.write_parquet(out / "predictions.parquet")
    res.importance.write_parquet(out / "importance.parquet")
    res.blocks.drop("best_iteration", "calibration_slope").write_parquet(out / "blocks.parquet")
    meta = {
        "label": label,
        "label_hold": hold,
        "label_column": col,
        "embargo_sessions": label_reach(
            label, settings.horizon if label == "close_to_close" else hold
        ),
        "seeds": seeds,
        "features": len(feats),
        "panel_rows": panel.frame.height,
        "panel_symbols": panel.frame["symbol"].n_unique(),
        "info": {k: v for k, v in res.info.items() if k != "params"},
        "params": res.info.get("params"),
        "timings": {"build_panel": t_panel, "walk_forward": t_wf},
    }
    (out / "walkforward.json").write_text(json.dumps(meta, indent=2, default=str))
    print(json.dumps(meta["timings"], indent=2))


def main() -> None:
    """Command line: see the module docstring."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("db", nargs="?", default=os.environ.get("NEPSE_DB_PATH"))
    p.add_argument("--out", default="/tmp/quant/eval")
    p.add_argument("--stage", choices=["walkforward", "report", "speed", "all"], default="all")
    p.add_argument("--test-start", default="2019-01-01")
    p.add_argument("--test-end", default=None)
    p.add_argument("--seeds", default="0")
    p.add_argument("--no-doc", action="store_true")
    p.add_argument("--no-baselines", action="store_true", help="walkforward: LightGBM only")
    p.add_argument("--speed-to", default="2026-04-01", help="speed stage: last day of the year")
    args = p.parse_args()
    if not args.db:
        p.error("pass the DuckDB file (or set NEPSE_DB_PATH)")
    if args.stage in ("walkforward", "all"):
        stage_walkforward(args)
    if args.stage in ("report", "all"):
        from bench.evaluate_report import stage_report

        stage_report(args)
    if args.stage == "speed":
        from bench.evaluate_report import stage_speed

        stage_speed(args)


if __name__ == "__main__":
    assert set(LABEL_COLUMNS)  # the labels module is the single source of label names
    main()
