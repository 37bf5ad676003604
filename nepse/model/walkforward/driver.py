"""The walk-forward driver: plan, skip what is checkpointed, run the rest, checkpoint, summarise.

One driver for every caller: the `train-model` flow gives it a Dask executor, tests and
notebooks run it in this process (the default); everything else is the same code path.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from nepse.model.lgbm import lgb_params
from nepse.model.walkforward.checkpoint import Checkpoint
from nepse.model.walkforward.executors import Executor, InProcess
from nepse.model.walkforward.jobs import (
    BaselineFit,
    Job,
    SeedFit,
    job_data,
    jobs_of,
    run_job,
)
from nepse.model.walkforward.plan import Plan, make_plan
from nepse.model.walkforward.summary import WalkForwardResult, summarise
from nepse.settings import Settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Progress:
    """Where a walk-forward stands after one more job."""

    done: int
    """Jobs finished, checkpointed ones included."""
    total: int
    fitted: int
    """Jobs run by this call (not read back from a checkpoint)."""
    label: str
    """The job just finished ("block 3 seed 1"), or "checkpoint" for the initial count."""
    eta_seconds: float | None
    """Seconds left at this call's pace (None before the first fitted job)."""


def walk_forward(
    panel: pl.DataFrame,
    *,
    feature_names: list[str],
    categorical: list[str],
    settings: Settings,
    test_start: date | None = None,
    test_end: date | None = None,
    seeds: Sequence[int] | None = None,
    baselines: bool = True,
    executor: Executor | None = None,
    checkpoint_dir: Path | None = None,
    progress: Callable[[Progress], None] | None = None,
) -> WalkForwardResult:
    """Retrain every `retrain_every` test days, predict the next block, score model + baselines.

    Jobs (block x seed fits, baseline groups) run on `executor` (default: this process). With
    `checkpoint_dir`, every result is saved there as it comes back and results already saved
    (same data, settings, block and seed) are read back instead of refitted; the summarised
    result is saved there too (`result/`). `progress` is called once with the checkpointed
    count, then after each job.
    """
    t0 = (time.perf_counter(), time.process_time())
    executor = executor or InProcess()
    plan = make_plan(
        panel,
        feature_names=feature_names,
        categorical=categorical,
        settings=settings,
        test_start=test_start,
        test_end=test_end,
        seeds=seeds,
        baselines=baselines,
    )
    ck = (
        Checkpoint.for_plan(checkpoint_dir, plan, settings, executor.threads)
        if checkpoint_dir
        else None
    )
    jobs = jobs_of(plan)
    results: dict[Job, SeedFit | BaselineFit] = {}
    for job in jobs:
        got = ck.load(job) if ck else None
        if got is not None:
            results[job] = got
    todo = [j for j in jobs if j not in results]
    logger.debug(
        "walk-forward %s..%s: %d blocks x %d seeds = %d jobs (%d checkpointed), %s",
        plan.blocks[0].test_start,
        plan.blocks[-1].test_end,
        len(plan.blocks),
        len(plan.fit_seeds),
        len(jobs),
        len(results),
        executor.describe(),
    )
    report = _reporter(len(jobs), len(results), progress)
    data = job_data(plan, settings, executor.threads)
    for job, result in executor.run(run_job, todo, data):
        if ck:
            ck.save(job, result)
        results[job] = result
        report(job.label)
    result = finish(plan, [results[j] for j in jobs], settings=settings, t0=t0)
    result.info["jobs"] = {"total": len(jobs), "fitted": len(todo), "where": executor.describe()}
    if ck:
        result.info["checkpoint"] = str(ck.folder)
        ck.save_result(result)
    return result


def _reporter(total: int, done: int, progress: Callable[[Progress], None] | None):
    start, state = time.perf_counter(), {"done": done, "fitted": 0}
    if progress is not None:
        progress(Progress(done, total, 0, "checkpoint", None))

    def report(label: str) -> None:
        state["done"] += 1
        state["fitted"] += 1
        pace = (time.perf_counter() - start) / state["fitted"]
        if progress is not None:
            eta = pace * (total - state["done"])
            progress(Progress(state["done"], total, state["fitted"], label, eta))

    return report


def all_seeds(plan: Plan, fits: Sequence[SeedFit]) -> list[SeedFit]:
    """`fits` (of `plan.fit_seeds`) extended to every seed: copies where the seed is moot."""
    if plan.fit_seeds == plan.seeds:
        return list(fits)
    # Copies cost nothing: their seconds are 0 so that timings count each fit once.
    return [f if s == f.seed else replace(f, seed=s, seconds=0.0) for f in fits for s in plan.seeds]


def run_info(plan: Plan, settings: Settings) -> dict[str, Any]:
    """The settings and sizes a result records (timings are added by `finish`)."""
    return {
        "seeds": plan.seeds,
        "horizon": settings.horizon,
        "retrain_every": settings.retrain_every,
        "walk_forward_window": settings.walk_forward_window,
        "train_years": settings.train_years,
        "valid_days": settings.valid_days,
        "cost_bps": settings.cost_bps,
        "label_transform": settings.label_transform,
        "num_boost_round": settings.num_boost_round,
        "early_stopping_rounds": settings.early_stopping_rounds,
        "params": lgb_params(settings, plan.seeds[0]),
        "test_start": plan.blocks[0].test_start.isoformat(),
        "test_end": plan.blocks[-1].test_end.isoformat(),
        "n_blocks": len(plan.blocks),
        "n_rows": plan.prep.data.height,
    }


def finish(
    plan: Plan,
    results: Sequence[SeedFit | BaselineFit],
    *,
    settings: Settings,
    t0: tuple[float, float],
) -> WalkForwardResult:
    """Summarise every job's result, with timings since `t0` (wall, process CPU)."""
    fits = [r for r in results if isinstance(r, SeedFit)]
    base = [r for r in results if isinstance(r, BaselineFit)]
    result = summarise(
        plan.prep,
        plan.blocks,
        all_seeds(plan, fits),
        base,
        settings=settings,
        seeds=plan.seeds,
        info=run_info(plan, settings),
    )
    wall, cpu = time.perf_counter() - t0[0], time.process_time() - t0[1]
    result.info["seconds"] = {
        "total": round(wall, 2),
        "cpu": round(cpu, 2),
        "prepare": round(plan.seconds_prepare, 2),
        "lightgbm": round(sum(f.seconds for f in fits), 2),
        "baselines": round(sum(sum(g.seconds.values()) for g in base), 2),
    }
    ric = result.rank_ic()
    logger.info(
        "walk-forward %s..%s: %d blocks x %d seeds in %.1fs, LightGBM Rank IC %.4f",
        result.info["test_start"],
        result.info["test_end"],
        len(plan.blocks),
        len(plan.seeds),
        wall,
        ric if ric is not None else float("nan"),
    )
    return result
