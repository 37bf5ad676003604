"""Prefect artifacts of the daily and training runs (markdown, table, link)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from prefect.artifacts import (
    create_link_artifact,
    create_markdown_artifact,
    create_table_artifact,
)

from nepse.ingest.gate import GateResult
from nepse.model.scoring import ScoredDay
from nepse.monitoring.calibrated import ordinal
from nepse.monitoring.drift import DriftSummary
from nepse.monitoring.performance import MonitorVerdict
from tasks.common import settings


def _report_link(drift: DriftSummary) -> str:
    """Markdown link to the day's drift page, or why there is none."""
    if drift.html_path is None:
        return "the report failed: see the run's logs and alerts"
    return f"[report]({report_url(drift.html_path)})"


def report_url(path: str | Path) -> str:
    """A URL for a file under the data folder: NEPSE_REPORTS_BASE_URL if set, else file://."""
    s = settings()
    path = Path(path).resolve()
    if s.reports_base_url:
        reports = (s.data_dir / "reports").resolve()
        try:
            return s.reports_base_url.rstrip("/") + "/" + path.relative_to(reports).as_posix()
        except ValueError:
            pass
    return path.as_uri()


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:+.2f}%"


def _num(x: float | None, fmt: str = ".4f") -> str:
    return "—" if x is None else format(x, fmt)


def daily_markdown(
    scored: ScoredDay,
    gate: GateResult,
    drift: DriftSummary | None,
    verdict: MonitorVerdict,
    index: Path,
) -> str:
    """The run summary shown on the flow run's Artifacts tab."""
    day = scored.as_of
    model = f"`{scored.model_version}`"
    if scored.is_fallback:
        model += f" — **FALLBACK** ({scored.model_role}): " + "; ".join(scored.problems)
    lines = [
        f"# NEPSE daily predictions for {day}",
        "",
        f"- **Model:** {model}",
        f"- **Universe:** {scored.n} active equities scored "
        f"({gate.rows_on_day} prices stored for the day, "
        f"{100 * gate.reject_share:.2f}% of input rows rejected)",
        f"- **Predictions:** `{scored.predictions_path}`",
    ]
    if drift and drift.alarms:
        verdict_txt = "**DRIFT ALARM**" if drift.dataset_drift else "no drift alarm"
        lines += [
            f"- **Drift:** {verdict_txt} ({_report_link(drift)})",
            "",
            "| statistic | today | alarm line | percentile of history | verdict |",
            "|---|---:|---:|---:|---|",
        ]
        lines += [
            f"| {a.name} | {a.value:.4f} | {a.threshold:.4f} | {ordinal(a.position)} of "
            f"{a.n_history} | {'**ALARM**' if a.alarm else 'ok'} |"
            for a in drift.alarms
        ]
        far = sorted(drift.columns, key=lambda c: -(c.score or 0.0))[:5]
        lines += [
            "",
            "  - farthest features: "
            + ", ".join(f"`{c.column}` {_num(c.score, '.3f')}" for c in far),
        ]
    elif drift:
        lines.append(
            f"- **Drift:** {drift.n_drifted} of {drift.n_columns} feature columns drifted "
            f"({drift.share_drifted:.0%}); {_report_link(drift)}"
        )
    else:
        lines.append("- **Drift:** no report this run (see the logs)")
    latest = verdict.latest
    if latest:
        lines.append(
            f"- **Realised (last evaluated day {latest['date']}):** Rank IC "
            f"{_num(latest['rank_ic'])}, IC {_num(latest['ic'])}, "
            f"RMSE {_num(latest['rmse'], '.5f')}"
            f"; 20-day rolling Rank IC {_num(latest['rolling_rank_ic'])}"
        )
    else:
        lines.append("- **Realised:** no earlier prediction has its outcome yet")
    if verdict.rank_ic_alarm is not None:
        lines.append(f"- **Rolling Rank IC vs walk-forward:** {verdict.rank_ic_alarm.describe()}")
    for alert in verdict.alerts:
        lines.append(f"- :warning: {alert}")
    lines.append(f"- **Report index:** `{index}`")
    for title, rows in (("Top 10", scored.top), ("Bottom 10", scored.bottom)):
        lines += ["", f"## {title}", "", "| symbol | predicted return | rank |", "|---|---:|---:|"]
        lines += [f"| {r.symbol} | {_pct(r.pred_ret)} | {r.pred_rank:.3f} |" for r in rows]
    lines += [
        "",
        "Predicted return = next trading day's adjusted close-to-close return. Realised metrics "
        "are out of sample: days inside the scoring model's training window are left out.",
    ]
    return "\n".join(lines)


def publish_daily_artifacts(
    scored: ScoredDay,
    gate: GateResult,
    drift: DriftSummary | None,
    verdict: MonitorVerdict,
    index: Path,
) -> None:
    """Markdown summary, predictions table and links to the drift report and the index."""
    day = scored.as_of
    create_markdown_artifact(
        key="daily-summary",
        markdown=daily_markdown(scored, gate, drift, verdict, index),
        description=f"NEPSE daily predictions {day}",
    )
    preds = pl.read_parquet(scored.predictions_path).select(
        "symbol", "pred_ret", "pred_rank", "model_version"
    )
    create_table_artifact(
        key="daily-predictions",
        table=preds.with_columns(
            pl.col("pred_ret").round(6), pl.col("pred_rank").round(4)
        ).to_dicts(),
        description=f"Predicted next-day returns for {day} ({preds.height} equities)",
    )
    if drift and drift.html_path:
        create_link_artifact(
            key="drift-report",
            link=report_url(drift.html_path),
            link_text=f"Evidently drift report {day} ({scored.model_version})",
            description=f"Drift report for {day}: open it in a browser (self-contained HTML)",
        )
    create_link_artifact(
        key="report-index",
        link=report_url(index),
        link_text="All drift reports (index)",
        description="One row per day with drift share and realised Rank IC",
    )
