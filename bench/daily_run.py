"""Issue 4 speed (and issue 7c): the daily run on the real data, by stored history length.

Set-up (bench/realdata.py, cached): the ShareSansar folder and CompanyList.csv ingested, a
champion trained with fast settings. Then, for each stored history (all ~30 years, and copies
keeping only the last N years of prices):

- `nepse daily --as-of DAY --source DAY.csv` against a running `prefect server start` (the
  deployed case; target < 15 s). DAY.csv holds the day's ~300 canonical rows, like one day
  fetched from the API.
- The non-Prefect part in a fresh interpreter (bench/daily_parts.py): scoring_frame, load the
  champion, predict, the drift window's features, `import evidently`, run_drift (target < 5 s).
- With all history only: the same command with Prefect's temporary local server.

Prints the ratio of the 15-year to the 2-year run (target at most 1.3).
Run: `.venv/bin/python bench/daily_run.py [--years full 15 5 2 1] [--repeats N] [--work DIR]`
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

from common import BIN, NON_PREFECT, PYTHON, REPO, no_server_env, prefect_server, run, save
from realdata import DEFAULT_WORK, day_file, history_copy, prepare


def daily_cli(data_dir: Path, day: str, day_csv: Path, env: dict, label: str) -> dict:
    """One `nepse daily` command; wall, CPU, peak memory, return code."""
    row = run(
        [str(BIN / "nepse"), "daily", "--as-of", day, "--source", str(day_csv)],
        env={**env, "NEPSE_DATA_DIR": str(data_dir), "COLUMNS": "200"},
        label=label,
        check=False,
        timeout=1800,
    )
    out = row.pop("stdout")
    err = row.pop("stderr")
    if row["returncode"] != 0:
        row["output_tail"] = (out + err)[-1500:]
    return row


def daily_parts(data_dir: Path, day: str, label: str) -> dict:
    """bench/daily_parts.py in a fresh interpreter: each non-Prefect part's timing."""
    row = run(
        [PYTHON, str(REPO / "bench" / "daily_parts.py"), str(data_dir), day],
        label=label,
        timeout=1800,
        check=False,
    )
    if row["returncode"] != 0:
        row["error"] = row.pop("stderr")[-1500:]
        row.pop("stdout")
        return row
    line = next(x for x in row.pop("stdout").splitlines() if x.startswith("JSON:"))
    row.pop("stderr")
    parts = json.loads(line[5:])
    row["parts"] = parts
    row["non_prefect_s"] = round(sum(parts[p]["wall_s"] for p in NON_PREFECT), 3)
    row["non_prefect_cpu_s"] = round(sum(parts[p]["cpu_s"] for p in NON_PREFECT), 3)
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

    results: dict[str, dict] = {}
    with prefect_server() as server:
        server_startup = server.startup_s
        for y, data_dir in variants.items():
            print(f"history: {y} years -> {data_dir}")
            runs = [
                daily_cli(
                    data_dir, day, day_csv, server.env(), f"nepse daily, {y} years, server #{k}"
                )
                for k in range(1, args.repeats + 1)
            ]
            parts = [
                daily_parts(data_dir, day, f"daily parts, {y} years #{k}")
                for k in range(1, args.repeats + 1)
            ]
            results[y] = {"data_dir": str(data_dir), "cli_server": runs, "parts": parts}

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

    def med(y: str, key: str) -> float | None:
        if y not in results:
            return None
        if key == "cli":
            return statistics.median(r["wall_s"] for r in results[y]["cli_server"])
        ok = [r["non_prefect_s"] for r in results[y]["parts"] if "non_prefect_s" in r]
        return statistics.median(ok) if ok else None

    ratios = {}
    for key in ("cli", "non_prefect"):
        a, b = med("15", key), med("2", key)
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
            "ratio_15y_over_2y": ratios,
            "targets": {"cli_server_s": 15.0, "non_prefect_s": 5.0, "ratio": 1.3},
        },
    )


if __name__ == "__main__":
    main()
