"""The `backfill-prices` flow: chunks, artifacts, resuming after SIGKILL, recorded pages, CLI."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import date, timedelta

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from nepse.devdata.fake_api import FakeNepseApi
from tests.conftest import REPO
from tests.flows.test_live import (
    TOKEN,
    assert_same_tables,
    fast_retries,  # noqa: F401 - a fixture
    hand_prices,
    run_backfill,
    snapshot,
)

pytestmark = pytest.mark.usefixtures("prefect_harness", "fast_retries")

START = date(2025, 8, 24)  # Sunday
# Sun .. Thu and the next Sunday: six candidate days (Friday and Saturday are outside the
# Sunday-Thursday week of nepse/market/rules.toml, so the backfill does not ask for them).
DAYS = [START + timedelta(days=i) for i in (0, 1, 2, 3, 4, 7)]
END = DAYS[-1]


@pytest.fixture
def fake():
    with FakeNepseApi(hand_prices(DAYS, symbols=4), token=TOKEN) as server:
        yield server


@pytest.fixture
def live_env(flow_env, fake, monkeypatch):
    monkeypatch.setenv("NEPSE_API_BASE_URL", fake.url)
    monkeypatch.setenv("NEPSE_API_TOKEN", TOKEN)
    monkeypatch.setenv("NEPSE_API_PAGE_SIZE", "2")
    return flow_env


def test_backfill_chunks_publishes_artifacts_and_a_rerun_fetches_nothing(live_env, fake):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        ArtifactFilterKey,
    )

    state, fetches, logs = run_backfill(START, END, chunk_days=4, logs=True)
    summary = state.result()
    assert summary["planned"] == 6 and summary["fetched"] == 6
    assert summary["statuses"] == {"ok": 6} and summary["inserted"] == 24
    assert "chunk 2/2 done" in logs
    assert len(fetches) == 6

    def artifacts(key: str) -> list:
        this_run = ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id])
        with get_client(sync_client=True) as client:
            return client.read_artifacts(
                artifact_filter=ArtifactFilter(
                    key=ArtifactFilterKey(any_=[key]), flow_run_id=this_run
                )
            )

    progress, md = artifacts("backfill-progress"), artifacts("backfill-summary")
    assert progress and float(progress[-1].data) == 100.0
    assert md and "| rows inserted | 24 |" in md[-1].data

    before = snapshot(live_env.database, exact=True)
    fake.reset_stats()
    again, fetches, _ = run_backfill(START, END, chunk_days=4)
    assert again.result()["planned"] == 0 and again.result()["skipped_complete"] == 6
    assert fetches == {} and fake.stats()["requests"] == 0
    assert_same_tables(snapshot(live_env.database, exact=True), before)


def test_backfill_from_recorded_pages_equals_the_live_backfill(
    live_env, fake, monkeypatch, tmp_path
):
    run_backfill(START, END, chunk_days=3)
    live = snapshot(live_env.database)
    raw = live_env.data_dir / "raw"
    monkeypatch.setenv("NEPSE_DATA_DIR", str(tmp_path / "replay"))
    fake.stop()  # the replay must not need the API
    state, _, _ = run_backfill(START, END, source=str(raw), chunk_days=3)
    assert state.result()["statuses"] == {"ok": 6}
    replay = snapshot(tmp_path / "replay" / "nepse.duckdb")
    # Same rows; only the `source` of each row (URL vs folder) tells them apart.
    assert_frame_equal(replay["prices"].drop("source"), live["prices"].drop("source"))
    assert set(replay["ingested_days"]["source"]) == {str(raw.resolve())}


_CHILD = """
import sys
from datetime import date
import flows.backfill as fb
from tasks.fetch import fetch_and_ingest_day
fb.fetch_and_ingest_day = fetch_and_ingest_day.with_options(
    retry_delay_seconds=0.02, retry_jitter_factor=None
)
fb.backfill_prices(start=date.fromisoformat(sys.argv[1]), end=date.fromisoformat(sys.argv[2]),
                   chunk_days=2)
"""


def _child_env(settings, fake) -> dict[str, str]:
    from prefect.settings import PREFECT_API_URL

    env = {k: v for k, v in os.environ.items() if not k.startswith("NEPSE_")}
    env.update(
        NEPSE_DATA_DIR=str(settings.data_dir),
        NEPSE_API_BASE_URL=fake.url,
        NEPSE_API_TOKEN=TOKEN,
        NEPSE_API_PAGE_SIZE="2",
        PREFECT_API_URL=str(PREFECT_API_URL.value()),
        PYTHONUNBUFFERED="1",
    )
    return env


def test_backfill_killed_midway_and_rerun_equals_an_uninterrupted_backfill(
    live_env, fake, monkeypatch, tmp_path
):
    from nepse.store import open_store

    fake.set_faults(delay_s=0.25)  # ~0.5 s a day: the kill lands inside the second chunk
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, START.isoformat(), END.isoformat()],
        cwd=REPO,
        env=_child_env(live_env, fake),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    seen = []
    try:
        for line in child.stdout:  # a child that ends without chunk 1 fails the assert below
            seen.append(line)
            if "chunk 1/3 done" in line:
                os.kill(child.pid, signal.SIGKILL)
                break
    finally:
        if child.poll() is None:
            child.kill()
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL, "".join(seen[-30:])

    with open_store(live_env.database) as store:
        done = store.complete_days("api")
        partial = store.prices()
    assert set(DAYS[:2]) <= done and len(done) < len(DAYS)
    assert set(partial["date"].unique()) == done  # no day stored without being complete

    fake.set_faults()
    state, fetches, _ = run_backfill(START, END, chunk_days=2)
    summary = state.result()
    assert summary["skipped_complete"] == len(done)
    assert set(fetches) == {d.isoformat() for d in DAYS if d not in done}
    resumed = snapshot(live_env.database)

    monkeypatch.setenv("NEPSE_DATA_DIR", str(tmp_path / "uninterrupted"))
    run_backfill(START, END, chunk_days=2)
    assert_same_tables(resumed, snapshot(tmp_path / "uninterrupted" / "nepse.duckdb"))
    assert resumed["prices"].height == 24
    assert resumed["ingested_days"]["status"].to_list() == ["ok"] * 6


def test_cli_backfill_draws_progress_and_prints_the_summary(live_env, fake):
    from typer.testing import CliRunner

    from flows.cli import app

    result = CliRunner().invoke(
        app, ["backfill", "--start", START.isoformat(), "--end", DAYS[2].isoformat()]
    )
    assert result.exit_code == 0, result.output
    assert "3/3" in result.output
    assert "inserted" in result.output and "12" in result.output
    with_rows = snapshot(live_env.database)["prices"]
    assert with_rows.select(pl.col("date").n_unique()).item() == 3
