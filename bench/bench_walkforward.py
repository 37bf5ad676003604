"""Benchmark: full walk-forward on a synthetic panel the size of the real one.

~456k rows (190 symbols x 2400 trading days), 70 features, the last 1700 trading days (~7 years)
tested, monthly retraining (retrain_every=21), 3 seeds, baselines on, default LightGBM settings.
Run: `.venv/bin/python bench/bench_walkforward.py [n_symbols n_days test_days]`; set
NEPSE_BENCH_PROFILE=fast to use FAST (learning rate 0.1, 63 bins, at most 200 rounds, patience
20) instead of the Settings defaults (learning rate 0.03, 255 bins, 500 rounds, patience 50).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.model_panels import make_panel

from nepse.model.walkforward import walk_forward
from nepse.settings import load_settings

FAST = {
    "lgbm_params": {"learning_rate": 0.1, "max_bin": 63},
    "num_boost_round": 200,
    "early_stopping_rounds": 20,
}


def main() -> None:
    """Build the panel, run the walk-forward, print timings and the summary."""
    n_symbols, n_days, test_days = (int(a) for a in (sys.argv[1:4] or (190, 2400, 1700)))
    panel, features, categorical = make_panel(n_symbols, n_days, n_noise=57, seed=1)
    profile = os.environ.get("NEPSE_BENCH_PROFILE", "default")
    settings = load_settings(**(FAST if profile == "fast" else {}))
    print(f"profile {profile}", flush=True)
    days = panel.get_column("date").unique().sort()
    t = time.perf_counter()
    result = walk_forward(
        panel,
        feature_names=features,
        categorical=categorical,
        settings=settings,
        test_start=days[n_days - test_days],
        progress=lambda k, n: print(f"block {k}/{n} {time.perf_counter() - t:.0f}s", flush=True),
    )
    print(f"rows {panel.height}, features {len(features)}, wall {time.perf_counter() - t:.1f}s")
    print(json.dumps(result.info["seconds"]))
    print(result.summary.select("model", "rank_ic", "rank_ic_std", "rmse", "top_bottom"))
    print(
        result.blocks.select(
            "block", "n_fit", "best_iteration", "seconds_lightgbm", "seconds_baselines"
        )
    )


if __name__ == "__main__":
    main()
