"""Benchmark: ingest a synthetic ~444k-row ReadResult into a new database, then again (unchanged).

Run: .venv/bin/python bench/bench_ingest.py [rows_per_symbol] [symbols]
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from nepse.ingest.service import ingest_read
from nepse.schema import ReadResult
from nepse.settings import load_settings
from nepse.store import open_store


def synthetic_read(symbols: int = 339, days: int = 1310, seed: int = 0) -> ReadResult:
    """A random-walk price panel shaped like the ShareSansar folder (one row per symbol-day)."""
    rng = np.random.default_rng(seed)
    n = symbols * days
    dates = [date(2020, 1, 1) + timedelta(days=i) for i in range(days)]
    moves = rng.normal(0, 0.02, n).clip(-0.099, 0.099)
    close = 100 * np.exp(np.cumsum(np.log1p(moves).reshape(symbols, days), axis=1)).ravel()
    prices = pl.DataFrame(
        {
            "symbol": np.repeat([f"S{i:03d}" for i in range(symbols)], days),
            "date": np.tile(np.array(dates, dtype="datetime64[D]"), symbols),
            "open": close * (1 + rng.normal(0, 0.005, n)),
            "high": close * 1.01,
            "low": close * 0.99,
            "close": close,
            "volume": rng.integers(10, 10_000, n).astype(float),
            "turnover": close * 100,
            "trades": rng.integers(1, 100, n),
            "source": "synthetic.csv",
            "line": np.arange(2, n + 2),
        }
    ).with_columns(pl.format("row {}", pl.col("line")).alias("raw"))
    return ReadResult(fmt="synthetic", prices=prices, sources=["synthetic.csv"])


def main() -> None:
    days = int(sys.argv[1]) if len(sys.argv) > 1 else 1310
    symbols = int(sys.argv[2]) if len(sys.argv) > 2 else 339
    read = synthetic_read(symbols, days)
    print(f"rows: {read.rows_read:,}")
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(data_dir=Path(tmp))
        changed = ReadResult(
            fmt="synthetic",
            prices=read.prices.with_columns(volume=pl.col("volume") + 1),
            sources=read.sources,
        )
        runs = [
            ("new database", read),
            ("same again (all unchanged)", read),
            ("every row's volume changed (all updated)", changed),
        ]
        for label, data in runs:
            t0 = time.perf_counter()
            with open_store(settings.database) as store:
                report = ingest_read(store, data, settings=settings, today=date(2026, 4, 30))
            wall = time.perf_counter() - t0
            report.check_identity()
            print(
                f"{label}: ingest {report.seconds:.2f} s (wall incl. open {wall:.2f} s); "
                f"inserted {report.inserted:,} updated {report.updated:,} "
                f"unchanged {report.unchanged:,} flagged {report.flagged}"
            )


if __name__ == "__main__":
    main()
