"""A run's events: alerts and champion changes handed to Prefect's `emit_event`.

Nothing here notifies anybody: the automations of automations.yaml ('nepse alert', 'nepse
model promoted or rolled back') route the events to a notification block on the server.
"""

from __future__ import annotations

from prefect.artifacts import create_markdown_artifact
from prefect.events import emit_event

from nepse.app import events
from nepse.app.events import EventSpec, ModelChange, RunInfo
from runs.settings import has_server, logger


def run_info() -> RunInfo:
    """The current flow run (empty outside a run)."""
    from prefect.runtime import flow_run

    run_id = flow_run.get_id()
    if run_id is None:
        return RunInfo()
    return RunInfo(run_id, flow_run.get_name(), flow_run.get_flow_run_ui_url())


def emit(spec: EventSpec) -> None:
    """Hand one event to Prefect (the current run is added as a related resource)."""
    emit_event(event=spec.event, resource=spec.resource, payload=spec.payload)


def record_model_change(change: ModelChange) -> bool:
    """Emit a champion change as `nepse.model.*` and add it to the `model-champion` artifact;
    False when there is no Prefect server to record it on (a CLI on the temporary server)."""
    run = run_info()
    logger().info("%s", events.model_text(change, run))
    if not has_server():
        return False
    emit(events.model_event(change, run))
    create_markdown_artifact(
        key="model-champion",
        markdown=events.model_markdown(change, run),
        description=f"Champion model: {change.version}",
    )
    return True
