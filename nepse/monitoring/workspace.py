"""The Evidently workspace the daily runs fill, through Evidently's public API only.

`<data_dir>/evidently` is an Evidently `Workspace` with one project, "NEPSE daily monitoring",
whose dashboard plots each calibrated drift statistic and the realised Rank IC over time;
`evidently ui --workspace <data_dir>/evidently` (`nepse reports ui`) serves it offline. Each
trading day has one run per model (`nepse.monitoring.page.day_snapshot` with `columns=0`: the
verdict in its tests, tags and metadata; the features' distributions are on the day's HTML
page): a rerun of the day replaces it, and runs older than `NEPSE_REPORT_RETENTION_DAYS` are
deleted.

Which run holds which (day, model) is kept in `nepse-runs.json` beside the project (Evidently
finds runs by id only; reading each run back to learn its day would parse every run every day).
A run the file does not know (written by an older version, or left by a failed write) is read
once and recorded.

Evidently writes its files in place; a write that fails (a full disk) is undone through its API
(`delete_run`, `delete_project`), so no half-written file is left for `Workspace` or `evidently
ui` to choke on, and an existing Evidently file is never rewritten by a daily run. Our own file
is written atomically (`nepse.monitoring.files`).
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from nepse.errors import NepseError
from nepse.monitoring.files import write_text_atomic

log = logging.getLogger(__name__)

WORKSPACE_DIR = "evidently"
PROJECT = "NEPSE daily monitoring"
RUNS_FILE = "nepse-runs.json"
PANELS = (
    ("Feature drift (mean distance, market-neutral features)", "MeanValue", "feature drift"),
    ("Worst feature (distance in units of its typical distance)", "MeanValue", "worst feature"),
    ("Market drift (mean distance of the market series)", "MeanValue", "market drift"),
    ("Prediction drift (distance of the predictions' shape)", "MeanValue", "prediction drift"),
    (
        "Realised 20-day Rank IC (out of sample)",
        "MeanValue",
        "rolling Rank IC (20 days, out of sample)",
    ),
)
"""Dashboard panels: (title, Evidently metric, the run's column it is computed on)."""
ABOUT = (
    "One run per trading day and model. Its Tests tab is the day's verdict: each calibrated "
    "statistic is tested against its alarm line (saved with the model), each feature shown "
    "against its own line; a failed test is an alarm. Tags: 'drift alarm' or 'no drift alarm'."
)


@dataclass(frozen=True)
class RunEntry:
    """Which Evidently run holds a day's run of a model (model None: an older version's run)."""

    day: date
    model_version: str | None
    run: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {**asdict(self), "day": self.day.isoformat()}


def open_workspace(data_dir: Path):
    """Evidently's `Workspace` on `<data_dir>/evidently` (created if absent), or a clear error."""
    from evidently.ui.workspace import Workspace

    path = Path(data_dir) / WORKSPACE_DIR
    try:
        path.mkdir(parents=True, exist_ok=True)
        return Workspace(str(path))
    except (ValueError, OSError) as exc:
        raise NepseError(
            f"Evidently workspace {path} cannot be read: {exc}. A run or project file cut short "
            f"(by an older version on a full disk, or a killed process) is the usual cause: "
            f"move the file named above out of {path}, and the next daily run goes on"
        ) from exc


def open_project(ws: Any, path: Path):
    """The monitoring project of the workspace at `path` (created with its dashboard on first
    use)."""
    from evidently.sdk.models import ProjectModel

    found = ws.search_project(PROJECT)
    if found:
        _refresh_dashboard(ws, found[0].id)
        return found[0]
    model = ProjectModel(name=PROJECT, description="Calibrated drift and realised Rank IC")
    try:
        project = ws.add_project(model)
        ws.save_dashboard(project.id, dashboard())
    except OSError as exc:  # undo: a half-written project would stop every later run
        ws.delete_project(model.id)
        raise OSError(
            exc.errno, f"could not create the Evidently project in {path}: {exc.strerror or exc}"
        ) from exc
    return project


def _refresh_dashboard(ws: Any, project_id: Any) -> None:
    """Rewrite the dashboard when it is not this version's (an older one's panels, or a file a
    full disk cut short: rewritten on the next run, once there is space)."""
    try:
        titles = [p.title for p in ws.get_dashboard(project_id).panels]
    except ValueError:
        titles = None
    if titles != [p.title for p in dashboard().panels]:
        ws.save_dashboard(project_id, dashboard())


def dashboard():
    """The project's dashboard: what it says, then one panel per plotted column."""
    from evidently.sdk.models import DashboardModel, DashboardTabModel, PanelMetric
    from evidently.sdk.panels import line_plot_panel, text_panel

    panels = [text_panel(title="NEPSE daily drift", description=ABOUT)]
    panels += [
        line_plot_panel(
            title=title,
            values=[PanelMetric(legend=column, metric=metric, metric_labels={"column": column})],
            size="half",
        )
        for title, metric, column in PANELS
    ]
    tab = DashboardTabModel(title="Monitoring", panels=[p.id for p in panels])
    return DashboardModel(tabs=[tab], panels=panels)


def put_day_run(
    ws: Any, data_dir: Path, snapshot: Any, *, day: date, model_version: str, keep_days: int = 0
) -> str:
    """Add the day's run of `model_version` to the workspace `ws` (`open_workspace(data_dir)`),
    replacing an earlier one of that day and model, and delete runs older than `keep_days`
    before `day` (0: keep all); returns the run id."""
    path = Path(data_dir) / WORKSPACE_DIR
    project = open_project(ws, path)
    entries = _entries(ws, project.id, path)
    before = set(map(str, ws.list_runs(project.id)))
    try:
        run = str(ws.add_run(project.id, snapshot, include_data=False).id)
    except OSError as exc:
        for partial in set(map(str, ws.list_runs(project.id))) - before:
            ws.delete_run(project.id, partial)
        raise OSError(
            exc.errno,
            f"could not add the run of {day} to the Evidently workspace {path}: "
            f"{(exc.strerror or str(exc)).lower()}",
        ) from exc
    cutoff = day - timedelta(days=keep_days) if keep_days > 0 else None
    gone = [
        e
        for e in entries
        if (e.day == day and e.model_version in (model_version, None))
        or (cutoff is not None and e.day < cutoff)
    ]
    kept = [e for e in entries if e not in gone] + [RunEntry(day, model_version, run)]
    try:
        _save_entries(path, kept)
    except OSError:
        ws.delete_run(project.id, run)  # the previous run of the day stays, as recorded
        raise
    for e in gone:
        ws.delete_run(project.id, e.run)
    log.info(
        "Evidently run %s of %s (%s) in %s; %d replaced or expired",
        run,
        day,
        model_version,
        path,
        len(gone),
    )
    return run


def _entries(ws: Any, project_id: Any, path: Path) -> list[RunEntry]:
    """The recorded runs, plus any run of the project the file does not know (read once)."""
    file = path / RUNS_FILE
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
        entries = [
            RunEntry(date.fromisoformat(e["day"]), e["model_version"], e["run"])
            for e in data["runs"]
        ]
    except FileNotFoundError:
        entries = []
    except (ValueError, KeyError, TypeError) as exc:
        raise NepseError(f"{file} is unreadable ({exc}); delete it: it is rebuilt") from exc
    runs = set(map(str, ws.list_runs(project_id)))
    known = {e.run for e in entries}
    for run in sorted(runs - known):
        model = ws.get_run(project_id, run)
        version = (model.metadata or {}).get("model_version")
        entries.append(RunEntry(model.timestamp.date(), version, run))
    return [e for e in entries if e.run in runs]


def _save_entries(path: Path, entries: list[RunEntry]) -> None:
    runs = sorted(entries, key=lambda e: (e.day, e.model_version or ""))
    write_text_atomic(path / RUNS_FILE, json.dumps({"runs": [e.to_dict() for e in runs]}, indent=1))


def recorded_runs(data_dir: Path) -> list[RunEntry]:
    """The runs recorded in the workspace's run file (empty when none)."""
    file = Path(data_dir) / WORKSPACE_DIR / RUNS_FILE
    if not file.is_file():
        return []
    data = json.loads(file.read_text(encoding="utf-8"))
    return [
        RunEntry(date.fromisoformat(e["day"]), e["model_version"], e["run"]) for e in data["runs"]
    ]
