"""Tasks of the daily run: gate the day, score it, check drift, evaluate earlier days, publish.

Each opens the database at most once (DuckDB: one process at a time) and returns a small frozen
value of the library; frames travel as Parquet files named by date and model version.
"""

from __future__ import annotations

from datetime import date

import polars as pl
from prefect import task
from prefect.logging import get_run_logger
from prefect.runtime import flow_run

from nepse.features.panel import build_day
from nepse.ingest.day import DayOutcome
from nepse.ingest.gate import GateResult, check_day
from nepse.model import registry
from nepse.model.scoring import (
    CHAMPION,
    PREVIOUS_CHAMPION,
    Candidate,
    ScoredDay,
    model_reference,
    picks,
    prediction_rows,
    score_with_fallback,
    write_parquet,
)
from nepse.monitoring.drift import DriftSummary, drift_features, run_drift
from nepse.monitoring.performance import MonitorVerdict, check_performance, evaluate_realised
from nepse.monitoring.reports import drift_report_path
from nepse.store import open_store
from tasks.common import IO_RETRY, settings

TOP_N = 10


def _store(read_only: bool = False):
    s = settings()
    return open_store(s.database, read_only=read_only, lock_timeout_s=s.lock_timeout_s)


@task(name="check-quality-gate", **IO_RETRY)
def check_quality_gate(day: DayOutcome) -> GateResult:
    """May the day be scored? Its prices must be stored and its rejects within the limit."""
    with _store(read_only=True) as st:
        gate = check_day(st, day, settings=settings())
    get_run_logger().info(
        "quality gate %s: %d prices on %s, %.3f%% rejected",
        "passed" if gate.passed else "FAILED",
        gate.rows_on_day,
        gate.day,
        100 * gate.reject_share,
    )
    return gate


@task(name="find-champion", **IO_RETRY)
def find_champion() -> str | None:
    """The champion model's version, or None when the registry has none."""
    with _store(read_only=True) as st:
        row = registry.champion(st.con)
    return row["version"] if row else None


@task(name="score-universe", **IO_RETRY)
def score_universe(as_of: date) -> ScoredDay:
    """Build the day's features once, score every active equity (champion, else fallbacks),
    store the predictions, and save the features and the labels of earlier days as Parquet."""
    s = settings()
    models_dir = s.data_dir / "models"
    with _store() as st:
        pending = st.pending_evaluation(before=as_of)
        day = build_day(st, s, as_of, labels_from=min(pending) if pending else None)
        rows = {CHAMPION: registry.champion(st.con), PREVIOUS_CHAMPION: None}
        if rows[CHAMPION] is not None:
            rows[PREVIOUS_CHAMPION] = registry.previous_champion(st.con)
        candidates = [
            Candidate(
                row["version"],
                role,
                lambda v=row["version"], c=st.con: registry.load_model(c, v, models_dir=models_dir),
            )
            for role, row in rows.items()
            if row is not None
        ]
        outcome = score_with_fallback(day.features, candidates)
        stored = prediction_rows(outcome, as_of=as_of, flow_run_id=flow_run.get_id())
        st.replace_predictions(as_of, stored)
    used = next((r for r in rows.values() if r and r["version"] == outcome.model_version), None)
    preds_path = write_parquet(stored, s.data_dir / "predictions" / f"{as_of.isoformat()}.parquet")
    work = s.data_dir / "work"
    features = day.features.join(
        outcome.predictions.select("symbol", "date", "pred_ret"), on=["symbol", "date"]
    )
    features_path = write_parquet(
        features, work / "scoring" / f"{as_of.isoformat()}-{outcome.model_version}.parquet"
    )
    labels_path = write_parquet(day.labels, work / "labels" / f"{as_of.isoformat()}.parquet")
    top, bottom = picks(outcome.predictions, TOP_N)
    scored = ScoredDay(
        as_of=as_of,
        model_version=outcome.model_version,
        model_role=outcome.model_role,
        problems=outcome.problems,
        n=stored.height,
        predictions_path=preds_path,
        features_path=features_path,
        labels_path=labels_path,
        top=top,
        bottom=bottom,
        walk_forward_rmse=((used or {}).get("metrics") or {}).get("rmse"),
    )
    get_run_logger().info(
        "scored %d equities on %s with %s (%s)%s",
        scored.n,
        as_of,
        scored.model_version,
        scored.model_role,
        f"; fallback because: {' | '.join(scored.problems)}" if scored.problems else "",
    )
    return scored


@task(name="check-drift")
def check_drift(scored: ScoredDay) -> DriftSummary:
    """Evidently drift of the day's saved features and predictions against the model's reference."""
    s = settings()
    meta, reference = model_reference(s.data_dir / "models" / scored.model_version)
    saved = sorted(scored.features_path.parent.glob(f"*-{scored.model_version}.parquet"))
    recent = [p for p in saved if p.name <= scored.features_path.name][-s.drift_window_days :]
    current = pl.concat([pl.read_parquet(p) for p in recent], how="diagonal_relaxed")
    categorical = list(meta.get("categorical", []))
    features = drift_features(list(meta["feature_names"]), meta, s.drift_max_features)
    summary = run_drift(
        reference,
        current,
        features=[f for f in features if f not in categorical],
        categorical=[f for f in features if f in categorical],
        prediction="pred_ret",
        out_html=drift_report_path(s.data_dir, scored.as_of, scored.model_version),
        drift_share=s.drift_share_threshold,
    )
    get_run_logger().info(
        "drift on %s: %d of %d columns drifted (%.0f%%), dataset drift %s; report %s",
        scored.as_of,
        summary.n_drifted,
        summary.n_columns,
        100 * summary.share_drifted,
        summary.dataset_drift,
        summary.html_path,
    )
    return summary


@task(name="evaluate-past-predictions", **IO_RETRY)
def evaluate_past_predictions(scored: ScoredDay, drift: DriftSummary | None) -> MonitorVerdict:
    """Store the day's drift summary; score earlier predictions whose outcome is now known."""
    s = settings()
    labels = pl.read_parquet(scored.labels_path)
    with _store() as st:
        if drift is not None:
            st.save_drift(scored.as_of, scored.model_version, drift.to_dict())
        pending = st.pending_evaluation(before=scored.as_of)
        new = evaluate_realised(st, labels, cost_bps=s.cost_bps, dates=pending)
        latest, n_days = st.latest_performance(), st.count_performance()
    verdict = check_performance(
        latest,
        min_rolling_rank_ic=s.min_rolling_rank_ic,
        rmse_ratio=s.rmse_alert_ratio,
        training_rmse=scored.walk_forward_rmse,
        evaluated_days=n_days,
        evaluated=new.height,
    )
    get_run_logger().info(
        "evaluated %d earlier prediction day(s); latest %s, rolling Rank IC %s",
        verdict.evaluated,
        verdict.date,
        verdict.rolling_rank_ic,
    )
    return verdict
