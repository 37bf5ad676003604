"""What every command group of the `nepse` CLI shares: the app, the console, small helpers."""

from __future__ import annotations

import logging
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
err_console = Console(stderr=True)
"""Where a command's one-line error goes (the terminal's standard error)."""

ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", help="TOML config file (else NEPSE_CONFIG).", show_default=False
    ),
]


DebugOpt = Annotated[
    bool,
    typer.Option(
        "--debug",
        help="Show Prefect's and Python's tracebacks here too (they are always in the run's logs).",
    ),
]
DEBUG_ENV = "NEPSE_CLI_DEBUG"


def debugging() -> bool:
    """True when the command was started with --debug."""
    return os.environ.get(DEBUG_ENV) == "1"


@app.callback()
def main(config: ConfigOpt = None, debug: DebugOpt = False) -> None:
    """NEPSE daily prediction service."""
    if debug:
        os.environ[DEBUG_ENV] = "1"
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


class QuietConsole(logging.Filter):
    """The terminal's view of a run without --debug: no tracebacks, no failed-state dumps.

    A refused input fails its task and its flow run; Prefect then prints the exception with its
    traceback twice (the task's and the flow's end), ~60 lines before the command's own one-line
    message. The run's logs in the Prefect API keep all of it (this filter sits on the terminal's
    handler only), and `--debug` shows it here too.
    """

    FAILED = ("Finished in state Failed", "Finished in state Crashed", "Encountered exception")

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info or record.exc_text:
            return False
        return not str(record.msg).startswith(self.FAILED)


_QUIET = QuietConsole()


def quiet_console() -> None:
    """Put `QuietConsole` on Prefect's terminal handler (unless --debug); idempotent."""
    from prefect.logging.handlers import PrefectConsoleHandler

    if debugging():
        return
    for handler in logging.getLogger().handlers:
        if isinstance(handler, PrefectConsoleHandler) and _QUIET not in handler.filters:
            handler.addFilter(_QUIET)


def fail(state) -> None:
    """End a command whose run failed: one line, exit 2 for a refused input or a user error
    (a NepseError), 1 for anything else. The traceback is in the run's logs (--debug: here)."""
    from nepse.app import NepseError

    exc = state.result(raise_on_failure=False)
    if isinstance(exc, BaseException):
        what = str(exc) if isinstance(exc, NepseError) else f"{type(exc).__name__}: {exc}"
        code = 2 if isinstance(exc, NepseError) else 1
    else:
        what, code = state.message or state.name, 1
    err_console.print(f"[red]error:[/red] {what}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _run_flow(fn, **params):
    """Run a flow in-process; returns (final state, result or None).

    Without Prefect's flow-run heartbeat: its thread sleeps in 1-second steps and the run's end
    joins it, which cost 0.7-0.9 s of each `nepse daily` (Prefect 3.9, default 180 s since
    3.7). Heartbeats feed zombie-run automations of deployment runs; a CLI run is watched by
    whoever started it. Deployment runs (a worker's) keep Prefect's setting.
    """
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    quiet_console()
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
