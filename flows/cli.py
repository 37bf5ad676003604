"""The `nepse` command: runs the flows and the library's tools from a shell.

The CLI lives with the flows (not in `nepse/`) because most commands start Prefect flow runs,
and the domain library never imports Prefect.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(
    name="nepse",
    help="NEPSE daily prediction service: ingest prices, train, score, review drift.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console()

ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", help="TOML config file (else NEPSE_CONFIG).", show_default=False
    ),
]


@app.callback()
def main(config: ConfigOpt = None) -> None:
    """NEPSE daily prediction service."""
    if config is not None:
        # Tasks read settings themselves; the environment carries the file to them.
        os.environ["NEPSE_CONFIG"] = str(config.resolve())
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


def _settings():
    from nepse.errors import ConfigError
    from nepse.settings import load_settings

    try:
        return load_settings()
    except ConfigError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc


def _print_counts(title: str, counts: dict) -> None:
    table = Table(title=title, show_header=False)
    for key, value in counts.items():
        table.add_row(str(key), str(value))
    console.print(table)


@app.command("config")
def config_cmd(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Print the effective settings (secrets masked)."""
    s = _settings()
    values = s.public_dict()
    if as_json:
        typer.echo(json.dumps(values, indent=2, default=str))
        return
    fields = type(s).model_fields
    table = Table(title="Effective settings (env NEPSE_<NAME>, or the config file)")
    table.add_column("setting")
    table.add_column("value")
    table.add_column("meaning", overflow="fold")
    for name, value in values.items():
        doc = fields[name].description if name in fields else "DuckDB file in use"
        table.add_row(name, json.dumps(value, default=str), (doc or "").split("\n")[0])
    console.print(table)


@app.command("sample")
def sample_cmd(
    out_dir: Path,
    symbols: Annotated[int, typer.Option(help="Number of equities.")] = 250,
    years: Annotated[float, typer.Option(help="Years of history.")] = 6.0,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same files).")] = 42,
) -> None:
    """Write a deterministic NEPSE-like sample market in the ShareSansar folder format."""
    from nepse.devdata.sample import write_sample

    t0 = time.perf_counter()
    summary = write_sample(out_dir, symbols=symbols, years=years, seed=seed)
    console.print(
        f"wrote {summary.rows:,} rows for {summary.symbols} symbols to {out_dir} "
        f"in {time.perf_counter() - t0:.1f} s"
    )


@app.command("ingest")
def ingest_cmd(
    path: Annotated[
        Path | None, typer.Argument(help="File or folder of NEPSE prices; omit for the sample.")
    ] = None,
) -> None:
    """Load NEPSE price files into the DuckDB store (runs the `ingest-prices` flow)."""
    if path is not None and not path.exists():
        console.print(f"[red]error:[/red] {path} does not exist")
        raise typer.Exit(2)
    t0 = time.perf_counter()
    with console.status("starting Prefect and ingesting…"):
        from flows.ingest import ingest_prices

        t_import = time.perf_counter() - t0
        report = ingest_prices(path=str(path.resolve()) if path else None)
    wall = time.perf_counter() - t0
    _print_counts("Ingestion", _report_rows(report))
    console.print(
        f"ingestion work {report['seconds']:.2f} s; whole command {wall:.1f} s "
        f"(imports {t_import:.1f} s, Prefect start-up and bookkeeping "
        f"{wall - t_import - report['seconds']:.1f} s)"
    )
    console.print(f"database: {_settings().database.resolve()}")


def _report_rows(report: dict) -> dict:
    keys = ("source", "fmt", "rows_read", "inserted", "updated", "unchanged", "rejected")
    rows = {k: report.get(k) for k in (*keys, "duplicates")}
    rows["dates"] = f"{report.get('min_date')} .. {report.get('max_date')}"
    rows["symbols"] = report.get("symbols")
    reasons = report.get("reasons") or {}
    if reasons:
        rows["rejected by reason"] = ", ".join(f"{k}={v}" for k, v in reasons.items())
    return rows


def _date_opt(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        console.print(f"[red]error:[/red] dates are YYYY-MM-DD, got {value!r}")
        raise typer.Exit(2) from exc


def _run_flow(fn, **params):
    """Run a flow in-process; returns (final state, result or None)."""
    state = fn(**params, return_state=True)
    result = state.result(raise_on_failure=False)
    if isinstance(result, BaseException):
        result = None
    return state, result


def _print_daily(state, summary: dict | None) -> None:
    if summary:
        _print_counts("Daily predictions", summary)
    if state.is_failed():
        console.print(f"[red]{state.name}:[/red] {state.message}")
        raise typer.Exit(1)
    if state.message:
        console.print(state.message)


@app.command("train")
def train_cmd(
    as_of: Annotated[str | None, typer.Option(help="Last day of data to use (YYYY-MM-DD).")] = None,
    force_promote: Annotated[
        bool, typer.Option(help="Promote even if it does not beat champion and baselines.")
    ] = False,
) -> None:
    """Walk-forward evaluate, train and register a model (runs the `train-model` flow)."""
    from flows.train import train_model
    from tasks.train import add_progress_hook

    def show(done: int, total: int, eta: float | None, label: str) -> None:
        left = f", about {eta:.0f}s left" if eta is not None else ""
        console.print(f"walk-forward {done}/{total} done ({label}{left})")

    add_progress_hook(show)
    state, out = _run_flow(train_model, as_of=_date_opt(as_of), force_promote=force_promote)
    if out:
        out = dataclasses.asdict(out)
        out["baseline_rank_ic"] = ", ".join(
            f"{k}={v:.4f}" for k, v in out.get("baseline_rank_ic") or () if v is not None
        )
        _print_counts("Training", out)
    if state.is_failed():
        console.print(f"[red]failed:[/red] {state.message}")
        raise typer.Exit(1)


@app.command("daily")
def daily_cmd(
    as_of: Annotated[
        str | None, typer.Option(help="Trading day to score (default: latest, Kathmandu time).")
    ] = None,
    source: Annotated[
        str | None, typer.Option(help="'sample', 'api' or a path (default NEPSE_SOURCE).")
    ] = None,
) -> None:
    """Score every active equity for a day (runs the `daily-predictions` flow)."""
    from flows.daily import daily_predictions

    state, summary = _run_flow(daily_predictions, as_of=_date_opt(as_of), source=source)
    if summary is None and state.is_failed():
        data = getattr(state, "data", None)
        summary = data if isinstance(data, dict) else None
    _print_daily(state, summary)


@app.command("demo")
def demo_cmd(
    symbols: Annotated[int, typer.Option(help="Sample market size (equities).")] = 250,
    years: Annotated[float, typer.Option(help="Sample market history in years.")] = 6.0,
) -> None:
    """The main job end to end on the sample market: ingest, train if needed, score, drift."""
    t0 = time.perf_counter()
    os.environ.setdefault("NEPSE_SOURCE", "sample")
    os.environ["NEPSE_SAMPLE_SYMBOLS"] = str(symbols)
    os.environ["NEPSE_SAMPLE_YEARS"] = str(years)
    from flows.daily import daily_predictions

    console.print(
        f"[bold]NEPSE demo[/bold]: sample market of {symbols} equities x {years:g} years -> "
        "ingest -> train (first run) -> predictions -> drift report"
    )
    state, summary = _run_flow(daily_predictions, source="sample")
    s = _settings()
    if summary:
        # Plain echo: paths must stay on one line whatever the terminal width.
        typer.echo("")
        typer.echo(f"predictions:   {Path(summary['predictions_path']).resolve()}")
        if summary.get("drift_report"):
            typer.echo(f"drift report:  {Path(summary['drift_report']).resolve()}")
        typer.echo(f"report index:  {Path(summary['report_index']).resolve()}")
        typer.echo(f"database:      {s.database.resolve()}")
        typer.echo("review reports: ./run nepse reports serve   (then open the printed URL)")
    console.print(f"done in {time.perf_counter() - t0:.0f} s")
    _print_daily(state, summary)


models_app = typer.Typer(help="The model registry: list, show, promote, roll back.")
app.add_typer(models_app, name="models")


def _registry_con(read_only: bool):
    from nepse.store import open_store

    s = _settings()
    return open_store(s.database, read_only=read_only, lock_timeout_s=s.lock_timeout_s)


@models_app.command("list")
def models_list() -> None:
    """Every registered model, newest first."""
    from nepse.model import registry

    with _registry_con(read_only=True) as st:
        rows = registry.list_models(st)
    table = Table(title="Models")
    for col in ("version", "status", "train_end", "rank_ic", "reason"):
        table.add_column(col, overflow="fold")
    for r in rows:
        ric = r.get("rank_ic")
        table.add_row(
            r["version"],
            r["status"],
            str(r.get("train_end")),
            "—" if ric is None else f"{ric:.4f}",
            (r.get("reason") or "")[:120],
        )
    console.print(table)


@models_app.command("show")
def models_show(version: Annotated[str | None, typer.Argument()] = None) -> None:
    """One model's record and card (default: the champion)."""
    from nepse.model import registry

    with _registry_con(read_only=True) as st:
        row = registry.get(st, version) if version else registry.champion(st)
    if row is None:
        console.print("no champion yet: `nepse train`")
        raise typer.Exit(1)
    card = Path(row["path"]) / "card.md"
    typer.echo(json.dumps({k: v for k, v in row.items()}, indent=2, default=str))
    if card.is_file():
        typer.echo(card.read_text(encoding="utf-8"))


@models_app.command("promote")
def models_promote(version: str) -> None:
    """Make VERSION the champion (the current one is retired; `rollback` undoes it)."""
    from nepse.model import registry

    with _registry_con(read_only=False) as st:
        registry.promote(st, version, reason="promoted by hand (nepse models promote)")
    console.print(f"{version} is now the champion")


@models_app.command("rollback")
def models_rollback() -> None:
    """Retire the champion and restore the previous one."""
    from nepse.model import registry

    with _registry_con(read_only=False) as st:
        version = registry.rollback(st)
    console.print(f"rolled back: {version} is the champion again")


reports_app = typer.Typer(help="Drift and performance reports.")
app.add_typer(reports_app, name="reports")


@reports_app.command("build")
def reports_build() -> None:
    """Rewrite reports/index.html from the stored drift and performance tables."""
    from nepse.monitoring.reports import build_index, index_rows

    s = _settings()
    with _registry_con(read_only=True) as st:
        rows = index_rows(st.con)
    path = build_index(s.data_dir, rows)
    console.print(f"wrote {path.resolve()} ({rows.height} report(s))")


@reports_app.command("serve")
def reports_serve(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (0: any free port).")] = 8765,
) -> None:
    """Serve the reports folder on 127.0.0.1 for review in a browser (Ctrl-C stops)."""
    from nepse.monitoring.reports import serve

    s = _settings()
    server = serve(s.data_dir, host="127.0.0.1", port=port)
    host, bound = server.server_address[:2]
    console.print(f"serving {(s.data_dir / 'reports').resolve()} at http://{host}:{bound}/")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


@reports_app.command("performance")
def reports_performance(
    from_: Annotated[str, typer.Option("--from", help="First prediction day (YYYY-MM-DD).")],
    to: Annotated[str, typer.Option("--to", help="Last prediction day (YYYY-MM-DD).")],
) -> None:
    """Evidently regression-quality report of stored predictions against realised returns."""
    from nepse.features.panel import build_panel
    from nepse.monitoring.drift import performance_report

    s = _settings()
    first, last = _date_opt(from_), _date_opt(to)
    with _registry_con(read_only=True) as st:
        preds = st.con.sql(
            "SELECT date, symbol, pred_ret, model_version FROM predictions "
            "WHERE date BETWEEN ? AND ?",
            params=[first, last],
        ).pl()
        if preds.is_empty():
            console.print(f"no stored predictions between {first} and {last}")
            raise typer.Exit(1)
        labels = build_panel(st, s, start=first, label=True).frame.select("symbol", "date", "y_ret")
    frame = preds.join(labels, on=["symbol", "date"], how="left")
    out = s.data_dir / "reports" / "performance" / f"performance-{first}-{last}.html"
    path = performance_report(frame, out_html=out)
    known = frame["y_ret"].is_not_null().sum()
    console.print(f"wrote {path.resolve()} ({known} of {frame.height} predictions with outcomes)")


@app.command(
    "fake-api",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def fake_api_cmd(ctx: typer.Context) -> None:
    """Serve a fake NEPSE today-price API on 127.0.0.1 (with fault injection); see --help."""
    from nepse.devdata.fake_api import main as fake_main

    raise typer.Exit(fake_main(list(ctx.args)))


@app.command("backfill")
def backfill_cmd(
    start: Annotated[str, typer.Option(help="First business day, YYYY-MM-DD.")],
    end: Annotated[str, typer.Option(help="Last business day, YYYY-MM-DD.")],
    source: Annotated[
        str, typer.Option(help="'api', or a folder of recorded raw API pages.")
    ] = "api",
    chunk_days: Annotated[int, typer.Option(help="Days per chunk (progress step).")] = 20,
) -> None:
    """Fetch start..end day by day (runs `backfill-prices`; resumable, complete days skipped)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    try:
        first, last = date.fromisoformat(start), date.fromisoformat(end)
    except ValueError as exc:
        console.print(f"[red]error:[/red] --start/--end must be YYYY-MM-DD: {exc}")
        raise typer.Exit(2) from exc
    from flows.backfill import backfill_prices, on_progress

    columns = ("{task.description}", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as bar:
        job = bar.add_task(f"backfill {first}..{last}", total=None)

        def advance(done: int, total: int, day: date | None, status: str) -> None:
            label = f"{day} {status}" if day else status
            bar.update(job, completed=done, total=total, description=f"backfill: {label}")

        with on_progress(advance):
            summary = backfill_prices(start=first, end=last, source=source, chunk_days=chunk_days)
    rows = {k: v for k, v in summary.items() if k not in ("statuses", "failure")}
    rows["days by status"] = ", ".join(f"{k}={v}" for k, v in summary["statuses"].items())
    _print_counts("Backfill", rows)


def _today() -> date:
    from nepse.calendar import today_in

    return today_in(_settings().timezone)


if __name__ == "__main__":
    app()
