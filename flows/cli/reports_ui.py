"""`nepse reports ui`: Evidently's own UI on the workspace the daily runs fill.

The UI is Evidently's (`evidently ui`), served from its bundled assets: it works offline.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from pathlib import Path
from typing import Annotated

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


def reports_ui(
    port: Annotated[int, typer.Option(help="Port of the Evidently UI.")] = 8000,
    host: Annotated[
        str, typer.Option(help="Interface: 127.0.0.1 (this machine), 0.0.0.0 (the team).")
    ] = "127.0.0.1",
) -> None:
    """Start Evidently's UI on <data_dir>/evidently: drift and Rank IC over time (Ctrl-C stops)."""
    from nepse.monitoring.workspace import WORKSPACE_DIR

    workspace = _settings().data_dir / WORKSPACE_DIR
    if not workspace.is_dir():
        console.print(f"[red]no Evidently workspace at {workspace}: run the daily flow first[/red]")
        raise typer.Exit(1)
    console.print(f"Evidently UI on {workspace} at http://{host}:{port}/")
    with contextlib.suppress(KeyboardInterrupt):
        subprocess.run(ui_command(workspace, host, port), check=False)


reports_app.command("ui")(reports_ui)
