"""The model registry: list, show, promote, roll back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from flows.cli.common import _settings, app, console, open_db

models_app = typer.Typer(help="The model registry: list, show, promote, roll back.")
app.add_typer(models_app, name="models")


@models_app.command("list")
def models_list() -> None:
    """Every registered model, newest first."""
    from nepse.model import registry

    with open_db(read_only=True) as st:
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

    with open_db(read_only=True) as st:
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
    from nepse.app.events import PROMOTED
    from nepse.app.snapshot import publish_registry
    from nepse.model import registry
    from runs.slot import writer_slot

    reason = "promoted by hand (nepse models promote)"
    with writer_slot("promote a model"), open_db(read_only=False) as st:
        current = registry.champion(st)
        registry.promote(st, version, reason=reason)
        publish_registry(_settings(), st)  # the read-only API's copy (nepse/app/snapshot.py)
    console.print(f"{version} is now the champion")
    previous = current["version"] if current else None
    if previous != version:
        _record(PROMOTED, version, previous, reason, "nepse models promote")


@models_app.command("rollback")
def models_rollback() -> None:
    """Retire the champion and restore the previous one."""
    from nepse.app.events import ROLLED_BACK
    from nepse.app.snapshot import publish_registry
    from nepse.model import registry
    from runs.slot import writer_slot

    with writer_slot("roll back the champion"), open_db(read_only=False) as st:
        current = registry.champion(st)
        version = registry.rollback(st)
        publish_registry(_settings(), st)  # the read-only API's copy (nepse/app/snapshot.py)
    console.print(f"rolled back: {version} is the champion again")
    retired = current["version"] if current else None
    _record(ROLLED_BACK, version, retired, f"{retired} retired by hand", "nepse models rollback")


def _record(event: str, version: str, previous: str | None, reason: str, by: str) -> None:
    """The champion change as a Prefect event and artifact (on a Prefect server only)."""
    from nepse.app.events import ModelChange
    from runs.events import record_model_change

    if not record_model_change(ModelChange(event, version, previous, reason, by)):
        console.print(
            "no Prefect server (nepse server start, or PREFECT_API_URL): the change is in the "
            "registry only, with no event or artifact"
        )
