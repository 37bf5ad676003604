"""Training tasks: build the panel once, then evaluate, train and register."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from prefect import task
from prefect.artifacts import (
    create_link_artifact,
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.logging import get_run_logger

from nepse.features.panel import build_panel
from nepse.model.training import train_and_register
from nepse.store import open_store
from tasks.artifacts import report_url
from tasks.common import IO_RETRY, settings


@task(name="build-training-panel", **IO_RETRY)
def build_training_panel(as_of: date | None) -> dict:
    """Features and labels of the whole stored history up to `as_of`, saved as Parquet."""
    import polars as pl

    s = settings()
    with open_store(s.database, read_only=True, lock_timeout_s=s.lock_timeout_s) as st:
        panel = build_panel(st, s, end=as_of).frame
    day = as_of or panel["date"].max()
    work = s.data_dir / "work"
    work.mkdir(parents=True, exist_ok=True)
    path = work / f"panel-{day}.parquet"
    panel.write_parquet(path)
    labelled = panel.filter(pl.col("y_ret").is_not_null()).height
    get_run_logger().info(
        "training panel up to %s: %d rows (%d labelled), %d symbols -> %s",
        day,
        panel.height,
        labelled,
        panel["symbol"].n_unique(),
        path,
    )
    return {"path": str(path), "as_of": day, "rows": panel.height, "labelled": labelled}


@task(name="evaluate-train-register", **IO_RETRY)
def evaluate_train_register(panel_path: str, as_of: date, force_promote: bool) -> dict:
    """Walk-forward evaluation vs baselines, the final model, and the registry's decision."""
    import polars as pl

    s = settings()
    panel = pl.read_parquet(panel_path)
    progress_id = create_progress_artifact(
        progress=0.0, key="walk-forward-progress", description="Walk-forward blocks done"
    )

    def progress(done: int, total: int) -> None:
        update_progress_artifact(progress_id, progress=100.0 * done / max(total, 1))

    with open_store(s.database, lock_timeout_s=s.lock_timeout_s) as st:
        out = train_and_register(
            panel,
            con=st.con,
            settings=s,
            models_dir=s.data_dir / "models",
            as_of=as_of,
            force_promote=force_promote,
            progress=progress,
        )
    d = out.decision
    folder = Path(d.path)
    table = [
        {k: (round(v, 5) if isinstance(v, float) else v) for k, v in row.items()}
        for row in out.walk_forward.summary.to_dicts()
    ]
    create_table_artifact(
        key="walk-forward-metrics",
        table=table,
        description=f"Walk-forward (out-of-sample) metrics of {d.version} vs baselines",
    )
    card = (folder / "card.md").read_text(encoding="utf-8")
    create_markdown_artifact(key="model-card", markdown=card, description=f"Model card {d.version}")
    create_link_artifact(
        key="evaluation-report",
        link=report_url(folder / "evaluation.html"),
        link_text=f"Evaluation report {d.version}",
        description="Cumulative top-minus-bottom return, daily Rank IC, feature importance",
    )
    get_run_logger().info("model %s: Rank IC %s, %s (%s)", d.version, d.rank_ic, d.status, d.reason)
    return {
        "version": d.version,
        "status": d.status,
        "promoted": d.promoted,
        "reason": d.reason,
        "rank_ic": d.rank_ic,
        "baseline_rank_ic": d.baseline_rank_ic,
        "path": str(folder),
    }
