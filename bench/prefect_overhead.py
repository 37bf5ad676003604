"""Issue 7e: Prefect's overhead: the ingest-prices flow against nepse.ingest.service.ingest_path.

The same data (the ShareSansar folder), the same work (read, validate, write to a new
database, then again with every row unchanged), each in a fresh interpreter:

- `plain`: `nepse.ingest.service.ingest_path(settings, path)`; Prefect is never imported.
- `flow`: `flows.ingest.ingest_prices(path=...)` against a running `prefect server start`
  (started and stopped here), i.e. a flow run with its task run, logs and artifact.

For each: the process wall time (interpreter start, imports, the call) and the call alone.
Run: `.venv/bin/python bench/prefect_overhead.py [--repeats N] [--path FOLDER]`
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from common import PYTHON, SHARESANSAR, prefect_server, run, save

PLAIN = """
import json, sys, time
t0 = time.perf_counter()
from pathlib import Path
from nepse.ingest.service import ingest_path
from nepse.settings import load_settings
t_import = time.perf_counter() - t0
s = load_settings(data_dir=Path(sys.argv[1]))
calls = []
for _ in range(2):
    t = time.perf_counter()
    report = ingest_path(s, Path(sys.argv[2]))
    calls.append(time.perf_counter() - t)
print("JSON:" + json.dumps({"import_s": t_import, "calls_s": calls, "rows": report.rows_read}))
"""

FLOW = """
import json, os, sys, time
t0 = time.perf_counter()
os.environ["NEPSE_DATA_DIR"] = sys.argv[1]
from flows.ingest import ingest_prices
t_import = time.perf_counter() - t0
calls = []
for _ in range(2):
    t = time.perf_counter()
    report = ingest_prices(path=sys.argv[2], changed_only=False)  # the same work as ingest_path
    calls.append(time.perf_counter() - t)
print("JSON:" + json.dumps({"import_s": t_import, "calls_s": calls, "rows": report.rows_read}))
"""


def _once(code: str, data_dir: Path, path: Path, env: dict, label: str) -> dict:
    row = run([PYTHON, "-c", code, str(data_dir), str(path)], env=env, label=label)
    line = next(x for x in row.pop("stdout").splitlines() if x.startswith("JSON:"))
    row.pop("stderr")
    out = json.loads(line[5:])
    return {
        **row,
        "import_s": round(out["import_s"], 3),
        "new_database_s": round(out["calls_s"][0], 3),
        "unchanged_s": round(out["calls_s"][1], 3),
    }


def main() -> None:
    """Run plain and flow `repeats` times each; save bench/results/prefect_overhead.json."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--path", type=Path, default=SHARESANSAR)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-overhead-") as tmp, prefect_server() as server:
        for k in range(args.repeats):
            rows.append(
                {
                    "mode": "plain",
                    **_once(PLAIN, Path(tmp) / f"plain-{k}", args.path, {}, f"plain #{k + 1}"),
                }
            )
            rows.append(
                {
                    "mode": "flow",
                    **_once(
                        FLOW, Path(tmp) / f"flow-{k}", args.path, server.env(), f"flow #{k + 1}"
                    ),
                }
            )
    save("prefect_overhead", {"path": str(args.path), "runs": rows})


if __name__ == "__main__":
    main()
