"""The daily run's last task: report index, artifacts, alerts (and retraining on drift)."""

from __future__ import annotations

import math
import time
from dataclasses import replace

from prefect import task
from prefect.logging import get_run_logger

from nepse.ingest.gate import GateResult
from nepse.model.scoring import ScoredDay
from nepse.monitoring import side
from nepse.monitoring.drift import DriftSummary
from nepse.monitoring.performance import MonitorVerdict
from nepse.monitoring.reports import build_index
from nepse.monitoring.summary import DailySummary, daily_alerts
from nepse.store import open_store
from tasks.alerts import send_alerts
from tasks.artifacts import publish_daily_artifacts
from tasks.common import IO_RETRY, settings, timed


@task(name="publish-results", **IO_RETRY)
@timed
def publish_results(
    scored: ScoredDay,
    gate: GateResult,
    drift: DriftSummary | None,
    drift_error: str | None,
    verdict: MonitorVerdict,
) -> DailySummary:
    """Rewrite the report index, publish the run's artifacts and send its alerts."""
    s = settings()
    page_error = _finish_pages(s.data_dir, scored, drift, verdict)
    if page_error:
        drift_error = drift_error or page_error
        drift = replace(drift, html_path=None) if drift else None  # the verdict stands
    with open_store(s.database, read_only=True, lock_timeout_s=s.lock_timeout_s) as st:
        index = build_index(s.data_dir, st.report_index_rows())
        drifted = (
            st.recent_dataset_drift(s.retrain_on_drift_days) if s.retrain_on_drift_days else []
        )
    publish_daily_artifacts(scored, gate, drift, verdict, index)
    alerts = daily_alerts(scored, drift, drift_error, verdict)
    sent = send_alerts.fn(alerts)
    if drifted and len(drifted) == s.retrain_on_drift_days and all(drifted):
        _start_retraining(s.retrain_on_drift_days)
    return DailySummary(
        as_of=scored.as_of,
        model_version=scored.model_version,
        is_fallback=scored.is_fallback,
        n_predictions=scored.n,
        predictions_path=scored.predictions_path,
        drift_report=drift.html_path if drift and drift.html_path else None,
        dataset_drift=drift.dataset_drift if drift else None,
        report_index=index,
        database=s.database,
        alerts=len(alerts),
        alerts_delivered=sent.delivered,
    )


def _finish_pages(data_dir, scored: ScoredDay, drift: DriftSummary | None, verdict) -> str | None:
    """Add the day's monitoring numbers to the Evidently workspace (the dashboard's series) and
    wait for the side process's runs of the day; the drift page's error, if it failed."""
    if drift is not None and drift.alarms:
        from nepse.monitoring.baseline import DriftVerdict
        from nepse.monitoring.workspace import numbers_of

        floor = verdict.rank_ic_alarm.threshold if verdict.rank_ic_alarm else None
        view = DriftVerdict(
            scored.as_of, scored.as_of, drift.alarms, {c.column: c.score for c in drift.columns}, {}
        )
        numbers = numbers_of(view, rolling_rank_ic=verdict.rolling_rank_ic, rank_ic_floor=floor)
        label = f"monitoring numbers of {scored.as_of}"
        try:
            side.start().submit(
                "numbers_run",
                label,
                numbers={k: v for k, v in numbers.items() if not math.isnan(v)},
                day=scored.as_of.isoformat(),
                workspace_dir=str(data_dir),
            )
        except (OSError, side.SideProcessError) as exc:
            get_run_logger().error("Evidently %s not rendered: %s", label, exc)
    waited = time.perf_counter()
    failed = side.finish_all()
    pages = side.running()
    get_run_logger().info(
        "waited %.2f s for %s",
        time.perf_counter() - waited,
        pages.describe() if pages else "the Evidently side process (not started)",
    )
    for label, error in failed.items():
        get_run_logger().error("Evidently %s failed: %s", label, error)
    return failed.get(side.drift_page_label(scored.as_of))


def _start_retraining(days: int) -> None:
    from prefect.deployments import run_deployment

    get_run_logger().warning(
        "dataset drift on %d consecutive days: starting the train-model deployment", days
    )
    run_deployment("train-model/train-model", timeout=0)
