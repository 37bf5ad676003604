"""The daily run's drift step: the calibrated verdict here, Evidently's page rendered apart."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import date

import polars as pl

from nepse.features.panel import build_panel, calendar_of
from nepse.model.scoring import ScoredDay, model_reference
from nepse.monitoring import side
from nepse.monitoring.baseline import check
from nepse.monitoring.daily_drift import baseline_for
from nepse.monitoring.drift import DriftSummary
from nepse.monitoring.reports import drift_report_path
from nepse.settings import Settings
from nepse.store import open_store

log = logging.getLogger(__name__)


def check_drift(settings: Settings, scored: ScoredDay) -> DriftSummary:
    """Calibrated drift of the last N sessions against the model's training-period reference.

    The summary names the day's Evidently page; `nepse.app.publish.publish_day` has it rendered
    (by the run's Evidently side process, `nepse.monitoring.side`) with the day's Rank IC.
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
    summary = check(baseline, pl.read_parquet(scored.features_path))
    for alarm in summary.alarms:
        log.info("drift on %s: %s", scored.as_of, alarm.describe())
    page = drift_report_path(settings.data_dir, scored.as_of, scored.model_version)
    return replace(summary, html_path=page)


def prestart_pages(settings: Settings) -> None:
    """Start Evidently's side process now, so its import overlaps the run's other work, and have
    it open the Evidently workspace meanwhile."""
    side.prestart()
    pages = side.running()
    if pages is not None and pages.alive:
        try:
            pages.submit("open_workspace", "open workspace", data_dir=str(settings.data_dir))
        except side.SideProcessError as exc:
            log.warning("Evidently workspace not opened ahead: %s", exc)
