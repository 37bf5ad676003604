"""Ingestion tasks: write the sample market, load files into DuckDB."""

from __future__ import annotations

from pathlib import Path

from prefect import task
from prefect.artifacts import create_markdown_artifact
from prefect.logging import get_run_logger

from nepse.ingest.service import ingest_path
from tasks.common import IO_RETRY, settings


@task(name="write-sample-market")
def write_sample_market(
    symbols: int | None = None, years: float | None = None, seed: int | None = None
) -> str:
    """Write the deterministic sample market under the data folder (once per size and seed)."""
    from nepse.devdata.sample import write_sample

    s = settings()
    symbols = s.sample_symbols if symbols is None else symbols
    years = s.sample_years if years is None else years
    seed = s.sample_seed if seed is None else seed
    out = s.data_dir / "sample" / f"market-{symbols}x{years:g}y-seed{seed}"
    marker = out / ".complete"
    log = get_run_logger()
    if marker.exists():
        log.info("sample market already at %s", out)
        return str(out)
    summary = write_sample(out, symbols=symbols, years=years, seed=seed)
    marker.write_text("ok\n")
    log.info("sample market written to %s: %s rows, %s symbols", out, summary.rows, summary.symbols)
    return str(out)


@task(name="ingest-files", **IO_RETRY)
def ingest_files(path: str) -> dict:
    """Read NEPSE price files at `path` into DuckDB in one transaction; returns the run counts."""
    s = settings()
    report = ingest_path(s, Path(path))
    report.check_identity()
    get_run_logger().info(
        "ingested %s: read %d, inserted %d, updated %d, unchanged %d, rejected %d, duplicates %d",
        path,
        report.rows_read,
        report.inserted,
        report.updated,
        report.unchanged,
        report.rejected,
        report.duplicates,
    )
    create_markdown_artifact(
        key="ingest-summary",
        markdown=report.to_markdown(),
        description=f"Ingestion of {path}",
    )
    return report.to_dict()
