"""Benchmark: the walk-forward on the real data, serial vs fanned out on 1 and 2 Dask workers.

Builds the real panel once (ShareSansar folder + company list from ../shared/data/nepse,
ingested into `<work>/data` without Prefect, features and labels saved as Parquet), then runs
each mode in a fresh interpreter so that its wall time, CPU time (user + system of the process
and every descendant it waited for: Dask nannies and workers included) and load average are
measured alike:

- `serial`: `nepse.model.walkforward.walk_forward` in one process (LightGBM threads from the
  settings, 2 by default);
- `dask1`, `dask2`: the `walk-forward` subflow (flows/train.py), every block x seed and
  baseline group a Prefect task on a local Dask cluster of 1 or 2 worker processes
  (threads = 2 cores // workers), against a running `prefect server` (its own CPU is not in
  the figure; it is printed apart);
- `levers` (with --levers): per-fit seconds with the panel binned once (Dataset.subset) vs
  re-binned per fit, and a rerun over finished checkpoints (what resuming costs).

The machine is shared: CPU time is the main figure, wall time depends on the load.
Run: `.venv/bin/python bench/bench_walkforward.py [--start 2019-01-01] [--end 2026-12-31]
[--seeds 0,1,2] [--modes serial,dask1,dask2] [--levers]`; results go to
bench/results/walkforward.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import COMPANY_LIST, PYTHON, SHARESANSAR, load1, machine, prefect_server, run, save

HERE = Path(__file__).resolve()
DEFAULT_WORK = Path(os.environ.get("NEPSE_BENCH_WORK", "/tmp/nepse-bench-walkforward"))


def build_panel(work: Path) -> Path:
    """The real feature+label panel as Parquet (built once, cached under `work`)."""
    import polars as pl

    from nepse.features.labels import LABEL_COLUMNS

    path = work / "panel.parquet"
    if path.exists():
        have = set(pl.read_parquet_schema(path))
        if have >= set(LABEL_COLUMNS.values()):
            return path
        print(f"{path}: built before the labels {sorted(LABEL_COLUMNS.values())}: rebuilding")
        shutil.rmtree(work / "data", ignore_errors=True)
    from nepse.features.panel import build_panel as build
    from nepse.ingest.service import ingest_path
    from nepse.settings import load_settings
    from nepse.store import open_store

    s = load_settings(data_dir=work / "data")
    for src in (COMPANY_LIST, SHARESANSAR):
        ingest_path(s, src, today=date.today())
    with open_store(s.database, read_only=True) as st:
        panel = build(st, s).frame
    tmp = path.with_suffix(".tmp")
    panel.write_parquet(tmp)
    tmp.replace(path)
    return path


def _env(args) -> dict[str, str]:
    """The settings every mode reads (the Dask workers read them from the environment)."""
    seeds = [int(x) for x in args.seeds.split(",")]
    return {"NEPSE_TEST_START": args.start, "NEPSE_SEEDS": json.dumps(seeds)}


def _settings(args):
    from nepse.settings import load_settings

    os.environ.update(_env(args))
    return load_settings()


def child(args) -> None:
    """One mode, in this (fresh) process; writes the result summary to `args.out`."""
    import polars as pl

    from nepse.features import FEATURE_SPEC

    end = date.fromisoformat(args.end) if args.end else None
    t0, c0 = time.perf_counter(), time.process_time()
    if args.child == "serial":
        from nepse.features.labels import training_view
        from nepse.model.walkforward import walk_forward

        panel = pl.read_parquet(args.panel)
        if end:
            panel = panel.filter(pl.col("date") <= end)
        # The label of the settings, embargoed by its reach: what the flow's plan trains on.
        panel, s = training_view(panel, _settings(args))
        res = walk_forward(
            panel,
            feature_names=list(FEATURE_SPEC.names),
            categorical=list(FEATURE_SPEC.categorical),
            settings=s,
            progress=lambda k, n: print(
                f"block {k}/{n} {time.perf_counter() - t0:.0f}s", flush=True
            ),
        )
        summary, info = res.summary, res.info
    else:
        from flows.train import walk_forward as flow
        from nepse.model.summary import WalkForwardResult
        from tasks.train import PanelSource, dask_runner

        done = flow.with_options(task_runner=dask_runner())(PanelSource(args.panel, as_of=end))
        res = WalkForwardResult.load(Path(done.path))
        summary, info = res.summary, res.info
    out = {
        "mode": args.child,
        "wall_in_process_s": round(time.perf_counter() - t0, 2),
        "cpu_main_process_s": round(time.process_time() - c0, 2),
        "n_blocks": info["n_blocks"],
        "n_seeds": len(info["seeds"]),
        "test_start": info["test_start"],
        "test_end": info["test_end"],
        "n_rows": info["n_rows"],
        "summary": summary.select("model", "rank_ic", "ic", "rmse", "top_bottom").to_dicts(),
    }
    Path(args.out).write_text(json.dumps(out, default=str))


def levers(args) -> dict:
    """Seconds per fit with bins shared vs re-binned; resuming over finished checkpoints."""
    import polars as pl

    from nepse.features import FEATURE_SPEC
    from nepse.model.blocks import fit_block
    from nepse.model.walkforward import make_plan

    panel = pl.read_parquet(args.panel)
    s = _settings(args)
    plan = make_plan(
        panel,
        feature_names=list(FEATURE_SPEC.names),
        categorical=list(FEATURE_SPEC.categorical),
        settings=s,
        seeds=[0],
        baselines=False,
    )
    picks = [plan.blocks[0], plan.blocks[len(plan.blocks) // 2], plan.blocks[-1]]
    out = {"prepare_and_bin_once_s": round(plan.seconds_prepare, 2), "fits": []}
    shared = plan.prep.dataset
    for b in picks:
        row = {"block": b.block, "n_fit": b.fit_rows[1] - b.fit_rows[0]}
        for name, ds in (("shared_bins", shared), ("rebinned", None)):
            plan.prep.dataset = ds
            w, c = time.perf_counter(), time.process_time()
            fit = fit_block(b, plan.prep, s, 0)
            row[f"{name}_wall_s"] = round(time.perf_counter() - w, 2)
            row[f"{name}_cpu_s"] = round(time.process_time() - c, 2)
            row[f"{name}_best_iteration"] = fit.best_iteration
        out["fits"].append(row)
        print(row, flush=True)
    plan.prep.dataset = shared
    return out


def main() -> None:
    """Build the panel, run every mode in a child process, print and save the figures."""
    p = argparse.ArgumentParser()
    p.add_argument("--start", default="2019-01-01")
    p.add_argument("--end", default="")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--modes", default="serial,dask1,dask2")
    p.add_argument("--levers", action="store_true")
    p.add_argument("--work", default=str(DEFAULT_WORK))
    p.add_argument("--child", default="")
    p.add_argument("--panel", default="")
    p.add_argument("--out", default="")
    p.add_argument("--name", default="walkforward", help="results file bench/results/NAME.json")
    args = p.parse_args()
    if args.child:
        child(args)
        return
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    panel = build_panel(work)
    print(f"panel {panel} ready in {time.perf_counter() - t:.0f}s", flush=True)
    args.panel = str(panel)
    rows = []
    with prefect_server() as server:
        for mode in args.modes.split(","):
            out = work / f"result-{mode}.json"
            env = {
                **server.env(),
                **_env(args),
                "NEPSE_DATA_DIR": str(work / f"run-{mode}-{int(time.time())}"),
                "NEPSE_DASK_WORKERS": mode.removeprefix("dask") if mode.startswith("dask") else "0",
            }
            argv = [PYTHON, str(HERE), "--child", mode, "--panel", str(panel), "--out", str(out)]
            argv += ["--start", args.start, "--end", args.end, "--seeds", args.seeds]
            row = run(argv, env=env, label=f"walk-forward {mode}", timeout=4 * 3600)
            row.update(json.loads(out.read_text()))
            row.pop("stdout")
            row["stderr"] = row["stderr"][-1500:]
            rows.append(row)
    ref = {r["model"]: r["rank_ic"] for r in rows[0]["summary"]}
    for r in rows:
        got = {m["model"]: m["rank_ic"] for m in r["summary"]}
        r["max_rank_ic_diff_vs_first"] = max(
            abs((got[k] or 0) - (ref[k] or 0)) for k in ref if k in got
        )
    payload = {"machine": machine(), "load_end": load1(), "runs": rows, "args": vars(args)}
    if args.levers:
        payload["levers"] = levers(args)
    save(args.name, payload)
    for r in rows:
        lgbm = next(m for m in r["summary"] if m["model"] == "lightgbm")
        print(
            f"{r['label']}: wall {r['wall_s']:.0f} s, CPU {r['cpu_s']:.0f} s, load "
            f"{r['load_before']}->{r['load_after']}, {r['n_blocks']} blocks x {r['n_seeds']} "
            f"seeds, Rank IC {lgbm['rank_ic']:.5f} (max diff {r['max_rank_ic_diff_vs_first']:.1e})"
        )


if __name__ == "__main__":
    main()
