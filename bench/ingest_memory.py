"""Benchmark: peak memory of ingesting one large price file (issue 25: 200 MB under 1.5 GB).

Run: .venv/bin/python bench/ingest_memory.py [--mb 200] [--rounds 2]

Writes a canonical CSV of about `--mb` MB (a random-walk market, 1,200 days of as many symbols
as it takes; not timed), then ingests it into a new database with `nepse.ingest.service.
ingest_path` in a fresh process under /usr/bin/time -v, and again into the same database (every
row unchanged). Prints each run's peak resident memory (`Maximum resident set size`), wall and
CPU time and the load average before and after, and saves them to
bench/results/ingest_memory.json. Before issue 25 the same file peaked at 3.6-3.9 GB (19x).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import PYTHON, machine, run, save

DAYS = 1200
INGEST = (
    "import sys; from datetime import date; from nepse.ingest.service import ingest_path; "
    "from nepse.settings import load_settings; "
    "r = ingest_path(load_settings(data_dir=sys.argv[2]), sys.argv[1], today=date(2026, 12, 1)); "
    "print(r.rows_read, r.inserted, r.unchanged, r.rejected)"
)


def write_file(path: Path, megabytes: float, seed: int = 0) -> int:
    """A canonical CSV of about `megabytes` MB (62 bytes a row); returns its rows."""
    rng = np.random.default_rng(seed)
    symbols = int(megabytes * 1e6 / (62 * DAYS)) + 1
    n = symbols * DAYS
    days = np.array([date(2020, 1, 1) + timedelta(days=i) for i in range(DAYS)], "datetime64[D]")
    walk = np.cumsum(rng.normal(0, 0.01, (symbols, DAYS)), axis=1)
    close = np.round(100 * np.exp(walk).ravel(), 2)
    volume = rng.integers(10, 100_000, n)
    pl.DataFrame(
        {
            "symbol": np.repeat([f"S{i:04d}" for i in range(symbols)], DAYS),
            "date": np.tile(days, symbols),
            "open": close,
            "high": np.round(close * 1.01, 2),
            "low": np.round(close * 0.99, 2),
            "close": close,
            "volume": volume,
            "turnover": np.round(close * volume, 2),
            "trades": rng.integers(1, 100, n),
        }
    ).write_csv(path)
    return n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=200.0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "prices.csv"
        rows = write_file(path, args.mb)
        size = path.stat().st_size / 1e6
        print(f"file: {size:.1f} MB, {rows:,} rows")
        results = []
        for n in range(args.rounds):
            data = Path(tmp) / f"data-{n}"
            for label in ("new database", "same file again (unchanged)"):
                row = run([PYTHON, "-c", INGEST, str(path), str(data)], label=label)
                row["rows_read, inserted, unchanged, rejected"] = row.pop("stdout").strip()
                row.pop("stderr")
                row["peak_over_file"] = round(row.get("peak_rss_mb", 0) / size, 2)
                results.append(row)
        worst = max(r.get("peak_rss_mb", 0) for r in results)
        print(f"peak over all runs: {worst:.0f} MB for a {size:.0f} MB file ({worst / size:.1f}x)")
        save(
            "ingest_memory",
            {"file_mb": round(size, 1), "rows": rows, "runs": results, "machine": machine()},
        )


if __name__ == "__main__":
    main()
