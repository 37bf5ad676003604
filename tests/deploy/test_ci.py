"""The GitHub Actions workflow runs the project's own CI scripts, which run the README's commands.

No runner executes it here: the workflow is checked by what it is made of (each job calls a
`.ci/` script, actions pinned to a major version), the scripts by what they call, and with
shellcheck where it is installed (Debian: `apt-get install shellcheck`).
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
import yaml

from tests.conftest import REPO

WORKFLOW = REPO / ".github" / "workflows" / "ci.yml"
SCRIPTS = (REPO / ".ci" / "run", REPO / ".ci" / "docker-smoke")


def _workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))


def _runs(job: dict) -> list[str]:
    return [step["run"].strip() for step in job["steps"] if "run" in step]


def test_each_job_calls_a_ci_script_of_the_repository():
    jobs = _workflow()["jobs"]
    assert set(jobs) == {"test", "docker"}
    assert _runs(jobs["test"])[-1] == ".ci/run"
    assert _runs(jobs["docker"]) == [".ci/docker-smoke"]
    for name, job in jobs.items():
        assert job["runs-on"].startswith("ubuntu-"), name
        assert job.get("timeout-minutes"), name
        assert job["steps"][0]["uses"].startswith("actions/checkout@v"), name


def test_the_workflow_runs_on_pushes_and_pull_requests_with_read_only_rights():
    workflow = _workflow()
    triggers = workflow.get("on") or workflow.get(True)  # YAML 1.1 reads `on` as True
    assert {"push", "pull_request"} <= set(triggers)
    assert workflow["permissions"] == {"contents": "read"}


def test_every_action_is_pinned_to_a_major_version():
    for job in _workflow()["jobs"].values():
        for step in job["steps"]:
            if "uses" in step:
                assert re.fullmatch(r"[\w-]+/[\w-]+@v\d+", step["uses"]), step["uses"]


def test_the_scripts_run_the_readmes_commands():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    ci = SCRIPTS[0].read_text(encoding="utf-8")
    for command in ("./run test", "./run demo"):
        assert command in readme and command in ci, command
    smoke = SCRIPTS[1].read_text(encoding="utf-8")
    assert 'docker build -t "$IMAGE" .' in smoke
    assert "nepse demo" in smoke and "import flows.daily" in smoke
    # The image has the `nepse` command: the Dockerfile installs the project with its scripts.
    assert 'nepse = "flows.cli:main"' in (REPO / "pyproject.toml").read_text()
    assert "uv pip install --no-deps" in (REPO / "Dockerfile").read_text()
    for script in SCRIPTS:
        assert script.stat().st_mode & 0o111, f"{script} is not executable"


def test_shellcheck_is_clean():
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck is not installed (Debian: apt-get install shellcheck)")
    done = subprocess.run(
        [shellcheck, *map(str, SCRIPTS), str(REPO / "run")], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
