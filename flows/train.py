"""Flow `train-model`: training panel, walk-forward (jobs on Dask), final model, registry."""

from __future__ import annotations

from datetime import date

from prefect import flow

from tasks.train import (
    TrainOutcome,
    build_training_panel,
    run_name,
    start_progress,
    train_register,
    walk_forward,
)


@flow(name="train-model", flow_run_name=run_name, log_prints=True)
def train_model(as_of: date | None = None, force_promote: bool = False) -> TrainOutcome:
    """Train a candidate model and promote it only if it beats the champion and the baselines.

    Args:
        as_of: Last trading day whose data may be used (labels known by then). Empty: the
            latest stored day.
        force_promote: Make the new model the champion even if its walk-forward Rank IC does
            not beat the current champion's and every baseline's (the reason is recorded).
    """
    progress = start_progress()
    panel = build_training_panel(as_of)
    wf = walk_forward(panel, progress)
    return train_register(panel, wf, force_promote, progress)
