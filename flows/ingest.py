"""Flow `ingest-prices`: load NEPSE price files (or the generated sample market) into DuckDB."""

from __future__ import annotations

from prefect import flow

from runs.names import ingest_run_name
from tasks.ingest import ingest_files, write_sample_market


@flow(name="ingest-prices", flow_run_name=ingest_run_name, log_prints=True)
def ingest_prices(
    path: str | None = None,
    sample_symbols: int | None = None,
    sample_years: float | None = None,
    sample_seed: int | None = None,
    changed_only: bool = True,
):
    """Ingest NEPSE daily prices into the DuckDB store, every bad row accounted for.

    Args:
        path: File or folder of NEPSE price files (ShareSansar, legacy nepalstock export,
            Today's Price, CompanyList.csv or the canonical CSV/Parquet; the format is detected
            from each file's header). Empty: the generated sample market.
        sample_symbols: Sample market size in equities (only when `path` is empty; default
            NEPSE_SAMPLE_SYMBOLS, 250).
        sample_years: Sample market history in years (only when `path` is empty; default
            NEPSE_SAMPLE_YEARS, 6).
        sample_seed: Sample market seed (only when `path` is empty; default NEPSE_SAMPLE_SEED).
        changed_only: Read only the files of a folder that changed since its last ingestion
            (by size, modification time and SHA-256). Off: read every file again, e.g. after
            changing an ingestion rule such as NEPSE_OHLC_POLICY.
    """
    if not path:
        path = write_sample_market(sample_symbols, sample_years, sample_seed)
    return ingest_files(path, changed_only)
