"""Deployment steps of prefect.yaml that are this project's own (run by the worker, not a flow).

`require_project_dir` is the first pull step: a worker started without NEPSE_PROJECT_DIR would
otherwise go on in the flow run's temporary folder and crash loading `flows/daily.py` from
there, with nothing in the run's state or logs saying why. The step is imported from the
worker's environment, where `./run setup` and the image install this project.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV = "NEPSE_PROJECT_DIR"


def require_project_dir() -> dict[str, str]:
    """Fail the flow run, naming NEPSE_PROJECT_DIR, unless it is a folder on this worker."""
    folder = os.environ.get(ENV, "")
    if folder and Path(folder).is_dir():
        return {"directory": folder}
    message = (
        f"{ENV} is not set to a folder on this worker (it is {folder!r}): start the worker "
        f"with {ENV}=/path/to/the/nepse-predict/clone (docs/operations.md; the image sets "
        f"{ENV}=/app)"
    )
    run_id = os.environ.get("PREFECT__FLOW_RUN_ID")
    if run_id:  # the run's state carries the reason: the UI and the failure alert show it
        from prefect.client.orchestration import get_client
        from prefect.states import Failed

        with get_client(sync_client=True) as client:
            client.set_flow_run_state(run_id, Failed(message=message), force=True)
    raise RuntimeError(message)
