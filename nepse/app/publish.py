"""The daily run's last step: wait for the day's pages, rewrite the report index, list alerts."""

from __future__ import annotations

import logging
import math
import shutil
import time
from dataclasses import dataclass, replace
from pathlib import Path

from nepse.features.labels import label_of_model, predicted_return_text
from nepse.ingest.gate import GateResult
from nepse.model.scoring import ScoredDay
from nepse.monitoring import side
from nepse.monitoring.alerts import Alert
from nepse.monitoring.drift import DriftSummary
from nepse.monitoring.performance import MonitorVerdict
from nepse.monitoring.reports import build_index
from nepse.monitoring.summary import DailySummary, daily_alerts, source_alert  # noqa: F401
from nepse.settings import Settings
from nepse.store import open_store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Published:
    """What the publish step produced: the run's summary, its alerts, and whether drift has
    lasted long enough to start a retraining."""

    summary: DailySummary
    alerts: tuple[Alert, ...]
    retrain: bool
    drift: DriftSummary | None
    """The drift summary as published (its page dropped when rendering it failed)."""


def publish_day(
    settings: Settings,
    scored: ScoredDay,
    gate: GateResult,
    drift: DriftSummary | None,
    drift_error: str | None,
    verdict: MonitorVerdict,
) -> Published:
    """Wait for the day's Evidently pages, rewrite the report index, and gather the alerts."""
    page_error = _finish_pages(settings, scored, drift, verdict)
    if page_error:
        drift_error = drift_error or page_error
        drift = replace(drift, html_path=None) if drift else None  # the verdict stands
    with open_store(
        settings.database, read_only=True, lock_timeout_s=settings.lock_timeout_s
    ) as st:
        index = build_index(
            settings.data_dir,
            st.report_index_rows(),
            predicted=predicted_return_text(*label_of_model({}, settings)),
        )
        days = settings.retrain_on_drift_days
        drifted = st.recent_dataset_drift(days) if days else []
    alerts = tuple(daily_alerts(scored, drift, drift_error, verdict))
    summary = DailySummary(
        as_of=scored.as_of,
        model_version=scored.model_version,
        is_fallback=scored.is_fallback,
        n_predictions=scored.n,
        predictions_path=scored.predictions_path,
        drift_report=drift.html_path if drift and drift.html_path else None,
        dataset_drift=drift.dataset_drift if drift else None,
        report_index=index,
        database=settings.database,
        alerts=len(alerts),
    )
    retrain = bool(days) and len(drifted) == days and all(drifted)
    return Published(summary, alerts, retrain, drift)


def _finish_pages(
    settings: Settings, scored: ScoredDay, drift: DriftSummary | None, verdict: MonitorVerdict
) -> str | None:
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
                workspace_dir=str(settings.data_dir),
            )
        except (OSError, side.SideProcessError) as exc:
            log.warning("Evidently %s not rendered: %s", label, exc)
    waited = time.perf_counter()
    failed = side.finish_all()
    pages = side.running()
    log.info(
        "waited %.2f s for %s",
        time.perf_counter() - waited,
        pages.describe() if pages else "the Evidently side process (not started)",
    )
    for label, error in failed.items():
        log.warning("Evidently %s failed: %s", label, error)
    return failed.get(side.drift_page_label(scored.as_of))


MODEL_PAGES = ("evaluation.html", "trading.html")


def publish_model_reports(settings: Settings, folder: Path) -> dict[str, Path]:
    """Copy a model's pages (evaluation, backtest) to reports/models/<version>/, where the
    reports server (`nepse reports serve`, NEPSE_REPORTS_BASE_URL) serves them; name -> copy."""
    out = settings.data_dir / "reports" / "models" / folder.name
    copies = {}
    for name in MODEL_PAGES:
        page = folder / name
        if page.is_file():
            out.mkdir(parents=True, exist_ok=True)
            copies[name] = Path(shutil.copy2(page, out / name))
    return copies
