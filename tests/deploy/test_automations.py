"""The automations declared in automations.yaml validate as Prefect automations and cover the
events the service emits (judged by the Prefect server's own trigger code)."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from uuid import uuid4

import pytest
from prefect.automations import Automation
from prefect.events.schemas.automations import Posture

from nepse.app import events
from nepse.app.events import PROMOTED, ROLLED_BACK, ModelChange, RunInfo
from nepse.monitoring.alerts import KINDS, Alert

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))

from automations import PLACEHOLDER, declared  # noqa: E402

BLOCK = "00000000-0000-0000-0000-000000000001"
FLOWS = {"daily-predictions", "train-model", "backfill-prices", "ingest-prices"}


def _models(**kwargs) -> dict[str, Automation]:
    items = declared(REPO / "automations.yaml", BLOCK, **kwargs)
    return {a["name"]: Automation.model_validate(a) for a in items}


def _received(spec: events.EventSpec, related: list[dict[str, str]] | None = None):
    """The event as the server receives it (with the run Prefect adds as related)."""
    from prefect.server.events.schemas.events import ReceivedEvent
    from prefect.types._datetime import now

    return ReceivedEvent(
        occurred=now("UTC"),
        event=spec.event,
        resource=spec.resource,
        related=related or [],
        payload=spec.payload,
        id=uuid4(),
    )


def _server_trigger(model: Automation):
    from prefect.server.events.schemas.automations import EventTrigger

    return EventTrigger.model_validate(model.trigger.model_dump(mode="json"))


def test_declared_automations_validate_and_notify_through_the_block():
    models = _models()
    assert set(models) == {
        "nepse zombie run crashed",
        "nepse run failed or crashed",
        "nepse alert",
        "nepse model promoted or rolled back",
        "nepse daily run not completed by 17:00",
    }
    for name, m in models.items():
        if name != "nepse zombie run crashed":
            assert [str(a.block_document_id) for a in m.actions] == [BLOCK], name
    assert PLACEHOLDER in (REPO / "automations.yaml").read_text()
    late = models["nepse daily run not completed by 17:00"]
    assert late.trigger.posture == Posture.Proactive
    assert late.trigger.within.total_seconds() == 90 * 60


def test_zombie_runs_are_crashed_as_prefect_documents_it():
    zombie = _models()["nepse zombie run crashed"]
    trigger = zombie.trigger
    assert trigger.posture == Posture.Proactive
    assert trigger.after == {"prefect.flow-run.heartbeat"}
    assert trigger.expect == {"prefect.flow-run.*"}  # any later event of the run: alive
    assert trigger.for_each == {"prefect.resource.id"}
    # Three heartbeats of prefect.yaml's 30 s may be missed before the run is crashed.
    assert trigger.within.total_seconds() == 90
    (action,) = zombie.actions
    assert action.type == "change-flow-run-state" and action.state.value == "CRASHED"
    # A test may shorten the window (the e2e test does) without touching the file.
    short = _models(zombie_window=40)["nepse zombie run crashed"]
    assert short.trigger.within.total_seconds() == 40


def test_failed_and_crashed_runs_of_every_deployment_notify_with_a_link():
    failed = _models()["nepse run failed or crashed"]
    assert failed.trigger.posture == Posture.Reactive
    assert failed.trigger.expect == {"prefect.flow-run.Failed", "prefect.flow-run.Crashed"}
    assert set(failed.trigger.match_related["prefect.resource.name"]) == FLOWS
    (action,) = failed.actions
    assert "{{ flow_run.name }}" in action.subject  # daily-2026-04-02: the trading day
    assert "{{ flow_run|ui_url }}" in action.body


@pytest.mark.parametrize("kind", KINDS)
def test_every_alert_kind_is_routed_with_its_text(kind):
    route = _models()["nepse alert"]
    alert = Alert(kind, "t", "x", day=date(2026, 4, 2), model_version="v1")
    run = RunInfo("0b6e5a1c-0000-4000-8000-000000000001", "daily-2026-04-02", "http://ui/x")
    spec = events.alert_event(alert, run)
    flow_run = {
        "prefect.resource.id": f"prefect.flow-run.{run.id}",
        "prefect.resource.role": "flow-run",
    }
    assert _server_trigger(route).covers(_received(spec, [flow_run]))
    (action,) = route.actions
    assert action.subject == "{{ event.payload.subject }}"
    assert action.body == "{{ event.payload.text }}"
    # No other notifying automation fires on it (one alert, one message).
    others = [
        name
        for name, m in _models().items()
        if name != "nepse alert" and _server_trigger(m).covers(_received(spec, [flow_run]))
    ]
    assert others == []


@pytest.mark.parametrize("event", [PROMOTED, ROLLED_BACK])
def test_champion_changes_are_routed(event):
    route = _models()["nepse model promoted or rolled back"]
    spec = events.model_event(ModelChange(event, "v2", "v1", "why", "cli"), RunInfo())
    assert _server_trigger(route).covers(_received(spec))
    assert not _server_trigger(_models()["nepse alert"]).covers(_received(spec))
