"""The first run on a fresh machine: `nepse server start|status|stop` on a new PREFECT_HOME.

A new PREFECT_HOME's SQLite database must be migrated before Prefect's server answers; on a
busy machine that outlasted the temporary server's 20 s start-up timeout, and the first
`./run demo` failed. The CLI now migrates first and waits long enough, and later commands reuse
the server it started. (.ci/run also runs `./run demo` once on a fresh PREFECT_HOME.)
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from flows.cli.prefect_server import alive

BIN = Path(sys.executable).parent
pytestmark = [pytest.mark.e2e]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _nepse(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "nepse"), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=600
    )


def test_server_starts_on_a_fresh_home_and_commands_reuse_it(tmp_path, sample_dir):
    home = tmp_path / "prefect-home"  # never used before: the database does not exist yet
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "NEPSE_"))}
    env |= {
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "NEPSE_DATA_DIR": str(tmp_path / "data"),
    }
    port = _free_port()
    started = _nepse("server", "start", "--port", str(port), env=env, cwd=tmp_path)
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        state = json.loads((home / "nepse-server.json").read_text())
        assert state["api_url"] == f"http://127.0.0.1:{port}/api"
        assert httpx.get(f"{state['api_url']}/health", timeout=10).status_code == 200
        status = _nepse("server", "status", env=env, cwd=tmp_path)
        assert status.returncode == 0 and str(port) in status.stdout
        # The predictions API beside it (issue 29): recorded, answering, reported.
        api = state["api"]
        assert httpx.get(f"{api['url']}/health", timeout=10).json()["status"] == "empty"
        assert f"predictions API at {api['url']}/" in status.stdout

        # A command run now uses that server: its flow run is recorded there.
        ingest = _nepse("ingest", str(sample_dir / "CompanyList.csv"), env=env, cwd=tmp_path)
        assert ingest.returncode == 0, ingest.stdout + ingest.stderr
        runs = httpx.post(f"{state['api_url']}/flow_runs/filter", json={}, timeout=10).json()
        assert [r["state_type"] for r in runs] == ["COMPLETED"]
    finally:
        stopped = _nepse("server", "stop", env=env, cwd=tmp_path)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2)
    assert _nepse("server", "status", env=env, cwd=tmp_path).returncode == 1
    assert not alive(api["pid"])
