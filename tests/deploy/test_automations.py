"""The automations declared in automations.yaml validate as Prefect automations."""

from __future__ import annotations

import sys
from pathlib import Path

from prefect.automations import Automation
from prefect.events.schemas.automations import Posture

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))

from automations import PLACEHOLDER, declared  # noqa: E402

BLOCK = "00000000-0000-0000-0000-000000000001"


def test_declared_automations_validate_and_notify_through_the_block():
    items = declared(REPO / "automations.yaml", BLOCK)
    models = {a["name"]: Automation.model_validate(a) for a in items}
    failed = models["nepse daily run failed or crashed"]
    late = models["nepse daily run not completed by 17:00"]
    assert failed.trigger.posture == Posture.Reactive
    assert set(failed.trigger.expect) == {"prefect.flow-run.Failed", "prefect.flow-run.Crashed"}
    assert late.trigger.posture == Posture.Proactive
    assert late.trigger.expect == {"prefect.flow-run.Completed"}
    assert late.trigger.within.total_seconds() == 90 * 60
    for m in models.values():
        assert m.trigger.match_related["prefect.resource.name"] in (
            "daily-predictions",
            ["daily-predictions"],
        )
        assert [str(a.block_document_id) for a in m.actions] == [BLOCK]
    assert PLACEHOLDER in (REPO / "automations.yaml").read_text()
