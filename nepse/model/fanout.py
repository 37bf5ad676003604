"""The walk-forward as independent jobs, for an orchestrator that runs them anywhere, in any order.

A job is one block x seed LightGBM fit or one group of baseline blocks (`nepse.model.blocks`).
Every process that runs jobs rebuilds the same `Plan` from the training panel's Parquet file
once (`cached_plan`: same rows, same bins, so the same fits as the serial run), runs its jobs and
writes each result to the run's checkpoint folder (`nepse.model.checkpoint`). `collect` then
reads them back and summarises. A job whose checkpoint exists is not refitted, so a crashed run
resumes where it stopped. This module knows nothing of Prefect or Dask (`tasks/train.py` does).
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl

from nepse.features import FEATURE_SPEC
from nepse.features.labels import training_view
from nepse.model.blocks import fit_baselines, fit_block
from nepse.model.checkpoint import Checkpoint
from nepse.model.summary import WalkForwardResult
from nepse.model.walkforward import Plan, finish, make_plan
from nepse.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Layout:
    """How the walk-forward's jobs share the machine."""

    workers: int
    """Dask worker processes (a local cluster), or 0 with `address` (an existing scheduler)."""
    threads: int
    """LightGBM threads per fit (and per random-forest baseline)."""
    address: str | None = None


def layout(settings: Settings, cores: int | None = None) -> Layout:
    """Workers x threads that do not oversubscribe the cores (or the configured scheduler)."""
    if settings.dask_address:
        threads = int(settings.lgbm_params.get("num_threads") or 2)
        return Layout(workers=0, threads=threads, address=settings.dask_address)
    cores = cores or os.cpu_count() or 1
    workers = settings.dask_workers or cores
    return Layout(workers=workers, threads=max(1, cores // workers))


@dataclass(frozen=True)
class Job:
    """One unit of walk-forward work."""

    kind: str
    """"lightgbm" (one block x seed) or "baselines" (blocks first..last)."""
    block: int
    seed: int | None = None
    last: int | None = None

    @property
    def label(self) -> str:
        """A short name for logs and the Prefect UI."""
        if self.kind == "lightgbm":
            return f"block {self.block} seed {self.seed}"
        return f"baselines blocks {self.block}-{self.last}"


@dataclass(frozen=True)
class JobDone:
    """What one job did (small: it crosses the Dask cluster)."""

    job: Job
    resumed: bool
    """True when the result was already in the checkpoint folder (no fit)."""
    seconds: float


def jobs(plan: Plan) -> list[Job]:
    """Every job of the plan: block x seed fits, then baseline groups."""
    out = [Job("lightgbm", b.block, seed=s) for b in plan.blocks for s in plan.fit_seeds]
    out += [Job("baselines", g[0].block, last=g[-1].block) for g in plan.baseline_groups]
    return out


@dataclass(frozen=True)
class PanelSource:
    """Where a walk-forward's panel is and which of its columns the model reads."""

    panel_path: str
    as_of: date | None = None
    """Only rows up to this day (None: all)."""
    feature_names: tuple[str, ...] = tuple(FEATURE_SPEC.names)
    categorical: tuple[str, ...] = tuple(FEATURE_SPEC.categorical)
    baselines: bool = True


_PLANS: dict[tuple, Plan] = {}


def cached_plan(source: PanelSource, settings: Settings) -> Plan:
    """The walk-forward plan of a saved training panel, built once per process."""
    path = source.panel_path
    key = (source, os.path.getmtime(path), settings.model_dump_json())
    if key not in _PLANS:
        panel = pl.read_parquet(path)
        if source.as_of is not None:
            panel = panel.filter(pl.col("date") <= source.as_of)
        _PLANS.clear()  # one plan per process: each holds the binned panel
        # The label of settings.label, embargoed by its reach, as train_and_register uses.
        panel, label_settings = training_view(panel, settings)
        _PLANS[key] = make_plan(
            panel,
            feature_names=list(source.feature_names),
            categorical=list(source.categorical),
            settings=label_settings,
            baselines=source.baselines,
        )
    return _PLANS[key]


def checkpoint(plan: Plan, settings: Settings, root: Path, threads: int) -> Checkpoint:
    """The run's checkpoint folder under `root`."""
    return Checkpoint.for_plan(root, plan, settings, num_threads=threads)


def run_job(plan: Plan, job: Job, settings: Settings, ck: Checkpoint, threads: int) -> JobDone:
    """Run one job unless its result is already checkpointed; save the result."""
    t = time.perf_counter()
    if job.kind == "lightgbm":
        block = plan.blocks[job.block]
        if ck.seed_fit(block, job.seed) is not None:
            return JobDone(job, resumed=True, seconds=time.perf_counter() - t)
        fit = fit_block(block, plan.prep, settings, job.seed, num_threads=threads)
        ck.save_seed_fit(block, fit)
    else:
        group = tuple(plan.blocks[job.block : job.last + 1])
        if ck.baseline_fit(group) is not None:
            return JobDone(job, resumed=True, seconds=time.perf_counter() - t)
        fit = fit_baselines(group, plan.prep, seed=plan.seeds[0], n_jobs=threads)
        ck.save_baseline_fit(group, fit)
    log.info("walk-forward %s fitted in %.1fs", job.label, time.perf_counter() - t)
    return JobDone(job, resumed=False, seconds=time.perf_counter() - t)


def collect(
    plan: Plan, settings: Settings, ck: Checkpoint, *, t0: tuple[float, float] | None = None
) -> WalkForwardResult:
    """Read every job's checkpoint and summarise (ValueError when one is missing)."""
    fits, base = [], []
    for b in plan.blocks:
        for s in plan.fit_seeds:
            fit = ck.seed_fit(b, s)
            if fit is None:
                raise ValueError(f"walk-forward block {b.block} seed {s} has no checkpoint")
            fits.append(fit)
    for g in plan.baseline_groups:
        got = ck.baseline_fit(g)
        if got is None:
            raise ValueError(f"walk-forward baselines from block {g[0].block} have no checkpoint")
        base.append(got)
    lgb_s = sum(f.seconds for f in fits)
    base_s = sum(sum(g.seconds.values()) for g in base)
    t0 = t0 or (time.perf_counter(), time.process_time())
    fits = plan.all_seeds(fits)
    result = finish(plan, fits, base, settings=settings, t0=t0, lgb_s=lgb_s, base_s=base_s)
    result.info["checkpoint"] = str(ck.folder)
    return result


def save_result(result: WalkForwardResult, ck: Checkpoint) -> Path:
    """Write the summarised result next to the checkpoints; return its folder."""
    folder = result.save(ck.folder / "result")
    (ck.folder / "result" / "done.json").write_text(json.dumps({"ok": True}) + "\n")
    return folder
