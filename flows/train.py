"""Flow `train-model`: walk-forward evaluation, final LightGBM model, registry decision."""

from __future__ import annotations

from datetime import date

from prefect import flow

from tasks.train import build_training_panel, evaluate_train_register


@flow(name="train-model", log_prints=True)
def train_model(as_of: date | None = None, force_promote: bool = False) -> dict:
    """Train a candidate model and promote it only if it beats the champion and the baselines.

    Args:
        as_of: Last trading day whose data may be used (labels known by then). Empty: the
            latest stored day.
        force_promote: Make the new model the champion even if its walk-forward Rank IC does
            not beat the current champion's and every baseline's (the reason is recorded).
    """
    panel = build_training_panel(as_of)
    return evaluate_train_register(panel["path"], panel["as_of"], force_promote)
