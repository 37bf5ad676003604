"""The report review page: `<data_dir>/reports/index.html`, one row per drift report, and a server.

Everything is static and self-contained (inline CSS, no scripts, no fonts, no network), so the
folder can be opened from disk, served by `serve`, or published as a CI artifact.
"""

from __future__ import annotations

import contextlib
import functools
import html
import io
import json
import logging
import math
import os
from datetime import date as Date
from datetime import datetime, timedelta
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

import polars as pl

from nepse.errors import DataQualityError
from nepse.monitoring.calibrated import ordinal
from nepse.monitoring.files import write_text_atomic

log = logging.getLogger(__name__)

REPORTS_DIR = "reports"
"""Sub-folder of data_dir holding the index and one folder of HTML reports per day."""


def drift_report_relpath(date: Date | str, model_version: str) -> str:
    """A day's drift report relative to the reports folder: `<date>/drift-<version>.html`."""
    return f"{_iso(date)}/drift-{model_version}.html"


def drift_report_path(data_dir: Path, date: Date | str, model_version: str) -> Path:
    """Where the daily flow writes a day's drift report (under `<data_dir>/reports`)."""
    return Path(data_dir) / REPORTS_DIR / drift_report_relpath(date, model_version)


def index_path(data_dir: Path) -> Path:
    """The report index: `<data_dir>/reports/index.html`."""
    return Path(data_dir) / REPORTS_DIR / "index.html"


def prune_pages(data_dir: Path, day: Date, keep_days: int) -> int:
    """Delete the drift pages of days more than `keep_days` before `day` (0: keep all), and
    their day folders once empty; returns how many pages were deleted."""
    if keep_days <= 0:
        return 0
    cutoff = day - timedelta(days=keep_days)
    removed = 0
    for folder in sorted((Path(data_dir) / REPORTS_DIR).glob("[0-9][0-9][0-9][0-9]-*-*")):
        try:
            old = folder.is_dir() and Date.fromisoformat(folder.name) < cutoff
        except ValueError:
            continue  # not a day's folder
        if not old:
            continue
        for page in folder.glob("drift-*.html"):
            page.unlink(missing_ok=True)
            removed += 1
        with contextlib.suppress(OSError):
            folder.rmdir()  # only when empty: anything else there is not ours to delete
    return removed


def expired(date: Date | str, newest: Date | str, keep_days: int) -> bool:
    """Is the page of `date` past the retention, counted from the newest report `newest`?"""
    if keep_days <= 0:
        return False
    return Date.fromisoformat(_iso(date)) < Date.fromisoformat(_iso(newest)) - timedelta(
        days=keep_days
    )


def _iso(value: Date | str) -> str:
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, Date):
        return value.isoformat()
    return Date.fromisoformat(str(value)).isoformat()


def _number(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


_CSS = """
:root { color-scheme: light; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       margin: 2rem auto; max-width: 64rem; padding: 0 1rem; color: #1d2330; }
h1 { font-size: 1.5rem; margin-bottom: .25rem; }
p.sub { color: #5b6475; margin-top: 0; }
table { border-collapse: collapse; width: 100%; margin: 1.25rem 0; }
th, td { text-align: left; padding: .45rem .7rem; border-bottom: 1px solid #e3e6ec; }
th { background: #f4f6f9; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr:hover td { background: #fafbfc; }
.badge { display: inline-block; padding: .05rem .55rem; border-radius: 1rem; font-size: .85rem; }
.yes { background: #fde2e1; color: #9b1c1c; }
.no { background: #def7e5; color: #17663a; }
.muted { color: #8a93a3; }
a { color: #1f5fbf; }
section.legend { background: #f7f8fa; border-left: 4px solid #c9d2e0; padding: .5rem 1rem; }
section.legend li { margin: .25rem 0; }
"""

_LEGEND = """
<section class="legend">
  <h2>How to read a drift report</h2>
  <ul>
    <li>Each report compares the last N sessions (<em>current</em>,
        <code>NEPSE_DRIFT_WINDOW_DAYS</code>) with the last sessions of the model's training
        period (<em>reference</em>). Return, price and volatility features are compared as
        per-date z-scores (a market-wide move does not count), liquidity features as levels,
        and the market itself (mean move, dispersion, breadth, limit moves, sector spread) on
        its own.</li>
    <li><strong>Calibrated drift</strong>: each statistic (Evidently's normed Wasserstein
        distance, averaged over the features; the worst feature in units of its typical
        distance; the market; the predictions) is judged against its own history over the
        training period: the alarm line is a high percentile of it
        (<code>NEPSE_DRIFT_ALARM_QUANTILE</code>). <strong>Drift alarm</strong> is <em>yes</em>
        when any statistic is beyond its line. <strong>Features beyond their line</strong>
        counts the features whose own line (the worst-feature line in units of the feature's
        typical distance) is crossed: they are the ones that make the worst-feature statistic
        alarm.</li>
    <li>The report is Evidently's page of the day: its Tests tab is the same verdict (each
        statistic tested against its line, each feature shown against its own line, the
        predictions against theirs); a failed test is an alarm. It shows the features nearest
        their lines (<code>NEPSE_DRIFT_REPORT_COLUMNS</code>); expand one to compare the two
        distributions. Pages older than <code>NEPSE_REPORT_RETENTION_DAYS</code> are
        deleted; their row stays here.</li>
    <li>The model's predictions get their own test (prediction drift), against the
        walk-forward's out-of-sample predictions over the reference sessions.</li>
    <li><strong>Rank IC</strong> is the realised Spearman correlation between that day's
        predictions and the returns they predict (the label above); it appears once those
        returns are known. Drift
        matters most when it comes with a falling Rank IC. Days inside the scoring model's
        training window are marked <em>in-sample</em> and have no Rank IC here.</li>
  </ul>
</section>
"""


def _rows(rows: list[dict[str, Any]] | pl.DataFrame) -> list[dict[str, Any]]:
    records = rows.to_dicts() if isinstance(rows, pl.DataFrame) else [dict(r) for r in rows]
    for record in records:
        missing = [k for k in ("date", "model_version") if record.get(k) is None]
        if missing:
            raise DataQualityError(
                f"report index: a row lacks {', '.join(missing)} ({record!r}); every row needs "
                f"date and model_version (as stored in drift_reports)"
            )
        record["date"] = _iso(record["date"])
        record["model_version"] = str(record["model_version"])
    # Newest first; several model versions on one day keep a stable, readable order.
    records.sort(key=lambda r: r["model_version"])
    records.sort(key=lambda r: r["date"], reverse=True)
    return records


def _row_html(record: dict[str, Any], reports_dir: Path, removed: bool) -> str:
    esc = html.escape
    rel = drift_report_relpath(record["date"], record["model_version"])
    href = quote(rel)
    if (reports_dir / rel).is_file():
        link = f'<a href="{esc(href)}">drift report</a>'
    elif removed:
        link = '<span class="muted">deleted (NEPSE_REPORT_RETENTION_DAYS)</span>'
    else:
        link = '<span class="muted">report missing</span>'
    share = _number(record.get("share_drifted"))
    share_txt = f"{share:.1%}" if share is not None else "—"
    n_drifted, n_columns = record.get("n_drifted"), record.get("n_columns")
    if n_drifted is not None and n_columns:
        share_txt += f' <span class="muted">({int(n_drifted)}/{int(n_columns)})</span>'
    drift = record.get("dataset_drift")
    if drift is None:
        drift_txt = '<span class="muted">—</span>'
    elif drift:
        drift_txt = '<span class="badge yes">yes</span>'
    else:
        drift_txt = '<span class="badge no">no</span>'
    ic = _number(record.get("rank_ic"))
    ic_txt = f"{ic:+.3f}" if ic is not None else '<span class="muted">pending</span>'
    if record.get("in_sample"):
        # Issue 11 item 6: a day inside the model's training window has no honest Rank IC.
        ic_txt = '<span class="muted" title="inside the model\'s training window">in-sample</span>'
    return (
        f"<tr><td>{esc(record['date'])}</td><td>{esc(record['model_version'])}</td>"
        f"<td>{_verdict_html(record.get('alarms'))}</td>"
        f'<td class="num">{share_txt}</td><td>{drift_txt}</td>'
        f'<td class="num">{ic_txt}</td><td>{link}</td></tr>'
    )


def _verdict_html(alarms: Any) -> str:
    """The calibrated statistics of a day: value, alarm line and percentile of its history."""
    if isinstance(alarms, str):
        alarms = json.loads(alarms)
    if not alarms:
        return '<span class="muted">—</span>'
    parts = []
    for a in alarms:
        cls = "yes" if a["alarm"] else "no"
        parts.append(
            f'<span class="badge {cls}">{html.escape(a["name"])}</span> {a["value"]:.3f} '
            f'<span class="muted">/ {a["threshold"]:.3f}, {ordinal(a["position"])}</span>'
        )
    return "<br>".join(parts)


def build_index(
    data_dir: Path,
    rows: list[dict[str, Any]] | pl.DataFrame,
    keep_days: int = 0,
    *,
    extra_html: str = "",
    predicted: str = "",
) -> Path:
    """Write `<data_dir>/reports/index.html` atomically: one row per (day, model version),
    newest first; pages past `keep_days` (NEPSE_REPORT_RETENTION_DAYS) are said deleted.
    `extra_html` (the paper portfolio's section) goes above the drift table; `predicted` says
    what the predictions are (`nepse.features.labels.predicted_return_text`)."""
    reports_dir = Path(data_dir) / REPORTS_DIR
    reports_dir.mkdir(parents=True, exist_ok=True)
    records = _rows(rows)
    page = _index_page(records, reports_dir, keep_days, extra_html=extra_html, predicted=predicted)
    path = write_text_atomic(index_path(data_dir), page)
    log.info("report index: %d row(s) -> %s", len(records), path)
    return path


def _index_page(
    records: list[dict[str, Any]],
    reports_dir: Path,
    keep_days: int = 0,
    *,
    extra_html: str = "",
    predicted: str = "",
) -> str:
    """The index page's HTML for `records` (see `build_index`)."""
    newest = records[0]["date"] if records else None
    body = "\n".join(
        _row_html(r, reports_dir, expired(r["date"], newest, keep_days)) for r in records
    ) or (
        '<tr><td colspan="7" class="muted">No drift reports yet: they appear after the first '
        "daily run.</td></tr>"
    )
    page = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>NEPSE prediction service — drift reports</title>
<style>{_CSS}</style>
</head>
<body>
<h1>Drift reports</h1>
<p class="sub">NEPSE prediction service — {len(records)} report(s), newest first.
{html.escape(predicted.replace("`", ""), quote=False)}</p>
{extra_html}
<table id="reports">
<thead><tr><th>Date</th><th>Model version</th>
<th>Calibrated drift (today / alarm line, percentile of history)</th>
<th>Features beyond their line</th>
<th>Drift alarm</th><th>Rank IC (out of sample)</th><th>Report</th></tr></thead>
<tbody>
{body}
</tbody>
</table>
{_LEGEND}
</body>
</html>
"""
    return page


class _ReportsHandler(SimpleHTTPRequestHandler):
    """Regular files inside the reports folder, nothing else: a path that resolves outside it
    (a symbolic link to /etc/passwd, or to the data folder with the database) and a folder
    without index.html answer 404, never the file or a listing (the root without one, before the
    first daily run, answers the empty index page). GET and HEAD only (the base
    class answers 501 to the rest). Access lines go to the logger, not stderr."""

    def send_head(self) -> Any:
        root = os.path.realpath(self.directory)
        real = os.path.realpath(self.translate_path(self.path))
        if real == root and not os.path.exists(os.path.join(root, "index.html")):
            return self._empty_index()  # before the first daily run: a page, not a 404
        # A folder is served as its index.html, which must stay inside too.
        index = os.path.join(real, "index.html")
        shown = os.path.realpath(index) if os.path.isdir(real) and os.path.exists(index) else real
        for target in (real, shown):
            if target != root and not target.startswith(root + os.sep):
                log.warning("report server: refused %s (resolves outside %s)", self.path, root)
                self.send_error(HTTPStatus.NOT_FOUND, "No such report")
                return None
        return super().send_head()

    def _empty_index(self) -> io.BytesIO:
        body = _index_page([], Path(self.directory)).encode()
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        return io.BytesIO(body)

    def list_directory(self, path: str | os.PathLike[str]) -> None:
        self.send_error(HTTPStatus.NOT_FOUND, "No such report (folders are not listed)")
        return None

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s - %s", self.address_string(), format % args)


def serve(data_dir: Path, host: str = "127.0.0.1", port: int = 8765) -> ThreadingHTTPServer:
    """An HTTP server for `<data_dir>/reports`, not yet started (`serve_forever()`; port 0: any)."""
    reports_dir = Path(data_dir) / REPORTS_DIR
    if not reports_dir.is_dir():
        raise DataQualityError(
            f"report server: {reports_dir} does not exist; run the daily flow (or build_index) "
            f"first, or point --data-dir at the right folder"
        )
    # Only the reports folder is served: the database and model files stay off the wire.
    handler = functools.partial(_ReportsHandler, directory=str(reports_dir))
    server = ThreadingHTTPServer((host, port), handler)
    log.info("serving %s at http://%s:%d/", reports_dir, *server.server_address[:2])
    return server


def index_rows(con: Any) -> pl.DataFrame:
    """Rows of the report index from the store: drift per day and model, realised Rank IC."""
    return con.sql(
        "SELECT d.date, d.model_version, d.share_drifted, d.dataset_drift, d.n_drifted, "
        "d.n_columns, p.rank_ic FROM drift_reports d "
        "LEFT JOIN performance_daily p ON p.date = d.date ORDER BY d.date DESC"
    ).pl()
