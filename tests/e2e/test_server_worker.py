"""End to end on a real Prefect server: deploy prefect.yaml, run a worker, run the daily flow.

One module-scoped stack, started and stopped by the tests (all on 127.0.0.1, nothing leaves the
machine): `prefect server start` on a free port with a temporary PREFECT_HOME, the `nepse`
process work pool and its `duckdb-writers` queue (concurrency limit 1), `prefect --no-prompt
deploy --all` from the repo root, and a `prefect worker start --pool nepse` whose working
directory is NOT the clone (the deployments' pull step must find the code through
NEPSE_PROJECT_DIR). The daily run is started through the CLI with parameters, exactly as an
operator would, on the generated sample market.

The browser test opens that flow run's page in the server's own UI with Debian's headless
Chromium and saves screenshots to test-output/.
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
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import httpx
import pytest
import yaml

from nepse.market.rules import market_rules
from tests.conftest import REPO

OUTPUT = REPO / "test-output"
BIN = Path(sys.executable).parent
PREFECT = str(BIN / "prefect")
KATHMANDU = ZoneInfo("Asia/Kathmandu")

POOL = "nepse"
QUEUE = "duckdb-writers"
DAILY = "daily-predictions"
# Generous (measured 79-115 s on 2 busy cores, training included), yet well inside CI's budget.
RUN_TIMEOUT_S = float(os.environ.get("NEPSE_E2E_TIMEOUT", "600"))
# What the daily flow publishes on its own run (tasks/artifacts.py); link artifacts are markdown.
DAILY_ARTIFACTS = {
    "daily-summary": "markdown",
    "daily-predictions": "table",
    "drift-report": "markdown",
    "report-index": "markdown",
}
FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}

# The worker's settings: the daily run ingests this sample market and trains its first champion
# on it. Defaults (3 seeds, retraining every 21 days over two years, 500 rounds) took 15 min
# on two busy cores; one seed, one walk-forward block from 2026-05-01 and 60 rounds take
# seconds. On 40 symbols the first model rarely beats the baselines, and the test is about the
# plumbing: a negative margin lets it become the champion, so the run scores with it and
# writes a drift report.
WORKER_SETTINGS = {
    "NEPSE_SAMPLE_SYMBOLS": "40",
    "NEPSE_SAMPLE_YEARS": "4",
    "NEPSE_SAMPLE_SEED": "7",
    "NEPSE_SEEDS": "[0]",
    "NEPSE_RETRAIN_EVERY": "250",
    "NEPSE_NUM_BOOST_ROUND": "60",
    "NEPSE_TEST_START": "2026-05-01",
    "NEPSE_PROMOTE_MARGIN_BASELINE": "-1",
    "NEPSE_PROMOTE_FIRST_MODEL": "true",
}

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@dataclass
class Stack:
    """The running server and worker, and what the tests measured while starting them."""

    url: str
    env: dict[str, str]
    data_dir: Path
    logs: Path
    deployments: dict[str, Any] = field(default_factory=dict)
    scheduled: dict[str, list[datetime]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    health_port: int = 0

    @property
    def api(self) -> str:
        return f"{self.url}/api"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _env(home: Path, port: int, **extra: str) -> dict[str, str]:
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


def _cli(stack_env: dict[str, str], *args: str, cwd: Path = REPO, timeout: float = 300) -> str:
    """Run `prefect ARGS` and return its output; fail the test with the output when it fails."""
    done = subprocess.run(
        [PREFECT, *args],
        cwd=cwd,
        env=stack_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, f"`prefect {' '.join(args)}` failed ({done.returncode}):\n{out}"
    return out


def _start(args: list[str], env: dict[str, str], log: Path, cwd: Path) -> subprocess.Popen:
    """A background process in its own session, so it can be stopped with its children."""
    with log.open("wb") as out:
        return subprocess.Popen(
            args, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def _stop(proc: subprocess.Popen | None, signals: tuple[int, ...], wait_s: float = 20) -> None:
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


def _image_command() -> list[str]:
    """The Dockerfile's CMD: the e2e worker is started exactly as the image starts it."""
    (line,) = [ln for ln in (REPO / "Dockerfile").read_text().splitlines() if ln.startswith("CMD")]
    argv = json.loads(line.removeprefix("CMD"))
    assert argv[0] == "prefect", argv
    return argv


def _tail(path: Path, lines: int = 60) -> str:
    if not path.exists():
        return f"({path} missing)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _wait_healthy(url: str, proc: subprocess.Popen, log: Path, timeout_s: float = 240) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"prefect server exited early:\n{_tail(log)}"
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                return
        time.sleep(0.5)
    raise AssertionError(f"prefect server not healthy after {timeout_s:.0f} s:\n{_tail(log)}")


@contextlib.contextmanager
def _client(stack: Stack) -> Iterator[Any]:
    """A sync Prefect client on the test server (whatever other tests set in-process)."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with (
        temporary_settings(updates={PREFECT_API_URL: stack.api}),
        get_client(sync_client=True) as client,
    ):
        yield client


def _record_and_clear_schedules(stack: Stack) -> None:
    """Keep the scheduler's upcoming runs for the schedule test, then switch the schedules off.

    A scheduled daily run falling due while the test runs (15:30 Nepal time) would otherwise
    race the test's own run for the queue.
    """
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterId,
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.exceptions import ObjectNotFound

    with _client(stack) as client:
        scheduled_ids = [d.id for d in stack.deployments.values() if d.schedules]
        runs: list[Any] = []
        deadline = time.monotonic() + 60
        # The scheduler service fills in upcoming runs a few seconds after a deployment appears.
        while time.monotonic() < deadline:
            runs = client.read_flow_runs(
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
                client.update_deployment_schedule(deployment.id, schedule.id, active=False)
        for run in runs:
            # Switching a schedule off may already have removed its runs.
            with contextlib.suppress(ObjectNotFound):
                client.delete_flow_run(run.id)


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    """Server + work pool + queue limit + `deploy --all` + a worker; stopped by PID at the end."""
    root = tmp_path_factory.mktemp("e2e")
    home, logs, data_dir, elsewhere = (root / n for n in ("prefect-home", "logs", "data", "cwd"))
    for folder in (home, logs, data_dir, elsewhere):
        folder.mkdir()
    port = _free_port()
    env = _env(home, port)
    stack = Stack(url=f"http://127.0.0.1:{port}", env=env, data_dir=data_dir, logs=logs)
    server = worker = None
    try:
        t0 = time.monotonic()
        server = _start(
            [PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env,
            logs / "server.log",
            cwd=elsewhere,
        )
        _wait_healthy(stack.url, server, logs / "server.log")
        stack.seconds["server_start"] = time.monotonic() - t0

        t0 = time.monotonic()
        _cli(env, "work-pool", "create", POOL, "--type", "process")
        # The queue's limit is what keeps runs of DIFFERENT deployments from writing at once;
        # it must exist before `deploy`, which would otherwise create it without a limit.
        _cli(env, "work-queue", "create", QUEUE, "--pool", POOL, "--limit", "1")
        _cli(env, "--no-prompt", "deploy", "--all", cwd=REPO, timeout=600)
        stack.seconds["deploy"] = time.monotonic() - t0
        with _client(stack) as client:
            stack.deployments = {d.name: d for d in client.read_deployments()}
        _record_and_clear_schedules(stack)

        stack.health_port = _free_port()
        worker_env = dict(
            env,
            NEPSE_PROJECT_DIR=str(REPO),
            NEPSE_DATA_DIR=str(data_dir),
            PREFECT_WORKER_QUERY_SECONDS="2",
            PREFECT_WORKER_WEBSERVER_HOST="127.0.0.1",
            PREFECT_WORKER_WEBSERVER_PORT=str(stack.health_port),
            **WORKER_SETTINGS,
        )
        worker = _start(
            [PREFECT, *_image_command()[1:], "--name", "e2e-worker"],
            worker_env,
            logs / "worker.log",
            cwd=elsewhere,  # not the clone: the pull step must find the code
        )
        yield stack
    finally:
        # A worker shuts down gracefully on the first signal and exits on the second.
        _stop(worker, (signal.SIGINT, signal.SIGINT, signal.SIGTERM), wait_s=15)
        _stop(server, (signal.SIGTERM, signal.SIGINT), wait_s=30)
        for name in ("server.log", "worker.log"):
            if (logs / name).exists():
                OUTPUT.mkdir(exist_ok=True)
                (OUTPUT / f"e2e-{name}").write_text(_tail(logs / name, 400))


@dataclass
class Run:
    """The finished daily flow run."""

    id: str
    state: str
    seconds: float
    artifacts: list[Any]
    page: str


def _as_of() -> date:
    """The sample market's last day: the daily run scores it (a past date, so no clock)."""
    from nepse.devdata.sample import DEFAULT_END

    return DEFAULT_END


@pytest.fixture(scope="module")
def daily_run(stack: Stack) -> Run:
    """`prefect deployment run daily-predictions/...` with parameters, waited to a final state."""
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        LogFilter,
        LogFilterFlowRunId,
    )

    t0 = time.monotonic()
    params = {"as_of": _as_of().isoformat(), "source": "sample"}
    args = [arg for k, v in params.items() for arg in ("--param", f"{k}={v}")]
    out = _cli(stack.env, "deployment", "run", f"{DAILY}/{DAILY}", *args)
    match = re.search(r"UUID:\s*([0-9a-f-]{36})", out)
    assert match, f"no flow run id in:\n{out}"
    run_id = match.group(1)
    state = ""
    with _client(stack) as client:
        deadline = t0 + RUN_TIMEOUT_S
        while time.monotonic() < deadline:
            flow_run = client.read_flow_run(run_id)
            state = flow_run.state_type.value if flow_run.state_type else ""
            if state in FINAL:
                break
            time.sleep(2)
        seconds = time.monotonic() - t0
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id])))
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run_id]))
        )
    OUTPUT.mkdir(exist_ok=True)
    (OUTPUT / "e2e-flow-run.log").write_text("\n".join(f"{r.level} {r.message}" for r in logs))
    stack.seconds["daily_run"] = seconds
    (OUTPUT / "e2e-timings.json").write_text(json.dumps(stack.seconds, indent=2))
    assert state == "COMPLETED", (
        f"{DAILY} run {run_id} ended {state or 'unfinished'} after {seconds:.0f} s\n"
        f"flow run log (last lines):\n"
        + "\n".join(r.message for r in logs[-40:])
        + f"\nworker log:\n{_tail(stack.logs / 'worker.log')}"
    )
    return Run(
        id=run_id,
        state=state,
        seconds=seconds,
        artifacts=artifacts,
        page=f"{stack.url}/runs/flow-run/{run_id}",
    )


def test_deploy_all_registers_the_four_deployments_as_configured(stack):
    config = yaml.safe_load((REPO / "prefect.yaml").read_text())
    wanted = {d["name"]: d for d in config["deployments"]}
    assert set(stack.deployments) == set(wanted)
    for name, deployment in stack.deployments.items():
        assert deployment.work_pool_name == POOL, name
        assert deployment.work_queue_name == QUEUE, name
        # A second run of the same deployment waits (ENQUEUE) instead of being cancelled.
        assert deployment.global_concurrency_limit is not None, name
        assert deployment.global_concurrency_limit.limit == 1, name
        assert deployment.concurrency_options.collision_strategy.value == "ENQUEUE", name
        # Stored unresolved: the worker's NEPSE_PROJECT_DIR decides where the code is.
        assert deployment.pull_steps == [
            {
                "prefect.deployments.steps.set_working_directory": {
                    "directory": "{{ $NEPSE_PROJECT_DIR }}"
                }
            }
        ], name
        assert deployment.path is None, name
        assert deployment.entrypoint == wanted[name]["entrypoint"], name
        # Every parameter reaches the UI form with a type and a description (from "Args:").
        props = deployment.parameter_openapi_schema["properties"]
        assert props, f"{name} has no parameters"
        undocumented = [p for p, spec in props.items() if not spec.get("description")]
        assert not undocumented, f"{name}: parameters without a description: {undocumented}"
        untyped = [p for p, spec in props.items() if not ({"type", "anyOf", "$ref"} & set(spec))]
        assert not untyped, f"{name}: parameters without a type: {untyped}"
    with _client(stack) as client:
        queue = client.read_work_queue_by_name(QUEUE, work_pool_name=POOL)
    assert queue.concurrency_limit == 1


def test_worker_started_like_the_image_reports_healthy(stack):
    deadline = time.monotonic() + 60
    status = None
    while time.monotonic() < deadline and status != 200:
        with contextlib.suppress(httpx.HTTPError):
            status = httpx.get(
                f"http://127.0.0.1:{stack.health_port}/health", timeout=5
            ).status_code
        time.sleep(1)
    assert status == 200, f"worker health: {status}\n{_tail(stack.logs / 'worker.log')}"


def test_scheduled_runs_fall_after_the_close_on_trading_weekdays(stack):
    assert stack.scheduled.get(DAILY), f"the server scheduled no {DAILY} runs"
    for when in stack.scheduled[DAILY]:
        local, rules = when.astimezone(KATHMANDU), market_rules()
        assert local.weekday() in rules.trading_weekdays(local.date()), f"{local}: no session"
        close = rules.close_time(local.date())
        assert local.time() > close, f"{local} is before the {close:%H:%M} close"
    weekly = stack.scheduled.get("train-model", [])
    assert weekly, "the server scheduled no train-model runs"
    # Training runs when the market is shut (Saturday), so it never waits for a daily run.
    assert {w.astimezone(KATHMANDU).isoweekday() for w in weekly} == {6}
    assert not stack.scheduled.get("backfill-prices") and not stack.scheduled.get("ingest-prices")


def test_daily_run_writes_predictions_and_drift_report(stack, daily_run):
    con = duckdb.connect(str(stack.data_dir / "nepse.duckdb"), read_only=True)
    try:
        rows = con.execute(
            "select date, count(*), count(distinct symbol) from predictions "
            "where flow_run_id = ? group by date",
            [daily_run.id],
        ).fetchall()
    finally:
        con.close()
    assert len(rows) == 1, f"predictions of run {daily_run.id}: {rows}"
    day, count, symbols = rows[0]
    # as_of (a parameter given on the command line) decides the day: its last trading day.
    assert 0 <= (_as_of() - day).days < 7, day
    assert count == symbols > 10
    assert (stack.data_dir / "predictions" / f"{day.isoformat()}.parquet").is_file()
    reports = sorted((stack.data_dir / "reports" / day.isoformat()).glob("drift-*.html"))
    assert reports, f"no drift report under {stack.data_dir / 'reports' / day.isoformat()}"
    assert reports[0].stat().st_size > 10_000


def test_daily_run_artifacts_are_attached_to_its_flow_run(stack, daily_run):
    assert daily_run.artifacts, f"flow run {daily_run.id} has no artifacts"
    assert {str(a.flow_run_id) for a in daily_run.artifacts} == {daily_run.id}
    by_key = {a.key: a for a in daily_run.artifacts if a.key}
    assert set(DAILY_ARTIFACTS) <= set(by_key), sorted(by_key)
    for key, kind in DAILY_ARTIFACTS.items():
        assert by_key[key].type == kind, (key, by_key[key].type)
    # The link artifact points at the drift report the run wrote.
    reports = list((stack.data_dir / "reports").rglob("drift-*.html"))
    assert len(reports) == 1, reports
    assert reports[0].name in by_key["drift-report"].data
    data = by_key["daily-predictions"].data
    table = json.loads(data) if isinstance(data, str) else data
    assert len(table) > 10 and {"symbol", "pred_ret"} <= set(table[0])


@pytest.mark.browser
def test_prefect_ui_shows_the_run_and_its_artifacts(driver, daily_run):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    OUTPUT.mkdir(exist_ok=True)
    driver.get(daily_run.page)
    body = (By.TAG_NAME, "body")
    # The UI is a single-page app: wait for what it draws from the API, not for the load event.
    WebDriverWait(driver, 90).until(ec.text_to_be_present_in_element(body, "Completed"))
    WebDriverWait(driver, 30).until(ec.text_to_be_present_in_element(body, DAILY))
    text = driver.find_element(*body).text
    assert "Can't connect to Server API" not in text
    assert f"Work Queue\n{QUEUE}" in text
    driver.save_screenshot(str(OUTPUT / "e2e-flow-run.png"))

    tab = driver.find_element(
        By.XPATH, "//li[normalize-space(.)='Artifacts' and not(*[normalize-space(.)='Artifacts'])]"
    )
    tab.click()
    WebDriverWait(driver, 30).until(lambda d: "tab=Artifacts" in d.current_url)
    keys = sorted({a.key for a in daily_run.artifacts if a.key})
    for key in keys:
        WebDriverWait(driver, 30).until(ec.text_to_be_present_in_element(body, key))
    text = driver.find_element(*body).text
    (OUTPUT / "e2e-flow-run-artifacts.txt").write_text(text, encoding="utf-8")
    for artifact in daily_run.artifacts:
        if artifact.key:
            assert artifact.key in text
            assert artifact.type.upper() in text
    first = driver.find_element(By.XPATH, f"//*[normalize-space(text())='{keys[0]}']")
    driver.execute_script("arguments[0].scrollIntoView({block: 'start'});", first)
    driver.save_screenshot(str(OUTPUT / "e2e-flow-run-artifacts.png"))


def test_docker_variant_deploys_to_a_docker_pool(stack, daily_run):
    """prefect.docker.yaml on a Docker pool (no engine here: deployed and inspected, not run).

    Runs after the daily run: the Docker deployments keep the same names and replace the
    process ones on this server.
    """
    import prefect.server.api
    from prefect.client.schemas.actions import WorkPoolCreate

    views = Path(prefect.server.api.__file__).parent / "collections_data" / "views"
    metadata = json.loads((views / "aggregate-worker-metadata.json").read_text())
    # Prefect's own default Docker template, read from the package: `work-pool create --type
    # docker` would fetch it from GitHub first.
    template = metadata["prefect-docker"]["docker"]["default_base_job_configuration"]
    config = yaml.safe_load((REPO / "prefect.docker.yaml").read_text())
    pool = config["deployments"][0]["work_pool"]["name"]
    with _client(stack) as client:
        client.create_work_pool(
            WorkPoolCreate(name=pool, type="docker", base_job_template=template)
        )
    _cli(stack.env, "work-queue", "create", QUEUE, "--pool", pool, "--limit", "1")
    _cli(stack.env, "--no-prompt", "deploy", "--all", "--prefect-file", "prefect.docker.yaml")
    with _client(stack) as client:
        deployments = {d.name: d for d in client.read_deployments() if d.work_pool_name == pool}
    assert set(deployments) == {d["name"] for d in config["deployments"]}
    wanted = config["deployments"][0]["work_pool"]["job_variables"]
    for name, deployment in deployments.items():
        assert deployment.work_queue_name == QUEUE, name
        assert deployment.job_variables["image"] == wanted["image"], name
        assert deployment.job_variables["volumes"] == wanted["volumes"], name
        assert deployment.pull_steps == config["pull"], name
        assert deployment.global_concurrency_limit.limit == 1, name


def test_automations_are_created_on_the_server_by_the_documented_command(stack):
    # The block the automations notify through (a custom webhook: nothing is sent here).
    save = (
        "from prefect.blocks.notifications import CustomWebhookNotificationBlock as B; "
        "B(name='nepse', url='http://127.0.0.1:9/hook', allow_private_urls=True)"
        ".save('nepse-alerts', overwrite=True)"
    )
    subprocess.run([sys.executable, "-c", save], env=stack.env, check=True, timeout=120)
    cmd = [sys.executable, "scripts/automations.py", "--block", "custom-webhook/nepse-alerts"]
    for _ in range(2):  # a second run replaces by name instead of duplicating
        done = subprocess.run(cmd, cwd=REPO, env=stack.env, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
    read = (
        "import json; from prefect.client.orchestration import get_client\n"
        "with get_client(sync_client=True) as c:\n"
        "    print(json.dumps([[a.name, a.trigger.posture.value, len(a.actions)]"
        " for a in c.read_automations()]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", read], env=stack.env, capture_output=True, text=True, check=True
    )
    listed = sorted(json.loads(done.stdout.strip().splitlines()[-1]))
    assert listed == [
        ["nepse daily run failed or crashed", "Reactive", 1],
        ["nepse daily run not completed by 17:00", "Proactive", 1],
    ], listed
