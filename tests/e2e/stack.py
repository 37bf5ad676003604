"""Helpers of the end-to-end tests: a real `prefect server`, process workers, the CLI, waits.

Everything runs on 127.0.0.1 with a temporary PREFECT_HOME and is stopped by PID.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import REPO

OUTPUT = REPO / "test-output"
BIN = Path(sys.executable).parent
PREFECT = str(BIN / "prefect")
POOL = "nepse"
DAILY = "daily-predictions"
FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
# Generous (measured 79-115 s on 2 busy cores, training included), yet well inside CI's budget.
RUN_TIMEOUT_S = float(os.environ.get("NEPSE_E2E_TIMEOUT", "600"))
ZOMBIE_WINDOW_S = 60
"""The zombie automation's window in the tests (production: 90 s, automations.yaml): two
heartbeats of prefect.yaml's 30 s (Prefect's shortest) may be missed."""


@dataclass
class Stack:
    """The running server, worker and reports server, and what the tests measured."""

    url: str
    env: dict[str, str]
    worker_env: dict[str, str]
    data_dir: Path
    logs: Path
    cwd: Path
    reports_url: str = ""
    deployments: dict[str, Any] = field(default_factory=dict)
    scheduled: dict[str, list[datetime]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    health_port: int = 0
    worker: subprocess.Popen | None = None
    workers: int = 0

    @property
    def api(self) -> str:
        return f"{self.url}/api"

    def start_worker(self, env: dict[str, str] | None = None, name: str = "") -> subprocess.Popen:
        """A process worker started exactly as the image starts it, outside the clone."""
        self.workers += 1
        name = name or f"e2e-worker-{self.workers}"
        self.worker = start(
            [PREFECT, *image_command()[1:], "--name", name],
            env or self.worker_env,
            self.logs / f"{name}.log",
            cwd=self.cwd,  # not the clone: the pull step must find the code
        )
        return self.worker


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prefect_env(home: Path, port: int, **extra: str) -> dict[str, str]:
    """The test's environment minus any PREFECT_*/NEPSE_* of the caller, pointed at our server."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "NEPSE_"))}
    url = f"http://127.0.0.1:{port}"
    env.update(
        PREFECT_HOME=str(home),
        PREFECT_API_URL=f"{url}/api",
        PREFECT_UI_API_URL=f"{url}/api",  # baked into the UI the server serves
        PREFECT_SERVER_API_HOST="127.0.0.1",
        PREFECT_SERVER_API_PORT=str(port),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        DO_NOT_TRACK="1",
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        **extra,
    )
    return env


def cli(stack_env: dict[str, str], *args: str, cwd: Path = REPO, timeout: float = 300) -> str:
    """Run `prefect ARGS` and return its output; fail the test with the output when it fails."""
    done = subprocess.run(
        [PREFECT, *args], cwd=cwd, env=stack_env, capture_output=True, text=True, timeout=timeout
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, f"`prefect {' '.join(args)}` failed ({done.returncode}):\n{out}"
    return out


def start(args: list[str], env: dict[str, str], log: Path, cwd: Path) -> subprocess.Popen:
    """A background process in its own session, so it can be stopped with its children."""
    with log.open("wb") as out:
        return subprocess.Popen(
            args, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def stop(proc: subprocess.Popen | None, signals: tuple[int, ...], wait_s: float = 20) -> None:
    """Send `signals` one after another to the process group we created, then SIGKILL it."""
    if proc is None or proc.poll() is not None:
        return
    for sig in signals:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=wait_s)
            return
        except subprocess.TimeoutExpired:
            continue
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


def image_command() -> list[str]:
    """The Dockerfile's CMD: the e2e worker is started exactly as the image starts it."""
    (line,) = [ln for ln in (REPO / "Dockerfile").read_text().splitlines() if ln.startswith("CMD")]
    argv = json.loads(line.removeprefix("CMD"))
    assert argv[0] == "prefect", argv
    return argv


def tail(path: Path, lines: int = 60) -> str:
    if not path.exists():
        return f"({path} missing)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def wait_healthy(url: str, proc: subprocess.Popen, log: Path, timeout_s: float = 240) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"{proc.args[:3]} exited early:\n{tail(log)}"
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.5)
    raise AssertionError(f"{url} not healthy after {timeout_s:.0f} s:\n{tail(log)}")


@contextlib.contextmanager
def client(stack: Stack) -> Iterator[Any]:
    """A sync Prefect client on the test server (whatever other tests set in-process)."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with (
        temporary_settings(updates={PREFECT_API_URL: stack.api}),
        get_client(sync_client=True) as c,
    ):
        yield c


def run_deployment(stack: Stack, name: str, **params: str) -> str:
    """`prefect deployment run NAME --param k=v ...` as an operator would; the flow run's id."""
    args = [arg for k, v in params.items() for arg in ("--param", f"{k}={v}")]
    out = cli(stack.env, "deployment", "run", name, *args)
    match = re.search(r"UUID:\s*([0-9a-f-]{36})", out)
    assert match, f"no flow run id in:\n{out}"
    return match.group(1)


def wait_state(stack: Stack, run_id: str, states: set[str], timeout_s: float) -> Any:
    """The flow run once its state type is one of `states` (the last read when time ran out)."""
    deadline = time.monotonic() + timeout_s
    with client(stack) as c:
        while True:
            run = c.read_flow_run(run_id)
            if (run.state_type.value if run.state_type else "") in states:
                return run
            if time.monotonic() > deadline:
                return run
            time.sleep(2)


def run_logs(stack: Stack, run_id: str) -> list[str]:
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    with client(stack) as c:
        logs = c.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id])))
    return [f"{r.level} {r.message}" for r in logs]


def artifacts(stack: Stack, run_id: str) -> list[Any]:
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with client(stack) as c:
        return c.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run_id]))
        )


def writer_slots(stack: Stack) -> int | None:
    """Slots of the `nepse-writer` global concurrency limit in use (None: not created yet)."""
    from prefect.exceptions import ObjectNotFound

    with client(stack) as c:
        try:
            return c.read_global_concurrency_limit_by_name("nepse-writer").active_slots
        except ObjectNotFound:
            return None


def record_and_clear_schedules(stack: Stack) -> None:
    """Keep the scheduler's upcoming runs for the schedule test, then switch the schedules off.

    A scheduled daily run falling due while the test runs (15:30 Nepal time) would otherwise
    race the test's own runs.
    """
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterId,
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.exceptions import ObjectNotFound

    with client(stack) as c:
        scheduled_ids = [d.id for d in stack.deployments.values() if d.schedules]
        runs: list[Any] = []
        deadline = time.monotonic() + 60
        # The scheduler service fills in upcoming runs a few seconds after a deployment appears.
        while time.monotonic() < deadline:
            runs = c.read_flow_runs(
                deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=scheduled_ids)),
                flow_run_filter=FlowRunFilter(
                    state=FlowRunFilterState(type=FlowRunFilterStateType(any_=["SCHEDULED"]))
                ),
            )
            if {r.deployment_id for r in runs} >= set(scheduled_ids):
                break
            time.sleep(1)
        names = {d.id: name for name, d in stack.deployments.items()}
        for run in runs:
            stack.scheduled.setdefault(names[run.deployment_id], []).append(run.expected_start_time)
        for deployment in stack.deployments.values():
            for schedule in deployment.schedules:
                c.update_deployment_schedule(deployment.id, schedule.id, active=False)
        for run in runs:
            # Switching a schedule off may already have removed its runs.
            with contextlib.suppress(ObjectNotFound):
                c.delete_flow_run(run.id)
