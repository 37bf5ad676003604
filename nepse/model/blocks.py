"""Fitting one walk-forward block: LightGBM for each seed, and the baselines.

Pure functions of a `BlockPlan` and the `PreparedPanel` (binned once, see `nepse.model.plan`):
the serial walk-forward calls them in a loop, and an orchestrator (the Prefect tasks in
`tasks/train.py`, on a Dask task runner) maps them over blocks and seeds in any order. Their
results are small: predictions for the block's test rows and a few numbers per fit.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from nepse.model.baselines import make_baselines
from nepse.model.lgbm import LGBModel
from nepse.model.plan import BlockPlan, PreparedPanel
from nepse.settings import Settings


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


def _rows(r: tuple[int, int]) -> np.ndarray:
    return np.arange(r[0], r[1])


def fit_block(
    plan: BlockPlan,
    prep: PreparedPanel,
    settings: Settings,
    seed: int,
    *,
    num_threads: int | None = None,
) -> SeedFit:
    """Fit one block with one seed by the one procedure (`LGBModel.fit`) and predict its days."""
    t = time.perf_counter()
    model = LGBModel.fit(
        prep.x,
        prep.y,
        _rows(plan.fit_rows),
        _rows(plan.valid_rows),
        feature_names=prep.feature_names,
        categorical=prep.categorical,
        settings=settings,
        seed=seed,
        target=prep.target,
        dataset=prep.dataset,
        num_threads=num_threads,
    )
    lo, hi = plan.test_rows
    return SeedFit(
        block=plan.block,
        seed=seed,
        pred=model.predict(prep.x[lo:hi]),
        gains=model.importance(),
        best_iteration=model.best_iteration,
        intercept=model.intercept,
        slope=model.slope,
        seconds=time.perf_counter() - t,
        model=model,
    )


def fit_block_seeds(
    plan: BlockPlan,
    prep: PreparedPanel,
    settings: Settings,
    seeds: Sequence[int],
    *,
    num_threads: int | None = None,
) -> list[SeedFit]:
    """Fit one block with every seed."""
    return [fit_block(plan, prep, settings, s, num_threads=num_threads) for s in seeds]


def baseline_group_size(feature_names: list[str], categorical: list[str]) -> int:
    """Blocks per baseline job: the lcm of the baselines' refit periods.

    A group starting at a multiple of it refits every baseline exactly where the serial loop
    would, so groups can run independently and give the same predictions.
    """
    periods = [b.retrain_every_blocks for b in make_baselines(feature_names, categorical)]
    return math.lcm(*periods) if periods else 1


def baseline_groups(plans: Sequence[BlockPlan], size: int) -> list[tuple[BlockPlan, ...]]:
    """Consecutive blocks cut into groups of `size` (the first of each a multiple of it)."""
    return [tuple(plans[i : i + size]) for i in range(0, len(plans), size)]


def fit_baselines(
    group: Sequence[BlockPlan], prep: PreparedPanel, *, seed: int, n_jobs: int | None = None
) -> BaselineFit:
    """Fit and predict every baseline over a group of consecutive blocks (see group size)."""
    models = make_baselines(prep.feature_names, prep.categorical, seed=seed)
    if n_jobs is not None:
        for b in models:
            if hasattr(b, "n_jobs"):
                b.n_jobs = n_jobs
    parts: dict[str, list[np.ndarray]] = {b.name: [] for b in models}
    fit_at: dict[str, list[int]] = {b.name: [] for b in models}
    seconds: dict[int, float] = {}
    for plan in group:
        t = time.perf_counter()
        lo, hi = plan.test_rows
        xt = prep.x[lo:hi]
        # Windows are contiguous row ranges: slices are views, not copies.
        a, b_ = plan.train_rows
        for b in models:
            if plan.block % b.retrain_every_blocks == 0:
                b.fit(prep.x[a:b_], prep.y[a:b_])
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
