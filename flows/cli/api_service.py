"""The API beside the local Prefect server: `nepse server start` starts `nepse api serve` in
the background and records it in the server's state file; `nepse server stop` stops it."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from flows.cli.prefect_server import _stop_pid, alive, free_port_from, prefect_home, state_file

START_TIMEOUT_S = 60.0


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/openapi.json", timeout=2) as answer:
            return answer.status == 200
    except OSError:
        return False


def ensure(state: dict) -> dict | None:
    """The API service of a started server: started (and recorded) unless it runs already;
    None with a warning when it cannot start (the server runs anyway)."""
    from nepse.errors import NepseError
    from nepse.settings import load_settings

    api = state.get("api")
    if api and alive(int(api["pid"])):
        return api
    home = prefect_home()
    log = home / "nepse-api.log"
    try:
        port = free_port_from(load_settings().api_listen_port)
        with log.open("ab") as out:
            proc = subprocess.Popen(
                [str(Path(sys.executable).parent / "nepse"), "api", "serve", "--port", str(port)],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        host = load_settings().api_listen_host
        url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _answers(url):
            if proc.poll() is not None or time.monotonic() > deadline:
                _stop_pid(proc.pid)
                raise RuntimeError(f"nepse api did not answer at {url}; see {log}")
            time.sleep(0.3)
    except (OSError, RuntimeError, ValueError, NepseError) as exc:
        print(f"warning: the predictions API did not start: {exc}", file=sys.stderr)
        return None
    state["api"] = {"pid": proc.pid, "url": url, "log": str(log)}
    state_file().write_text(json.dumps(state))
    return state["api"]


def stop(api: dict | None) -> None:
    """Stop a recorded API service."""
    if api:
        _stop_pid(int(api["pid"]))


def describe(state: dict) -> str:
    """One line about the API service of a server's state."""
    api = state.get("api")
    if not api:
        return "no predictions API (start one with: nepse api serve)"
    if not alive(int(api["pid"])):
        return f"predictions API (pid {api['pid']}) is not running: see {api['log']}"
    return f"predictions API at {api['url']}/ (docs {api['url']}/docs; pid {api['pid']})"
