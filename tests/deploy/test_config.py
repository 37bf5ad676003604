"""prefect.yaml and prefect.docker.yaml, read as files: deployments, schedules, limits, no paths.

Fast and server-free; tests/e2e/test_server_worker.py deploys the same file to a real
server and runs it.
"""

from __future__ import annotations

import ast
import asyncio
import itertools
import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from nepse.market.rules import market_rules
from tests.conftest import REPO

KATHMANDU = ZoneInfo("Asia/Kathmandu")
PULL_DIR = {
    "prefect.deployments.steps.set_working_directory": {"directory": "{{ $NEPSE_PROJECT_DIR }}"}
}
ENTRYPOINTS = {
    "daily-predictions": "flows/daily.py:daily_predictions",
    "train-model": "flows/train.py:train_model",
    "backfill-prices": "flows/backfill.py:backfill_prices",
    "ingest-prices": "flows/ingest.py:ingest_prices",
    "replay": "flows/replay.py:replay",
}
# Parameters the flows must offer (more are allowed).
REQUIRED_PARAMETERS = {
    "daily-predictions": {"as_of", "source"},
    "train-model": {"as_of", "force_promote"},
    "backfill-prices": {"start", "end"},
    "ingest-prices": {"path"},
    "replay": {"start", "end", "source"},
}
FILES = ("prefect.yaml", "prefect.docker.yaml")


def _load(name: str) -> dict[str, Any]:
    return yaml.safe_load((REPO / name).read_text(encoding="utf-8"))


def _deployments(name: str) -> dict[str, dict[str, Any]]:
    return {d["name"]: d for d in _load(name)["deployments"]}


def _strings(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for k, v in node.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(node, list):
        return [s for item in node for s in _strings(item)]
    return []


def _flow_function(entrypoint: str) -> tuple[ast.FunctionDef, str | None]:
    """The entrypoint's function node and the `name=` of its @flow decorator (without importing)."""
    file, func = entrypoint.split(":")
    if not (REPO / file).is_file():
        pytest.fail(f"entrypoint {entrypoint}: {file} does not exist")
    tree = ast.parse((REPO / file).read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == func:
            for deco in node.decorator_list:
                if isinstance(deco, ast.Call) and getattr(deco.func, "id", "") == "flow":
                    names = [k.value for k in deco.keywords if k.arg == "name"]
                    return node, names[0].value if names else None
            raise AssertionError(f"{entrypoint} is not decorated with @flow(...)")
    raise AssertionError(f"{file} defines no function {func}")


def _docstring_args(func: ast.FunctionDef) -> dict[str, str]:
    """`Args:` entries of a Google-style docstring (what Prefect shows in the run form)."""
    doc = ast.get_docstring(func) or ""
    section = re.split(r"^\s*Args:\s*$", doc, maxsplit=1, flags=re.M)
    if len(section) < 2:
        return {}
    body = re.split(r"^\s*(Returns|Raises|Yields|Examples?):\s*$", section[1], flags=re.M)[0]
    return dict(re.findall(r"^\s{4}(\w+)(?:\s*\([^)]*\))?:\s*(\S.*)$", body, flags=re.M))


@pytest.mark.parametrize("name", FILES)
def test_prefect_validates_the_file(name):
    # Prefect's own model of prefect.yaml (the one `prefect deploy` uses; private in 3.9).
    from prefect.cli.deploy._models import PrefectYamlModel

    model = PrefectYamlModel.model_validate(_load(name))
    assert [d.name for d in model.deployments] == list(ENTRYPOINTS)


@pytest.mark.parametrize("name", FILES)
def test_every_deployment_has_an_existing_entrypoint(name):
    deployments = _deployments(name)
    assert {n: d["entrypoint"] for n, d in deployments.items()} == ENTRYPOINTS
    for deployment, entrypoint in ENTRYPOINTS.items():
        file = entrypoint.split(":")[0]
        if not (REPO / file).is_file():
            pytest.fail(f"{name}: {deployment} points at {file}, which does not exist")
        _, flow_name = _flow_function(entrypoint)
        # `prefect deployment run <flow>/<deployment>`: the docs use one name for both.
        assert flow_name == deployment, f"{entrypoint} is flow {flow_name!r}, not {deployment!r}"


@pytest.mark.parametrize("deployment", list(ENTRYPOINTS))
def test_flow_parameters_are_typed_and_described(deployment):
    func, _ = _flow_function(ENTRYPOINTS[deployment])
    params = [a for a in (*func.args.args, *func.args.kwonlyargs) if a.arg not in ("self", "cls")]
    names = {a.arg for a in params}
    assert REQUIRED_PARAMETERS[deployment] <= names, f"{deployment} parameters: {sorted(names)}"
    untyped = [a.arg for a in params if a.annotation is None]
    assert not untyped, f"{deployment}: parameters without a type annotation: {untyped}"
    described = _docstring_args(func)
    missing = sorted(names - set(described))
    assert not missing, f"{deployment}: parameters missing from the docstring's Args: {missing}"


@pytest.mark.parametrize("name", FILES)
def test_no_absolute_paths_anywhere(name):
    text = (REPO / name).read_text(encoding="utf-8")
    offenders = [
        s
        for s in _strings(yaml.safe_load(text))
        if re.match(r"^(/|~|[A-Za-z]:[\\/])", s) or "/work/" in s or "/home/" in s
    ]
    assert not offenders, f"{name} has machine-specific paths: {offenders}"


@pytest.mark.parametrize("name", FILES)
def test_pull_steps_find_the_code_through_the_workers_environment(name):
    config = _load(name)
    # First a check that fails the run naming the variable when the worker lacks it.
    assert config["pull"] == [{"flows.steps.require_project_dir": {}}, PULL_DIR]
    for deployment in config["deployments"]:
        # A per-deployment pull section would replace the shared one.
        assert "pull" not in deployment, deployment["name"]
    assert config.get("build") is None and config.get("push") is None


@pytest.mark.parametrize("name", FILES)
def test_runs_queue_on_the_writer_slot_not_on_queue_or_deployment_limits(name):
    """One writer at a time is the global concurrency limit `nepse-writer` (runs/slot.py):
    a queue or deployment limit would hold runs as Scheduled, shown Late."""
    deployments = _deployments(name)
    for deployment in deployments.values():
        assert "concurrency_limit" not in deployment, deployment["name"]
        assert "work_queue_name" not in deployment["work_pool"], deployment["name"]
        # Heartbeats at Prefect's shortest interval: the zombie automation needs them.
        env = deployment["work_pool"]["job_variables"]["env"]
        assert env["PREFECT_FLOWS_HEARTBEAT_FREQUENCY"] == "30"
    pools = {d["work_pool"]["name"] for d in deployments.values()}
    assert len(pools) == 1, pools


@pytest.mark.parametrize("name", FILES)
def test_the_scheduled_daily_run_needs_no_source_on_the_worker(name):
    daily = _deployments(name)["daily-predictions"]
    assert daily["parameters"] == {"source": "api"}
    func, _ = _flow_function(ENTRYPOINTS["daily-predictions"])
    assert "source" in {a.arg for a in (*func.args.args, *func.args.kwonlyargs)}


@pytest.mark.parametrize("name", FILES)
def test_shared_settings_come_from_definitions_anchors(name):
    config = _load(name)
    assert {"work_pools", "schedules"} <= set(config["definitions"])
    deployments = config["deployments"]
    # YAML aliases load as the very same object: one definition, reused by every deployment.
    first = deployments[0]
    for deployment in deployments[1:]:
        assert deployment["work_pool"] is first["work_pool"], deployment["name"]


def _next_runs(schedule: dict[str, Any], n: int, start: datetime) -> list[datetime]:
    """The server scheduler's own cron arithmetic (the same code that creates scheduled runs)."""
    from prefect.server.schemas.schedules import CronSchedule

    cron = CronSchedule(
        cron=schedule["cron"],
        timezone=schedule["timezone"],
        day_or=schedule.get("day_or", True),
    )
    return asyncio.run(cron.get_dates(n=n, start=start))


@pytest.mark.parametrize("name", FILES)
def test_daily_runs_after_the_close_on_trading_weekdays(name):
    deployments = _deployments(name)
    (schedule,) = deployments["daily-predictions"]["schedules"]
    assert schedule["timezone"] == "Asia/Kathmandu"
    assert schedule.get("active", True) is True
    # 15 weeks from a Sunday before the 2026-04-10 calendar change and one across Dashain: a
    # run on every weekday of the week in force (nepse/market/rules.toml), after its close.
    rules = market_rules()
    for start in (datetime(2026, 4, 5, tzinfo=KATHMANDU), datetime(2026, 10, 11, tzinfo=KATHMANDU)):
        runs = [r.astimezone(KATHMANDU) for r in _next_runs(schedule, 75, start)]
        week = rules.trading_weekdays(runs[-1].date())
        assert {r.weekday() for r in runs} == week
        assert all(r.weekday() in rules.trading_weekdays(r.date()) for r in runs), runs[:3]
        assert all(r.time() > rules.close_time(r.date()) for r in runs), runs[:3]
        assert len({r.date() for r in runs}) == 75  # once a day
        assert all(r.hour < 18 for r in runs)  # still the same evening in Nepal


@pytest.mark.parametrize("name", FILES)
def test_training_is_weekly_when_the_market_is_shut(name):
    deployments = _deployments(name)
    (schedule,) = deployments["train-model"]["schedules"]
    assert schedule["timezone"] == "Asia/Kathmandu"
    runs = [
        r.astimezone(KATHMANDU)
        for r in _next_runs(schedule, 10, datetime(2026, 5, 1, tzinfo=KATHMANDU))
    ]
    assert {r.isoweekday() for r in runs} == {6}
    gaps = {(b - a).days for a, b in itertools.pairwise(runs)}
    assert gaps == {7}


@pytest.mark.parametrize("name", FILES)
def test_backfill_ingest_and_replay_run_only_by_hand(name):
    deployments = _deployments(name)
    for deployment in ("backfill-prices", "ingest-prices", "replay"):
        assert not deployments[deployment].get("schedules"), deployment


def test_docker_variant_mirrors_the_process_deployments():
    process, docker = _deployments("prefect.yaml"), _deployments("prefect.docker.yaml")
    for name in ENTRYPOINTS:
        for key in ("entrypoint", "schedules", "parameters", "tags"):
            assert process[name].get(key) == docker[name].get(key), (name, key)
    pool = docker["daily-predictions"]["work_pool"]
    assert pool["name"] != process["daily-predictions"]["work_pool"]["name"]
    variables = pool["job_variables"]
    assert variables["image"].startswith("nepse-predict:")
    # The database outlives the containers: a named volume at the image's NEPSE_DATA_DIR.
    assert any(v.endswith(":/data") for v in variables["volumes"])


@pytest.mark.parametrize("project_dir", [None, "", "/no/such/folder"])
def test_the_pull_check_fails_naming_the_variable_when_it_is_missing(monkeypatch, project_dir):
    from flows.steps import require_project_dir

    monkeypatch.delenv("PREFECT__FLOW_RUN_ID", raising=False)  # no run to fail: it only raises
    monkeypatch.delenv("NEPSE_PROJECT_DIR", raising=False)
    if project_dir is not None:
        monkeypatch.setenv("NEPSE_PROJECT_DIR", project_dir)
    with pytest.raises(RuntimeError, match="NEPSE_PROJECT_DIR is not set to a folder"):
        require_project_dir()
    monkeypatch.setenv("NEPSE_PROJECT_DIR", str(REPO))
    assert require_project_dir() == {"directory": str(REPO)}
