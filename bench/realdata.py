"""Set-up shared by the real-data benchmarks: the ingested ShareSansar store with a champion.

`prepare(work)` (idempotent, a `.ready` marker) ingests the ShareSansar folder and
CompanyList.csv into `<work>/full/nepse.duckdb` without Prefect, builds the full-history panel,
and trains and registers (force-promoted) a champion with fast settings: one seed, learning
rate 0.1, 63 bins, at most 200 rounds, patience 20, quarterly walk-forward blocks.
`history_copy(work, years)` copies that data folder and deletes prices older than `years`
before the last stored day (the registry, models, securities and corporate actions are kept).

Run alone: `.venv/bin/python bench/realdata.py [WORK]`.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from common import COMPANY_LIST, SHARESANSAR

DEFAULT_WORK = Path(tempfile.gettempdir()) / "nepse-bench-work"
CACHE = 3
"""Bumped when what `prepare` builds changes (2: drift baseline saved with the champion; 3: the
champion trained through nepse.app.training, so its folder has walkforward_daily.parquet)."""

FAST_TRAINING = {
    "seeds": (0,),
    "lgbm_params": {"learning_rate": 0.1, "max_bin": 63},
    "num_boost_round": 200,
    "early_stopping_rounds": 20,
    "retrain_every": 63,
}
"""Training settings for the benchmark champion (fast: the daily run is what is measured)."""


def settings_for(data_dir: Path, **overrides):
    """Settings of a benchmark data folder."""
    from nepse.settings import load_settings

    return load_settings(data_dir=data_dir, **overrides)


def prepare(work: Path = DEFAULT_WORK) -> dict:
    """Ingest the real data and train a champion once; return what was built (cached)."""
    full = work / "full"
    marker = full / ".ready"
    from nepse.features import FEATURE_SPEC

    if marker.exists():
        info = json.loads(marker.read_text())
        # A champion trained on another feature spec cannot score today's features.
        if info.get("feature_spec") == FEATURE_SPEC.version and info.get("cache") == CACHE:
            return info
        for old in work.glob("hist-*"):
            shutil.rmtree(old)
    if full.exists():
        shutil.rmtree(full)
    full.mkdir(parents=True)
    from nepse.app import training as app
    from nepse.ingest.service import ingest_path

    s = settings_for(full, **FAST_TRAINING)
    t0 = time.perf_counter()
    today = date.today()
    for path in (COMPANY_LIST, SHARESANSAR):
        report = ingest_path(s, path, today=today)
        print(f"  ingested {path.name}: {report.rows_read:,} rows in {report.seconds:.1f} s")
    # The train-model flow's three steps: the same model folder (drift baseline included).
    panel = app.build_training_panel(s)
    t1 = time.perf_counter()
    run = app.walk_forward(s, panel)
    out = app.train_and_register(s, panel, run, force_promote=True)
    info = {
        "data_dir": str(full),
        "as_of": panel.as_of.isoformat(),
        "panel_rows": panel.rows,
        "model_version": out.version,
        "feature_spec": FEATURE_SPEC.version,
        "cache": CACHE,
        "n_features": len(FEATURE_SPEC.names),
        "rank_ic": out.rank_ic,
        "training_s": round(time.perf_counter() - t1, 1),
        "setup_s": round(time.perf_counter() - t0, 1),
        "training_settings": {
            k: list(v) if isinstance(v, tuple) else v for k, v in FAST_TRAINING.items()
        },
    }
    write_day_file(full, date.fromisoformat(info["as_of"]))
    marker.write_text(json.dumps(info, indent=2))
    print(f"  champion {info['model_version']} trained in {info['training_s']} s")
    return info


def write_day_file(data_dir: Path, day: date) -> Path:
    """The day's stored prices as a canonical CSV: what a daily run ingests (like one API day)."""
    from nepse.store import open_store

    s = settings_for(data_dir)
    with open_store(s.database, read_only=True) as st:
        day_prices = st.prices(start=day, end=day)
    cols = ["symbol", "date", "open", "high", "low", "close", "volume", "turnover"]
    path = data_dir.parent / f"day-{day}.csv"
    day_prices.select(cols).write_csv(path)
    return path


def day_file(work: Path, day: date) -> Path:
    """Path of the day's canonical CSV written by `prepare`."""
    return work / f"day-{day}.csv"


def history_copy(work: Path, years: float) -> Path:
    """A copy of the prepared data folder keeping only the last `years` of prices (cached)."""
    info = prepare(work)
    last = date.fromisoformat(info["as_of"])
    target = work / f"hist-{years:g}y"
    marker = target / ".ready"
    if marker.exists():
        return target
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(work / "full", target, ignore=shutil.ignore_patterns("work", "*.wal"))
    cut = last - timedelta(days=round(years * 365.25))
    import duckdb

    con = duckdb.connect(str(target / "nepse.duckdb"))
    try:
        con.execute("DELETE FROM prices WHERE date < ?", [cut])
        con.execute("DELETE FROM predictions")
        con.execute("DELETE FROM drift_reports")
        con.execute("CHECKPOINT")
        n = con.execute("SELECT count(*), min(date) FROM prices").fetchall()[0]
    finally:
        con.close()
    marker.write_text(json.dumps({"years": years, "cut": cut.isoformat(), "rows": n[0]}))
    print(f"  history copy {years:g} y: prices from {n[1]}, {n[0]:,} rows")
    return target


if __name__ == "__main__":
    print(json.dumps(prepare(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_WORK), indent=2))
