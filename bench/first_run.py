"""Issue 15: does `./run demo` work on the first try, every time, and how long does it take?

Each try is a new user's first run: a fresh `PREFECT_HOME` (Prefect's SQLite database not yet
created or migrated) and a fresh data directory (no database, no model: the demo trains its
first champion). `./run demo` starts the local Prefect server itself (`nepse server start`,
which migrates the new database) and leaves it running; the try stops it afterwards. The
environment is already set up (`./run setup` ran before): the figure is "demo after set-up".

Prints each try's return code, wall and CPU time (the command and every process it waited for:
the server runs detached and is not counted) and the demo's own
"done in N s" line, then "k of N first tries succeeded" and the median wall time (goal: 10 of
10, <= 60 s).
Run: `.venv/bin/python bench/first_run.py [--tries 10]`; results in bench/results/first_run.json.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import tempfile
from pathlib import Path

from common import REPO, load1, run, save

DONE = re.compile(r"done in (\d+) s")


def one_try(k: int) -> dict:
    """One first run in fresh folders; the server it started is stopped before returning."""
    with tempfile.TemporaryDirectory(prefix=f"first-run-{k}-") as tmp:
        home, data = Path(tmp) / "prefect-home", Path(tmp) / "data"
        env = {
            **os.environ,
            "PREFECT_HOME": str(home),
            "NEPSE_DATA_DIR": str(data),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "COLUMNS": "200",
        }
        for key in ("PREFECT_API_URL", "NEPSE_SOURCE"):
            env.pop(key, None)
        try:
            row = run([str(REPO / "run"), "demo"], env=env, label=f"try {k}", check=False)
        finally:
            subprocess.run(
                [str(REPO / "run"), "nepse", "server", "stop"],
                env=env,
                capture_output=True,
                timeout=120,
                check=False,
            )
        out = row.pop("stdout") + row.pop("stderr")
        done = DONE.search(out)
        row["demo_done_s"] = int(done[1]) if done else None
        row["server_started"] = "starting a local Prefect server" in out or "Prefect UI:" in out
        if row["returncode"] != 0:
            row["output_tail"] = out[-2000:]
        return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tries", type=int, default=10)
    args = ap.parse_args()
    subprocess.run([str(REPO / "run"), "setup"], check=True)
    tries = []
    for k in range(1, args.tries + 1):
        row = one_try(k)
        tries.append(row)
        print(
            f"try {k}: rc {row['returncode']}, wall {row['wall_s']:.1f} s, CPU "
            f"{row['cpu_s']:.1f} s, demo says {row['demo_done_s']} s, load {row['load_before']}"
            f"->{row['load_after']}",
            flush=True,
        )
    ok = [r for r in tries if r["returncode"] == 0]
    walls = [r["wall_s"] for r in ok]
    summary = {
        "tries": len(tries),
        "succeeded": len(ok),
        "median_wall_s": round(statistics.median(walls), 1) if walls else None,
        "max_wall_s": round(max(walls), 1) if walls else None,
        "median_cpu_s": round(statistics.median(r["cpu_s"] for r in ok), 1) if ok else None,
        "load_end": load1(),
        "targets": {"succeeded": "all", "wall_s": 60.0},
    }
    print(
        f"{summary['succeeded']} of {summary['tries']} first tries succeeded; median wall "
        f"{summary['median_wall_s']} s (max {summary['max_wall_s']} s, goal <= 60 s), median "
        f"CPU {summary['median_cpu_s']} s"
    )
    save("first_run", {"summary": summary, "runs": tries})


if __name__ == "__main__":
    main()
