"""Ingest a price file or folder into the store: read -> validate -> merge, in one transaction."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from nepse.settings import Settings
from nepse.store import IngestReport, open_store

log = logging.getLogger(__name__)


def market_today(settings: Settings) -> date:
    """Today's date in the market's time zone (Asia/Kathmandu by default)."""
    return datetime.now(ZoneInfo(settings.timezone)).date()


def ingest_path(
    settings: Settings,
    path: str | Path,
    *,
    today: date | None = None,
    on_stage: Callable[[str], None] | None = None,
) -> IngestReport:
    """Read `path` with the matching reader and store it in `settings.database`."""
    # Imported here so the store is usable (and testable) without the readers module.
    from nepse.sources.readers import read_path

    path = Path(path)
    read = read_path(path)
    with open_store(settings.database, lock_timeout_s=settings.lock_timeout_s) as store:
        report = store.ingest(
            read,
            settings=settings,
            today=today or market_today(settings),
            on_stage=on_stage,
            source=str(path),
        )
    log.debug("ingest %s: %s", path, report.to_dict())
    return report
