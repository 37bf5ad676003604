"""Flow `daily-predictions`: the job the service exists for.

ingest the day -> quality gate -> (train if no champion) -> score every active equity ->
store predictions -> drift report -> evaluate earlier predictions -> report index ->
artifacts -> alerts. A run that had to fall back to another model ends Failed (with the
predictions stored) so that nobody mistakes it for a normal green run.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from prefect import flow
from prefect.logging import get_run_logger
from prefect.states import Completed, Failed

from nepse.calendar import today_in
from nepse.errors import DataQualityError, NepseError
from nepse.ingest.freshness import classify_day
from nepse.ingest.service import resolve_source
from tasks.artifacts import publish_daily_artifacts
from tasks.common import settings
from tasks.daily import (
    build_report_index,
    check_drift,
    check_quality_gate,
    evaluate_past_predictions,
    find_champion,
    resolve_trading_day,
    score_universe,
    send_alerts,
)
from tasks.ingest import ingest_files, write_sample_market


def _alert(title: str, text: str, level: str = "warning") -> dict:
    return {"title": title, "text": text, "level": level}


@flow(name="daily-predictions", log_prints=True)
def daily_predictions(as_of: date | None = None, source: str | None = None):
    """Score every active NEPSE equity's next-day return and check drift and performance.

    Args:
        as_of: Trading day to score (its close is the last data used). Empty: the latest
            trading day up to today in Asia/Kathmandu time.
        source: Where the day's prices come from: 'sample' (the generated sample market),
            'api' (the NEPSE today-price API in NEPSE_API_BASE_URL), or a path to a file or
            folder of NEPSE price files. Empty: NEPSE_SOURCE; neither set fails the run.
    """
    s = settings()
    log = get_run_logger()
    src = resolve_source(s, source)  # ConfigError naming NEPSE_SOURCE when neither is set
    alerts: list[dict] = []

    # 1. Ingest the day's prices.
    if src == "api":
        from tasks.fetch import fetch_and_ingest_day

        day = as_of or today_in(s.timezone)
        ingest = fetch_and_ingest_day(day)
        fresh = classify_day(
            day,
            now=datetime.now(UTC),
            fetched=ingest["status"],
            trading_day=day.weekday() != 5,  # Saturday never trades; holidays come from the API
            stale_after_minutes=s.stale_after_minutes,
            timezone=s.timezone,
        )
        if fresh == "holiday":
            log.info("%s is not a trading day: nothing to score", day)
            return Completed(message=f"{day}: holiday, nothing to score")
        if fresh == "not_yet":
            return Failed(message=f"{day}: NEPSE has not published the day yet; run after 15:00")
        if fresh == "stale":
            text = (
                f"no complete prices for {day} past the deadline (fetch status {ingest['status']})"
            )
            send_alerts([_alert("stale data", text, "error")])
            return Failed(message=f"stale data: {text}")
        ingest["source"] = "api"
    else:
        path = write_sample_market() if src == "sample" else src
        ingest = ingest_files(path)

    # 2-3. The day to score, and the quality gate.
    day_info = resolve_trading_day(as_of)
    day = day_info["as_of"]
    try:
        gate = check_quality_gate(day, ingest)
    except DataQualityError as exc:
        send_alerts([_alert("quality gate failed", str(exc), "error")])
        raise

    # 4. A champion must exist: the first run trains one.
    if find_champion() is None:
        from flows.train import train_model

        log.info("no champion model yet: training one first")
        train_model(as_of=day)

    # 5. Score and store.
    scored = score_universe(day)
    if scored["is_fallback"]:
        alerts.append(
            _alert(
                "model fallback",
                f"predictions for {day} were made by {scored['model_version']} "
                f"({scored['model_role']}): " + " | ".join(scored["problems"]),
                "error",
            )
        )

    # 6. Drift: a failure here never loses the day's predictions (they are stored already).
    drift = None
    if scored["model_role"] == "naive_baseline":
        log.warning("no model reference to compare against: drift report skipped")
    else:
        try:
            drift = check_drift(day, scored["model_version"])
        except (NepseError, OSError, ValueError) as exc:
            log.error("drift step failed (predictions are kept): %s", exc)
            alerts.append(_alert("drift report failed", f"{day}: {exc}"))
        if drift and drift["dataset_drift"]:
            cols = ", ".join(c["column"] for c in drift["columns"] if c["drifted"])
            alerts.append(
                _alert(
                    "dataset drift",
                    f"{day}: {drift['n_drifted']} of {drift['n_columns']} features drifted "
                    f"({drift['share_drifted']:.0%}): {cols}",
                )
            )

    # 7. Evaluate earlier predictions whose outcome is now known.
    perf = evaluate_past_predictions(day)
    alerts += [_alert("model performance", text) for text in perf["alerts"]]

    # 8-10. Report index, artifacts, alerts.
    index = build_report_index()
    publish_daily_artifacts(day, scored, drift, perf, gate, index)
    send_alerts(alerts)
    _maybe_retrain_on_drift()

    summary = {
        "as_of": day.isoformat(),
        "model_version": scored["model_version"],
        "is_fallback": scored["is_fallback"],
        "n_predictions": scored["n"],
        "predictions_path": scored["predictions_path"],
        "drift_report": drift["html_path"] if drift else None,
        "dataset_drift": drift["dataset_drift"] if drift else None,
        "report_index": index,
        "database": str(s.database),
        "alerts": len(alerts),
    }
    if scored["is_fallback"]:
        return Failed(
            message=(
                f"degraded: {scored['n']} predictions for {day} stored, made by fallback "
                f"{scored['model_version']} because the champion failed"
            )
        )
    return summary


def _maybe_retrain_on_drift() -> None:
    """Optional (NEPSE_RETRAIN_ON_DRIFT_DAYS > 0): start train-model after N drifted days."""
    s = settings()
    if s.retrain_on_drift_days <= 0:
        return
    from prefect.deployments import run_deployment

    from nepse.store import open_store

    with open_store(s.database, read_only=True) as st:
        recent = st.con.execute(
            "SELECT dataset_drift FROM drift_reports ORDER BY date DESC LIMIT ?",
            [s.retrain_on_drift_days],
        ).fetchall()
    if len(recent) == s.retrain_on_drift_days and all(r[0] for r in recent):
        get_run_logger().warning(
            "dataset drift on %d consecutive days: starting the train-model deployment",
            s.retrain_on_drift_days,
        )
        run_deployment("train-model/train-model", timeout=0)
