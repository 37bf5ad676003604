"""Flow `train-model`: walk-forward fanned out on Dask, final LightGBM model, registry decision."""

from __future__ import annotations

from datetime import date

from prefect import flow, unmapped
from prefect.futures import as_completed

from tasks.train import (
    PanelSource,
    Progress,
    TrainOutcome,
    WalkForwardDone,
    build_training_panel,
    dask_runner,
    fit_walk_forward_job,
    plan_walk_forward,
    summarise_walk_forward,
    train_register,
)


@flow(name="walk-forward")
def walk_forward(source: PanelSource) -> WalkForwardDone:
    """Every block x seed and baseline group as a task (checkpointed), then the summary."""
    jobs = plan_walk_forward(source)
    progress = Progress(total=len(jobs.jobs))
    futures = fit_walk_forward_job.map(unmapped(source), list(jobs.jobs), unmapped(jobs.threads))
    for future in as_completed(list(futures)):
        done = future.result()
        progress.step(done.job.label, done.resumed)
    wf = summarise_walk_forward(source, jobs.threads)
    return WalkForwardDone(
        wf.path, wf.rank_ic, wf.n_blocks, wf.n_jobs, progress.fitted, progress.seconds()
    )


@flow(name="train-model", log_prints=True)
def train_model(as_of: date | None = None, force_promote: bool = False) -> TrainOutcome:
    """Train a candidate model and promote it only if it beats the champion and the baselines.

    Args:
        as_of: Last trading day whose data may be used (labels known by then). Empty: the
            latest stored day.
        force_promote: Make the new model the champion even if its walk-forward Rank IC does
            not beat the current champion's and every baseline's (the reason is recorded).
    """
    panel = build_training_panel(as_of)
    source = PanelSource(panel.path, panel.as_of)
    wf = walk_forward.with_options(task_runner=dask_runner())(source)
    return train_register(panel.path, panel.as_of, wf.path, force_promote)
