"""Issue 28 speed: `nepse replay` over a season, as a user runs it (the CLI, end to end).

Runs `nepse replay --from D --to D --source PATH` in its own process (its output to
`<work>/replay.log`), into `<work>/data` (a fresh NEPSE_DATA_DIR unless `--resume`), with the
project's default settings unless the environment says otherwise. Prints and saves
(bench/results/replay.json): the command's wall and CPU seconds (it and every process it
waited for: the Dask workers, the Evidently side process), the load before and after; then,
from the replay's own record (`<data>/replay/state.json`): each unit's wall seconds, the daily
run's steps (Prefect's task-run durations) summed and their medians, every training's
seconds and how many walk-forward jobs it fitted, the first N sessions' wall seconds with
their trainings (the goal: 60 sessions with weekly retraining in <= 15 min), and the database,
reports and data folder sizes at the end.

Default source: the real ShareSansar folder with CompanyList.csv, copied into `<work>/source`.
Run: `.venv/bin/python bench/replay.py [--from 2025-10-01] [--to 2026-04-02] [--source PATH]
[--work DIR] [--resume] [--sessions 60]`
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import time
from pathlib import Path

from common import BIN, COMPANY_LIST, SHARESANSAR, load1, save

MB = 1024 * 1024


def real_source(work: Path) -> Path:
    """The ShareSansar folder and CompanyList.csv, copied once under `work` (one source)."""
    source = work / "source"
    if not (source / "CompanyList.csv").is_file():
        shutil.rmtree(source, ignore_errors=True)
        shutil.copytree(SHARESANSAR, source)
        shutil.copyfile(COMPANY_LIST, source / "CompanyList.csv")
    return source


def replay_cli(args: argparse.Namespace, source: Path, data: Path, log: Path) -> dict:
    """The `nepse replay` command: wall, CPU (with its children), load, return code."""
    env = {**os.environ, "NEPSE_DATA_DIR": str(data), "COLUMNS": "200"}
    argv = [str(BIN / "nepse"), "replay", "--from", args.start, "--to", args.end]
    argv += ["--source", str(source)]
    before, w0 = load1(), time.perf_counter()
    kids0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    with log.open("a", encoding="utf-8") as out:
        code = subprocess.run(argv, env=env, stdout=out, stderr=subprocess.STDOUT).returncode
    kids1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = kids1.ru_utime + kids1.ru_stime - kids0.ru_utime - kids0.ru_stime
    return {
        "wall_s": round(time.perf_counter() - w0, 1),
        "cpu_s": round(cpu, 1),
        "load_before": before,
        "load_after": load1(),
        "returncode": code,
    }


def from_records(records: list[dict], sessions: int) -> dict:
    """Per-unit and per-step figures from the replay's own records."""
    days = [r for r in records if r.get("day")]
    steps: dict[str, list[float]] = {}
    for r in days:
        for run in r["runs"]:
            for name, sec in run["steps"].items():
                steps.setdefault(f"{run['flow']}: {name}", []).append(sec)
    trainings = [
        {"unit": r["unit"], "trigger": t["trigger"], "as_of": t["as_of"],
         "seconds": t.get("seconds"), "fitted": t.get("fitted"), "status": t.get("status")}
        for r in records for t in r["trainings"]
    ]  # fmt: skip
    daily = [run["seconds"] for r in days for run in r["runs"]]
    first = days[:sessions]
    return {
        "units": len(records),
        "days": len(days),
        "history_unit_s": next((r["seconds"] for r in records if not r.get("day")), None),
        "day_s_median": statistics.median(r["seconds"] for r in days) if days else None,
        "day_s_max": max((r["seconds"] for r in days), default=None),
        "daily_run_s_median": statistics.median(daily) if daily else None,
        "steps_median_s": {k: round(statistics.median(v), 2) for k, v in sorted(steps.items())},
        "steps_total_s": {k: round(sum(v), 1) for k, v in sorted(steps.items())},
        "trainings": trainings,
        f"first_{sessions}_sessions_s": round(sum(r["seconds"] for r in first), 1),
        f"first_{sessions}_sessions_trainings": sum(len(r["trainings"]) for r in first),
        "recorded_s": round(sum(r["seconds"] for r in records), 1),
        "sizes_mb_end": {k: round(v / MB, 1) for k, v in records[-1]["sizes"].items()},
    }


def main() -> None:
    """Run the replay and print its figures."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--from", dest="start", default="2025-10-01")
    p.add_argument("--to", dest="end", default="2026-04-02")
    p.add_argument("--source", type=Path, help="default: the real ShareSansar data")
    p.add_argument("--work", type=Path, default=Path("/tmp/nepse-bench-replay"))
    p.add_argument("--resume", action="store_true", help="continue the replay in --work")
    p.add_argument("--sessions", type=int, default=60)
    args = p.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    source = args.source or real_source(args.work)
    data = args.work / "data"
    if not args.resume:
        shutil.rmtree(data, ignore_errors=True)
        (args.work / "replay.log").unlink(missing_ok=True)
    command = replay_cli(args, source, data, args.work / "replay.log")
    print(f"nepse replay {args.start}..{args.end}: {json.dumps(command)}")
    state = data / "replay" / "state.json"
    records = json.loads(state.read_text())["records"] if state.is_file() else []
    figures = from_records(records, args.sessions) if records else {}
    print(json.dumps(figures, indent=1))
    save("replay", {"source": str(source), "range": [args.start, args.end],
                    "command": command, "figures": figures})  # fmt: skip


if __name__ == "__main__":
    main()
