"""The walk-forward's jobs: one block x seed LightGBM fit, or one group of baseline blocks.

A job runs wherever an executor puts it (this process, a Dask worker on another host) and
needs nothing but its arguments: the `Job` (which blocks, which seed) and the `JobData` (the
panel's arrays and the settings), which an executor ships once per worker process. No path,
no database, no Prefect: a worker that cannot read the data directory fits the same models.
The results are small (predictions for the job's test rows and a few numbers) and go back to
the driver, which checkpoints them.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nepse.model._lightgbm import lgb
from nepse.model.baselines import make_baselines
from nepse.model.lgbm import LGBModel, lgb_params
from nepse.model.walkforward.plan import BlockPlan, Plan
from nepse.settings import Settings

LIGHTGBM = "lightgbm"
BASELINES = "baselines"


@dataclass(frozen=True)
class SeedFit:
    """One block fitted with one seed: its model's test predictions and fit statistics."""

    block: int
    seed: int
    pred: np.ndarray
    """Calibrated predictions for the block's test rows, in row order."""
    gains: np.ndarray
    """Total gain per feature at the best iteration."""
    best_iteration: int
    intercept: float
    slope: float
    seconds: float
    model: LGBModel | None = field(default=None, compare=False, repr=False)
    """The fitted model (kept for checkpoints; None once loaded back from one)."""


@dataclass(frozen=True)
class BaselineFit:
    """Baseline predictions for a group of consecutive blocks."""

    blocks: tuple[int, ...]
    pred: dict[str, np.ndarray]
    """Per baseline: predictions for the group's test rows, blocks in order."""
    fit_at: dict[str, list[int]]
    """Per baseline: the blocks at which it was (re)fitted."""
    seconds: dict[int, float]
    """Seconds spent per block."""
    every: dict[str, int] = field(default_factory=dict)
    """Per baseline: its refit period in blocks."""


@dataclass(frozen=True)
class Job:
    """One unit of walk-forward work: a block x seed fit, or the baselines of a block group."""

    kind: str
    """LIGHTGBM (one block, one seed) or BASELINES (consecutive blocks)."""
    blocks: tuple[BlockPlan, ...]
    seed: int

    @property
    def label(self) -> str:
        """A short name for logs and progress lines."""
        if self.kind == LIGHTGBM:
            return f"block {self.blocks[0].block} seed {self.seed}"
        return f"baselines blocks {self.blocks[0].block}-{self.blocks[-1].block}"

    @property
    def name(self) -> str:
        """A file-safe name (the job's checkpoint folder)."""
        if self.kind == LIGHTGBM:
            return f"block-{self.blocks[0].block:03d}-seed-{self.seed}"
        return f"baselines-{self.blocks[0].block:03d}-{self.blocks[-1].block:03d}"


class JobData:
    """What every job reads: the panel's arrays, the bins' rows and seed, the settings.

    Shipped once per worker process. The binned LightGBM Dataset is built from it on first use
    in each process (`binned`) and never pickled: bins from the same rows with the same
    parameters are the same bins everywhere.
    """

    def __init__(
        self,
        *,
        x: np.ndarray,
        y: np.ndarray,
        target: np.ndarray,
        feature_names: list[str],
        categorical: list[str],
        bin_rows: tuple[int, int],
        bin_seed: int,
        settings: Settings,
        threads: int | None,
    ) -> None:
        self.x, self.y, self.target = x, y, target
        self.feature_names, self.categorical = list(feature_names), list(categorical)
        self.bin_rows, self.bin_seed = bin_rows, bin_seed
        self.settings, self.threads = settings, threads
        self._binned: lgb.Dataset | None = None
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_binned"] = state["_lock"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def binned(self) -> lgb.Dataset:
        """The whole panel binned with bins from the first block's fit slice (built once)."""
        with self._lock:
            if self._binned is None:
                params = lgb_params(self.settings, self.bin_seed)
                lo, hi = self.bin_rows
                # Bins from the first fit slice only: no statistic of test-period features.
                ref = lgb.Dataset(
                    self.x[lo:hi],
                    label=self.target[lo:hi],
                    feature_name=self.feature_names,
                    categorical_feature=self.categorical or "auto",
                    params=params,
                    free_raw_data=False,
                ).construct()
                self._binned = lgb.Dataset(
                    self.x,
                    label=self.target,
                    reference=ref,
                    feature_name=self.feature_names,
                    categorical_feature=self.categorical or "auto",
                    params=params,
                    free_raw_data=False,
                ).construct()
            return self._binned


def job_data(plan: Plan, settings: Settings, threads: int | None) -> JobData:
    """The arrays and settings the plan's jobs read."""
    p = plan.prep
    return JobData(
        x=p.x,
        y=p.y,
        target=p.target,
        feature_names=p.feature_names,
        categorical=p.categorical,
        bin_rows=plan.blocks[0].fit_rows,
        bin_seed=plan.seeds[0],
        settings=settings,
        threads=threads,
    )


def baseline_group_size(feature_names: list[str], categorical: list[str]) -> int:
    """Blocks per baseline job: the lcm of the baselines' refit periods.

    A group starting at a multiple of it refits every baseline exactly where a serial loop
    would, so groups can run independently and give the same predictions.
    """
    periods = [b.retrain_every_blocks for b in make_baselines(feature_names, categorical)]
    return math.lcm(*periods) if periods else 1


def jobs_of(plan: Plan) -> list[Job]:
    """Every job of the plan: block x seed fits, then baseline groups."""
    out = [Job(LIGHTGBM, (b,), s) for b in plan.blocks for s in plan.fit_seeds]
    if plan.baselines:
        size = baseline_group_size(plan.prep.feature_names, plan.prep.categorical)
        out += [
            Job(BASELINES, tuple(plan.blocks[i : i + size]), plan.seeds[0])
            for i in range(0, len(plan.blocks), size)
        ]
    return out


def run_job(job: Job, data: JobData) -> SeedFit | BaselineFit:
    """Run one job on `data` (in any process) and return its result."""
    if job.kind == LIGHTGBM:
        return fit_block(job.blocks[0], data, job.seed)
    return fit_baselines(job.blocks, data, seed=job.seed)


def fit_block(plan: BlockPlan, data: JobData, seed: int) -> SeedFit:
    """Fit one block with one seed by the one procedure (`LGBModel.fit`) and predict its days."""
    t = time.perf_counter()
    model = LGBModel.fit(
        data.x,
        data.y,
        np.arange(*plan.fit_rows),
        np.arange(*plan.valid_rows),
        feature_names=data.feature_names,
        categorical=data.categorical,
        settings=data.settings,
        seed=seed,
        target=data.target,
        dataset=data.binned(),
        num_threads=data.threads,
    )
    lo, hi = plan.test_rows
    return SeedFit(
        block=plan.block,
        seed=seed,
        pred=model.predict(data.x[lo:hi]),
        gains=model.importance(),
        best_iteration=model.best_iteration,
        intercept=model.intercept,
        slope=model.slope,
        seconds=time.perf_counter() - t,
        model=model,
    )


def fit_baselines(group: Sequence[BlockPlan], data: JobData, *, seed: int) -> BaselineFit:
    """Fit and predict every baseline over a group of consecutive blocks (see group size)."""
    models = make_baselines(data.feature_names, data.categorical, seed=seed)
    if data.threads is not None:
        for b in models:
            if hasattr(b, "n_jobs"):
                b.n_jobs = data.threads
    parts: dict[str, list[np.ndarray]] = {b.name: [] for b in models}
    fit_at: dict[str, list[int]] = {b.name: [] for b in models}
    seconds: dict[int, float] = {}
    for plan in group:
        t = time.perf_counter()
        lo, hi = plan.test_rows
        xt = data.x[lo:hi]
        # Windows are contiguous row ranges: slices are views, not copies.
        a, b_ = plan.train_rows
        for b in models:
            if plan.block % b.retrain_every_blocks == 0:
                b.fit(data.x[a:b_], data.y[a:b_])
                fit_at[b.name].append(plan.block)
            parts[b.name].append(b.predict(xt))
        seconds[plan.block] = time.perf_counter() - t
    pred = {name: np.concatenate(p) if p else np.zeros(0) for name, p in parts.items()}
    return BaselineFit(
        blocks=tuple(p.block for p in group),
        pred=pred,
        fit_at=fit_at,
        seconds=seconds,
        every={b.name: b.retrain_every_blocks for b in models},
    )
