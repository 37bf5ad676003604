"""What a daily run shows people: its summary in Markdown, its predictions table, its links."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from nepse.app.paper import PaperTraded
from nepse.errors import ModelNotFoundError
from nepse.features.labels import label_of_model, predicted_return_text
from nepse.ingest.gate import GateResult
from nepse.model.scoring import ScoredDay, model_reference
from nepse.monitoring.calibrated import ordinal
from nepse.monitoring.drift import DriftSummary
from nepse.monitoring.performance import MonitorVerdict
from nepse.settings import Settings

PREDICTED = "predicted return"
RANK = "percentile rank (1 = highest)"


@dataclass(frozen=True)
class Link:
    """A link a run shows: where it goes, its text and what it is."""

    key: str
    url: str
    text: str
    description: str


@dataclass(frozen=True)
class DailyTexts:
    """Everything a daily run publishes as artifacts."""

    markdown: str
    description: str
    table: tuple[dict, ...]
    table_description: str
    links: tuple[Link, ...]
    orders: tuple[dict, ...] | None = None
    """Tomorrow's orders (None: the paper step did not run)."""
    orders_note: str = ""


def report_url(settings: Settings, path: str | Path | None) -> str | None:
    """The URL of a file under the reports folder at NEPSE_REPORTS_BASE_URL; None when that is
    not set or the file is elsewhere (a browser opens no file:// link from the Prefect UI, so
    such a file is shown as its path, not as a link)."""
    if path is None or not settings.reports_base_url:
        return None
    reports = (settings.data_dir / "reports").resolve()
    try:
        rel = Path(path).resolve().relative_to(reports).as_posix()
    except ValueError:
        return None
    return settings.reports_base_url.rstrip("/") + "/" + rel


def shown(settings: Settings, path: str | Path, text: str) -> str:
    """Markdown for a report: a link where `report_url` has one, else its path as code."""
    url = report_url(settings, path)
    return f"[{text}]({url})" if url else f"{text}: `{Path(path).resolve()}`"


def predicted(settings: Settings, model_version: str) -> str:
    """The sentence saying what the scoring model's `pred_ret` predicts (its label)."""
    try:
        meta, _ = model_reference(settings.data_dir / "models" / model_version)
    except ModelNotFoundError:
        meta = {}  # the naive baseline stands in for the configured label
    return predicted_return_text(*label_of_model(meta, settings))


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:+.2f}%"


def _num(x: float | None, fmt: str = ".4f") -> str:
    return "—" if x is None else format(x, fmt)


def _drift_lines(settings: Settings, drift: DriftSummary | None) -> list[str]:
    if drift is None:
        return ["- **Drift:** no report this run (see the logs)"]
    link = (
        shown(settings, drift.html_path, "report")
        if drift.html_path is not None
        else "the report failed: see the run's logs and alerts"
    )
    if not drift.alarms:
        return [
            f"- **Drift:** {drift.n_drifted} of {drift.n_columns} feature columns drifted "
            f"({drift.share_drifted:.0%}); {link}"
        ]
    verdict = "**DRIFT ALARM**" if drift.dataset_drift else "no drift alarm"
    lines = [
        f"- **Drift:** {verdict} ({link})",
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
        "  - farthest features: " + ", ".join(f"`{c.column}` {_num(c.score, '.3f')}" for c in far),
    ]
    return lines


def _paper_lines(paper: PaperTraded | None) -> list[str]:
    if paper is None:
        return ["- **Orders:** none made this run (see the logs and alerts)"]
    d = paper.day
    since = d.nav / paper.nav_start - 1 if paper.nav_start else float("nan")
    lines = [
        f"- **Paper portfolio ({d.day}):** NAV Rs {d.nav:,.0f}, {since:+.2%} since the start net "
        f"of every cost (the equal-weighted universe {paper.ew_growth - 1:+.2%}); today "
        f"{_pct(d.ret)}, costs Rs {d.costs:,.0f}, {d.n_filled} order(s) filled",
        f"- **Orders for the next session:** {d.note}",
    ]
    trades = [o for o in paper.orders if o["side"] != "hold"]
    if trades:
        lines += ["", "| symbol | side | shares | note |", "|---|---|---:|---|"]
        lines += [
            f"| {o['symbol']} | {o['side']} | {o['shares']:,.0f} | {o['note'] or ''} |"
            for o in trades
        ]
        lines.append("")
    return lines


def daily_markdown(
    settings: Settings,
    scored: ScoredDay,
    gate: GateResult,
    drift: DriftSummary | None,
    verdict: MonitorVerdict,
    index: Path,
    paper: PaperTraded | None = None,
) -> str:
    """The run summary shown on the flow run's Artifacts tab."""
    model = f"`{scored.model_version}`"
    if scored.is_fallback:
        model += f" — **FALLBACK** ({scored.model_role}): " + "; ".join(scored.problems)
    lines = [
        f"# NEPSE daily predictions for {scored.as_of}",
        "",
        f"- **Model:** {model}",
        f"- **Universe:** {scored.n} active equities scored "
        f"({gate.rows_on_day} prices stored for the day, "
        f"{100 * gate.reject_share:.2f}% of input rows rejected)",
        f"- **Predictions:** `{scored.predictions_path}`",
        *_paper_lines(paper),
        *_drift_lines(settings, drift),
    ]
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
    lines += [f"- :warning: {alert}" for alert in verdict.alerts]
    lines.append(f"- **Report index:** {shown(settings, index, 'all days')}")
    lines += ["", f"{predicted(settings, scored.model_version)}."]
    for title, rows in (("Top 10", scored.top), ("Bottom 10", scored.bottom)):
        lines += ["", f"## {title}", "", f"| symbol | {PREDICTED} | {RANK} |", "|---|---:|---:|"]
        lines += [f"| {r.symbol} | {_pct(r.pred_ret)} | {r.pred_rank:.3f} |" for r in rows]
    lines += [
        "",
        "Realised metrics are out of sample: days inside the scoring model's training window "
        "are left out.",
    ]
    return "\n".join(lines)


def daily_texts(
    settings: Settings,
    scored: ScoredDay,
    gate: GateResult,
    drift: DriftSummary | None,
    verdict: MonitorVerdict,
    index: Path,
    paper: PaperTraded | None = None,
) -> DailyTexts:
    """The daily run's artifacts: summary, predictions table, tomorrow's orders, links to the
    drift page, the NAV chart and the index (links only where the reports are served:
    NEPSE_REPORTS_BASE_URL)."""
    day = scored.as_of
    preds = pl.read_parquet(scored.predictions_path).select(
        "symbol", "pred_ret", "pred_rank", "model_version"
    )
    table = preds.select(
        "symbol",
        pl.col("pred_ret").round(6).alias(PREDICTED),
        pl.col("pred_rank").round(4).alias(RANK),
        pl.col("model_version").alias("model"),
    )
    links = []
    drift_url = report_url(settings, drift.html_path) if drift else None
    if drift_url:
        links.append(
            Link(
                "drift-report",
                drift_url,
                f"Evidently drift report {day} ({scored.model_version})",
                f"Drift report for {day}: the calibrated verdict and Evidently's page",
            )
        )
    index_url = report_url(settings, index)
    if index_url:
        links.append(
            Link(
                "report-index",
                index_url,
                "All drift reports (index)",
                "One row per day with the drift verdict and the realised Rank IC",
            )
        )
    nav_url = report_url(settings, paper.chart_path) if paper and paper.chart_path else None
    if nav_url:
        links.append(
            Link(
                "paper-nav",
                nav_url,
                f"Paper portfolio NAV to {day}",
                "NAV net and gross of costs against the equal-weighted universe and the market",
            )
        )
    return DailyTexts(
        markdown=daily_markdown(settings, scored, gate, drift, verdict, index, paper),
        description=f"NEPSE daily predictions {day}",
        table=tuple(table.to_dicts()),
        table_description=f"{predicted(settings, scored.model_version)}: {day}, "
        f"{preds.height} equities, by {scored.model_version}",
        links=tuple(links),
        orders=None if paper is None else paper.orders,
        orders_note=""
        if paper is None
        else f"Orders for the session after {day}: " + paper.day.note,
    )


def card_markdown(settings: Settings, card: str, folder: Path, reports: dict[str, Path]) -> str:
    """A model card for the Prefect UI: its links to the model's pages made absolute (the
    published copies under the reports folder), or plain names where they are not served."""
    for name in ("evaluation.html", "trading.html"):
        url = report_url(settings, reports[name]) if name in reports else None
        card = card.replace(
            f"[{name}]({name})", f"[{name}]({url})" if url else f"`{folder / name}`"
        )
    return card


@dataclass(frozen=True)
class ModelTexts:
    """What a training run shows: the model card, its metrics table, links to its pages."""

    card: str
    metrics: tuple[dict, ...]
    links: tuple[Link, ...]


MODEL_LINKS = {
    "evaluation.html": (
        "evaluation-report",
        "Evaluation report",
        "Cumulative top-minus-bottom return, daily Rank IC, feature importance",
    ),
    "trading.html": (
        "trading-report",
        "Backtest with NEPSE costs",
        "The portfolio layer with NEPSE's costs vs the universe: NAV, drawdown, quintiles",
    ),
}


def model_texts(
    settings: Settings, version: str, folder: Path, pages: dict[str, Path], metrics: list[dict]
) -> ModelTexts:
    """A training run's artifacts: the card with absolute links to the model's published pages
    (`pages`: nepse.app.publish.publish_model_reports), its metrics, its link artifacts (only
    where the pages are served: NEPSE_REPORTS_BASE_URL)."""
    card = card_markdown(settings, (folder / "card.md").read_text(encoding="utf-8"), folder, pages)
    links = []
    for name, (key, text, description) in MODEL_LINKS.items():
        url = report_url(settings, pages[name]) if name in pages else None
        if url:
            links.append(Link(key, url, f"{text} {version}", description))
    return ModelTexts(card, tuple(metrics), tuple(links))
