"""What every command group of the `nepse` CLI shares: the app, the console, small helpers."""

from __future__ import annotations

import os
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
    # Prefect's temporary server migrates a new home's database at its first start, which can
    # outlast its 20 s default on a busy machine: give it time (a running `nepse server` is
    # used instead when there is one).
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "300")
    from flows.cli.prefect_server import use_running_server

    use_running_server()


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


def _date_opt(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        console.print(f"[red]error:[/red] dates are YYYY-MM-DD, got {value!r}")
        raise typer.Exit(2) from exc


def _run_flow(fn, **params):
    """Run a flow in-process; returns (final state, result or None).

    Without Prefect's flow-run heartbeat: its thread sleeps in 1-second steps and the run's end
    joins it, which cost 0.7-0.9 s of each `nepse daily` (Prefect 3.9, default 180 s since
    3.7). Heartbeats feed zombie-run automations of deployment runs; a CLI run is watched by
    whoever started it. Deployment runs (a worker's) keep Prefect's setting.
    """
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        state = fn(**params, return_state=True)
    result = state.result(raise_on_failure=False)
    if isinstance(result, BaseException):
        result = None
    return state, result


def open_db(read_only: bool):
    """The store of the effective settings (read-only for commands that only look)."""
    from nepse.store import open_store

    s = _settings()
    return open_store(s.database, read_only=read_only, lock_timeout_s=s.lock_timeout_s)
