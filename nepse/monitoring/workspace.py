"""The day's Evidently runs, the HTML page, and the Evidently workspace that keeps them over time.

Two Evidently runs per day: the drift report (`ValueDrift`, Evidently's normed Wasserstein, over
the `k` feature columns farthest from the reference and the prediction, in their comparable form)
and a one-row run of the day's monitoring numbers (`MeanValue` of each), which the workspace
dashboard plots over time: each statistic against its alarm line, the drifted share, prediction
drift and realised Rank IC. The HTML page is Evidently's own, with the calibrated verdict and
where today sits in its history written on top. `evidently ui --workspace <data>/evidently`
(`nepse reports ui`) serves the dashboard offline.
"""

from __future__ import annotations

import html
import logging
import math
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from nepse.market.rules import market_rules
from nepse.monitoring.baseline import DriftBaseline, DriftVerdict
from nepse.monitoring.calibrated import ordinal
from nepse.monitoring.comparable import PREDICTION, to_comparable

log = logging.getLogger(__name__)

WORKSPACE_DIR = "evidently"
PROJECT = "NEPSE daily monitoring"
NUMBERS = (
    "feature_drift",
    "feature_drift_line",
    "worst_feature",
    "worst_feature_line",
    "market_drift",
    "market_drift_line",
    "prediction_drift",
    "prediction_drift_line",
    "drifted_share",
    "rolling_rank_ic",
    "rank_ic_floor",
)
PANELS = (
    ("Feature drift (market-neutral) vs alarm line", ("feature_drift", "feature_drift_line")),
    ("Worst feature vs alarm line", ("worst_feature", "worst_feature_line")),
    ("Market drift vs alarm line", ("market_drift", "market_drift_line")),
    ("Prediction drift vs alarm line", ("prediction_drift", "prediction_drift_line")),
    ("Share of tested features beyond Evidently's 0.1 line", ("drifted_share",)),
    ("Realised 20-day Rank IC (out of sample) vs floor", ("rolling_rank_ic", "rank_ic_floor")),
)
COLUMN_LINE = 0.1  # Evidently's default threshold of the normed Wasserstein distance


def numbers_of(
    verdict: DriftVerdict,
    *,
    rolling_rank_ic: float | None = None,
    rank_ic_floor: float | None = None,
) -> dict[str, float]:
    """The day's monitoring numbers (NaN where not computed), keyed as in NUMBERS."""
    out = {k: math.nan for k in NUMBERS}
    for a in verdict.alarms:
        key = a.name.replace(" ", "_")
        out[key], out[f"{key}_line"] = a.value, a.threshold
    d = [x for x in verdict.distances.values() if not math.isnan(x)]
    out["drifted_share"] = float(np.mean([x >= COLUMN_LINE for x in d])) if d else math.nan
    out["rolling_rank_ic"] = math.nan if rolling_rank_ic is None else rolling_rank_ic
    out["rank_ic_floor"] = math.nan if rank_ic_floor is None else rank_ic_floor
    return out


def drift_snapshot(baseline: DriftBaseline, current: pl.DataFrame, columns: list[str], day: date):
    """Evidently's drift run over `columns` (comparable form) and the prediction, if present."""
    from evidently import DataDefinition, Dataset, Report  # slow import: only where it is used
    from evidently.metrics import ValueDrift

    comp = to_comparable(current, {c: baseline.columns[c] for c in columns})
    cols = [
        *columns,
        *(
            [PREDICTION]
            if PREDICTION in comp.columns and PREDICTION in baseline.reference.columns
            else []
        ),
    ]
    ref = baseline.reference.select(cols)
    if ref.height > 6000:
        ref = ref.sample(6000, seed=0)
    definition = DataDefinition(numerical_columns=cols)
    report = Report([ValueDrift(column=c, method="wasserstein") for c in cols], include_tests=True)
    return report.run(
        current_data=Dataset.from_pandas(comp.select(cols).to_pandas(), data_definition=definition),
        reference_data=Dataset.from_pandas(ref.to_pandas(), data_definition=definition),
        timestamp=datetime.combine(day, market_rules().close_time(day)),
        tags=["drift"],
    )


def numbers_snapshot(numbers: dict[str, float], day: date):
    """A one-row Evidently run holding the day's monitoring numbers (MeanValue of each)."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import MeanValue

    present = {k: v for k, v in numbers.items() if not math.isnan(v)}
    frame = pl.DataFrame({k: [float(v)] for k, v in present.items()})
    definition = DataDefinition(numerical_columns=list(present))
    return Report([MeanValue(column=k) for k in present]).run(
        current_data=Dataset.from_pandas(frame.to_pandas(), data_definition=definition),
        reference_data=None,
        timestamp=datetime.combine(day, market_rules().close_time(day)),
        tags=["numbers"],
    )


def verdict_banner(verdict: DriftVerdict, baseline: DriftBaseline) -> str:
    """HTML block: each statistic, its alarm line, and a strip of its history with today marked."""
    rows = []
    for a in verdict.alarms:
        hist = np.asarray(baseline.calibrations[a.name].values)
        lo, hi = float(min(hist.min(), a.value)), float(max(hist.max(), a.value))
        span = (hi - lo) or 1.0
        ticks = "".join(
            f"<line x1='{300 * (v - lo) / span:.1f}' x2='{300 * (v - lo) / span:.1f}' y1='4' "
            f"y2='16' stroke='#9ab' stroke-width='1'/>"
            for v in np.quantile(hist, np.linspace(0, 1, 41))
        )
        x_line, x_now = 300 * (a.threshold - lo) / span, 300 * (a.value - lo) / span
        color = "#c0392b" if a.alarm else "#2e7d32"
        svg = (
            f"<svg width='310' height='20' role='img' aria-label='history of {a.name}'>{ticks}"
            f"<line x1='{x_line:.1f}' x2='{x_line:.1f}' y1='0' y2='20' stroke='#000' "
            f"stroke-dasharray='3,2'/><circle cx='{x_now:.1f}' cy='10' r='5' fill='{color}'/></svg>"
        )
        rows.append(
            f"<tr><td>{html.escape(a.name)}</td><td>{a.value:.4f}</td><td>{a.threshold:.4f}</td>"
            f"<td>{ordinal(a.position)} of {a.n_history}</td>"
            f"<td style='color:{color}'><b>{'ALARM' if a.alarm else 'ok'}</b></td>"
            f"<td>{svg}</td></tr>"
        )
    verdict_text = "ALARM" if verdict.alarmed else "no drift alarm"
    return (
        "<section id='nepse-verdict' style='font-family:sans-serif;padding:12px;"
        "border-bottom:1px solid #ccc'>"
        f"<h2>Drift {verdict.start}..{verdict.end}: {verdict_text}</h2>"
        f"<p>Reference {baseline.reference_start}..{baseline.reference_end}; window "
        f"{baseline.window} sessions; alarm lines at the "
        f"{100 * next(iter(baseline.calibrations.values())).quantile:.0f}th percentile of each "
        "statistic over the calibration windows (ticks: its history; dashed: alarm line; dot: "
        "today).</p><table><tr><th>statistic</th><th>today</th><th>alarm line</th>"
        f"<th>percentile</th><th>verdict</th><th>history</th></tr>{''.join(rows)}</table>"
        "</section>"
    )


def write_page(snapshot: Any, banner: str, out_html: Path) -> Path:
    """Evidently's HTML with the verdict banner inserted at the top of the body."""
    out_html.parent.mkdir(parents=True, exist_ok=True)
    snapshot.save_html(str(out_html))
    text = out_html.read_text(encoding="utf-8")
    i = text.find("<body")
    j = text.find(">", i) + 1 if i >= 0 else 0
    out_html.write_text(text[:j] + banner + text[j:], encoding="utf-8")
    return out_html


def _append_only_workspace(path: Path):
    """Evidently's local `Workspace` for adding runs, without its dataset manager.

    `Workspace(path)` also builds a dataset manager whose state parses every stored run when it
    is constructed, so adding a day's run cost more each day (0.46 s at 22 runs, measured; a
    year of runs would take several seconds). The daily run uploads no datasets
    (`include_data=False`): project search, project creation, dashboards and `add_run` use only
    the workspace's file state, which this keeps. Written files are Evidently's own; its
    `Workspace` and `evidently ui` read them (tests/unit/monitoring/test_workspace.py).
    """
    from evidently.ui.storage.local.base import LocalState
    from evidently.ui.workspace import Workspace

    class AppendOnlyWorkspace(Workspace):
        def __init__(self, path: str):  # Workspace.__init__ minus the dataset manager
            self.path = path
            self.state = LocalState(path)

    path.mkdir(parents=True, exist_ok=True)
    return AppendOnlyWorkspace(str(path))


def open_project(data_dir: Path):
    """The workspace under `data_dir` and its monitoring project (created with its dashboard)."""
    from evidently.sdk.models import PanelMetric
    from evidently.sdk.panels import line_plot_panel

    ws = _append_only_workspace(data_dir / WORKSPACE_DIR)
    found = ws.search_project(PROJECT)
    if found:
        return ws, found[0]
    project = ws.create_project(PROJECT, description="Calibrated drift and realised Rank IC")
    for title, keys in PANELS:
        project.dashboard.add_panel(
            line_plot_panel(
                title=title,
                values=[
                    PanelMetric(legend=k, metric="MeanValue", metric_labels={"column": k})
                    for k in keys
                ],
                size="half",
            ),
            tab="Monitoring",
        )
    return ws, project


def add_to_workspace(data_dir: Path, *snapshots: Any) -> str:
    """Add the day's runs to the workspace; returns the project id."""
    ws, project = open_project(data_dir)
    for snap in snapshots:
        ws.add_run(project.id, snap, include_data=False)
    log.info(
        "added %d run(s) to the Evidently workspace %s", len(snapshots), data_dir / WORKSPACE_DIR
    )
    return str(project.id)
