"""Benchmark: the walk-forward on the real data, in one process and on Dask (local and remote).

Builds the real panel once (ShareSansar folder + company list from ../shared/data/nepse,
ingested into `<work>/data` without Prefect, features and labels saved as Parquet), then runs
each mode in a fresh interpreter so that its wall time, CPU time (user + system of the process
and every descendant it waited for: Dask nannies and workers included) and load average are
measured alike. Every mode runs the one driver the `train-model` flow runs
(`nepse.app.training.walk_forward`), with its own checkpoint folder, then once more over its
finished checkpoints (`rerun_s`: what resuming costs):

- `serial`: every job in this process (LightGBM threads from the settings, 2 by default);
- `dask1`, `dask2`: a local Dask cluster of 1 or 2 worker processes (threads = 2 cores //
  workers);
- `remote`: a `dask scheduler` and 2 `dask worker` processes (1 thread each) started by the
  child as `nobody` when it runs as root (`nepse.devdata.dask_hosts`), which cannot read the
  data folder: the panel's arrays travel to them once, the results come back (beyond one
  machine, on one machine);
- `levers` (with --levers): per-fit seconds with the panel binned once (Dataset.subset) vs
  re-binned per fit.

The machine is shared: CPU time is the main figure, wall time depends on the load.
Run: `.venv/bin/python bench/bench_walkforward.py [--start 2019-01-01] [--end 2026-12-31]
[--seeds 0,1,2] [--modes serial,dask1,dask2,remote] [--levers]`; results go to
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

from common import COMPANY_LIST, PYTHON, SHARESANSAR, load1, machine, run, save

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
    """The settings every mode reads."""
    seeds = [int(x) for x in args.seeds.split(",")]
    env = {"NEPSE_TEST_START": args.start, "NEPSE_SEEDS": json.dumps(seeds)}
    if args.retrain_every:
        env["NEPSE_RETRAIN_EVERY"] = str(args.retrain_every)
    return env


def _settings(args):
    from nepse.settings import load_settings

    os.environ.update(_env(args))
    return load_settings()


def _executor(mode: str, stack):
    """The executor of a mode (a remote one starts its scheduler and workers on `stack`)."""
    from nepse.devdata.dask_hosts import can_switch_user, dask_hosts
    from nepse.model.walkforward import DaskExecutor, InProcess

    if mode == "serial":
        return InProcess(), "in this process"
    if mode == "remote":
        user = None if can_switch_user("nobody") else "nobody"
        address = stack.enter_context(dask_hosts(2, user=user))
        return DaskExecutor(address=address, threads=1), f"2 dask workers as {user or 'this user'}"
    n = int(mode.removeprefix("dask"))
    return DaskExecutor(workers=n, threads=max(1, 2 // n)), f"{n} local worker process(es)"


def child(args) -> None:
    """One mode, in this (fresh) process; writes the result summary to `args.out`."""
    import contextlib

    import polars as pl

    from nepse.app import training as app
    from nepse.model.walkforward import WalkForwardResult

    t0, c0 = time.perf_counter(), time.process_time()
    s = _settings(args)
    end = date.fromisoformat(args.end) if args.end else None
    as_of = end or pl.scan_parquet(args.panel).select(pl.col("date").max()).collect().item()
    panel = app.TrainingPanel(args.panel, as_of, 0, 0, 0)
    with contextlib.ExitStack() as stack:
        executor, where = _executor(args.child, stack)
        run = app.walk_forward(
            s,
            panel,
            executor=executor,
            progress=lambda f, text: print(f"{time.perf_counter() - t0:.0f}s {text}", flush=True),
        )
        wall = time.perf_counter() - t0
        t1 = time.perf_counter()
        again = app.walk_forward(s, panel, executor=executor)
        rerun = time.perf_counter() - t1
    if args.child.startswith("dask"):
        # Local workers are forked by multiprocessing's fork server, which reaps them but is not
        # waited for at exit: stop it so their CPU time counts as this process's descendants'.
        from multiprocessing import forkserver

        forkserver._forkserver._stop()
    assert again.n_fitted == 0, again
    res = WalkForwardResult.load(Path(run.path))
    info = res.info
    out = {
        "mode": args.child,
        "where": where,
        "wall_in_process_s": round(wall, 2),
        "cpu_main_process_s": round(time.process_time() - c0, 2),
        "rerun_s": round(rerun, 2),
        "n_jobs": run.n_jobs,
        "n_blocks": info["n_blocks"],
        "n_seeds": len(info["seeds"]),
        "test_start": info["test_start"],
        "test_end": info["test_end"],
        "n_rows": info["n_rows"],
        # What each worker receives once: the feature matrix, the label and the target.
        "shipped_mb": round(info["n_rows"] * (len(res.importance) + 2) * 8 / 1e6, 1),
        "summary": res.summary.select("model", "rank_ic", "ic", "rmse", "top_bottom").to_dicts(),
    }
    Path(args.out).write_text(json.dumps(out, default=str))


def levers(args) -> dict:
    """Seconds per fit with bins shared vs re-binned."""
    import numpy as np
    import polars as pl

    from nepse.features import FEATURE_SPEC
    from nepse.features.labels import training_view
    from nepse.model.lgbm import LGBModel
    from nepse.model.walkforward.jobs import fit_block, job_data
    from nepse.model.walkforward.plan import make_plan

    panel, s = training_view(pl.read_parquet(args.panel), _settings(args))
    plan = make_plan(
        panel,
        feature_names=list(FEATURE_SPEC.names),
        categorical=list(FEATURE_SPEC.categorical),
        settings=s,
        seeds=[0],
        baselines=False,
    )
    data = job_data(plan, s, threads=None)
    t = time.perf_counter()
    data.binned()
    out = {
        "prepare_s": round(plan.seconds_prepare, 2),
        "bin_once_s": round(time.perf_counter() - t, 2),
        "fits": [],
    }
    picks = [plan.blocks[0], plan.blocks[len(plan.blocks) // 2], plan.blocks[-1]]
    for b in picks:
        row = {"block": b.block, "n_fit": b.fit_rows[1] - b.fit_rows[0]}
        w, c = time.perf_counter(), time.process_time()
        fit = fit_block(b, data, 0)
        row["shared_bins_wall_s"] = round(time.perf_counter() - w, 2)
        row["shared_bins_cpu_s"] = round(time.process_time() - c, 2)
        row["shared_bins_best_iteration"] = fit.best_iteration
        w, c = time.perf_counter(), time.process_time()
        model = LGBModel.fit(
            data.x,
            data.y,
            np.arange(*b.fit_rows),
            np.arange(*b.valid_rows),
            feature_names=data.feature_names,
            categorical=data.categorical,
            settings=s,
            seed=0,
            target=data.target,
        )
        row["rebinned_wall_s"] = round(time.perf_counter() - w, 2)
        row["rebinned_cpu_s"] = round(time.process_time() - c, 2)
        row["rebinned_best_iteration"] = model.best_iteration
        out["fits"].append(row)
        print(row, flush=True)
    return out


def main() -> None:
    """Build the panel, run every mode in a child process, print and save the figures."""
    p = argparse.ArgumentParser()
    p.add_argument("--start", default="2019-01-01")
    p.add_argument("--end", default="")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--retrain-every", type=int, default=0, help="0: the settings' (21)")
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
    for mode in args.modes.split(","):
        out = work / f"result-{mode}.json"
        env = {**_env(args), "NEPSE_DATA_DIR": str(work / f"run-{mode}-{int(time.time())}")}
        argv = [PYTHON, str(HERE), "--child", mode, "--panel", str(panel), "--out", str(out)]
        argv += ["--start", args.start, "--end", args.end, "--seeds", args.seeds]
        argv += ["--retrain-every", str(args.retrain_every)]
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
            f"{r['label']} ({r['where']}): wall {r['wall_s']:.0f} s, CPU {r['cpu_s']:.0f} s, "
            f"rerun {r['rerun_s']:.1f} s, load {r['load_before']}->{r['load_after']}, "
            f"{r['n_blocks']} blocks x {r['n_seeds']} seeds, Rank IC {lgbm['rank_ic']:.5f} "
            f"(max diff {r['max_rank_ic_diff_vs_first']:.1e})"
        )


if __name__ == "__main__":
    main()
