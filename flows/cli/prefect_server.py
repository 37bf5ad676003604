"""One local Prefect server that every `nepse` command reuses (`nepse server start|stop`).

Without a server, every command starts Prefect's temporary one, which creates and migrates its
SQLite database on a fresh PREFECT_HOME and can take longer than its start-up timeout on a busy
machine. A server started here runs in the background on 127.0.0.1, its state in
`$PREFECT_HOME/nepse-server.json`; while it answers, the CLI points PREFECT_API_URL at it (unless
PREFECT_API_URL is already set), so commands start in a second and their runs show in its UI.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

DEFAULT_PORT = 4200
START_TIMEOUT_S = 300.0
LEASES_ON_DISK = "prefect.server.concurrency.lease_storage.filesystem"


def prefect_home() -> Path:
    """PREFECT_HOME as Prefect resolves it (default ~/.prefect)."""
    return Path(os.environ.get("PREFECT_HOME") or Path.home() / ".prefect").expanduser()


def state_file() -> Path:
    """Where `start` records the server's pid and URL."""
    return prefect_home() / "nepse-server.json"


def _healthy(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=timeout) as answer:
            return answer.status == 200
    except OSError:
        return False


def running() -> dict | None:
    """The recorded server ({pid, url, log}) when it is alive and answers, else None."""
    path = state_file()
    try:
        state = json.loads(path.read_text())
        os.kill(int(state["pid"]), 0)
    except (OSError, ValueError, KeyError):
        return None
    return state if _healthy(state["api_url"]) else None


def alive(pid: int) -> bool:
    """Does process `pid` run? (A zombie does not: where nothing reaps orphans, as in some
    containers, a stopped service stays one.)"""
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc (macOS): the signal is all we know
    return stat.rpartition(")")[2].split()[0] != "Z"


def use_running_server() -> str | None:
    """Point this process's Prefect client at the recorded server (unless PREFECT_API_URL is
    set); returns the server's API URL."""
    if os.environ.get("PREFECT_API_URL"):
        return None
    state = running()
    if state is None:
        return None
    os.environ["PREFECT_API_URL"] = state["api_url"]
    return state["api_url"]


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port_from(port: int = DEFAULT_PORT) -> int:
    """`port` if nothing listens on it, else a free one (another server may hold 4200)."""
    return port if _port_free(port) else _free_port()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(port: int = DEFAULT_PORT, timeout_s: float = START_TIMEOUT_S) -> dict:
    """Start `prefect server start` in the background and wait until it answers (a new home's
    database is migrated by the server's own start-up)."""
    home = prefect_home()
    state = running()
    if state is not None:
        return state
    port = free_port_from(port)
    home.mkdir(parents=True, exist_ok=True)
    log = home / "nepse-server.log"
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    env.pop("PREFECT_API_URL", None)
    # `prefect server start` migrates a new home's database itself before it answers
    # (PREFECT_API_DATABASE_MIGRATE_ON_START); only Prefect's *temporary* server has a 20 s
    # start-up timeout that a first migration can outlast. Here the wait is ours: `timeout_s`.
    env.setdefault("PREFECT_API_DATABASE_MIGRATE_ON_START", "true")
    # The writer slot's leases (runs/slot.py) on disk, in the server's home: a restarted
    # server still knows who holds the slot and frees it when the lease expires (in memory, a
    # restart would leave the slot counted as taken with no lease to expire).
    env.setdefault("PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE", LEASES_ON_DISK)
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [
                str(bin_dir / "prefect"),
                "server",
                "start",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    api_url = f"http://127.0.0.1:{port}/api"
    deadline = time.monotonic() + timeout_s
    while not _healthy(api_url):
        if proc.poll() is not None:
            raise RuntimeError(f"prefect server exited with {proc.returncode}; see {log}")
        if time.monotonic() > deadline:
            _stop_pid(proc.pid)
            raise RuntimeError(f"prefect server did not answer within {timeout_s:.0f} s; see {log}")
        time.sleep(0.5)
    state = {
        "pid": proc.pid,
        "api_url": api_url,
        "log": str(log),
        "home": str(home),
    }
    state_file().write_text(json.dumps(state))
    return state


def stop_recorded() -> dict | None:
    """Stop the recorded server; returns the state it had."""
    path = state_file()
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    _stop_pid(int(state["pid"]))
    path.unlink(missing_ok=True)
    return state


def _stop_pid(pid: int, timeout_s: float = 20.0) -> None:
    # The server's uvicorn may ignore its first signal while it starts: signal again, then kill.
    deadline = time.monotonic() + timeout_s
    sig = signal.SIGTERM
    while time.monotonic() < deadline:
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        time.sleep(1.0)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
