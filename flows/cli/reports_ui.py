"""`nepse reports ui`: Evidently's own UI on the workspace the daily runs fill, read-only.

The UI is Evidently's (`evidently ui`), served from its bundled assets: it works offline. Its
API can also write (create or delete projects, runs, dashboards) and has no authentication of
its own, so anyone who reached the port could delete the monitoring project and its folder.
Evidently's own option closes that: started with a secret (`EVIDENTLY_SECRET`), every write
route answers 403 to a request without it, while every read (the dashboard's
`POST .../data_series_batch` query included) works. `start_ui` gives each start a random
secret that is never printed or stored, so the UI is read-only for everyone; the daily runs
write the workspace's files directly, not through this API.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from flows.cli.common import _settings, console
from flows.cli.reports import reports_app


def ui_command(workspace: Path, host: str, port: int) -> list[str]:
    """The command line that starts Evidently's UI on `workspace`."""
    evidently = Path(sys.executable).with_name("evidently")
    return [
        str(evidently),
        "ui",
        "--workspace",
        str(workspace),
        "--host",
        host,
        "--port",
        str(port),
    ]


def start_ui(workspace: Path, host: str, port: int, **popen: Any) -> subprocess.Popen:
    """Evidently's UI on `workspace` in a child process, its write API locked by a secret
    nobody knows (the module's docstring says why)."""
    env = {**os.environ, "EVIDENTLY_SECRET": secrets.token_urlsafe(32)}
    return subprocess.Popen(ui_command(workspace, host, port), env=env, **popen)


def reports_ui(
    port: Annotated[int, typer.Option(help="Port of the Evidently UI.")] = 8000,
    host: Annotated[
        str,
        typer.Option(
            help="Interface: 127.0.0.1 (this machine; reach it from elsewhere through an SSH "
            "tunnel or an authenticating proxy). The UI cannot write, but it has no login."
        ),
    ] = "127.0.0.1",
) -> None:
    """Start Evidently's UI on <data_dir>/evidently, read-only: drift and Rank IC over time."""
    from nepse.monitoring.workspace import WORKSPACE_DIR

    workspace = _settings().data_dir / WORKSPACE_DIR
    if not workspace.is_dir():
        console.print(f"[red]no Evidently workspace at {workspace}: run the daily flow first[/red]")
        raise typer.Exit(1)
    console.print(f"Evidently UI (read-only) on {workspace} at http://{host}:{port}/")
    proc = start_ui(workspace, host, port)
    try:
        with contextlib.suppress(KeyboardInterrupt):
            proc.wait()
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=20)


reports_app.command("ui")(reports_ui)
