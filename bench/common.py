"""Benchmark helpers: timers, machine facts, subprocess runs, a Prefect server.

Every figure carries the wall time, the CPU time (user + system, from `resource.getrusage`, this
process and its waited-for children) and the 1-minute load average before and after, because
the numbers in docs/benchmarks.md were measured on a shared 2-core machine. Results go to
`bench/results/<name>.json`; `bench/report.py` turns them into docs/benchmarks.md.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import resource
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

BIN = Path(sys.executable).parent
PYTHON = sys.executable
RESULTS = Path(os.environ.get("NEPSE_BENCH_RESULTS", REPO / "bench" / "results"))
SHARED_DATA = Path(os.environ.get("NEPSE_SHARED_DATA", REPO.parent / "shared" / "data" / "nepse"))
SHARESANSAR = SHARED_DATA / "sharesansar-company-wise"
COMPANY_LIST = SHARED_DATA / "nepse-api-2025-08-30" / "CompanyList.csv"
TIME_BIN = shutil.which("time", path="/usr/bin:/bin")
"""The daily run's non-Prefect parts, as bench/daily_parts.py times them."""


def load1() -> float:
    """The 1-minute load average."""
    return round(os.getloadavg()[0], 2)


def _cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (MB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


@dataclass
class Measure:
    """Wall and CPU seconds of a block, with the load average around it."""

    label: str
    wall_s: float = 0.0
    cpu_s: float = 0.0
    load_before: float = 0.0
    load_after: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready row."""
        return {
            "label": self.label,
            "wall_s": round(self.wall_s, 3),
            "cpu_s": round(self.cpu_s, 3),
            "load_before": self.load_before,
            "load_after": self.load_after,
            **self.extra,
        }


@contextlib.contextmanager
def measure(label: str, **extra: Any) -> Iterator[Measure]:
    """Time the block: wall (perf_counter), CPU (getrusage self + children), load average."""
    m = Measure(label, load_before=load1(), extra=dict(extra))
    c0, w0 = _cpu_seconds(), time.perf_counter()
    try:
        yield m
    finally:
        m.wall_s = time.perf_counter() - w0
        m.cpu_s = _cpu_seconds() - c0
        m.load_after = load1()
        print(
            f"  {label}: wall {m.wall_s:.2f} s, cpu {m.cpu_s:.2f} s, "
            f"load {m.load_before}->{m.load_after}",
            flush=True,
        )


def machine() -> dict[str, Any]:
    """Where the figures were measured: cores, memory, CPU, Python and library versions."""
    import importlib.metadata as md

    mem_gb = None
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    cpu = platform.processor()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    versions = {}
    for pkg in (
        "polars",
        "duckdb",
        "lightgbm",
        "pandas",
        "numpy",
        "scikit-learn",
        "prefect",
        "evidently",
        "pyarrow",
    ):
        with contextlib.suppress(md.PackageNotFoundError):
            versions[pkg] = md.version(pkg)
    return {
        "nproc": os.cpu_count(),
        "memory_gb": mem_gb,
        "cpu": cpu,
        "os": platform.platform(),
        "python": platform.python_version(),
        "versions": versions,
    }


def command_line() -> str:
    """The command that produced the current results (relative to the repo root)."""
    script = Path(sys.argv[0]).resolve()
    with contextlib.suppress(ValueError):
        script = script.relative_to(REPO)
    return " ".join([".venv/bin/python", str(script), *map(shlex.quote, sys.argv[1:])])


def save(name: str, payload: dict[str, Any]) -> Path:
    """Write bench/results/<name>.json with the machine, the command and the time of the run."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    doc = {
        "name": name,
        "command": command_line(),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        **payload,
    }
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(doc, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"results -> {path}")
    return path


# --- subprocesses ---------------------------------------------------------------------------
_TIME_FIELDS = {
    "Maximum resident set size (kbytes)": "peak_rss_mb",
    "User time (seconds)": "user_s",
    "System time (seconds)": "sys_s",
}


def run(
    argv: list[str],
    *,
    env: dict[str, str] | None = None,
    label: str | None = None,
    timeout: float = 3600,
    cwd: Path = REPO,
    check: bool = True,
) -> dict[str, Any]:
    """Run `argv` (under /usr/bin/time -v when present): wall, CPU, peak RSS, load, output."""
    full_env = {**os.environ, **(env or {})}
    full_env = {k: v for k, v in full_env.items() if v is not None}
    wrapped = [TIME_BIN, "-v", *argv] if TIME_BIN else list(argv)
    before = load1()
    w0 = time.perf_counter()
    kids0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(
        wrapped, env=full_env, cwd=cwd, capture_output=True, text=True, timeout=timeout
    )
    wall = time.perf_counter() - w0
    kids1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    row: dict[str, Any] = {
        "label": label or " ".join(argv[-3:]),
        "wall_s": round(wall, 3),
        "cpu_s": round(
            kids1.ru_utime + kids1.ru_stime - kids0.ru_utime - kids0.ru_stime,
            3,
        ),
        "load_before": before,
        "load_after": load1(),
        "returncode": proc.returncode,
    }
    stderr = proc.stderr
    if TIME_BIN:
        for key, name in _TIME_FIELDS.items():
            m = re.search(re.escape(key) + r":\s*([\d.]+)", stderr)
            if m:
                value = float(m.group(1))
                row[name] = round(value / 1024, 1) if name == "peak_rss_mb" else value
        stderr = stderr.split("\tCommand being timed:")[0]
    row["stdout"], row["stderr"] = proc.stdout, stderr
    print(
        f"  {row['label']}: wall {row['wall_s']:.2f} s, cpu {row['cpu_s']:.2f} s, "
        f"peak {row.get('peak_rss_mb', '?')} MB, load {before}->{row['load_after']}, "
        f"rc {proc.returncode}",
        flush=True,
    )
    if check and proc.returncode != 0:
        raise RuntimeError(
            f"{argv} failed with {proc.returncode}:\n{proc.stdout[-3000:]}\n{stderr[-3000:]}"
        )
    return row


def python_snippet(code: str, **kw: Any) -> dict[str, Any]:
    """Run a Python snippet in a fresh interpreter of this venv (see `run`)."""
    return run([PYTHON, "-c", code], **kw)


def importtime(module: str, top: int = 12) -> dict[str, Any]:
    """`python -X importtime -c 'import module'`: total, self time by top-level package, chains."""
    proc = subprocess.run(
        [PYTHON, "-X", "importtime", "-c", f"import {module}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"},
    )
    parsed = []
    for line in proc.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)", line)
        if m:
            parsed.append((int(m.group(1)), int(m.group(2)), len(m.group(3)), m.group(4)))
    by_root: dict[str, int] = {}
    for self_us, _cum, _indent, name in parsed:
        root = name.split(".")[0]
        by_root[root] = by_root.get(root, 0) + self_us
    ranked = sorted(by_root.items(), key=lambda kv: -kv[1])[:top]

    def chain(name: str) -> list[str]:
        """Who first imported `name`: the module, its importer, ... up to the top."""
        for i, (_s, _c, indent, n) in enumerate(parsed):
            if n == name:
                out, cur = [n], indent
                for _s2, _c2, ind2, n2 in parsed[i + 1 :]:
                    if ind2 < cur:
                        out.append(n2)
                        cur = ind2
                return out
        return []

    return {
        "module": module,
        "total_s": round(sum(by_root.values()) / 1e6, 3),
        "by_package": [{"package": k, "seconds": round(v / 1e6, 3)} for k, v in ranked],
        "chains": {
            n: chain(n)
            for n in ("lightgbm", "sklearn", "pandas", "prefect", "evidently")
            if chain(n)
        },
    }


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class PrefectServer:
    """A `prefect server start` on 127.0.0.1 with its own temporary PREFECT_HOME."""

    home: Path
    port: int
    proc: subprocess.Popen
    startup_s: float

    @property
    def api(self) -> str:
        """The PREFECT_API_URL of this server."""
        return f"http://127.0.0.1:{self.port}/api"

    def env(self) -> dict[str, str]:
        """Environment for a client of this server."""
        return {
            "PREFECT_API_URL": self.api,
            "PREFECT_HOME": str(self.home),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        }


@contextlib.contextmanager
def prefect_server(timeout_s: float = 300) -> Iterator[PrefectServer]:
    """Start a Prefect server on a free port (temporary PREFECT_HOME); stop it on exit."""
    with tempfile.TemporaryDirectory(prefix="bench-prefect-") as tmp:
        home = Path(tmp)
        port = free_port()
        env = {
            **os.environ,
            "PREFECT_HOME": str(home),
            "PREFECT_SERVER_API_HOST": "127.0.0.1",
            "PREFECT_SERVER_API_PORT": str(port),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_UI_ENABLED": "false",
        }
        env.pop("PREFECT_API_URL", None)
        log = open(home / "server.log", "w")  # noqa: SIM115 - closed below
        server: PrefectServer | None = None
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped by its id below
        )
        try:
            deadline = time.monotonic() + timeout_s
            url = f"http://127.0.0.1:{port}/api/health"
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(
                        f"prefect server exited: {(home / 'server.log').read_text()}"
                    )
                with (
                    contextlib.suppress(OSError),
                    urllib.request.urlopen(url, timeout=2) as resp,
                ):
                    if resp.status == 200:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"prefect server not healthy after {timeout_s} s")
                time.sleep(0.25)
            server = PrefectServer(home, port, proc, time.perf_counter() - t0)
            print(f"  prefect server on {server.api} after {server.startup_s:.1f} s", flush=True)
            yield server
        finally:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=10)
            log.close()


def no_server_env(home: Path) -> dict[str, str]:
    """Environment for Prefect's temporary local server: no PREFECT_API_URL, own PREFECT_HOME."""
    return {
        "PREFECT_API_URL": None,  # type: ignore[dict-item]  # removed by `run`
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }


def combine(label: str, parts: dict[str, Measure], **extra: Any) -> dict[str, Any]:
    """One result row of timed parts: summed wall and CPU, `<part>_s` walls, load around."""
    timed = list(parts.values())
    return {
        "label": label,
        "wall_s": round(sum(p.wall_s for p in timed), 3),
        "cpu_s": round(sum(p.cpu_s for p in timed), 3),
        **{f"{name}_s": round(p.wall_s, 3) for name, p in parts.items()},
        "load_before": timed[0].load_before,
        "load_after": timed[-1].load_after,
        **extra,
    }


# --- features of a panel too large for memory -------------------------------------------------
def chunked_features(chunks: Iterator[Any], out: Path, **kw: Any) -> dict[str, Any]:
    """tests/unit/features/chunked.py's ChunkedBuild of `chunks` into `out` (keywords: names,
    securities, then, extra), its two passes timed: per-symbol by chunk, then cross-section."""
    from tests.unit.features.chunked import ChunkedBuild

    with ChunkedBuild(out, **kw) as build:
        with measure("per-symbol features, by chunk of symbols") as m1:
            for lf in chunks:
                build.add(lf)
        with measure("cross-section pass (and the last work file written)") as m2:
            build.finish()
    return combine(
        "features by chunk of symbols + cross-section pass (Float32 Arrow IPC work files)",
        {"per_symbol": m1, "cross_section": m2},
        rows=build.rows,
        features_mb=round(sum(p.stat().st_size for p in out.glob("*.arrow")) / 2**20, 1),
    )
