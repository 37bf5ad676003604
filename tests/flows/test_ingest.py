"""The `ingest-prices` flow on the Prefect test harness: counts, idempotency, artifact."""

from __future__ import annotations

import duckdb
import pytest

pytestmark = pytest.mark.usefixtures("prefect_harness")


def test_ingest_flow_loads_sample_and_is_idempotent(flow_env, sample_dir):
    from flows.ingest import ingest_prices

    first = ingest_prices(path=str(sample_dir))
    assert first.inserted > 10_000
    assert first.rejected >= 3  # the sample plants bad rows on purpose
    assert first.rows_read == (
        first.inserted + first.updated + first.unchanged + first.rejected + first.duplicates
    )
    # Every file read again: the store changes nothing and says so.
    second = ingest_prices(path=str(sample_dir), changed_only=False)
    assert second.inserted == 0 and second.updated == 0
    assert second.unchanged == first.inserted + first.updated
    # By default an unchanged folder is not read at all (nepse/ingest/changes.py).
    third = ingest_prices(path=str(sample_dir))
    assert third.rows_read == 0 and third.fmt == "unchanged"

    con = duckdb.connect(str(flow_env.database), read_only=True)
    try:
        stored = con.execute("select count(*) from prices").fetchall()[0][0]
        rejected = con.execute("select count(*) from rejected_prices").fetchall()[0][0]
    finally:
        con.close()
    assert stored == first.inserted
    assert rejected == first.rejected


def test_ingest_flow_publishes_a_markdown_summary(flow_env, sample_dir):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from flows.ingest import ingest_prices

    ingest_prices(path=str(sample_dir))
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["ingest-summary"]))
        )
    assert artifacts, "no ingest-summary artifact"
    text = artifacts[-1].data
    assert "inserted" in text.lower() and "rejected" in text.lower()
