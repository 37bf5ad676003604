"""The `nepse` command: runs the flows and the library's tools from a shell.

The CLI lives with the flows (not in `nepse/`) because most commands start Prefect flow runs,
and the domain library never imports Prefect.
"""

from __future__ import annotations

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
    from nepse.sample import write_sample

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


@app.command("demo")
def demo_cmd(
    symbols: Annotated[int, typer.Option(help="Sample market size.")] = 250,
    years: Annotated[float, typer.Option(help="Sample market history in years.")] = 6.0,
) -> None:
    """The main job end to end on the generated sample market."""
    t0 = time.perf_counter()
    from flows.ingest import ingest_prices

    report = ingest_prices(sample_symbols=symbols, sample_years=years)
    _print_counts("Ingestion of the sample market", _report_rows(report))
    s = _settings()
    console.print(f"database: {s.database.resolve()}")
    console.print(f"done in {time.perf_counter() - t0:.1f} s")


@app.command(
    "fake-api",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def fake_api_cmd(ctx: typer.Context) -> None:
    """Serve a fake NEPSE today-price API on 127.0.0.1 (with fault injection); see --help."""
    from nepse.fake_api import main as fake_main

    raise typer.Exit(fake_main(list(ctx.args)))


def _today() -> date:
    from nepse.calendar import today_in

    return today_in(_settings().timezone)


if __name__ == "__main__":
    app()
