"""Flow `daily-predictions`: the job the service exists for, one step per line.

ingest the day -> quality gate -> ensure a champion -> score -> drift -> evaluate -> publish.
A run that had to fall back to another model ends Failed (with the predictions stored) so that
nobody mistakes it for a normal green run. Alerts are Prefect events (tasks/alerts.py), routed
to people by the automations of automations.yaml.
"""

from __future__ import annotations

from datetime import date

from prefect import flow
from prefect.logging import get_run_logger
from prefect.states import Completed, Failed

from flows.hooks import RUN_STATE_HOOKS
from nepse.app import NepseError, SourceError, daily, drift
from nepse.app.ingest import resolve_source
from nepse.app.publish import source_alert
from runs.names import daily_run_name, rename_run
from runs.retrain import start_retraining
from runs.settings import settings
from runs.slot import writer_slot
from tasks.alerts import raise_alerts
from tasks.daily import (
    check_drift,
    check_quality_gate,
    evaluate_past_predictions,
    find_champion,
    score_universe,
    trade_paper_portfolio,
)
from tasks.fetch import ingest_api_day
from tasks.ingest import ingest_file_day, write_sample_market
from tasks.publish import publish_results


@flow(
    name="daily-predictions",
    flow_run_name=daily_run_name,
    log_prints=True,
    **RUN_STATE_HOOKS,  # the last run's state for the API's /health
)
def daily_predictions(as_of: date | None = None, source: str | None = None):
    """Predict every active NEPSE equity's return and check drift and performance.

    The predicted return is the return of buying at the next session's VWAP and selling at the
    VWAP 5 sessions later (the defaults of NEPSE_LABEL and NEPSE_LABEL_HOLD; the run's summary
    names the label of the model that scored).

    Args:
        as_of: Trading day to score (its close is the last data used). Empty: the latest
            trading day up to today in Asia/Kathmandu time.
        source: Where the day's prices come from: 'api' (the exchange, nepalstock.com, through
            nepsepy, with ShareSansar's today's-price page as the fallback; NEPSE_API_*
            settings), 'sample' (the generated sample market), or a path to a file or folder
            of NEPSE price files. Empty: NEPSE_SOURCE; neither set fails the run.
    """
    src = resolve_source(settings(), source)  # ConfigError naming NEPSE_SOURCE if neither
    with writer_slot("run the daily predictions"):  # one run at a time uses the database
        return _daily(src, as_of)


def _daily(src: str, as_of: date | None):
    if src == "api":
        try:
            day = ingest_api_day(as_of)
        except SourceError as exc:  # retries are spent: a permanent failure reaches people
            raise_alerts([source_alert(exc, as_of)])
            raise
    else:
        path = write_sample_market() if src == "sample" else src
        day = ingest_file_day(path, as_of, check_fresh=src != "sample")  # the sample has an end
    decision = daily.decide_day(day)
    if not decision.go_on:  # a holiday ends quietly; pending, early or stale days fail
        raise_alerts([decision.alert] if decision.alert else [])
        return (Completed if decision.ok else Failed)(message=decision.message)
    rename_run(f"daily-{day.as_of}")  # an empty as_of: named by the day it scores

    gate = check_quality_gate(day)
    decision = daily.decide_gate(gate)
    if not decision.go_on:
        raise_alerts([decision.alert])
        return Failed(message=decision.message)

    drift.prestart_pages(settings())  # Evidently's import runs in its own process, meanwhile
    if find_champion() is None:
        from flows.train import train_model

        get_run_logger().info("no champion model yet: training one first")
        train_model(as_of=day.as_of, force_promote=settings().promote_first_model)

    scored = score_universe(day.as_of)
    summary, drift_error = None, None
    if scored.model_role != "naive_baseline":  # the naive scorer has no reference to compare
        try:
            summary = check_drift(scored)
        except (NepseError, OSError, ValueError) as exc:  # the predictions are stored already
            get_run_logger().warning("drift step failed (predictions are kept): %s", exc)
            drift_error = str(exc)
    verdict = evaluate_past_predictions(scored, summary)
    traded, paper_error = None, None
    try:
        traded = trade_paper_portfolio(scored)
    except (NepseError, OSError, ValueError) as exc:  # predictions and drift are stored
        get_run_logger().warning("orders and paper ledger not made: %s", exc)
        paper_error = f"orders for the session after {scored.as_of} not made: {exc}"
    published = publish_results(scored, gate, summary, drift_error, verdict, traded)
    raise_alerts(
        list(published.alerts) + ([daily.orders_alert(scored, paper_error)] if paper_error else [])
    )
    if published.retrain:
        start_retraining(day.as_of)  # the train-model deployment (a replay: its own next step)
    out = published.summary
    failed = [paper_error, published.publish_error]
    if out.is_fallback or any(failed):
        return Failed(message="; ".join(m for m in (out.message, *failed) if m))
    return out
