"""The daily run's steps: gate the day, find the champion, score the day, evaluate past days.

Each step opens the database at most once (DuckDB: one process holds the file at a time) and
returns a small frozen value; frames travel as Parquet files named by date and model version.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl

from nepse.atomic import write_parquet
from nepse.errors import ModelNotFoundError, NepseError
from nepse.features.labels import label_column, label_of_model, label_words
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
)
from nepse.monitoring.alerts import Alert
from nepse.monitoring.drift import DriftSummary
from nepse.monitoring.performance import (
    MonitorVerdict,
    check_performance,
    evaluate_realised,
    reference_rmse,
)
from nepse.monitoring.realised import in_sample_window, load_rank_ic_calibration
from nepse.monitoring.summary import day_alert, gate_alert
from nepse.settings import Settings
from nepse.store import open_store

log = logging.getLogger(__name__)

TOP_N = 10
"""The top and bottom picks a scored day carries for its summary."""


def _store(settings: Settings, *, read_only: bool = False):
    return open_store(
        settings.database, read_only=read_only, lock_timeout_s=settings.lock_timeout_s
    )


@dataclass(frozen=True)
class DayDecision:
    """What the daily run does with an ingested day: go on, or end with a message (and alert)."""

    go_on: bool
    ok: bool
    """The run's end is a normal one (a confirmed holiday), not a failure."""
    message: str
    alert: Alert | None = None


def decide_day(day: DayOutcome) -> DayDecision:
    """Score an 'ok' day; end a holiday quietly; fail a pending, early or stale day (stale
    alerts: someone must look)."""
    if day.status == "ok":
        return DayDecision(go_on=True, ok=True, message="")
    return DayDecision(
        go_on=False, ok=day.status == "holiday", message=day.detail, alert=day_alert(day)
    )


def decide_gate(gate: GateResult) -> DayDecision:
    """Go on when the quality gate passed; else fail the run with the gate's alert."""
    if gate.passed:
        return DayDecision(go_on=True, ok=True, message=gate.reason)
    alert = gate_alert(gate)
    return DayDecision(go_on=False, ok=False, message=alert.text, alert=alert)


def orders_alert(scored: ScoredDay, error: str) -> Alert:
    """The alert for a day whose orders and paper-ledger row could not be made."""
    return Alert(
        "orders",
        "orders not made",
        error,
        "error",
        day=scored.as_of,
        model_version=scored.model_version,
    )


def gate_day(settings: Settings, day: DayOutcome) -> GateResult:
    """May the day be scored? Its prices must be stored and its rejects within the limit."""
    with _store(settings, read_only=True) as st:
        return check_day(st, day, settings=settings)


def champion_version(settings: Settings) -> str | None:
    """The champion model's version, or None when the registry has none."""
    with _store(settings, read_only=True) as st:
        row = registry.champion(st)
    return row["version"] if row else None


def score_day(settings: Settings, as_of: date, *, flow_run_id: str | None = None) -> ScoredDay:
    """Build the day's features once, score every active equity (champion, else fallbacks),
    store the predictions, and save the drift window and the labels of earlier days.

    The predictions' Parquet file is written (under a temporary name) before the database
    changes, so a file that cannot be written fails the step with the database as it was.
    """
    models_dir = settings.data_dir / "models"
    day_file = settings.data_dir / "predictions" / f"{as_of.isoformat()}.parquet"
    with _store(settings) as st:
        pending = st.pending_evaluation(before=as_of)
        day = build_day(
            st,
            settings,
            as_of,
            labels_from=min(pending) if pending else None,
            window=settings.drift_window_days,
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
        stored = prediction_rows(outcome, as_of=as_of, flow_run_id=flow_run_id)
        try:
            preds_path = write_parquet(stored, day_file)
        except (OSError, NepseError) as exc:  # NepseError: a full disk, in words
            raise NepseError(
                f"the predictions of {as_of} cannot be written to {day_file}: "
                f"{getattr(exc, 'strerror', None) or exc}; nothing was stored. Free space on "
                f"that disk or fix the folder's permissions, then rerun the day "
                f"(nepse daily --as-of {as_of})"
            ) from exc
        st.replace_predictions(as_of, stored)
        first = day.window.get_column("date").min()
        published = st.predictions(start=first, end=as_of).select("date", "symbol", "pred_ret")
    used = next((r for r in rows.values() if r and r["version"] == outcome.model_version), None)
    work = settings.data_dir / "work"
    # The drift window: the last N sessions' features with the predictions published on each
    # (today's just stored), all from this one build.
    window = day.window.join(published, on=["date", "symbol"], how="left")
    features_path = write_parquet(
        window, work / "scoring" / f"{as_of.isoformat()}-{outcome.model_version}.parquet"
    )
    labels_path = write_parquet(day.labels, work / "labels" / f"{as_of.isoformat()}.parquet")
    top, bottom = picks(outcome.predictions, TOP_N)
    return ScoredDay(
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
        walk_forward_rmse=reference_rmse((used or {}).get("metrics")),
    )


def evaluate_past(
    settings: Settings, scored: ScoredDay, drift: DriftSummary | None
) -> MonitorVerdict:
    """Store the day's drift summary; score earlier predictions whose outcome is now known."""
    labels = pl.read_parquet(scored.labels_path)
    with _store(settings) as st:
        if drift is not None:
            st.save_drift(scored.as_of, scored.model_version, drift.to_dict())
        pending = st.pending_evaluation(before=scored.as_of)
        versions = st.predictions(dates=pending).get_column("model_version").unique().to_list()
        facts = {v: _model_facts(settings.data_dir / "models" / v) for v in versions}
        new = evaluate_realised(
            st,
            labels,
            cost_bps=settings.cost_bps,
            dates=pending,
            in_sample={v: f[0] for v, f in facts.items()},
            label_of={v: f[1] for v, f in facts.items() if f[1]},
        )
        latest, n_days = st.latest_performance(), st.count_performance()
    folder = settings.data_dir / "models" / scored.model_version
    calibration = load_rank_ic_calibration(folder, quantile=settings.drift_alarm_quantile)
    label = _label_words(settings, folder)
    return check_performance(
        latest,
        min_rolling_rank_ic=settings.min_rolling_rank_ic,
        rmse_ratio=settings.rmse_alert_ratio,
        walk_forward_rmse=scored.walk_forward_rmse,
        rmse_min_days=settings.rmse_alert_min_days,
        label=label,
        evaluated_days=n_days,
        evaluated=new.height,
        rank_ic_calibration=calibration,
    )


def _label_words(settings: Settings, folder: Path) -> str:
    """The scoring model's label in words (the RMSE alert names the label it compares on)."""
    try:
        meta, _ = model_reference(folder)
    except ModelNotFoundError:
        meta = {}
    return label_words(*label_of_model(meta, settings))


def _model_facts(folder: Path):
    """A model's training window (in-sample days) and the label column it was trained on."""
    try:
        meta, _ = model_reference(folder)
    except ModelNotFoundError:
        return None, None  # the naive baseline: no folder, no window, close-to-close
    label = (meta.get("label") or {}).get("name")
    return in_sample_window(meta), label_column(label) if label else None
