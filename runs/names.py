"""Flow run names that say what a run did: `daily-2026-04-02`, `backfill-2026-04-01..04-30`.

Prefect calls these (`@flow(flow_run_name=...)`) when a run starts, with its parameters. A
daily run started without `as_of` does not know its trading day yet: it starts as
`daily-latest` and `rename_run` names it by the day it scores once the day is chosen.
"""

from __future__ import annotations

from pathlib import Path

from prefect.runtime import flow_run

from runs.settings import logger


def _param(name: str) -> object | None:
    return flow_run.get_parameters().get(name)


def daily_run_name() -> str:
    """`daily-<as_of>`, or `daily-latest` until the run knows its day (`rename_run`)."""
    as_of = _param("as_of")
    return f"daily-{as_of}" if as_of else "daily-latest"


def backfill_run_name() -> str:
    """`backfill-<start>..<end>` (with the recording's folder name when not the API)."""
    source = _param("source") or "api"
    where = "" if source == "api" else f"-{Path(str(source)).name}"
    return f"backfill-{_param('start')}..{_param('end')}{where}"


def ingest_run_name() -> str:
    """`ingest-<file or folder name>`, or `ingest-sample` for the generated sample market."""
    path = _param("path")
    return f"ingest-{Path(str(path)).name}" if path else "ingest-sample"


def train_run_name() -> str:
    """`train-as-of-<day>` (the last stored day by default)."""
    from datetime import date

    from nepse.app import NepseError
    from nepse.app.training import training_day
    from runs.settings import settings

    as_of = _param("as_of")
    try:
        day = training_day(settings(), date.fromisoformat(str(as_of)) if as_of else None)
    except (NepseError, OSError):  # the run itself will say what is wrong
        day = None
    return f"train-as-of-{day or 'latest'}"


def rename_run(name: str) -> None:
    """Rename the current flow run (Prefect's API), e.g. once a daily run knows its day."""
    from prefect.client.orchestration import get_client

    run_id = flow_run.get_id()
    if run_id is None or flow_run.get_name() == name:
        return
    with get_client(sync_client=True) as client:
        client.update_flow_run(run_id, name=name)
    logger().info("flow run renamed %s", name)
