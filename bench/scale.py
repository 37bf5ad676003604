"""Issue 7d: a generated market of 5,000 symbols x 20 years (~21M rows), stage by stage.

Each stage runs in its own process under `/usr/bin/time -v` (wall, CPU, peak memory):

1. generate: devdata.sample.iter_panel -> canonical Parquet files (one per 400 symbols); setup,
   not a service stage, but timed.
2. ingest: nepse.ingest.service.ingest_path file by file (400 symbols each) -> a new DuckDB store
   (read, validate, write). `--whole-folder` ingests the folder in one call instead (needed
   more than 20 GB at 21M rows and was killed by the kernel on a 23 GB machine).
3. features: from the store, chunk by chunk of symbols (adjust, per-symbol features, labels),
   written to Parquet, then the cross-sectional pass (see bench/features_vs_pandas.py: 21M rows
   x 85 features do not fit in memory at once).
4. train: nepse.model.lgbm.train_final (project defaults) on a sample: `--train-symbols` symbols,
   the last `--train-years` years.
5. score: nepse.features.panel.scoring_frame on the store for the last day (750 trading days of
   history for all 5,000 symbols) + predict with the model of stage 4.

Run: `.venv/bin/python bench/scale.py [--symbols 5000] [--years 20] [--work DIR]`
Worker modes: `generate|ingest|features|train|score WORK ARGS`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nepse  # noqa: F401  (first, as the product does: its allocator setting precedes polars)

# isort: split
import polars as pl
from common import PYTHON, chunked_features, combine, measure, run, save

from tests.unit.features.chunked import CROSS_FILE, TS_FILES

SEED = 11
CHUNK = 400


def _settings(work: Path):
    from nepse.settings import load_settings

    return load_settings(data_dir=work / "data")


def generate(work: Path, symbols: int, years: float) -> dict:
    """Canonical Parquet files of the generated market."""
    from nepse.devdata.sample import iter_panel

    out = work / "canonical"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    rows = 0
    for k, chunk in enumerate(
        iter_panel(symbols=symbols, years=years, seed=SEED, chunk_symbols=CHUNK)
    ):
        cols = ["symbol", "date", "open", "high", "low", "close", "volume", "turnover", "trades"]
        chunk.select(cols).write_parquet(out / f"prices-{k:04d}.parquet")
        rows += chunk.height
    return {"rows": rows}


def ingest(work: Path, whole_folder: bool = False) -> dict:
    """ingest_path into a new store: file by file (400 symbols each), or the folder at once.

    The whole folder in one ingest_path call (one transaction) needed more than 20 GB for 21M
    rows and was killed by the kernel on a 23 GB machine, so file by file is the default.
    """
    from nepse.ingest.service import ingest_path

    s = _settings(work)
    shutil.rmtree(s.data_dir, ignore_errors=True)
    files = [work / "canonical"] if whole_folder else sorted((work / "canonical").glob("*.parquet"))
    rows = inserted = rejected = 0
    store_s, per_file = 0.0, []
    with measure(f"ingest_path x {len(files)}") as m:
        for f in files:
            report = ingest_path(s, f)
            rows += report.rows_read
            inserted += report.inserted
            rejected += report.rejected
            store_s += report.seconds
            per_file.append(round(report.seconds, 2))
    return {
        **m.as_dict(),
        "calls": len(files),
        "rows_read": rows,
        "inserted": inserted,
        "rejected": rejected,
        "store_ingest_s": round(store_s, 3),
        "first_last_store_s": [per_file[0], per_file[-1]],
        "db_mb": round(s.database.stat().st_size / 2**20, 1),
    }


def features(work: Path) -> dict:
    """Adjust + per-symbol features + labels per chunk of symbols, then the cross-section."""
    from nepse.features import FEATURE_SPEC
    from nepse.features.adjust import adjust_prices
    from nepse.features.labels import add_label
    from nepse.features.panel import calendar_of
    from nepse.store import open_store

    s = _settings(work)
    out = work / "features"
    shutil.rmtree(out, ignore_errors=True)
    with open_store(s.database, read_only=True) as st:
        cal = calendar_of(st)
        symbols = st._frame("SELECT DISTINCT symbol FROM prices ORDER BY 1")["symbol"]
        actions = st.corporate_actions()
        securities = st.securities()
        chunks = (
            adjust_prices(st.prices(symbols=symbols[k : k + CHUNK].to_list()).lazy(), actions)
            for k in range(0, len(symbols), CHUNK)
        )
        row = chunked_features(
            chunks,
            out,
            names=FEATURE_SPEC.names,
            securities=securities if securities.height else None,
            then=lambda lf: add_label(lf, horizon=s.horizon, calendar=cal),
            extra=("y_ret",),
        )
    return {**row, "label": "features (chunked) + labels"}


def train(work: Path, symbols: int, years: float) -> dict:
    """train_final (project defaults) on a sample of symbols over the last years."""
    from nepse.features import FEATURE_SPEC
    from nepse.model.data import years_before
    from nepse.model.final import train_final

    s = _settings(work)
    out = work / "features"
    with measure("load training sample") as m0:
        last = pl.scan_ipc(out / TS_FILES).select(pl.col("date").max()).collect().item()
        first = years_before(last, years)
        ts = pl.scan_ipc(out / TS_FILES)
        every = ts.select(pl.col("symbol").unique().sort()).collect()["symbol"]
        pick = every.gather_every(max(1, len(every) // symbols))[:symbols]
        panel = (
            ts.filter(pl.col("date") >= first, pl.col("symbol").is_in(pick.implode()))
            .join(pl.scan_ipc(out / CROSS_FILE), on=["symbol", "date"], how="left")
            .collect()
        )
    with measure("train_final") as m:
        model = train_final(
            panel,
            feature_names=list(FEATURE_SPEC.names),
            categorical=list(FEATURE_SPEC.categorical),
            settings=s,
            as_of=last,
            feature_spec=json.loads(FEATURE_SPEC.to_json()),
        )
    model.save(work / "model")
    return {
        **m.as_dict(),
        "load_s": round(m0.wall_s, 3),
        "rows": panel.height,
        "symbols": len(pick),
        "years": years,
        "rounds": model.meta.get("best_iteration"),
    }


def score(work: Path) -> dict:
    """scoring_frame for the last stored day + predict."""
    from nepse.features.panel import scoring_frame
    from nepse.model.final import TrainedModel
    from nepse.store import open_store

    s = _settings(work)
    model = TrainedModel.load(work / "model")
    with open_store(s.database, read_only=True) as st:
        day = st._exec("SELECT max(date) FROM prices")[0][0]
        with measure("scoring_frame") as m1:
            frame = scoring_frame(st, s, day)
    with measure("predict") as m2:
        preds = model.predict(frame)
    return combine(
        "scoring_frame + predict",
        {"scoring_frame": m1, "predict": m2},
        rows=preds.height,
        day=str(day),
    )


def _spec_info() -> dict:
    from nepse.features import FEATURE_SPEC

    return {"version": FEATURE_SPEC.version, "n_features": len(FEATURE_SPEC.names)}


def _worker(mode: str, args: list[str]) -> None:
    t0 = time.perf_counter()
    work = Path(args[0])
    if mode == "generate":
        out = generate(work, int(args[1]), float(args[2]))
    elif mode == "ingest":
        out = ingest(work, whole_folder=len(args) > 1 and args[1] == "whole")
    elif mode == "features":
        out = features(work)
    elif mode == "train":
        out = train(work, int(args[1]), float(args[2]))
    elif mode == "score":
        out = score(work)
    else:
        raise SystemExit(f"unknown mode {mode}")
    out["process_s"] = round(time.perf_counter() - t0, 3)
    print("JSON:" + json.dumps(out, default=str))


def _call(mode: str, *args: str) -> dict:
    row = run([PYTHON, __file__, mode, *args], label=f"scale: {mode}", timeout=6 * 3600)
    line = next(x for x in row.pop("stdout").splitlines() if x.startswith("JSON:"))
    row.pop("stderr")
    return {"process": row, "result": json.loads(line[5:])}


def main() -> None:
    """Run the stages in order; save bench/results/scale.json."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--symbols", type=int, default=5000)
    parser.add_argument("--years", type=float, default=20.0)
    parser.add_argument("--train-symbols", type=int, default=1000)
    parser.add_argument("--train-years", type=float, default=3.0)
    parser.add_argument(
        "--work", type=Path, default=Path(tempfile.gettempdir()) / "nepse-bench-scale"
    )
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--whole-folder", action="store_true", help="ingest in one call")
    args = parser.parse_args()
    w = str(args.work)
    stages = {
        "generate": _call("generate", w, str(args.symbols), str(args.years)),
        "ingest": _call("ingest", w, *(["whole"] if args.whole_folder else [])),
        "features": _call("features", w),
        "train": _call("train", w, str(args.train_symbols), str(args.train_years)),
        "score": _call("score", w),
    }
    save(
        "scale",
        {
            "symbols": args.symbols,
            "years": args.years,
            "rows": stages["generate"]["result"]["rows"],
            "feature_spec": _spec_info(),
            "stages": stages,
        },
    )
    if not args.keep:
        shutil.rmtree(args.work, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] in ("generate", "ingest", "features", "train", "score"):
        _worker(sys.argv[1], sys.argv[2:])
    else:
        main()
