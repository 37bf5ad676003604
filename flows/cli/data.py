"""Commands for data: settings, the sample market, ingestion, backfill, the fake API."""

from __future__ import annotations

import json
import time
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from flows.cli.common import _print_counts, _run_flow, _settings, app, console, fail


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
    all_files: Annotated[
        bool,
        typer.Option(
            "--all-files",
            help="Read every file of the folder again, not only those changed since the last "
            "ingestion (e.g. after changing an ingestion rule).",
        ),
    ] = False,
) -> None:
    """Load NEPSE price files into the DuckDB store (runs the `ingest-prices` flow)."""
    if path is not None and not path.exists():
        console.print(f"[red]error:[/red] {path} does not exist")
        raise typer.Exit(2)
    t0 = time.perf_counter()
    with console.status("starting Prefect and ingesting…"):
        from flows.ingest import ingest_prices

        t_import = time.perf_counter() - t0
        state, report = _run_flow(
            ingest_prices,
            path=str(path.resolve()) if path else None,
            changed_only=not all_files,
        )
    if not state.is_completed():
        fail(state)
    wall = time.perf_counter() - t0
    _print_counts("Ingestion", _report_rows(report))
    console.print(
        f"ingestion work {report.seconds:.2f} s; whole command {wall:.1f} s "
        f"(imports {t_import:.1f} s, Prefect start-up and bookkeeping "
        f"{wall - t_import - report.seconds:.1f} s)"
    )
    console.print(f"database: {_settings().database.resolve()}")


def _report_rows(report) -> dict:
    keys = ("source", "fmt", "rows_read", "inserted", "updated", "unchanged", "rejected")
    rows = {k: getattr(report, k) for k in (*keys, "duplicates")}
    rows["dates"] = f"{report.min_date} .. {report.max_date}"
    rows["symbols"] = report.symbols
    if report.reasons:
        rows["rejected by reason"] = ", ".join(f"{k}={v}" for k, v in report.reasons.items())
    return rows


@app.command(
    "fake-api",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def fake_api_cmd(ctx: typer.Context) -> None:
    """Serve a fake NEPSE today-price API on 127.0.0.1 (with fault injection); see --help."""
    from nepse.devdata.serve import fake_api_main as fake_main

    raise typer.Exit(fake_main(list(ctx.args)))


@app.command(
    "fake-exchange",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def fake_exchange_cmd(ctx: typer.Context) -> None:
    """Serve a fake NEPSE exchange speaking nepalstock.com's protocol on 127.0.0.1; see --help."""
    from nepse.devdata.serve import fake_exchange_main as exchange_main

    raise typer.Exit(exchange_main(list(ctx.args)))


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
            state, summary = _run_flow(
                backfill_prices, start=first, end=last, source=source, chunk_days=chunk_days
            )
    if not state.is_completed():
        fail(state)
    rows = {k: v for k, v in summary.items() if k not in ("statuses", "failure")}
    rows["days by status"] = ", ".join(f"{k}={v}" for k, v in summary["statuses"].items())
    _print_counts("Backfill", rows)
