"""Training, step by step: the panel, the walk-forward, the final model and its registration.

The `train-model` flow runs these three steps as its three tasks; a notebook calls them (or
`train`, all three) and gets the same model folder: the registry's files plus what monitoring
reads (`drift_baseline.json` and its Parquet files, `walkforward_daily.parquet`).

Each step takes the settings and returns a small frozen value. `progress(fraction, text)`, if
given, is called as a step advances (fraction of that step done, a line for a person).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from nepse.app.snapshot import publish_registry
from nepse.atomic import write_parquet
from nepse.errors import NepseError
from nepse.features.panel import build_panel, calendar_of
from nepse.model.evaluate import market_of
from nepse.model.training import evaluate
from nepse.model.training import train_and_register as register_model
from nepse.model.walkforward import (
    MODEL,
    Executor,
    Progress,
    WalkForwardResult,
    executor_for,
)
from nepse.monitoring.daily_drift import baseline_for, sessions_of
from nepse.monitoring.realised import save_walkforward_daily
from nepse.settings import Settings
from nepse.store import open_store

log = logging.getLogger(__name__)
ProgressFn = Callable[[float, str], None]
WALK_FORWARD_DIR = ("work", "walkforward")
"""Under the data folder: the walk-forward's checkpoints (on the machine that runs the flow)."""


@dataclass(frozen=True)
class TrainingPanel:
    """The training panel (features and every label up to `as_of`), saved as Parquet."""

    path: str
    as_of: date
    rows: int
    labelled: int
    symbols: int


@dataclass(frozen=True)
class WalkForwardRun:
    """A summarised walk-forward, saved under `path` (a `WalkForwardResult` folder)."""

    path: str
    rank_ic: float | None
    n_blocks: int
    n_jobs: int
    n_fitted: int
    """Jobs run by this call; the others were read back from checkpoints."""
    seconds: float
    where: str
    """Where the jobs ran ("on 2 local Dask worker process(es)", "in this process", ...)."""


@dataclass(frozen=True)
class TrainOutcome:
    """The registry's decision on the new model, and where its folder is."""

    version: str
    status: str
    promoted: bool
    reason: str
    rank_ic: float | None
    baseline_rank_ic: tuple[tuple[str, float | None], ...]
    path: str
    drift_baseline: bool
    """False when the drift alarm lines could not be derived (the first daily run does it)."""
    champion_version: str | None = None
    """The champion before this decision (the one a promotion replaced)."""


def _store(settings: Settings, read_only: bool = True):
    return open_store(
        settings.database, read_only=read_only, lock_timeout_s=settings.lock_timeout_s
    )


def training_day(settings: Settings, as_of: date | None = None) -> date | None:
    """`as_of`, else the last stored trading day (None when the store has none)."""
    if as_of is not None:
        return as_of
    with _store(settings) as st:
        days = calendar_of(st).days
    return days[-1] if len(days) else None


def build_training_panel(settings: Settings, as_of: date | None = None) -> TrainingPanel:
    """Features and labels of the whole stored history up to `as_of`, saved as Parquet."""
    # Writable, as the run's registration is: a database of an older schema is migrated here
    # instead of refusing the read (one process holds a DuckDB file either way).
    with _store(settings, read_only=False) as st:
        panel = build_panel(st, settings, end=as_of).frame
    day = as_of or panel["date"].max()
    work = settings.data_dir / "work"
    work.mkdir(parents=True, exist_ok=True)
    path = write_parquet(panel, work / f"panel-{day}.parquet")
    # Each training builds its panel anew from the store: an earlier one is never read again
    # (a replay's season left 27 of them, 92 MB each, behind).
    for old in work.glob("panel-*.parquet"):
        if old != path:
            old.unlink(missing_ok=True)
    labelled = panel.filter(pl.col("y_ret").is_not_null()).height
    return TrainingPanel(str(path), day, panel.height, labelled, panel["symbol"].n_unique())


def walk_forward(
    settings: Settings,
    panel: TrainingPanel,
    *,
    executor: Executor | None = None,
    progress: ProgressFn | None = None,
) -> WalkForwardRun:
    """The candidate's walk-forward on `executor` (default: the settings', `executor_for`),
    checkpointed under data/work/walkforward/ so a rerun after a kill refits nothing finished."""
    t = time.perf_counter()
    executor = executor or executor_for(settings)
    result = evaluate(
        pl.read_parquet(panel.path),
        settings=settings,
        as_of=panel.as_of,
        executor=executor,
        checkpoint_dir=settings.data_dir.joinpath(*WALK_FORWARD_DIR),
        progress=_walk_forward_lines(progress, executor),
    )
    jobs = result.info["jobs"]
    return WalkForwardRun(
        path=str(Path(result.info["checkpoint"]) / "result"),
        rank_ic=result.rank_ic(),
        n_blocks=result.info["n_blocks"],
        n_jobs=jobs["total"],
        n_fitted=jobs["fitted"],
        seconds=round(time.perf_counter() - t, 2),
        where=jobs["where"],
    )


def _walk_forward_lines(progress: ProgressFn | None, executor: Executor):
    if progress is None:
        return None

    def line(p: Progress) -> None:
        if p.label == "checkpoint":
            text = (
                f"walk-forward: {p.total} jobs (block x seed fits, baseline groups), "
                f"{p.done} already checkpointed; running {executor.describe()}"
            )
        else:
            left = f", about {p.eta_seconds:.0f} s left" if p.eta_seconds is not None else ""
            text = f"walk-forward {p.done} of {p.total} done ({p.label}{left})"
        progress(p.done / max(p.total, 1), text)

    return line


def train_and_register(
    settings: Settings,
    panel: TrainingPanel,
    walk_forward_run: WalkForwardRun | None = None,
    *,
    force_promote: bool = False,
    progress: ProgressFn | None = None,
) -> TrainOutcome:
    """The final model on the latest window, registered with the walk-forward's verdict, with
    everything monitoring reads saved in its folder. Without `walk_forward_run` the
    walk-forward runs first (in this process)."""
    steps = iter((0.0, 0.5, 0.7, 0.9))
    say = (lambda text: progress(next(steps, 0.9), text)) if progress else None
    frame = pl.read_parquet(panel.path)
    wf = WalkForwardResult.load(Path(walk_forward_run.path)) if walk_forward_run else None
    with _store(settings, read_only=False) as st:
        out = register_model(
            frame,
            store=st,
            settings=settings,
            models_dir=settings.data_dir / "models",
            as_of=panel.as_of,
            force_promote=force_promote,
            walk_forward_result=wf,
            # The backtest's prices: promotion judges the net excess, trading.html is drawn.
            market=market_of(st, settings),
            progress=say,
        )
        publish_registry(settings, st)  # the read-only API's copy of the registry
    d = out.decision
    folder = Path(d.path)
    # The realised Rank IC alarm is calibrated on the walk-forward's own daily values, and the
    # drift alarms on the training period's last sessions (so no daily run derives them).
    daily = out.walk_forward.daily
    save_walkforward_daily(daily.filter(pl.col("model") == MODEL), folder)
    oos = out.walk_forward.predictions
    drift = _save_drift_baseline(frame, out.model.meta, oos, folder, settings)
    if progress:
        progress(1.0, f"model {d.version} registered as {d.status}")
    return TrainOutcome(
        version=d.version,
        status=d.status,
        promoted=d.promoted,
        reason=d.reason,
        rank_ic=d.rank_ic,
        baseline_rank_ic=tuple(sorted(d.baseline_rank_ic.items())),
        path=str(folder),
        drift_baseline=drift,
        champion_version=d.champion_version,
    )


def _save_drift_baseline(
    panel: pl.DataFrame, meta: dict, oos: pl.DataFrame, folder: Path, settings: Settings
) -> bool:
    """The drift reference and alarm lines from the model's last training sessions, with the
    walk-forward's out-of-sample predictions (`oos`) as the prediction reference."""
    try:
        baseline_for(folder, meta, training_panel=sessions_of(panel, oos), settings=settings)
    except (NepseError, ValueError) as exc:  # the first daily run derives it instead
        log.warning("drift baseline not saved with the model %s: %s", folder.name, exc)
        return False
    return True


def metrics_table(run: WalkForwardRun) -> list[dict[str, Any]]:
    """The walk-forward's summary (model and baselines) as rows for a table, floats rounded."""
    summary = pl.read_parquet(Path(run.path) / "summary.parquet")
    return [
        {k: (round(v, 5) if isinstance(v, float) else v) for k, v in row.items()}
        for row in summary.to_dicts()
    ]


def train(
    settings: Settings,
    as_of: date | None = None,
    *,
    force_promote: bool = False,
    executor: Executor | None = None,
    progress: ProgressFn | None = None,
) -> TrainOutcome:
    """The three steps of the `train-model` flow in one call (for a notebook)."""
    panel = build_training_panel(settings, as_of)
    run = walk_forward(settings, panel, executor=executor, progress=progress)
    return train_and_register(settings, panel, run, force_promote=force_promote, progress=progress)
