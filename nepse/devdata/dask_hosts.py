"""A Dask scheduler and worker processes on this machine that stand in for other hosts.

What "beyond one machine" means for the walk-forward: workers with no shared disk. Here they
are `dask scheduler` and `dask worker` processes on 127.0.0.1, started as another user (root
only: `setpriv` to `nobody`), so they cannot read a data folder that only its owner may; the
walk-forward must bring them everything. For tests and benchmarks (tests/flows,
bench/bench_walkforward.py); a real deployment starts `dask worker` on its hosts.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from nepse.errors import ConfigError


def can_switch_user(user: str = "nobody") -> str | None:
    """None when workers can run as `user` here, else the reason they cannot."""
    if os.geteuid() != 0:
        return "starting processes as another user needs root"
    if shutil.which("setpriv") is None:
        return "setpriv (util-linux) is not installed"
    try:
        pwd.getpwnam(user)
    except KeyError:
        return f"no user {user!r} on this machine"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as(user: str | None) -> list[str]:
    if user is None:
        return []
    pw = pwd.getpwnam(user)
    return ["setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}", "--clear-groups", "--"]


@contextlib.contextmanager
def dask_hosts(
    workers: int = 2, *, threads: int = 1, user: str | None = None, log_dir: Path | None = None
) -> Iterator[str]:
    """Start a scheduler and `workers` worker processes (as `user`); yield the address."""
    if user is not None and (why := can_switch_user(user)):
        raise ConfigError(f"cannot start Dask workers as {user!r}: {why}")
    home = Path(tempfile.mkdtemp(prefix="nepse-dask-"))
    logs = Path(log_dir) if log_dir else home
    if user is not None:
        pw = pwd.getpwnam(user)
        os.chown(home, pw.pw_uid, pw.pw_gid)
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEPSE_", "PREFECT_"))}
    env.update(HOME=str(home), DASK_TEMPORARY_DIRECTORY=str(home))
    cli = [*_as(user), sys.executable, "-m"]
    procs: list[subprocess.Popen] = []
    try:
        scheduler = [*cli, "distributed.cli.dask_scheduler", "--host", "127.0.0.1"]
        scheduler += ["--port", str(port), "--no-dashboard"]
        procs.append(_start(scheduler, env, logs / "scheduler.log"))
        _wait_port(port, procs[0])
        for i in range(workers):
            argv = [*cli, "distributed.cli.dask_worker", address, "--nthreads", str(threads)]
            argv += ["--no-nanny", "--no-dashboard", "--local-directory", str(home)]
            argv += ["--name", f"worker-{i}"]
            procs.append(_start(argv, env, logs / f"worker-{i}.log"))
        _wait_workers(address, workers)
        yield address
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        shutil.rmtree(home, ignore_errors=True)


def _start(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    with open(log, "ab") as out:
        return subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, cwd="/")


def _wait_port(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise ConfigError(f"the Dask scheduler exited with {proc.returncode}; see its log")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return
        time.sleep(0.2)
    raise ConfigError(f"the Dask scheduler did not listen on port {port} in {timeout:.0f} s")


def _wait_workers(address: str, n: int, timeout: float = 120) -> None:
    from distributed import Client

    with Client(address, timeout=30) as client:
        client.wait_for_workers(n, timeout=timeout)
