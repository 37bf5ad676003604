"""A champion change is a Prefect event and a version of the `model-champion` artifact."""

from __future__ import annotations

import pytest

from nepse.app.events import PROMOTED, ROLLED_BACK, ModelChange

pytestmark = pytest.mark.usefixtures("prefect_harness")


def test_promotion_and_rollback_emit_events_and_leave_an_artifact(emitted):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from runs.events import record_model_change

    assert record_model_change(ModelChange(PROMOTED, "v2", "v1", "by hand", "nepse models promote"))
    assert record_model_change(ModelChange(ROLLED_BACK, "v1", "v2", "v2 retired", "rollback"))
    sent = emitted("nepse.model.")
    assert [e.event for e in sent] == ["nepse.model.promoted", "nepse.model.rolled-back"]
    assert [e.resource.id for e in sent] == ["nepse.model.v2", "nepse.model.v1"]
    assert sent[0].payload["previous"] == "v1" and "by hand" in sent[0].payload["text"]
    with get_client(sync_client=True) as client:
        versions = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["model-champion"]))
        )
    texts = [a.data for a in versions]
    assert any("# Promoted `v2`" in t for t in texts)
    assert any("# Rolled back to `v1`" in t for t in texts)


def test_without_a_server_a_change_is_only_logged(monkeypatch):
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from runs.events import record_model_change

    with temporary_settings(updates={PREFECT_API_URL: None}):
        assert not record_model_change(ModelChange(PROMOTED, "v3", None, "x", "cli"))
