"""Issue 2 speed: ingest the real ShareSansar folder, without and with Prefect.

1. The ingestion work in this process (nepse.sources.readers.read_path + Store.ingest, no Prefect):
   a new database (target < 10 s), then the same folder again, all unchanged (target < 5 s).
2. The whole `nepse ingest PATH` command, new database then unchanged, (a) with Prefect's
   temporary local server (no PREFECT_API_URL; a fresh PREFECT_HOME, so its first command also
   creates Prefect's database) and (b) against a running `prefect server start` on a free
   127.0.0.1 port (started and stopped here; its start-up is reported, not counted).
   The CLI's own split (ingestion work / imports / Prefect start-up and bookkeeping) is parsed.
3. `python -X importtime` of what the command imports.

Run: `.venv/bin/python bench/ingest_real.py [--repeats N] [--path FOLDER]`
"""

from __future__ import annotations

import argparse
import re
import tempfile
from datetime import date
from pathlib import Path

from common import (
    BIN,
    PYTHON,
    SHARESANSAR,
    importtime,
    measure,
    no_server_env,
    prefect_server,
    python_snippet,
    run,
    save,
)

CLI_LINE = re.compile(
    r"ingestion work ([\d.]+) s; whole command ([\d.]+) s \(imports ([\d.]+) s, "
    r"Prefect start-up and bookkeeping ([\d.]+) s\)"
)


def ingestion_work(path: Path, repeats: int) -> list[dict]:
    """read_path + Store.ingest in this process: a new database, then unchanged, `repeats` times."""
    from nepse.ingest.service import ingest_read
    from nepse.settings import load_settings
    from nepse.sources.readers import read_path
    from nepse.store import open_store

    rows = []
    for k in range(repeats):
        with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
            settings = load_settings(data_dir=Path(tmp))
            for case in ("new database", "again, all unchanged"):
                with measure(f"{case} (run {k + 1})") as total:
                    with measure("  read") as m_read:
                        read = read_path(path)
                    with (
                        measure("  validate + write") as m_write,
                        open_store(settings.database) as store,
                    ):
                        report = ingest_read(
                            store, read, settings=settings, today=date.today(), source=str(path)
                        )
                rows.append(
                    {
                        **total.as_dict(),
                        "case": case,
                        "run": k + 1,
                        "read_s": round(m_read.wall_s, 3),
                        "validate_write_s": round(m_write.wall_s, 3),
                        "store_ingest_s": round(report.seconds, 3),
                        "rows_read": report.rows_read,
                        "inserted": report.inserted,
                        "unchanged": report.unchanged,
                        "rejected": report.rejected,
                        "symbols": report.symbols,
                    }
                )
    return rows


def cli_runs(path: Path, env: dict, mode: str, data_root: Path, repeats: int) -> list[dict]:
    """`nepse ingest PATH` into a new database, then again unchanged; the CLI's split parsed."""
    rows = []
    for k in range(repeats):
        data_dir = data_root / f"{mode}-{k}"
        for case in ("new database", "again, all unchanged"):
            row = run(
                [str(BIN / "nepse"), "ingest", str(path)],
                env={**env, "NEPSE_DATA_DIR": str(data_dir), "COLUMNS": "200"},
                label=f"nepse ingest, {mode}, {case} (run {k + 1})",
                check=False,
            )
            out, err = row.pop("stdout"), row.pop("stderr")
            m = CLI_LINE.search(out)
            if row["returncode"] != 0:
                row["output_tail"] = (out + err)[-1200:]
            if m:
                work, whole, imports, prefect = map(float, m.groups())
                row.update(
                    ingestion_work_s=work,
                    cli_whole_s=whole,
                    cli_imports_s=imports,
                    prefect_startup_bookkeeping_s=prefect,
                )
            rows.append({**row, "mode": mode, "case": case, "run": k + 1})
    return rows


def main() -> None:
    """Run every measurement and save bench/results/ingest_real.json."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--path", type=Path, default=SHARESANSAR)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    if not args.path.exists():
        raise SystemExit(f"{args.path} not found: set NEPSE_SHARED_DATA or pass --path")

    print("1. ingestion work, in process (no Prefect)")
    work = ingestion_work(args.path, args.repeats)

    print("2a. nepse ingest with Prefect's temporary local server")
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as tmp:
        tmp = Path(tmp)
        home = tmp / "prefect-home"
        home.mkdir()
        cli = cli_runs(args.path, no_server_env(home), "temporary server", tmp, args.repeats)
        print("2b. nepse ingest against a running prefect server")
        with prefect_server() as server:
            server_startup = server.startup_s
            cli += cli_runs(args.path, server.env(), "running server", tmp, args.repeats)

    print("3. import times")
    baseline = python_snippet("pass", label="python -c pass")
    imports = {
        "python_startup_s": baseline["wall_s"],
        "modules": [importtime(m) for m in ("flows.cli", "prefect", "flows.ingest")],
    }
    for m in imports["modules"]:
        print(f"  import {m['module']}: {m['total_s']} s; top {m['by_package'][:5]}")
    cold = python_snippet(
        "import time; t=time.perf_counter(); import flows.ingest; print(time.perf_counter()-t)",
        label="import flows.ingest (wall)",
    )
    imports["flows_ingest_wall_s"] = float(cold["stdout"].strip() or 0)

    save(
        "ingest_real",
        {
            "path": str(args.path),
            "python": PYTHON,
            "work": work,
            "cli": cli,
            "server_startup_s": round(server_startup, 2),
            "imports": imports,
            "targets": {"new_database_s": 10.0, "unchanged_s": 5.0, "running_server_overhead_s": 2},
        },
    )


if __name__ == "__main__":
    main()
