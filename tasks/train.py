"""Training tasks: settings -> one `nepse.app.training` call -> one log line -> its frozen value.

The walk-forward's jobs run where the settings say (`nepse.app.training.walk_forward`: a local
Dask cluster sized to the machine, or the scheduler at NEPSE_DASK_ADDRESS); Prefect runs on
this machine only. One progress artifact on the `train-model` run covers the walk-forward
(0-90 %) and the final model and its registration (90-100 %).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from uuid import UUID

from prefect import task
from prefect.artifacts import (
    create_link_artifact,
    create_markdown_artifact,
    create_table_artifact,
)
from prefect.logging import get_run_logger

from nepse.app import texts
from nepse.app import training as app
from nepse.app.events import PROMOTED, ModelChange
from nepse.app.publish import publish_model_reports
from nepse.app.training import TrainingPanel, TrainOutcome, WalkForwardRun
from runs.events import record_model_change
from runs.progress import reporter
from runs.settings import settings
from runs.slot import holds_writer_slot

WALK_FORWARD_SHARE = 90.0
"""Percent of the training progress bar given to the walk-forward (the rest: the final model)."""


@task(name="build-training-panel")
@holds_writer_slot
def build_training_panel(as_of: date | None) -> TrainingPanel:
    """Features and labels of the whole stored history up to `as_of`, saved as Parquet."""
    p = app.build_training_panel(settings(), as_of)
    get_run_logger().info(
        "training panel up to %s: %d rows (%d labelled), %d symbols -> %s",
        p.as_of,
        p.rows,
        p.labelled,
        p.symbols,
        p.path,
    )
    return p


@task(name="walk-forward")
def walk_forward(panel: TrainingPanel, progress: UUID | None = None) -> WalkForwardRun:
    """Every block x seed fit and baseline group, checkpointed, then the summary."""
    run = app.walk_forward(settings(), panel, progress=reporter(progress, 0, WALK_FORWARD_SHARE))
    get_run_logger().info(
        "walk-forward: %d blocks, %d of %d jobs fitted %s in %.0f s; LightGBM Rank IC %s -> %s",
        run.n_blocks,
        run.n_fitted,
        run.n_jobs,
        run.where,
        run.seconds,
        run.rank_ic,
        run.path,
    )
    return run


@task(name="train-and-register")
@holds_writer_slot
def train_register(
    panel: TrainingPanel,
    walk_forward_run: WalkForwardRun,
    force_promote: bool = False,
    progress: UUID | None = None,
) -> TrainOutcome:
    """The final model on the latest window, registered with the walk-forward's verdict."""
    out = app.train_and_register(
        settings(),
        panel,
        walk_forward_run,
        force_promote=force_promote,
        progress=reporter(progress, WALK_FORWARD_SHARE, 100),
    )
    # (A drift baseline that could not be derived is the library's warning, in the run's logs.)
    get_run_logger().info(
        "model %s: Rank IC %s, %s (%s)", out.version, out.rank_ic, out.status, out.reason
    )
    _artifacts(walk_forward_run, out)
    if out.promoted:  # an event (automation 'nepse model promoted or rolled back'), an artifact
        record_model_change(
            ModelChange(
                PROMOTED, out.version, out.champion_version, out.reason, "train-model", out.rank_ic
            )
        )
    return out


def _artifacts(run: WalkForwardRun, out: TrainOutcome) -> None:
    s = settings()
    folder = Path(out.path)
    pages = publish_model_reports(s, folder)  # served beside the daily reports
    shown = texts.model_texts(s, out.version, folder, pages, app.metrics_table(run))
    create_table_artifact(
        key="walk-forward-metrics",
        table=list(shown.metrics),
        description=f"Walk-forward (out-of-sample) metrics of {out.version} vs baselines",
    )
    create_markdown_artifact(
        key="model-card", markdown=shown.card, description=f"Model card {out.version}"
    )
    for link in shown.links:  # without NEPSE_REPORTS_BASE_URL the card shows their paths
        create_link_artifact(
            key=link.key, link=link.url, link_text=link.text, description=link.description
        )
