"""Walk-forward evaluation of the LightGBM model and its baselines, out of sample only.

Three steps, each its own module so that an orchestrator can fan the middle one out:

1. plan (`nepse.model.plan`): the panel as arrays, binned once, cut into `BlockPlan`s;
2. fit (`nepse.model.blocks`): each block x seed by the one procedure (`LGBModel.fit`), and the
   baselines by groups of blocks; optionally checkpointed (`nepse.model.checkpoint`) so a
   crashed run resumes without refitting finished blocks;
3. summarise (`nepse.model.summary`): daily metrics, summary, importance, the result.

`walk_forward` runs the three serially in this process; `tasks/train.py` runs step 2 as Prefect
tasks on a Dask task runner and gives the same numbers.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from nepse.model.blocks import (
    BaselineFit,
    SeedFit,
    baseline_group_size,
    baseline_groups,
    fit_baselines,
    fit_block,
)
from nepse.model.checkpoint import Checkpoint
from nepse.model.data import check_panel
from nepse.model.lgbm import lgb_params, seed_free
from nepse.model.plan import (
    BlockPlan,
    PreparedPanel,
    bin_panel,
    default_test_start,
    plan_blocks,
    prepare,
)
from nepse.model.summary import METRIC_COLUMNS, MODEL, WalkForwardResult, summarise
from nepse.settings import Settings

__all__ = [
    "METRIC_COLUMNS",
    "MODEL",
    "Plan",
    "WalkForwardResult",
    "default_test_start",
    "make_plan",
    "run_info",
    "walk_forward",
]

logger = logging.getLogger(__name__)


@dataclass
class Plan:
    """A prepared, binned walk-forward: its panel arrays, blocks, seeds and baseline groups."""

    prep: PreparedPanel
    blocks: list[BlockPlan]
    seeds: list[int]
    baseline_groups: list[tuple[BlockPlan, ...]]
    seconds_prepare: float

    fit_seeds: list[int] = field(default_factory=list)
    """Seeds actually fitted: all of them, or only the first when the seed cannot change a fit
    (`seed_free`); the others then reuse its result."""

    @property
    def n_jobs(self) -> int:
        """Units of work: block x seed fits plus baseline groups."""
        return len(self.blocks) * len(self.fit_seeds) + len(self.baseline_groups)

    def all_seeds(self, fits: Sequence[SeedFit]) -> list[SeedFit]:
        """`fits` (of `fit_seeds`) extended to every seed: copies where the seed is moot."""
        if self.fit_seeds == self.seeds:
            return list(fits)
        # Copies cost nothing: their seconds are 0 so that timings count each fit once.
        return [
            f if s == f.seed else replace(f, seed=s, seconds=0.0) for f in fits for s in self.seeds
        ]


def make_plan(
    panel: pl.DataFrame,
    *,
    feature_names: list[str],
    categorical: list[str],
    settings: Settings,
    test_start: date | None = None,
    test_end: date | None = None,
    seeds: Sequence[int] | None = None,
    baselines: bool = True,
) -> Plan:
    """Check and prepare the panel, plan the blocks and bin the panel once."""
    t = time.perf_counter()
    check_panel(panel, feature_names, categorical, where="walk_forward")
    seeds = list(settings.seeds if seeds is None else seeds)
    if not seeds:
        raise ValueError("walk_forward: seeds is empty; pass at least one seed")
    prep = prepare(panel, feature_names=feature_names, categorical=categorical, settings=settings)
    blocks = plan_blocks(prep, settings, test_start=test_start, test_end=test_end)
    # Bins from the first fit slice only: no statistic of test-period features leaks in.
    bin_panel(prep, blocks[0], settings, seeds[0])
    groups = (
        baseline_groups(blocks, baseline_group_size(feature_names, categorical))
        if baselines
        else []
    )
    fit_seeds = seeds[:1] if seed_free(lgb_params(settings, seeds[0])) else list(seeds)
    return Plan(prep, blocks, seeds, groups, time.perf_counter() - t, fit_seeds)


def run_info(plan: Plan, settings: Settings) -> dict[str, Any]:
    """The settings and sizes a result records (timings are added by the runner)."""
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
    progress: Callable[[int, int], None] | None = None,
    checkpoint_dir: Path | None = None,
) -> WalkForwardResult:
    """Retrain every `retrain_every` test days, predict the next block, score model + baselines.

    `progress(done, total)` is called after each block. With `checkpoint_dir`, every fit is
    saved there as it finishes and fits already saved (same data, settings, block and seed)
    are read back instead of refitted.
    """
    t0_wall, t0_cpu = time.perf_counter(), time.process_time()
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
    ck = Checkpoint.for_plan(checkpoint_dir, plan, settings) if checkpoint_dir else None
    fits: list[SeedFit] = []
    base: list[BaselineFit] = []
    groups = {g[0].block: g for g in plan.baseline_groups}
    t_lgb = t_base = 0.0
    for plan_k in plan.blocks:
        t = time.perf_counter()
        for seed in plan.fit_seeds:
            fit = ck.seed_fit(plan_k, seed) if ck else None
            if fit is None:
                fit = fit_block(plan_k, plan.prep, settings, seed)
                if ck:
                    ck.save_seed_fit(plan_k, fit)
            fits.append(fit)
        t_lgb += time.perf_counter() - t
        t = time.perf_counter()
        if plan_k.block in groups:
            group = groups[plan_k.block]
            got = ck.baseline_fit(group) if ck else None
            if got is None:
                got = fit_baselines(group, plan.prep, seed=plan.seeds[0])
                if ck:
                    ck.save_baseline_fit(group, got)
            base.append(got)
        t_base += time.perf_counter() - t
        if progress is not None:
            progress(plan_k.block + 1, len(plan.blocks))
        logger.debug(
            "walk-forward block %d/%d done (%s..%s)",
            plan_k.block + 1,
            len(plan.blocks),
            plan_k.test_start,
            plan_k.test_end,
        )
    return finish(
        plan,
        plan.all_seeds(fits),
        base,
        settings=settings,
        t0=(t0_wall, t0_cpu),
        lgb_s=t_lgb,
        base_s=t_base,
    )


def finish(
    plan: Plan,
    fits: Sequence[SeedFit],
    base: Sequence[BaselineFit],
    *,
    settings: Settings,
    t0: tuple[float, float],
    lgb_s: float,
    base_s: float,
) -> WalkForwardResult:
    """Summarise the fits into the result, with timings since `t0` (wall, process CPU)."""
    info = run_info(plan, settings)
    result = summarise(
        plan.prep, plan.blocks, fits, base, settings=settings, seeds=plan.seeds, info=info
    )
    wall, cpu = time.perf_counter() - t0[0], time.process_time() - t0[1]
    result.info["seconds"] = {
        "total": round(wall, 2),
        "cpu": round(cpu, 2),
        "prepare_and_bins": round(plan.seconds_prepare, 2),
        "lightgbm": round(lgb_s, 2),
        "baselines": round(base_s, 2),
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
