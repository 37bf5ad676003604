"""Flow `train-model`: training panel, walk-forward (jobs on Dask), final model, registry."""

from __future__ import annotations

from datetime import date

from prefect import flow

from runs.names import train_run_name
from runs.progress import start_progress
from runs.slot import writer_slot
from tasks.train import TrainOutcome, build_training_panel, train_register, walk_forward


@flow(name="train-model", flow_run_name=train_run_name, log_prints=True)
def train_model(as_of: date | None = None, force_promote: bool = False) -> TrainOutcome:
    """Train a candidate model and promote it only if it beats the champion and the baselines.

    Args:
        as_of: Last trading day whose data may be used (labels known by then). Empty: the
            latest stored day.
        force_promote: Make the new model the champion even if its walk-forward Rank IC does
            not beat the current champion's and every baseline's (the reason is recorded).
    """
    progress = start_progress(
        "training-progress",
        "Training: walk-forward jobs, then the final model and its registration",
    )
    # The writer slot is taken here, by the flow, around the two steps that use the database
    # (not during the walk-forward): taken from a task run instead, Prefect 3.9.1 answers the
    # second acquisition of a process after about 2 s with the slot free (runs/slot.py).
    with writer_slot("build the training panel"):
        panel = build_training_panel(as_of)
    wf = walk_forward(panel, progress)
    with writer_slot("register the model"):
        return train_register(panel, wf, force_promote, progress)
