"""How many evaluated out-of-sample days the RMSE alert needs: chosen on walk-forward days before
2024, the later days reported as confirmation.

The daily monitor compares the pooled RMSE of the last k out-of-sample prediction days with the
champion's walk-forward out-of-sample RMSE on the same label (`rmse_alert_ratio` x that). With
one or two days, the pooled RMSE is one market day's dispersion: NEPSE days with large moves put
it above 1.5x for a model that is no worse than in its walk-forward. This script runs one
walk-forward on the real ShareSansar data (the label of the settings, one seed, quarterly
retraining for speed), then, for every test day d and every k, compares the pooled RMSE of the
k test days ending at d with the walk-forward RMSE of the 504 test days before them (what a
model trained at d would carry as its reference). It prints, for each k, the share of days above the
ratio and the alarm onsets per year (a day above after a day below: a new alert episode),
before 2024 (selection) and from 2024 (confirmation).

Run: `.venv/bin/python bench/rmse_alert_days.py [WORK]` (about 15-30 min on 2 busy cores).
"""

from __future__ import annotations

import json
import math
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from common import COMPANY_LIST, RESULTS, SHARESANSAR

WORK = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.gettempdir()) / "nepse-rmse"
SPLIT = date(2024, 1, 1)
REFERENCE_DAYS = 504
KS = (1, 2, 3, 5, 10, 15, 20, 30, 40, 60)
FAST = {
    "seeds": (0,),
    "lgbm_params": {"learning_rate": 0.1, "max_bin": 63},
    "num_boost_round": 200,
    "early_stopping_rounds": 20,
    "retrain_every": 63,
    "test_start": date(2012, 1, 1),
}


def walk_forward_daily(work: Path):
    """The LightGBM walk-forward's daily (date, rmse, n) on the real data (cached in WORK)."""
    import polars as pl

    cached = work / "daily.parquet"
    if cached.exists():
        return pl.read_parquet(cached)
    from nepse.features import FEATURE_SPEC
    from nepse.features.labels import training_view
    from nepse.features.panel import build_panel
    from nepse.ingest.service import ingest_path
    from nepse.model.walkforward import MODEL, walk_forward
    from nepse.settings import load_settings
    from nepse.store import open_store

    s = load_settings(data_dir=work, **FAST)
    if not s.database.exists():
        for path in (COMPANY_LIST, SHARESANSAR):
            ingest_path(s, path, today=date.today())
    with open_store(s.database, read_only=True) as st:
        panel = build_panel(st, s).frame
    history, s2 = training_view(panel, s)
    t0 = time.perf_counter()
    wf = walk_forward(
        history,
        feature_names=list(FEATURE_SPEC.names),
        categorical=list(FEATURE_SPEC.categorical),
        settings=s2,
        baselines=False,
        progress=lambda d, n: print(f"  block {d}/{n} ({time.perf_counter() - t0:.0f} s)"),
    )
    daily = (
        wf.daily.filter(pl.col("model") == MODEL)
        .group_by("date")
        .agg(pl.col("rmse").mean(), pl.col("n").first())
        .sort("date")
    )
    daily.write_parquet(cached)
    return daily


def pooled(rows) -> float:
    """sqrt(sum(n rmse^2) / sum(n)): the RMSE over every scored row of the days."""
    return math.sqrt(sum(n * r * r for r, n in rows) / sum(n for _, n in rows))


def main() -> None:
    from nepse.settings import load_settings

    ratio = load_settings().rmse_alert_ratio
    daily = walk_forward_daily(WORK)
    rows = [(d, r, n) for d, r, n in daily.select("date", "rmse", "n").iter_rows() if r and n]
    out = {"ratio": ratio, "label": load_settings().label, "hold": load_settings().label_hold}
    print(f"{len(rows)} walk-forward days {rows[0][0]}..{rows[-1][0]}; alert at {ratio}x")
    print("   k   before 2024 (selection)                  from 2024 (confirmation)")
    for k in KS:
        # [days above the line, days, alarm onsets (a day above after a day below)]
        tally = {False: [0, 0, 0], True: [0, 0, 0]}
        before = False
        for i in range(REFERENCE_DAYS + k, len(rows)):
            reference = pooled([(r, n) for _, r, n in rows[i - k - REFERENCE_DAYS : i - k + 1]])
            recent = pooled([(r, n) for _, r, n in rows[i - k + 1 : i + 1]])
            above = recent > ratio * reference
            t = tally[rows[i][0] >= SPLIT]
            t[0] += above
            t[1] += 1
            t[2] += above and not before
            before = above
        out[str(k)] = {"before_2024": tally[False], "from_2024": tally[True]}
        print(
            f"{k:4d}"
            + "".join(
                f"   {a / t:6.1%} of {t:4d} days, {o / (t / 250):4.1f} onsets/yr"
                for a, t, o in (tally[False], tally[True])
            )
        )
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "rmse_alert_days.json").write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
