"""Training tasks: build the panel once, fan the walk-forward out on Dask, train and register.

The walk-forward's jobs (block x seed fits, baseline groups: `nepse.model.fanout`) are Prefect
tasks that the `walk-forward` subflow submits to a Dask task runner (`dask_runner`): a local
cluster sized to the machine, or the scheduler at NEPSE_DASK_ADDRESS. Each job checkpoints its
result under data/work/walkforward/<run key>/, so a rerun after a crash refits nothing finished.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
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

from nepse.app.events import PROMOTED, ModelChange
from nepse.app.publish import publish_model_reports
from nepse.app.texts import card_markdown, report_url
from nepse.errors import NepseError
from nepse.features.panel import build_panel
from nepse.model import fanout
from nepse.model.evaluate import market_of
from nepse.model.summary import MODEL, WalkForwardResult
from nepse.model.training import train_and_register
from nepse.monitoring.daily_drift import baseline_for, sessions_of
from nepse.monitoring.realised import save_walkforward_daily
from nepse.store import open_store
from tasks.alerts import record_model_change
from tasks.common import holds_writer_slot, settings

PanelSource = fanout.PanelSource
ProgressHook = Callable[[int, int, float | None, str], None]
_HOOKS: list[ProgressHook] = []


def add_progress_hook(hook: ProgressHook) -> None:
    """Call `hook(done, total, eta_seconds, label)` after each walk-forward job (e.g. the CLI)."""
    _HOOKS.append(hook)


def clear_progress_hooks() -> None:
    """Forget every progress hook."""
    _HOOKS.clear()


@dataclass(frozen=True)
class TrainingPanel:
    """The saved training panel."""

    path: str
    as_of: date
    rows: int
    labelled: int


@dataclass(frozen=True)
class WalkForwardJobs:
    """The walk-forward's jobs and how they share the machine."""

    jobs: tuple[fanout.Job, ...]
    n_blocks: int
    threads: int
    checkpoint: str
    already_done: int


@dataclass(frozen=True)
class WalkForwardDone:
    """A summarised walk-forward, saved under `path`."""

    path: str
    rank_ic: float | None
    n_blocks: int
    n_jobs: int
    n_fitted: int
    seconds: float


@dataclass(frozen=True)
class TrainOutcome:
    """The registry's decision on the new model."""

    version: str
    status: str
    promoted: bool
    reason: str
    rank_ic: float | None
    baseline_rank_ic: tuple[tuple[str, float | None], ...]
    path: str


def dask_runner():
    """A DaskTaskRunner per the settings: the configured scheduler, else a local cluster."""
    from prefect_dask import DaskTaskRunner

    lay = fanout.layout(settings())
    if lay.address:
        return DaskTaskRunner(address=lay.address)
    # Worker processes talk to the same Prefect API as this run (else each starts its own
    # temporary server): pass the URL down through the environment they inherit.
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        os.environ.setdefault("PREFECT_API_URL", str(client.api_url))
    return DaskTaskRunner(
        cluster_kwargs={
            "n_workers": lay.workers,
            "threads_per_worker": 1,
            "processes": True,
            "dashboard_address": None,
        }
    )


@task(name="build-training-panel")
@holds_writer_slot
def build_training_panel(as_of: date | None) -> TrainingPanel:
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
    return TrainingPanel(str(path), day, panel.height, labelled)


def _plan_and_checkpoint(source: fanout.PanelSource, threads: int):
    s = settings()
    plan = fanout.cached_plan(source, s)
    return s, plan, fanout.checkpoint(plan, s, s.data_dir / "work" / "walkforward", threads)


@task(name="plan-walk-forward")
def plan_walk_forward(source: fanout.PanelSource) -> WalkForwardJobs:
    """Cut the test period into blocks; list the block x seed and baseline jobs."""
    lay = fanout.layout(settings())
    _, plan, ck = _plan_and_checkpoint(source, lay.threads)
    jobs = tuple(fanout.jobs(plan))
    done = sum(1 for b in plan.blocks for x in plan.fit_seeds if ck.seed_fit(b, x) is not None)
    get_run_logger().info(
        "walk-forward %s..%s: %d blocks x %d seeds + %d baseline groups = %d jobs (%d already "
        "checkpointed in %s); %s, %d LightGBM thread(s) per fit",
        plan.blocks[0].test_start,
        plan.blocks[-1].test_end,
        len(plan.blocks),
        len(plan.seeds),
        len(plan.baseline_groups),
        len(jobs),
        done,
        ck.folder,
        f"scheduler {lay.address}" if lay.address else f"{lay.workers} local Dask worker(s)",
        lay.threads,
    )
    return WalkForwardJobs(jobs, len(plan.blocks), lay.threads, str(ck.folder), done)


@task(name="fit-walk-forward-job", task_run_name="fit {job.label}")
def fit_walk_forward_job(
    source: fanout.PanelSource, job: fanout.Job, threads: int
) -> fanout.JobDone:
    """One block x seed fit (or one baseline group), checkpointed; skipped if already done."""
    s, plan, ck = _plan_and_checkpoint(source, threads)
    return fanout.run_job(plan, job, s, ck, threads)


@task(name="summarise-walk-forward")
def summarise_walk_forward(source: fanout.PanelSource, threads: int) -> WalkForwardDone:
    """Read every job's checkpoint, compute the metrics and save the result."""
    t0 = (time.perf_counter(), time.process_time())
    s, plan, ck = _plan_and_checkpoint(source, threads)
    result = fanout.collect(plan, s, ck, t0=t0)
    path = fanout.save_result(result, ck)
    ric = result.rank_ic()
    get_run_logger().info("walk-forward summarised: LightGBM Rank IC %s -> %s", ric, path)
    return WalkForwardDone(str(path), ric, len(plan.blocks), plan.n_jobs, 0, 0.0)


class Progress:
    """Block i of n with an ETA: the run's log, a Prefect progress artifact, the hooks."""

    def __init__(self, total: int, done: int = 0) -> None:
        self.total, self.done, self.start = total, done, time.perf_counter()
        self.fitted = 0
        self.id = create_progress_artifact(
            progress=100.0 * done / max(total, 1),
            key="walk-forward-progress",
            description="Walk-forward jobs (block x seed fits, baseline groups) done",
        )

    def step(self, label: str, resumed: bool) -> None:
        """Record one finished job."""
        self.done += 1
        self.fitted += 0 if resumed else 1
        elapsed = time.perf_counter() - self.start
        eta = elapsed / self.fitted * (self.total - self.done) if self.fitted else None
        update_progress_artifact(self.id, progress=100.0 * self.done / max(self.total, 1))
        get_run_logger().info(
            "walk-forward %d of %d done (%s%s), ETA %s",
            self.done,
            self.total,
            label,
            ", from checkpoint" if resumed else "",
            f"{eta:.0f}s" if eta is not None else "-",
        )
        for hook in _HOOKS:
            hook(self.done, self.total, eta, label)

    def seconds(self) -> float:
        """Wall seconds since the first job was submitted."""
        return round(time.perf_counter() - self.start, 2)


@task(name="train-and-register")
@holds_writer_slot
def train_register(
    panel_path: str, as_of: date, walk_forward_path: str, force_promote: bool
) -> TrainOutcome:
    """The final model on the latest window, registered with the walk-forward's verdict."""
    import polars as pl

    s = settings()
    panel = pl.read_parquet(panel_path)
    wf = WalkForwardResult.load(Path(walk_forward_path))
    with open_store(s.database, lock_timeout_s=s.lock_timeout_s) as st:
        out = train_and_register(
            panel,
            store=st,
            settings=s,
            models_dir=s.data_dir / "models",
            as_of=as_of,
            force_promote=force_promote,
            walk_forward_result=wf,
            # The backtest's prices: promotion judges the net excess, trading.html is drawn.
            market=market_of(st, s),
        )
    d = out.decision
    folder = Path(d.path)
    # The realised Rank IC alarm is calibrated on the walk-forward's own daily values, and the
    # drift alarms on the training period's last sessions (so no daily run derives them).
    wf_daily = out.walk_forward.daily
    save_walkforward_daily(wf_daily.filter(wf_daily["model"] == MODEL), folder)
    _save_drift_baseline(panel, out.model, out.walk_forward.predictions, folder, s)
    _artifacts(out.walk_forward, d, folder)
    if d.promoted:  # an event (automation 'nepse model promoted or rolled back'), an artifact
        record_model_change(
            ModelChange(PROMOTED, d.version, d.champion_version, d.reason, "train-model", d.rank_ic)
        )
    get_run_logger().info("model %s: Rank IC %s, %s (%s)", d.version, d.rank_ic, d.status, d.reason)
    return TrainOutcome(
        version=d.version,
        status=d.status,
        promoted=d.promoted,
        reason=d.reason,
        rank_ic=d.rank_ic,
        baseline_rank_ic=tuple(sorted(d.baseline_rank_ic.items())),
        path=str(folder),
    )


def _save_drift_baseline(panel, model, oos, folder: Path, s) -> None:
    """The drift reference and alarm lines from the model's last training sessions, with the
    walk-forward's out-of-sample predictions (`oos`) as the prediction reference."""
    try:
        baseline_for(
            folder,
            model.meta,
            training_panel=sessions_of(panel, oos),
            settings=s,
        )
    except (NepseError, ValueError) as exc:  # the first daily run derives it instead
        get_run_logger().warning("drift baseline not saved with the model: %s", exc)


def _artifacts(wf: WalkForwardResult, d, folder: Path) -> None:
    table = [
        {k: (round(v, 5) if isinstance(v, float) else v) for k, v in row.items()}
        for row in wf.summary.to_dicts()
    ]
    create_table_artifact(
        key="walk-forward-metrics",
        table=table,
        description=f"Walk-forward (out-of-sample) metrics of {d.version} vs baselines",
    )
    s = settings()
    pages = publish_model_reports(s, folder)  # served beside the daily reports
    card = card_markdown(s, (folder / "card.md").read_text(encoding="utf-8"), folder, pages)
    create_markdown_artifact(key="model-card", markdown=card, description=f"Model card {d.version}")
    shown = {
        "evaluation.html": (
            "evaluation-report",
            f"Evaluation report {d.version}",
            "Cumulative top-minus-bottom return, daily Rank IC, feature importance",
        ),
        "trading.html": (
            "trading-report",
            f"Backtest with NEPSE costs {d.version}",
            "Long-only top-k with costs vs the universe: returns, drawdown, quintiles",
        ),
    }
    for name, (key, text, description) in shown.items():
        url = report_url(s, pages[name]) if name in pages else None
        if url:  # without NEPSE_REPORTS_BASE_URL the card shows the pages' paths instead
            create_link_artifact(key=key, link=url, link_text=text, description=description)
