"""Flow state hooks: each run's last state goes to the published folder, for the API's /health.

A run that fails before it publishes (no prices, the quality gate, a crash) is visible there
too; Prefect runs these hooks in the run's own process when it enters each state.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any


def record_state(flow: Any, flow_run: Any, state: Any) -> None:
    """Write the run's new state to <data_dir>/published/runs/<flow name>.json."""
    from nepse.app.snapshot import RunRecord, record_run
    from runs.settings import settings

    as_of = (flow_run.parameters or {}).get("as_of")
    at = state.timestamp if isinstance(state.timestamp, datetime) else datetime.now(UTC)
    record_run(
        settings(),
        RunRecord(
            flow_name=flow.name,
            flow_run_id=str(flow_run.id),
            flow_run_name=flow_run.name,
            state_type=state.type.value,
            state_name=state.name,
            message=state.message,
            as_of=date.fromisoformat(as_of) if isinstance(as_of, str) else as_of,
            at=at,
        ),
    )


RUN_STATE_HOOKS = {
    "on_running": [record_state],
    "on_completion": [record_state],
    "on_failure": [record_state],
    "on_crashed": [record_state],
}
"""Keyword arguments of `@flow` that record every state change the API shows."""
