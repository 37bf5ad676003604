"""The CLI points a run at the recorded server's Evidently service only while it runs."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from flows.cli import prefect_server
from nepse.monitoring.side import SERVICE_ENV


def _state(pid: int) -> dict:
    return {
        "pid": 1,
        "api_url": "http://127.0.0.1:1/api",
        "evidently": {"pid": pid, "socket": "/tmp/x.sock", "log": "/tmp/x.log"},
    }


def test_a_running_service_is_used(monkeypatch):
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.delenv(SERVICE_ENV, raising=False)
    monkeypatch.setattr(prefect_server, "running", lambda: _state(os.getpid()))
    assert prefect_server.use_running_server() == "http://127.0.0.1:1/api"
    assert os.environ[SERVICE_ENV] == "/tmp/x.sock"


def test_a_dead_or_zombie_service_is_not(monkeypatch):
    zombie = subprocess.Popen([sys.executable, "-c", "pass"])
    stat = Path(f"/proc/{zombie.pid}/stat")
    # Exited but not reaped: a zombie, as an orphan stays where nothing reaps it.
    while stat.exists() and stat.read_text().rpartition(")")[2].split()[0] != "Z":
        time.sleep(0.01)
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.delenv(SERVICE_ENV, raising=False)
    monkeypatch.setattr(prefect_server, "running", lambda: _state(zombie.pid))
    assert prefect_server.use_running_server() is not None
    assert SERVICE_ENV not in os.environ
    zombie.wait()
    assert not prefect_server.alive(zombie.pid)


def test_a_service_that_cannot_start_does_not_stop_the_server_start(tmp_path, monkeypatch, capsys):
    def no_processes(*args, **kwargs):
        raise OSError("fork: resource temporarily unavailable")

    monkeypatch.setattr(prefect_server.subprocess, "Popen", no_processes)
    assert prefect_server._try_service(tmp_path) is None
    assert "Evidently service did not start" in capsys.readouterr().err
    prefect_server._stop_service(None)  # a state without a service stops cleanly
