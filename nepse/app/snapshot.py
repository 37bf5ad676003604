"""What the daily run publishes for readers: the scored day, its drift verdict, the registry.

The API (`nepse api`) reads only `<data_dir>/published/` (layout and atomic writes:
nepse/api/folder.py), never the DuckDB file, which one process holds at a time. Everything
published is read from the store after the run's commit (read-only), so a day's publication is
the same whether the daily run's publish step makes it (`publish_snapshot`) or
`nepse api publish` makes it later from an existing database (`publish_history`). Training,
promotion and rollback refresh the registry's copy (`publish_registry`); the flows' state hooks
record each run's last state (`record_run`), so a run that fails before publishing shows too.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import polars as pl

from nepse.api.folder import (
    DRIFT,
    FLOW_RE,
    REGISTRY,
    RUN,
    TABLES,
    add_to_index,
    dumps,
    new_publication,
    published_root,
    staged,
    write_atomic,
)
from nepse.app.texts import report_url
from nepse.atomic import write_parquet
from nepse.errors import NepseError
from nepse.features.panel import MIN_SYMBOLS_PER_DAY
from nepse.model import registry
from nepse.settings import Settings
from nepse.store import Store, open_store

log = logging.getLogger(__name__)

SESSIONS_KEPT = 60
"""Stored sessions up to the day that a publication lists: the API judges staleness with them
(the calendar's weekday pattern needs the last 20)."""


@dataclass(frozen=True)
class Snapshot:
    """One published day: where it is and what it holds."""

    as_of: date
    publication: str
    """Its folder under the published root (days/<as_of>/<id>)."""
    model_version: str
    model_role: str
    flow_run_id: str | None
    n: int
    published_at: datetime

    def entry(self) -> dict[str, Any]:
        """The day's line in index.json."""
        return asdict(self)


@dataclass(frozen=True)
class RunRecord:
    """The state a flow run reached, as its state hooks saw it (plain values, no Prefect)."""

    flow_name: str
    flow_run_id: str
    flow_run_name: str
    state_type: str
    """COMPLETED, FAILED, CRASHED, RUNNING, ..."""
    state_name: str
    message: str | None
    as_of: date | None
    """The run's `as_of` parameter (None: the latest trading day)."""
    at: datetime


def _store(settings: Settings) -> Store:
    return open_store(settings.database, read_only=True, lock_timeout_s=settings.lock_timeout_s)


def publish_snapshot(
    settings: Settings,
    as_of: date,
    *,
    problems: Iterable[str] = (),
    drift_error: str | None = None,
    tables: Mapping[str, Path] | None = None,
) -> Snapshot:
    """Publish the scored day `as_of` (predictions, drift verdict, run facts, and `tables`, e.g.
    {"orders": path, "ledger": path}) and the registry; the daily run's publish step calls it
    once, after the day's rows are committed."""
    root = published_root(settings.data_dir)
    with _store(settings) as st:
        days = _gather(st, start=as_of, end=as_of)
        if as_of not in days:
            raise NepseError(
                f"cannot publish {as_of}: no predictions are stored for it; score the day first "
                "(nepse daily --as-of DAY)"
            )
        models = _registry(st, settings)
    snap = _write_day(
        root,
        settings,
        days[as_of],
        problems=tuple(problems),
        drift_error=drift_error,
        tables=tables,
    )
    add_to_index(root, [snap.entry()])
    _write_registry(root, models)
    log.info("published %s (%d predictions) to %s", as_of, snap.n, root / snap.publication)
    return snap


def publish_history(
    settings: Settings, start: date | None = None, end: date | None = None
) -> list[Snapshot]:
    """Publish every stored prediction day in start..end (all: None) and the registry from an
    existing database, read-only (`nepse api publish`: once, for data scored before the API)."""
    root = published_root(settings.data_dir)
    with _store(settings) as st:
        days = _gather(st, start=start, end=end)
        models = _registry(st, settings)
    snaps = [_write_day(root, settings, facts) for _, facts in sorted(days.items())]
    if snaps:
        add_to_index(root, [s.entry() for s in snaps])
    _write_registry(root, models)
    return snaps


def publish_registry(settings: Settings, store: Store | None = None) -> Path:
    """Refresh the registry's published copy (after training, promotion or rollback)."""
    root = published_root(settings.data_dir)
    if store is not None:
        models = _registry(store, settings)
    else:
        with _store(settings) as st:
            models = _registry(st, settings)
    _write_registry(root, models)
    return root / REGISTRY


def record_run(settings: Settings, record: RunRecord) -> Path:
    """Write a flow's last run state to runs/<flow name>.json (atomically)."""
    if not FLOW_RE.match(record.flow_name):
        raise NepseError(f"flow name {record.flow_name!r} cannot name a run-state file")
    path = published_root(settings.data_dir) / "runs" / f"{record.flow_name}.json"
    write_atomic(path, dumps(asdict(record)))
    return path


@dataclass(frozen=True)
class _DayFacts:
    as_of: date
    predictions: pl.DataFrame
    drift: dict[str, Any] | None
    sessions: tuple[date, ...]


def _gather(st: Store, *, start: date | None, end: date | None) -> dict[date, _DayFacts]:
    """Each stored prediction day in start..end with its drift row and the sessions before it."""
    preds = st.predictions(start=start, end=end)
    if preds.is_empty():
        return {}
    drift = st.drift_reports()
    sessions = st.trading_dates(MIN_SYMBOLS_PER_DAY).to_list()
    out = {}
    for (day,), frame in preds.partition_by("date", as_dict=True, maintain_order=True).items():
        versions = frame.get_column("model_version").unique().to_list()
        if len(versions) != 1:
            raise NepseError(f"predictions of {day} come from {len(versions)} models: {versions}")
        rows = drift.filter((pl.col("date") == day) & (pl.col("model_version") == versions[0]))
        out[day] = _DayFacts(
            as_of=day,
            predictions=frame.sort(["pred_rank", "symbol"], descending=[True, False]),
            drift=rows.to_dicts()[0] if rows.height else None,
            sessions=tuple(d for d in sessions if d <= day)[-SESSIONS_KEPT:],
        )
    return out


def _write_day(
    root: Path,
    settings: Settings,
    facts: _DayFacts,
    *,
    problems: tuple[str, ...] = (),
    drift_error: str | None = None,
    tables: Mapping[str, Path] | None = None,
) -> Snapshot:
    """Write one day's publication folder (staged, then renamed); the index is not touched."""
    preds = facts.predictions
    run_ids = [r for r in preds.get_column("flow_run_id").unique().to_list() if r]
    snap = Snapshot(
        as_of=facts.as_of,
        publication=new_publication(facts.as_of),
        model_version=preds.get_column("model_version")[0],
        model_role=preds.get_column("model_role")[0],
        flow_run_id=run_ids[0] if len(run_ids) == 1 else None,
        n=preds.height,
        published_at=datetime.now(UTC),
    )
    unknown = sorted(set(tables or {}) - set(TABLES))
    if unknown:
        raise NepseError(f"cannot publish table(s) {unknown}: known tables are {sorted(TABLES)}")
    with staged(root, snap.publication) as folder:
        write_parquet(preds, folder / TABLES["predictions"])  # a full disk: in words
        for name, source in (tables or {}).items():
            shutil.copyfile(source, folder / TABLES[name])
        (folder / DRIFT).write_bytes(dumps(_drift_doc(settings, facts.drift, drift_error)))
        files = {
            name: _file_facts(folder / file)
            for name, file in TABLES.items()
            if (folder / file).exists()
        }
        run = {
            **snap.entry(),
            "status": "normal" if snap.model_role == "champion" else "fallback",
            "problems": list(problems),
            "tables": files,
            "sessions": list(facts.sessions),
        }
        (folder / RUN).write_bytes(dumps(run))
    return snap


def _file_facts(path: Path) -> dict[str, Any]:
    rows = pl.scan_parquet(path).select(pl.len()).collect().item()
    return {"rows": rows, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _drift_doc(settings: Settings, row: dict[str, Any] | None, error: str | None) -> dict:
    """The day's drift verdict as published: the calibrated alarms, the drifted columns, and
    links to the Evidently page and the report index."""
    if row is None:
        return {
            "verdict": None,
            "reason": error
            or "no drift check ran for this day (the naive fallback scored it, or the step failed)",
            "links": _links(settings, None),
        }
    page = row.get("html_path")
    page = Path(page) if page and page != "None" else None
    return {
        "verdict": "alarm" if row["dataset_drift"] else "ok",
        "dataset_drift": bool(row["dataset_drift"]),
        "share_drifted": row["share_drifted"],
        "n_drifted": row["n_drifted"],
        "n_columns": row["n_columns"],
        "drifted_columns": _json(row.get("drifted_columns")) or [],
        "prediction_drift": _json(row.get("prediction_drift")),
        "alarms": _json(row.get("alarms")) or [],
        "error": error,
        "links": _links(settings, page),
    }


def _links(settings: Settings, page: Path | None) -> list[dict[str, str]]:
    """Links to the day's pages (NEPSE_REPORTS_BASE_URL, else file:// URLs of this machine)."""
    out = []
    if page is not None and page.is_file():
        out.append({"rel": "drift_report", "url": report_url(settings, page)})
    index = settings.data_dir / "reports" / "index.html"
    if index.is_file():
        out.append({"rel": "report_index", "url": report_url(settings, index)})
    return out


def _write_registry(root: Path, models: dict[str, Any]) -> None:
    """registry.json, rewritten only when the registry changed: its published_at is the time
    of the last change, so clients polling /models get 304 until a model is registered,
    promoted or rolled back."""
    path = root / REGISTRY
    try:
        old = json.loads(path.read_bytes())
    except (FileNotFoundError, ValueError):
        old = None
    if old is not None and old.pop("published_at", None) and old == json.loads(dumps(models)):
        return
    stamped = {"published_at": datetime.now(UTC), **models}
    write_atomic(path, dumps(stamped))


def _registry(st: Store, settings: Settings) -> dict[str, Any]:
    """The registry's rows (without server paths) and each version's model card."""
    rows = registry.list_models(st)
    champ = registry.champion(st)
    cards = {}
    for row in rows:
        card = settings.data_dir / "models" / row["version"] / "card.md"
        if not card.is_file():
            card = Path(row["path"] or "") / "card.md"
        if card.is_file():
            cards[row["version"]] = card.read_text(encoding="utf-8")
    return {
        "champion": champ["version"] if champ else None,
        "models": [{k: v for k, v in r.items() if k != "path"} for r in rows],
        "cards": cards,
    }
