"""Issue 4 speed (and issue 7c): the daily run on the real data, by stored history length.

Set-up (bench/realdata.py, cached): the ShareSansar folder and CompanyList.csv ingested, a
champion trained with fast settings. Then, for each stored history (all ~30 years, and copies
keeping only the last N years of prices):

- `nepse daily --as-of DAY --source DAY.csv` against a running `prefect server start`, as
  `nepse server start` runs it (the deployed case; target <= 8 s); each run imports Evidently
  in its own side process (nepse/monitoring/side.py) while it scores. DAY.csv holds the day's
  ~300 canonical rows, like one day fetched from the API. Each step's own seconds come from
  the run's log lines (`step NAME: W s (CPU C s)`, tasks/common.timed).
- The non-Prefect part (target <= 3 s): those steps' seconds plus importing the pipeline's
  modules, which bench/daily_parts.py times in a fresh interpreter after `import prefect`.
- With all history only: the same command with Prefect's temporary local server.

The histories take turns in `--repeats` rounds; the ratio of the 15-year to the 2-year run
(target at most 1.3) compares each size's fastest run, as the goals use the fastest.
Run: `.venv/bin/python bench/daily_run.py [--years full 15 5 2 1] [--repeats N] [--work DIR]`
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import tempfile
from pathlib import Path

from common import BIN, PYTHON, REPO, no_server_env, prefect_server, run, save
from realdata import DEFAULT_WORK, day_file, history_copy, prepare

STEP = re.compile(r"step (\w+): ([0-9.]+) s \(CPU ([0-9.]+) s\)")


def daily_cli(data_dir: Path, day: str, day_csv: Path, env: dict, label: str) -> dict:
    """One `nepse daily` command: wall, CPU (with its Evidently side process), peak memory,
    return code, and each step's own seconds as the run logged them (tasks/common.timed)."""
    row = run(
        [str(BIN / "nepse"), "daily", "--as-of", day, "--source", str(day_csv)],
        env={**env, "NEPSE_DATA_DIR": str(data_dir), "COLUMNS": "200"},
        label=label,
        check=False,
        timeout=1800,
    )
    out = row.pop("stdout")
    err = row.pop("stderr")
    steps = {m[1]: {"wall_s": float(m[2]), "cpu_s": float(m[3])} for m in STEP.finditer(out + err)}
    row["steps"] = steps
    row["steps_wall_s"] = round(sum(v["wall_s"] for v in steps.values()), 3)
    row["steps_cpu_s"] = round(sum(v["cpu_s"] for v in steps.values()), 3)
    if row["returncode"] != 0:
        row["output_tail"] = (out + err)[-1500:]
    return row


def imports(label: str) -> dict:
    """bench/daily_parts.py in a fresh interpreter: prefect, the pipeline, evidently."""
    row = run([PYTHON, str(REPO / "bench" / "daily_parts.py")], label=label, check=False)
    line = next((x for x in row.pop("stdout").splitlines() if x.startswith("JSON:")), None)
    row.pop("stderr")
    row["parts"] = json.loads(line[5:]) if line else {}
    return row


def main() -> None:
    """Run the daily benchmarks and save bench/results/daily_run.json."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--years", nargs="+", default=["15", "5", "2", "1"])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--no-temporary-server", action="store_true")
    args = parser.parse_args()

    print("set-up: real data ingested, champion trained (cached)")
    info = prepare(args.work)
    day = info["as_of"]
    day_csv = day_file(args.work, __import__("datetime").date.fromisoformat(day))
    variants = {}
    for y in args.years:
        variants[y] = args.work / "full" if y == "full" else history_copy(args.work, float(y))

    with prefect_server() as server:
        server_startup = server.startup_s
        # In rounds, the history sizes taking turns: every size's runs fall in the same
        # minutes of a VM whose speed drifts (the 15 y / 2 y ratio compared two machines when
        # one size's runs followed the other's).
        results = {y: {"data_dir": str(d), "cli_server": []} for y, d in variants.items()}
        for k in range(1, args.repeats + 1):
            for y, data_dir in variants.items():
                print(f"history: {y} years -> {data_dir} (round {k}/{args.repeats})")
                r = daily_cli(
                    data_dir, day, day_csv, server.env(), f"nepse daily, {y} years, server #{k}"
                )
                print(f"    steps: {r['steps']}")
                results[y]["cli_server"].append(r)

    if not args.no_temporary_server:
        y = args.years[0]
        with tempfile.TemporaryDirectory(prefix="bench-prefect-home-") as home:
            results[y]["cli_temporary_server"] = [
                daily_cli(
                    variants[y],
                    day,
                    day_csv,
                    no_server_env(Path(home)),
                    f"nepse daily, {y} years, temporary server #{k} "
                    f"({'fresh' if k == 1 else 'warm'} PREFECT_HOME)",
                )
                for k in (1, 2)
            ]

    imp = [imports(f"imports #{k}") for k in range(1, args.repeats + 1)]
    pipeline_import = statistics.median(r["parts"]["import_pipeline"]["wall_s"] for r in imp)
    for res in results.values():
        for r in res["cli_server"]:
            # The non-Prefect part: the steps' own work plus importing the pipeline's modules.
            r["non_prefect_s"] = round(r["steps_wall_s"] + pipeline_import, 3)

    def best(y: str, key: str) -> float | None:
        """The fastest run's figure: the cost without the VM's slow moments, as for the goal."""
        if y not in results:
            return None
        return min(r[key] for r in results[y]["cli_server"])

    ratios = {}
    for key in ("wall_s", "non_prefect_s"):
        a, b = best("15", key), best("2", key)
        ratios[key] = round(a / b, 3) if a and b else None
    print(f"15y / 2y ratio: {ratios}")
    save(
        "daily_run",
        {
            "setup": info,
            "as_of": day,
            "day_csv": str(day_csv),
            "server_startup_s": round(server_startup, 2),
            "results": results,
            "imports": imp,
            "ratio_15y_over_2y": ratios,
            "targets": {"cli_server_s": 8.0, "non_prefect_s": 3.0, "ratio": 1.3},
        },
    )


if __name__ == "__main__":
    main()
