"""The daily run's last task: report index, artifacts, alerts (and retraining on drift)."""

from __future__ import annotations

from prefect import task
from prefect.logging import get_run_logger

from nepse.ingest.gate import GateResult
from nepse.model.scoring import ScoredDay
from nepse.monitoring.alerts import Alert, Notifier
from nepse.monitoring.drift import DriftSummary
from nepse.monitoring.performance import MonitorVerdict
from nepse.monitoring.reports import build_index
from nepse.monitoring.summary import DailySummary, daily_alerts
from nepse.store import open_store
from tasks.artifacts import publish_daily_artifacts
from tasks.common import IO_RETRY, settings


@task(name="publish-results", **IO_RETRY)
def publish_results(
    scored: ScoredDay,
    gate: GateResult,
    drift: DriftSummary | None,
    drift_error: str | None,
    verdict: MonitorVerdict,
) -> DailySummary:
    """Rewrite the report index, publish the run's artifacts and send its alerts."""
    s = settings()
    with open_store(s.database, read_only=True, lock_timeout_s=s.lock_timeout_s) as st:
        index = build_index(s.data_dir, st.report_index_rows())
        drifted = (
            st.recent_dataset_drift(s.retrain_on_drift_days) if s.retrain_on_drift_days else []
        )
    publish_daily_artifacts(scored, gate, drift, verdict, index)
    alerts = daily_alerts(scored, drift, drift_error, verdict)
    deliver(alerts)
    if drifted and len(drifted) == s.retrain_on_drift_days and all(drifted):
        _start_retraining(s.retrain_on_drift_days)
    return DailySummary(
        as_of=scored.as_of,
        model_version=scored.model_version,
        is_fallback=scored.is_fallback,
        n_predictions=scored.n,
        predictions_path=scored.predictions_path,
        drift_report=drift.html_path if drift else None,
        dataset_drift=drift.dataset_drift if drift else None,
        report_index=index,
        database=s.database,
        alerts=len(alerts),
    )


@task(name="send-alerts")
def send_alerts(alerts: list[Alert]) -> int:
    """Deliver alerts of a run that ends early (stale data, a refused day)."""
    return deliver(alerts)


def deliver(alerts: list[Alert]) -> int:
    """Log every alert in the run's logs and post it to the webhook; returns how many arrived."""
    if not alerts:
        return 0
    log = get_run_logger()
    for alert in alerts:
        log.warning("alert [%s] %s: %s", alert.level, alert.title, alert.text)
    notifier = Notifier(webhook_secret())
    sent = sum(notifier.send(a) for a in alerts)
    log.info("%d alert(s) raised, %d delivered to the webhook", len(alerts), sent)
    return sent


def webhook_secret():
    """The alert webhook URL: NEPSE_WEBHOOK_URL, else the Prefect Secret block it names."""
    s = settings()
    if s.webhook_url is not None:
        return s.webhook_url
    block = s.webhook_secret_block
    if not block:
        return None
    from prefect.blocks.system import Secret
    from pydantic import SecretStr

    try:
        return SecretStr(Secret.load(block).get())
    except ValueError:
        get_run_logger().warning("Prefect Secret block %r not found; alerts only logged", block)
        return None


def _start_retraining(days: int) -> None:
    from prefect.deployments import run_deployment

    get_run_logger().warning(
        "dataset drift on %d consecutive days: starting the train-model deployment", days
    )
    run_deployment("train-model/train-model", timeout=0)
