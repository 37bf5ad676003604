"""The daily run's drift step: the calibrated verdict here, Evidently's page rendered apart."""

from __future__ import annotations

import logging
from datetime import date

import polars as pl

from nepse.features.panel import build_panel, calendar_of
from nepse.model.scoring import ScoredDay, model_reference
from nepse.monitoring import side
from nepse.monitoring.daily_drift import baseline_for, calibrated_drift
from nepse.monitoring.drift import DriftSummary
from nepse.monitoring.reports import drift_report_path
from nepse.monitoring.workspace import verdict_banner
from nepse.settings import Settings
from nepse.store import open_store

log = logging.getLogger(__name__)


def check_drift(settings: Settings, scored: ScoredDay) -> DriftSummary:
    """Calibrated drift of the last N sessions against the model's training-period reference.

    Evidently's page of the day is rendered by the Evidently service or the run's side process
    (`nepse.monitoring.side`); `nepse.app.publish.publish_day` waits for it.
    """
    folder = settings.data_dir / "models" / scored.model_version
    meta, _ = model_reference(folder)

    def training_panel(end: date, sessions: int) -> pl.DataFrame:
        # Without predictions: an older model has only in-sample ones, no reference for a
        # scored day's (see `sessions_of`).
        with open_store(
            settings.database, read_only=True, lock_timeout_s=settings.lock_timeout_s
        ) as st:
            days = [d for d in calendar_of(st).days if d <= end][-sessions:]
            return build_panel(st, settings, start=days[0], end=end, label=False).frame

    baseline = baseline_for(folder, meta, training_panel=training_panel, settings=settings)
    summary, verdict = calibrated_drift(
        baseline,
        pl.read_parquet(scored.features_path),
        out_html=drift_report_path(settings.data_dir, scored.as_of, scored.model_version),
    )
    side.start().submit(
        "drift_page",
        side.drift_page_label(scored.as_of),
        baseline_dir=str(folder),
        current=str(scored.features_path),
        columns=verdict.top_columns(settings.drift_report_columns),
        day=scored.as_of.isoformat(),
        out_html=str(summary.html_path),
        banner=verdict_banner(verdict, baseline),
        workspace_dir=str(settings.data_dir),
    )
    for alarm in summary.alarms:
        log.info("drift on %s: %s", scored.as_of, alarm.describe())
    return summary


def prestart_pages() -> None:
    """Start Evidently's side process now, so its import overlaps the run's other work."""
    side.prestart()
