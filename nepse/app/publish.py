"""The daily run's last step: wait for the day's pages, rewrite the report index, list alerts."""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass, replace
from pathlib import Path

from nepse.app import snapshot
from nepse.app.paper import PaperTraded, index_section
from nepse.errors import NepseError
from nepse.features.labels import label_of_model, predicted_return_text
from nepse.ingest.gate import GateResult
from nepse.model.scoring import ScoredDay
from nepse.monitoring import side
from nepse.monitoring.alerts import Alert
from nepse.monitoring.drift import DriftSummary
from nepse.monitoring.performance import MonitorVerdict
from nepse.monitoring.reports import build_index, index_path, prune_pages
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
    publish_error: str | None = None
    """Why the day's answers could not be published for the API (which keeps the last day)."""


def publish_day(
    settings: Settings,
    scored: ScoredDay,
    gate: GateResult,
    drift: DriftSummary | None,
    drift_error: str | None,
    verdict: MonitorVerdict,
    paper: PaperTraded | None = None,
) -> Published:
    """Wait for the day's Evidently pages, rewrite the report index (with the paper portfolio
    and tomorrow's orders), publish the day for the API, and gather the alerts."""
    page_error, pages_error = _finish_pages(settings, scored, drift, verdict)
    if page_error:
        drift = replace(drift, html_path=None) if drift else None  # the verdict stands
    drift_error = drift_error or page_error or pages_error
    with open_store(
        settings.database, read_only=True, lock_timeout_s=settings.lock_timeout_s
    ) as st:
        try:  # written atomically: a failure (a full disk) keeps yesterday's index
            index = build_index(
                settings.data_dir,
                st.report_index_rows(),
                settings.report_retention_days,
                extra_html=index_section(paper) if paper else "",
                predicted=predicted_return_text(*label_of_model({}, settings)),
            )
        except OSError as exc:
            index, drift_error = index_path(settings.data_dir), drift_error or str(exc)
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
    # The read-only API's copy of the day, after the store's commit (nepse/app/snapshot.py).
    tables = {"orders": paper.orders_path, "ledger": paper.ledger_path} if paper else None
    publish_error = None
    try:
        snapshot.publish_snapshot(
            settings,
            scored.as_of,
            problems=scored.problems,
            drift_error=drift_error,
            tables={k: v for k, v in (tables or {}).items() if v is not None} or None,
        )
    except (OSError, NepseError) as exc:  # a full disk: the API keeps the last published day
        publish_error = (
            f"the answers of {scored.as_of} were not published for the API under "
            f"{settings.data_dir / 'published'}: {exc}; the API serves the last published day "
            f"until space is freed and `nepse api publish` is run (the predictions are stored)"
        )
        alerts += (
            Alert(
                "publish",
                "API answers not published",
                publish_error,
                "error",
                day=scored.as_of,
                model_version=scored.model_version,
            ),
        )
    return Published(summary, alerts, retrain, drift, publish_error)


def _finish_pages(
    settings: Settings, scored: ScoredDay, drift: DriftSummary | None, verdict: MonitorVerdict
) -> tuple[str | None, str | None]:
    """Have the side process render the day's Evidently run (its page, then its run in the
    workspace) and wait for it; delete pages past `NEPSE_REPORT_RETENTION_DAYS`. Returns the
    page's error and the workspace's, if they failed."""
    page, workspace = side.page_label(scored.as_of), side.workspace_label(scored.as_of)
    if drift is not None and drift.html_path is not None:
        folder = settings.data_dir / "models" / scored.model_version
        day = scored.as_of.isoformat()
        try:
            pages = side.start()
            pages.submit(
                "drift_page",
                page,
                baseline_dir=str(folder),
                current=str(scored.features_path),
                summary=drift.to_dict(),
                day=day,
                model_version=scored.model_version,
                columns=settings.drift_report_columns,
                rank_ic=verdict.rolling_rank_ic,
                out_html=str(drift.html_path),
            )
            pages.submit(
                "workspace_run",
                workspace,
                out_html=str(drift.html_path),
                data_dir=str(settings.data_dir),
                day=day,
                model_version=scored.model_version,
                keep_days=settings.report_retention_days,
            )
        except (OSError, side.SideProcessError) as exc:
            log.warning("Evidently drift page of %s not rendered: %s", scored.as_of, exc)
            return str(exc), None
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
    keep = settings.report_retention_days
    try:
        removed = prune_pages(settings.data_dir, scored.as_of, keep)
        if removed:
            log.info("deleted %d drift page(s) older than %d days", removed, keep)
    except OSError as exc:  # tomorrow's run tries again
        log.warning("drift pages older than %d days not deleted: %s", keep, exc)
    return failed.get(page), failed.get(workspace)


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
