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

from nepse.errors import ModelNotFoundError
from nepse.features.labels import label_column
from nepse.features.panel import build_day, build_panel, calendar_of
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
from nepse.monitoring import side
from nepse.monitoring.daily_drift import baseline_for, calibrated_drift
from nepse.monitoring.drift import DriftSummary
from nepse.monitoring.performance import MonitorVerdict, check_performance, evaluate_realised
from nepse.monitoring.realised import in_sample_window, load_rank_ic_calibration
from nepse.monitoring.reports import drift_report_path
from nepse.monitoring.workspace import verdict_banner
from nepse.store import open_store
from tasks.common import IO_RETRY, settings, timed

TOP_N = 10


def _store(read_only: bool = False):
    s = settings()
    return open_store(s.database, read_only=read_only, lock_timeout_s=s.lock_timeout_s)


@task(name="check-quality-gate", **IO_RETRY)
@timed
def check_quality_gate(day: DayOutcome) -> GateResult:
    """May the day be scored? Its prices must be stored and its rejects within the limit."""
    with _store(read_only=True) as st:
        gate = check_day(st, day, settings=settings())
    get_run_logger().info("quality gate %s: %s", "passed" if gate.passed else "FAILED", gate.reason)
    return gate


@task(name="find-champion", **IO_RETRY)
@timed
def find_champion() -> str | None:
    """The champion model's version, or None when the registry has none."""
    with _store(read_only=True) as st:
        row = registry.champion(st)
    return row["version"] if row else None


@task(name="score-universe", **IO_RETRY)
@timed
def score_universe(as_of: date) -> ScoredDay:
    """Build the day's features once, score every active equity (champion, else fallbacks),
    store the predictions, and save the features and the labels of earlier days as Parquet."""
    s = settings()
    models_dir = s.data_dir / "models"
    with _store() as st:
        pending = st.pending_evaluation(before=as_of)
        day = build_day(
            st, s, as_of, labels_from=min(pending) if pending else None, window=s.drift_window_days
        )
        rows = {CHAMPION: registry.champion(st), PREVIOUS_CHAMPION: None}
        if rows[CHAMPION] is not None:
            rows[PREVIOUS_CHAMPION] = registry.previous_champion(st)
        candidates = [
            Candidate(
                row["version"],
                role,
                lambda v=row["version"], c=st: registry.load_model(c, v, models_dir=models_dir),
            )
            for role, row in rows.items()
            if row is not None
        ]
        outcome = score_with_fallback(day.features, candidates)
        stored = prediction_rows(outcome, as_of=as_of, flow_run_id=flow_run.get_id())
        st.replace_predictions(as_of, stored)
        first = day.window.get_column("date").min()
        published = st.predictions(start=first, end=as_of).select("date", "symbol", "pred_ret")
    used = next((r for r in rows.values() if r and r["version"] == outcome.model_version), None)
    preds_path = write_parquet(stored, s.data_dir / "predictions" / f"{as_of.isoformat()}.parquet")
    work = s.data_dir / "work"
    # The drift window: the last N sessions' features with the predictions published on each
    # (today's just stored), all from this one build.
    window = day.window.join(published, on=["date", "symbol"], how="left")
    features_path = write_parquet(
        window, work / "scoring" / f"{as_of.isoformat()}-{outcome.model_version}.parquet"
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
@timed
def check_drift(scored: ScoredDay) -> DriftSummary:
    """Calibrated drift of the last N sessions against the model's training-period reference.

    Evidently's page of the day is rendered by the Evidently service or the run's side process
    (`nepse.monitoring.side`), which `publish_results` waits for."""
    s = settings()
    folder = s.data_dir / "models" / scored.model_version
    meta, _ = model_reference(folder)
    baseline = baseline_for(folder, meta, training_panel=_training_panel, settings=s)
    summary, verdict = calibrated_drift(
        baseline,
        pl.read_parquet(scored.features_path),
        out_html=drift_report_path(s.data_dir, scored.as_of, scored.model_version),
    )
    side.start().submit(
        "drift_page",
        side.drift_page_label(scored.as_of),
        baseline_dir=str(folder),
        current=str(scored.features_path),
        columns=verdict.top_columns(s.drift_report_columns),
        day=scored.as_of.isoformat(),
        out_html=str(summary.html_path),
        banner=verdict_banner(verdict, baseline),
        workspace_dir=str(s.data_dir),
    )
    log = get_run_logger()
    for alarm in summary.alarms:
        log.info("drift on %s: %s", scored.as_of, alarm.describe())
    log.info(
        "drift verdict %s in %.2fs; report %s (rendering)",
        "ALARM" if summary.dataset_drift else "ok",
        summary.seconds,
        summary.html_path,
    )
    return summary


def _training_panel(end: date, sessions: int) -> pl.DataFrame:
    """The model's last `sessions` training sessions, without predictions: an older model has
    only in-sample ones, which are no reference for a scored day's (see `sessions_of`)."""
    with _store(read_only=True) as st:
        days = [d for d in calendar_of(st).days if d <= end][-sessions:]
        return build_panel(st, settings(), start=days[0], end=end, label=False).frame


@task(name="evaluate-past-predictions", **IO_RETRY)
@timed
def evaluate_past_predictions(scored: ScoredDay, drift: DriftSummary | None) -> MonitorVerdict:
    """Store the day's drift summary; score earlier predictions whose outcome is now known."""
    s = settings()
    labels = pl.read_parquet(scored.labels_path)
    with _store() as st:
        if drift is not None:
            st.save_drift(scored.as_of, scored.model_version, drift.to_dict())
        pending = st.pending_evaluation(before=scored.as_of)
        versions = st.predictions(dates=pending).get_column("model_version").unique().to_list()
        facts = {v: _model_facts(s.data_dir / "models" / v) for v in versions}
        new = evaluate_realised(
            st,
            labels,
            cost_bps=s.cost_bps,
            dates=pending,
            in_sample={v: f[0] for v, f in facts.items()},
            label_of={v: f[1] for v, f in facts.items() if f[1]},
        )
        latest, n_days = st.latest_performance(), st.count_performance()
    folder = s.data_dir / "models" / scored.model_version
    calibration = load_rank_ic_calibration(folder, quantile=s.drift_alarm_quantile)
    verdict = check_performance(
        latest,
        min_rolling_rank_ic=s.min_rolling_rank_ic,
        rmse_ratio=s.rmse_alert_ratio,
        training_rmse=scored.walk_forward_rmse,
        evaluated_days=n_days,
        evaluated=new.height,
        rank_ic_calibration=calibration,
    )
    get_run_logger().info(
        "evaluated %d earlier prediction day(s); latest %s, rolling Rank IC %s",
        verdict.evaluated,
        verdict.date,
        verdict.rolling_rank_ic,
    )
    return verdict


def _model_facts(folder):
    """A model's training window (in-sample days) and the label column it was trained on."""
    try:
        meta, _ = model_reference(folder)
    except ModelNotFoundError:
        return None, None  # the naive baseline: no folder, no window, close-to-close
    label = (meta.get("label") or {}).get("name")
    return in_sample_window(meta), label_column(label) if label else None
