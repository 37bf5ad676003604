"""A daily run's ingest from a folder: whole folder (before) vs only what changed (after).

Copies the ShareSansar company-wise folder (339 files, 443,917 rows) to a temporary place,
ingests it once, then times `nepse.app.ingest.ingest_files` the way a daily run calls it:

- before: every file read again (`nepse.ingest.service.ingest_path`, what each daily run did
  until now; `changed_only=False` does the same plus the files' hashes);
- after, nothing changed: the stamps are compared, nothing is read;
- after, one file changed (one day appended to one symbol): that file alone is read.

Run: `.venv/bin/python bench/ingest_changes.py [ROUNDS]`; prints wall seconds and the load.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from common import RESULTS, SHARESANSAR


def _load() -> float:
    return os.getloadavg()[0]


def main() -> None:
    from nepse.app.ingest import ingest_files
    from nepse.ingest.service import ingest_path
    from nepse.settings import load_settings

    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    work = Path(tempfile.mkdtemp(prefix="nepse-ingest-changes-"))
    try:
        folder = work / "sharesansar"
        shutil.copytree(SHARESANSAR, folder)
        s = load_settings(data_dir=work / "data")
        t = time.perf_counter()
        first = ingest_files(s, folder, changed_only=False)
        print(f"first ingestion: {first.rows_read:,} rows in {time.perf_counter() - t:.2f} s")
        out: dict[str, list] = {"before": [], "after_unchanged": [], "after_one_file": []}
        one = sorted(folder.glob("*/prices.csv"))[0]
        for n in range(rounds):
            for name, ingest in (
                ("before", lambda: ingest_path(s, folder)),
                ("after_unchanged", lambda: ingest_files(s, folder)),
            ):
                load, t = _load(), time.perf_counter()
                report = ingest()
                out[name].append([round(time.perf_counter() - t, 3), report.rows_read, load])
            with one.open("a") as fh:  # a new day for one symbol
                fh.write(f"{date(2030, 1, 1 + n)},100,101,99,100,0,10,1000\n")
            load, t = _load(), time.perf_counter()
            report = ingest_files(s, folder)
            out["after_one_file"].append(
                [round(time.perf_counter() - t, 3), report.rows_read, load]
            )
        for name, rows in out.items():
            secs = [r[0] for r in rows]
            print(
                f"{name:16s} {min(secs):6.2f}-{max(secs):6.2f} s, rows read {rows[0][1]:,}, "
                f"load {', '.join(f'{r[2]:.1f}' for r in rows)}"
            )
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "ingest_changes.json").write_text(json.dumps(out, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
