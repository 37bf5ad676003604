"""Two real processes ingest into one DuckDB file at once: the loser retries, nothing doubles.

Process A ingests days 1-2 and, through a test-only hook, keeps its write transaction open until
the test has seen B's first attempt fail. Process B starts once A holds the lock and ingests days
2-3: its first attempt must fail with DatabaseLockedError naming A's PID, Prefect retries it, and
it completes. The tables must then equal a sequential run, and every stored row must have been
inserted exactly once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import duckdb
import pytest

from nepse.devdata.fake_api import FakeNepseApi
from tests.conftest import REPO
from tests.flows.test_live import D1, D2, D3, TOKEN, assert_same_tables, hand_prices, snapshot

# Two processes and a Prefect harness: slow by kind.
pytestmark = [pytest.mark.usefixtures("prefect_harness"), pytest.mark.slow]

_CHILD = """
import json, os, sys, time
from datetime import date
from pathlib import Path

from prefect.client.orchestration import get_client

import tasks.fetch as fetch_mod
from tasks.fetch import fetch_and_ingest_day

hold = os.environ.get("RELEASE_FILE")
if hold:
    original = fetch_mod.ingest_read

    def slow_ingest(*args, **kwargs):
        def stage(name):
            if name == "merged":  # inside the write transaction, lock held
                Path(os.environ["LOCKED_FILE"]).write_text(str(os.getpid()))
                deadline = time.monotonic() + 90
                while not Path(hold).exists() and time.monotonic() < deadline:
                    time.sleep(0.05)  # hold the lock until the test has seen B fail on it
        return original(*args, **kwargs, on_stage=stage)

    fetch_mod.ingest_read = slow_ingest

task = fetch_and_ingest_day.with_options(
    retries=40, retry_delay_seconds=0.25, retry_jitter_factor=None
)
for day in sys.argv[1:]:
    state = task(date.fromisoformat(day), return_state=True)
    # Task runs outside a flow reach the API as events: wait until the final state has landed.
    with get_client(sync_client=True) as client:
        for _ in range(100):
            run = client.read_task_run(state.state_details.task_run_id)
            if run.state is not None and run.state.is_final():
                break
            time.sleep(0.1)
    print("RESULT " + json.dumps({"day": day, "state": state.type.value,
                                   "run_count": run.run_count}), flush=True)
"""


@pytest.fixture
def fake():
    with FakeNepseApi(hand_prices(), token=TOKEN) as server:
        yield server


def _env(data_dir, fake, **extra) -> dict[str, str]:
    from prefect.settings import PREFECT_API_URL

    env = {k: v for k, v in os.environ.items() if not k.startswith("NEPSE_")}
    env.update(
        NEPSE_DATA_DIR=str(data_dir),
        NEPSE_API_BASE_URL=fake.url,
        NEPSE_API_TOKEN=TOKEN,
        PREFECT_API_URL=str(PREFECT_API_URL.value()),
        PYTHONUNBUFFERED="1",
        PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW="ignore",
        **extra,
    )
    return env


def _start(days, env) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", _CHILD, *(d.isoformat() for d in days)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _results(output: str) -> dict[str, dict]:
    rows = [json.loads(line[7:]) for line in output.splitlines() if line.startswith("RESULT ")]
    return {r["day"]: r for r in rows}


def test_two_processes_one_database_retry_on_the_lock_and_write_once(
    flow_env, fake, tmp_path, monkeypatch
):
    locked, release = tmp_path / "a-holds-the-lock", tmp_path / "a-may-commit"
    env_a = _env(flow_env.data_dir, fake, LOCKED_FILE=str(locked), RELEASE_FILE=str(release))
    a = _start([D1, D2], env_a)
    b = None
    try:
        deadline = time.monotonic() + 90
        while not locked.exists():
            assert a.poll() is None, a.communicate()[0]
            assert time.monotonic() < deadline, "process A never took the lock"
            time.sleep(0.05)
        b = _start([D2, D3], _env(flow_env.data_dir, fake))
        seen = []
        for line in b.stdout:  # A keeps the lock until B's first attempt has failed on it
            seen.append(line)
            if "DatabaseLockedError" in line:
                break
        release.write_text("go")
        out_b = "".join(seen) + b.communicate(timeout=120)[0]
        out_a, _ = a.communicate(timeout=120)
    finally:
        release.write_text("go")
        for p in (a, b):
            if p is not None and p.poll() is None:
                p.kill()
    assert a.returncode == 0, out_a
    assert b.returncode == 0, out_b

    res_a, res_b = _results(out_a), _results(out_b)
    assert {r["state"] for r in [*res_a.values(), *res_b.values()]} == {"COMPLETED"}
    # B's first attempt met A's lock: the error names A's PID, and Prefect retried it.
    assert "DatabaseLockedError" in out_b and f"PID {a.pid}" in out_b, out_b
    assert res_b[D2.isoformat()]["run_count"] > 1

    concurrent = snapshot(flow_env.database)
    con = duckdb.connect(str(flow_env.database), read_only=True)
    try:
        inserted = con.execute("SELECT sum(inserted) FROM ingestion_runs").fetchall()[0][0]
        keys = con.execute(
            "SELECT count(*), count(DISTINCT (symbol, date)) FROM prices"
        ).fetchall()[0]
    finally:
        con.close()
    assert inserted == keys[0] == keys[1] == 15  # every row inserted once, none twice

    # The same work, one call after the other (in this process: same task, same code path).
    from tasks.fetch import fetch_and_ingest_day

    sequential = tmp_path / "sequential"
    monkeypatch.setenv("NEPSE_DATA_DIR", str(sequential))
    monkeypatch.setenv("NEPSE_API_BASE_URL", fake.url)
    monkeypatch.setenv("NEPSE_API_TOKEN", TOKEN)
    for day in (D1, D2, D2, D3):
        fetch_and_ingest_day(day)
    assert_same_tables(concurrent, snapshot(sequential / "nepse.duckdb"))
