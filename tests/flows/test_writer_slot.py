"""The writer slot: the Prefect global concurrency limit `nepse-writer` serialises every run that
uses the database, CLI commands included, on a Prefect server (here the test harness).

Two real processes ingest into one DuckDB file at once. Process A, through a test-only hook,
keeps its write transaction open until process B says it waits for the slot. B must never meet
DuckDB's lock (no DatabaseLockedError, no retry): it waits on the slot, then writes. The tables
then equal a sequential run, every stored row inserted exactly once. That a crashed holder's
slot comes back when its lease expires needs the server's lease sweeper, which only a real
`prefect server` runs: tests/e2e/test_server_worker.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from nepse.devdata.fake_api import FakeNepseApi
from tests.conftest import REPO
from tests.flows.test_live import D1, D2, D3, TOKEN, assert_same_tables, hand_prices, snapshot

pytestmark = pytest.mark.usefixtures("prefect_harness")

WAITING = "waiting for the writer slot"

_CHILD = """
import json, os, sys, time
from datetime import date
from pathlib import Path

from prefect.client.orchestration import get_client

import tasks.fetch as fetch_mod
from tasks.fetch import fetch_and_ingest_day

hold = os.environ.get("RELEASE_FILE")
if hold:
    original = fetch_mod.fetch.fetch_and_ingest_day

    def slow(*args, **kwargs):
        Path(os.environ["LOCKED_FILE"]).write_text(str(os.getpid()))  # the slot is held
        deadline = time.monotonic() + 90
        while not Path(hold).exists() and time.monotonic() < deadline:
            time.sleep(0.05)  # hold it until the test has seen B wait for it
        return original(*args, **kwargs)

    fetch_mod.fetch.fetch_and_ingest_day = slow

for day in sys.argv[1:]:
    state = fetch_and_ingest_day(date.fromisoformat(day), return_state=True)
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


def _env(data_dir, **extra) -> dict[str, str]:
    from prefect.settings import PREFECT_API_URL

    env = {k: v for k, v in os.environ.items() if not k.startswith("NEPSE_")}
    env.update(
        NEPSE_DATA_DIR=str(data_dir),
        PREFECT_API_URL=str(PREFECT_API_URL.value()),
        PYTHONUNBUFFERED="1",
        PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW="ignore",
        **extra,
    )
    return env


def _start(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        args, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def _until(proc: subprocess.Popen, text: str, timeout_s: float = 120) -> list[str]:
    """Lines of `proc`'s output up to the first containing `text` (fails if it never comes)."""
    seen, deadline = [], time.monotonic() + timeout_s
    for line in proc.stdout:
        seen.append(line)
        if text in line:
            return seen
        assert time.monotonic() < deadline, "".join(seen)
    raise AssertionError(f"{text!r} never appeared:\n{''.join(seen)}")


def _results(output: str) -> dict[str, dict]:
    rows = [json.loads(line[7:]) for line in output.splitlines() if line.startswith("RESULT ")]
    return {r["day"]: r for r in rows}


def test_two_runs_at_once_serialise_on_the_slot_and_write_once(
    flow_env, fake, tmp_path, monkeypatch
):
    locked, release = tmp_path / "a-holds-the-slot", tmp_path / "a-may-go-on"
    api = {"NEPSE_API_BASE_URL": fake.url, "NEPSE_API_TOKEN": TOKEN}
    child = [sys.executable, "-c", _CHILD]
    env_a = _env(flow_env.data_dir, **api, LOCKED_FILE=str(locked), RELEASE_FILE=str(release))
    a = _start([*child, D1.isoformat(), D2.isoformat()], env_a)
    b = None
    try:
        deadline = time.monotonic() + 90
        while not locked.exists():
            assert a.poll() is None, a.communicate()[0]
            assert time.monotonic() < deadline, "process A never took the slot"
            time.sleep(0.05)
        b = _start([*child, D2.isoformat(), D3.isoformat()], _env(flow_env.data_dir, **api))
        seen = _until(b, WAITING)  # A keeps the slot until B says it waits for it
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
    # B waited on the slot, never on DuckDB's lock, and needed no retry.
    assert "DatabaseLockedError" not in out_b and "writer slot 'nepse-writer' taken" in out_b
    assert {r["run_count"] for r in res_b.values()} == {1}

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


def test_a_cli_command_takes_the_slot(flow_env, sample_dir, tmp_path):
    """`nepse ingest` waits while another holder (here: this test) has the slot."""
    from runs.slot import writer_slot

    cli = [str(Path(sys.executable).parent / "nepse"), "ingest", str(sample_dir)]
    env = _env(tmp_path / "cli-data")
    with writer_slot("hold the slot for the test"):
        proc = _start(cli, env)
        try:
            seen = _until(proc, WAITING)
            # Nothing was written while the test held the slot.
            assert not (tmp_path / "cli-data" / "nepse.duckdb").exists(), "".join(seen)
        except BaseException:
            proc.kill()
            raise
    out = "".join(seen) + proc.communicate(timeout=300)[0]
    assert proc.returncode == 0, out
    con = duckdb.connect(str(tmp_path / "cli-data" / "nepse.duckdb"), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM prices").fetchall()[0][0] > 1000
    finally:
        con.close()


def test_without_a_server_there_is_no_slot_to_wait_for(monkeypatch):
    """On Prefect's temporary per-process server (a CLI without `nepse server`) the slot is a
    no-op: nobody shares that server; DuckDB's lock wait guards the file."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from runs import settings, slot

    with temporary_settings(updates={PREFECT_API_URL: None}):
        assert not settings.has_server()
        with slot.writer_slot("no server"):
            assert not slot._holding.get()  # nothing was taken
