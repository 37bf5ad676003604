"""`nepse server start|stop|status`: one local Prefect server that every command reuses."""

from __future__ import annotations

from typing import Annotated

import typer

from flows.cli import api_service
from flows.cli.common import app, console
from flows.cli.prefect_server import DEFAULT_PORT, running, start_server, stop_recorded

server_app = typer.Typer(help="A local Prefect server for the CLI and its UI.")
app.add_typer(server_app, name="server")


@server_app.command("start")
def server_start(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = DEFAULT_PORT,
) -> None:
    """Start a local Prefect server in the background (reused by every nepse command)."""
    with console.status("starting a local Prefect server (first start migrates its database)…"):
        state = start_server(port)
    console.print(f"Prefect server at {state['api_url'].removesuffix('/api')} (pid {state['pid']})")
    api_service.ensure(state)  # the predictions API beside it (flows/cli/api_service.py)
    console.print(api_service.describe(state))
    console.print(f"log: {state['log']}; stop them with: nepse server stop")


@server_app.command("stop")
def server_stop() -> None:
    """Stop the server started by `nepse server start`."""
    state = stop_recorded()
    if state is None:
        console.print("no server was started by `nepse server start`")
        return
    console.print(f"stopped the Prefect server (pid {state['pid']})")
    if state.get("api"):
        api_service.stop(state["api"])
        console.print(f"stopped the predictions API (pid {state['api']['pid']})")


@server_app.command("status")
def server_status() -> None:
    """Say whether the local server answers, and where."""
    state = running()
    if state is None:
        console.print("no local Prefect server running (commands use a temporary one)")
        raise typer.Exit(1)
    console.print(f"Prefect server at {state['api_url'].removesuffix('/api')} (pid {state['pid']})")
    console.print(api_service.describe(state))
