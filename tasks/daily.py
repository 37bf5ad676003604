"""Tasks of the daily run: resolve the day, gate quality, score, drift, evaluate, alert."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import polars as pl
from prefect import task
from prefect.logging import get_run_logger
from prefect.runtime import flow_run

from nepse.calendar import today_in
from nepse.errors import DataQualityError, NotEnoughHistoryError
from nepse.features import FEATURE_SPEC
from nepse.features.panel import build_panel, calendar_of, scoring_frame
from nepse.model import registry
from nepse.monitoring.alerts import Alert, Notifier
from nepse.monitoring.daily import (
    Candidate,
    check_performance,
    evaluate_realised,
    pending_evaluation,
    save_predictions,
    score_with_fallback,
)
from nepse.monitoring.reports import build_index, drift_report_path, index_rows
from nepse.store import open_store
from tasks.common import IO_RETRY, settings

TOP_N = 10


def _store(read_only: bool = False):
    s = settings()
    return open_store(s.database, read_only=read_only, lock_timeout_s=s.lock_timeout_s)


@task(name="resolve-trading-day", **IO_RETRY)
def resolve_trading_day(as_of: date | None) -> dict:
    """The day to score: `as_of`, or the latest stored trading day up to today in Kathmandu."""
    s = settings()
    today = today_in(s.timezone)
    with _store(read_only=True) as st:
        cal = calendar_of(st)
    wanted = as_of or today
    day = cal.latest(on_or_before=wanted)
    if day is None:
        raise NotEnoughHistoryError(
            f"no trading day stored on or before {wanted}: ingest prices first (nepse ingest)"
        )
    get_run_logger().info(
        "scoring day %s (asked %s, today %s in %s)", day, as_of, today, s.timezone
    )
    return {"as_of": day, "asked": as_of, "today": today, "stale_days": (wanted - day).days}


@task(name="check-quality-gate", **IO_RETRY)
def check_quality_gate(as_of: date, ingest: dict) -> dict:
    """Fail the run when the day's prices are missing or too many input rows were rejected."""
    s = settings()
    with _store(read_only=True) as st:
        n_day = st.con.execute("SELECT count(*) FROM prices WHERE date = ?", [as_of]).fetchall()
    n_day = n_day[0][0]
    read = ingest.get("rows_read") or 0
    share = (ingest.get("rejected") or 0) / read if read else 0.0
    if n_day == 0:
        raise DataQualityError(
            f"quality gate: no prices stored for {as_of}; the day's data is missing "
            f"(source {ingest.get('source', '?')}). No predictions were written."
        )
    if share > s.max_reject_share:
        raise DataQualityError(
            f"quality gate: {share:.1%} of the {read} rows read were rejected (limit "
            f"{s.max_reject_share:.1%}, NEPSE_MAX_REJECT_SHARE); see rejected_prices for run "
            f"{ingest.get('run_id')}. No predictions were written."
        )
    get_run_logger().info(
        "quality gate passed: %d prices on %s, %.3f%% rejected", n_day, as_of, 100 * share
    )
    return {"rows_on_day": n_day, "reject_share": share}


@task(name="find-champion", **IO_RETRY)
def find_champion() -> str | None:
    """The champion model's version, or None when the registry has none."""
    with _store(read_only=True) as st:
        row = registry.champion(st)
    return row["version"] if row else None


@task(name="score-universe", **IO_RETRY)
def score_universe(as_of: date) -> dict:
    """Score every active equity that traded on `as_of`; champion, else fallbacks; store them."""
    s = settings()
    log = get_run_logger()
    models_dir = s.data_dir / "models"
    with _store() as st:
        features = scoring_frame(st, s, as_of, spec=FEATURE_SPEC)
        candidates = []
        for role, row in (
            ("champion", registry.champion(st)),
            ("previous_champion", registry.previous_champion(st)),
        ):
            if row is not None:
                version = row["version"]
                candidates.append(
                    Candidate(
                        version,
                        role,
                        lambda v=version, c=st: registry.load_model(c, v, models_dir=models_dir),
                    )
                )
        outcome = score_with_fallback(features, candidates)
        path = save_predictions(
            st.con,
            outcome,
            as_of=as_of,
            flow_run_id=flow_run.get_id(),
            parquet_dir=s.data_dir / "predictions",
        )
    preds = outcome.predictions.sort("pred_ret", descending=True)
    log.info(
        "scored %d equities on %s with %s (%s)%s",
        preds.height,
        as_of,
        outcome.model_version,
        outcome.model_role,
        f"; fallback because: {' | '.join(outcome.problems)}" if outcome.problems else "",
    )
    cols = ["symbol", "pred_ret", "pred_rank"]
    return {
        "as_of": as_of,
        "model_version": outcome.model_version,
        "model_role": outcome.model_role,
        "is_fallback": outcome.is_fallback,
        "problems": outcome.problems,
        "n": preds.height,
        "predictions_path": str(path),
        "top": preds.head(TOP_N).select(cols).to_dicts(),
        "bottom": preds.tail(TOP_N).reverse().select(cols).to_dicts(),
    }


@task(name="check-drift")
def check_drift(as_of: date, model_version: str) -> dict:
    """Evidently drift of the day's features and predictions against the model's reference."""
    from nepse.monitoring.drift import run_drift, save_drift

    s = settings()
    models_dir = s.data_dir / "models"
    with _store() as st:
        model = registry.load_model(st, model_version, models_dir=models_dir)
        cal = calendar_of(st)
        start = cal.days[max(0, cal.day_no(as_of) - s.drift_window_days + 1)]
        current = build_panel(st, s, start=start, end=as_of, active_only=True, label=False).frame
        preds = st.con.sql(
            "SELECT date, symbol, pred_ret FROM predictions WHERE date BETWEEN ? AND ?",
            params=[start, as_of],
        ).pl()
        current = current.join(preds, on=["date", "symbol"], how="inner")
        out = drift_report_path(s.data_dir, as_of, model_version)
        features = drift_features(model.feature_names, model.meta, s.drift_max_features)
        summary = run_drift(
            model.reference,
            current,
            features=[f for f in features if f not in model.categorical],
            categorical=[f for f in features if f in model.categorical],
            prediction="pred_ret",
            out_html=out,
            drift_share=s.drift_share_threshold,
        )
        save_drift(st.con, as_of, model_version, summary)
    get_run_logger().info(
        "drift on %s: %d of %d columns drifted (%.0f%%), dataset drift %s; report %s",
        as_of,
        summary.n_drifted,
        summary.n_columns,
        100 * summary.share_drifted,
        summary.dataset_drift,
        out,
    )
    return summary.to_dict()


def drift_features(names: list[str], meta: dict, limit: int) -> list[str]:
    """The model's features to check for drift: all, or the `limit` most important by gain."""
    if limit <= 0 or limit >= len(names):
        return list(names)
    gain = meta.get("importance_gain") or {}
    return sorted(names, key=lambda n: -gain.get(n, 0.0))[:limit]


@task(name="evaluate-past-predictions", **IO_RETRY)
def evaluate_past_predictions(as_of: date) -> dict:
    """Realised IC / Rank IC / RMSE of earlier predictions whose next-day returns are now known."""
    s = settings()
    with _store() as st:
        pending = [d for d in pending_evaluation(st.con) if d < as_of]
        new = pl.DataFrame()
        if pending:
            labels = build_panel(st, s, start=min(pending), end=as_of, label=True).frame
            new = evaluate_realised(st.con, labels, cost_bps=s.cost_bps, dates=pending)
        latest = (
            st.con.sql("SELECT * FROM performance_daily ORDER BY date DESC LIMIT 1").pl().to_dicts()
        )
        n_days = st.con.execute("SELECT count(*) FROM performance_daily").fetchall()[0][0]
        champ = registry.champion(st)
    training_rmse = None
    if champ is not None:
        metrics = champ.get("metrics")
        metrics = json.loads(metrics) if isinstance(metrics, str) else (metrics or {})
        training_rmse = metrics.get("rmse")
    verdict = check_performance(
        latest[0] if latest else None,
        min_rolling_rank_ic=s.min_rolling_rank_ic,
        rmse_ratio=s.rmse_alert_ratio,
        training_rmse=training_rmse,
        evaluated_days=n_days,
    )
    get_run_logger().info(
        "evaluated %d earlier prediction day(s); latest %s rank IC %s, rolling %s",
        new.height,
        verdict.date,
        latest[0]["rank_ic"] if latest else None,
        verdict.rolling_rank_ic,
    )
    return {
        "evaluated": new.height,
        "latest": latest[0] if latest else None,
        "evaluated_days": n_days,
        "training_rmse": training_rmse,
        "alerts": verdict.alerts,
    }


@task(name="build-report-index", **IO_RETRY)
def build_report_index() -> str:
    """Rewrite reports/index.html from the drift_reports and performance tables."""
    s = settings()
    with _store(read_only=True) as st:
        rows = index_rows(st.con)
    return str(build_index(s.data_dir, rows))


@task(name="send-alerts")
def send_alerts(alerts: list[dict]) -> int:
    """Post each alert to the webhook (from NEPSE_WEBHOOK_URL or the Prefect Secret block)."""
    if not alerts:
        return 0
    notifier = Notifier(webhook_secret())
    sent = sum(notifier.send(Alert(**a)) for a in alerts)
    get_run_logger().info("%d alert(s) raised, %d delivered to the webhook", len(alerts), sent)
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


def report_link(data_dir: Path, as_of: date, version: str) -> Path:
    """Where the day's drift report is (for the link artifact)."""
    return drift_report_path(data_dir, as_of, version)
