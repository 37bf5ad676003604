"""Flow `replay`: the service's own schedule run over past days, the record it would have made.

For each trading day of the source from `start` to `end`, in order: `train-model` wherever its
cron in prefect.yaml fires after the previous day's daily run (as of the last stored day), the
day's rows released into the folder the runs read, the `daily-predictions` flow itself on that
folder, and `train-model` again when that run asks for it (NEPSE_RETRAIN_ON_DRIFT_DAYS). First,
once: the history before `start` ingested (`ingest-prices`) and the first model trained on it.
Killed anywhere, the same call continues after the last completed day (docs/replay.md).
"""

from __future__ import annotations

import time
from datetime import date

from prefect import flow
from prefect.artifacts import update_progress_artifact
from prefect.logging import get_run_logger

from flows.daily import daily_predictions
from flows.ingest import ingest_prices
from flows.train import train_model
from nepse.app import replay as app
from runs.progress import start_progress
from runs.replay import alerts_raised, publish_season, run_subflow
from runs.retrain import retraining_deferred
from runs.settings import settings
from runs.slot import writer_slot


@flow(name="replay", flow_run_name="replay-{start}..{end}", log_prints=True)
def replay(start: date, end: date, source: str) -> dict:
    """Replay the service over past trading days: each day sees only its own and earlier rows.

    Args:
        start: First trading day to replay (the history before it trains the first model).
        end: Last trading day to replay.
        source: A file or folder of NEPSE price files holding the history and the days (the
            same formats as `ingest-prices`). Replay into a fresh NEPSE_DATA_DIR.
    """
    with writer_slot("begin the replay"):
        plan = app.begin(settings(), source, start, end)
    log = get_run_logger()
    log.info(
        "replay %s..%s: %d of %d trading days to run%s",
        start,
        end,
        len(plan.days),
        plan.total_days,
        f", resumed after {plan.resumed_from}" if plan.resumed_from else "",
    )
    progress = start_progress("replay-progress", f"Replay {start}..{end}")
    if plan.needs_history:
        _unit(app.HISTORY, None, plan)
    done = plan.total_days - len(plan.days)
    for day in plan.days:
        _unit(day.isoformat(), day, plan)
        done += 1
        update_progress_artifact(progress, 100 * done / plan.total_days, description=f"{day}")
    report = app.season_report(settings())
    publish_season(report)
    log.info("season report: %s", report.url or report.path)
    return report.figures


def _unit(label: str, day: date | None, plan: app.ReplayPlan) -> None:
    """One replayed unit (the history, or a day), recorded and snapshotted when complete."""
    t, runs, trainings = time.perf_counter(), [], []
    with alerts_raised() as alerts:
        if day is None:
            run, _ = run_subflow(ingest_prices, path=str(plan.source_folder))
            runs.append(run)
            first = app.champion_version(settings()) is None  # going live: the first champion
            trainings.append(_train("first model", plan.history_end, force_promote=first))
        else:
            previous, fires = app.trainings_due(settings(), day)
            trainings += [_train("schedule", previous, moment=str(m)) for m in fires]
            app.release_day(settings(), day)
            with retraining_deferred() as asked:
                run, _ = run_subflow(daily_predictions, as_of=day, source=str(plan.source_folder))
            runs.append(run)
            trainings += [_train("drift", d) for d in asked]
    record = {
        "day": day.isoformat() if day else None,
        "seconds": round(time.perf_counter() - t, 2),
        "runs": runs,
        "trainings": trainings,
        "alerts": alerts,
    }
    with writer_slot("record the replayed day"):
        app.complete(settings(), label, record)
    get_run_logger().info(
        "replayed %s in %.1f s: %s", label, record["seconds"], ", ".join(r["state"] for r in runs)
    )


def _train(trigger: str, as_of: date | None, **extra) -> dict:
    """Run train-model as of `as_of` (a replayed firing), recorded with its decision."""
    force = extra.pop("force_promote", False)
    run, outcome = run_subflow(train_model, as_of=as_of, force_promote=force)
    return {
        "trigger": trigger,
        "as_of": str(as_of),
        **extra,
        **run,
        **app.training_record(outcome),
    }
