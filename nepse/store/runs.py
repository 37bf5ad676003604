"""Ingestion runs, quarantined rows, and what kind of data the store holds (sample or real)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import polars as pl

from nepse.errors import DataQualityError
from nepse.schema import DATASET_REAL, DATASET_SAMPLE
from nepse.secrets import secrets
from nepse.store.base import StoreBase

RUN_COLUMNS = (
    "run_id",
    "source",
    "fmt",
    "rows_read",
    "inserted",
    "updated",
    "unchanged",
    "rejected",
    "duplicates",
    "started_at",
    "finished_at",
    "min_date",
    "max_date",
    "symbols",
)


def redact_frame(df: pl.DataFrame, columns: tuple[str, ...]) -> pl.DataFrame:
    """`df` with every registered secret masked in the given text columns."""
    found = secrets()
    if not found:
        return df
    out = []
    for c in columns:
        e = pl.col(c)
        for secret in found:
            e = e.str.replace_all(secret, "***", literal=True)
        out.append(e)
    return df.with_columns(out)


class RunsMixin(StoreBase):
    """ingestion_runs, rejected_prices and store_meta."""

    def _store_rejects(self, rejects: pl.DataFrame, *, run_id: str, ts: datetime) -> None:
        """Insert rejects (secrets masked) not already stored on (source, line, raw, reason)."""
        self._register("_in_rejects", redact_frame(rejects, ("raw", "detail", "source")))
        self._exec(
            """
            INSERT INTO rejected_prices
                (run_id, source, line, raw, reason, detail, ingested_at, date)
            SELECT ?, r.source, r.line, r.raw, r.reason, r.detail, ?, r.date FROM _in_rejects r
            WHERE NOT EXISTS (
                SELECT 1 FROM rejected_prices e
                WHERE e.source IS NOT DISTINCT FROM r.source
                  AND e.line IS NOT DISTINCT FROM r.line
                  AND e.raw IS NOT DISTINCT FROM r.raw
                  AND e.reason = r.reason)
            """,
            [run_id, ts],
        )

    def _record_run(self, report: Any) -> None:
        """Insert the run's row (`report` has the RUN_COLUMNS as attributes)."""
        self._exec(
            f"INSERT INTO ingestion_runs ({', '.join(RUN_COLUMNS)}, status) "
            f"VALUES ({', '.join('?' for _ in RUN_COLUMNS)}, 'ok')",
            [getattr(report, c) for c in RUN_COLUMNS],
        )

    def claim_dataset(self, dataset: str, *, ts: datetime) -> None:
        """Record what this store holds on first use; refuse to mix sample with real data."""
        if dataset not in (DATASET_SAMPLE, DATASET_REAL):
            raise ValueError(f"dataset must be {DATASET_SAMPLE!r} or {DATASET_REAL!r}")
        held = self.dataset()
        if held is None:
            self._exec("INSERT INTO store_meta VALUES ('dataset', ?, ?)", [dataset, ts])
            return
        if held != dataset:
            raise DataQualityError(
                f"database {self.path} holds {held} data and this input is {dataset} data; "
                "generated sample data and real NEPSE data never share a database. Use "
                "another NEPSE_DATA_DIR (or NEPSE_DB_PATH) for the "
                f"{dataset} data; nothing was stored"
            )

    def dataset(self) -> str | None:
        """'sample' or 'real' once anything was ingested; inferred for older databases."""
        rows = self._exec("SELECT value FROM store_meta WHERE key = 'dataset'")
        if rows:
            return rows[0][0]
        # Databases from before store_meta: the sample market lives under <data_dir>/sample/.
        counts = self._exec(
            "SELECT count(*), count(*) FILTER (WHERE source LIKE '%/sample/market-%') FROM prices"
        )[0]
        if not counts[0]:
            return None
        return DATASET_SAMPLE if counts[0] == counts[1] else DATASET_REAL

    # --- readers --------------------------------------------------------------------------
    def reject_reasons_on(self, day: date) -> dict[str, int]:
        """Rejected rows dated `day` per reason code, most frequent first."""
        rows = self._exec(
            "SELECT reason, count(*) AS n FROM rejected_prices WHERE date = ? "
            "GROUP BY 1 ORDER BY n DESC, reason",
            [day],
        )
        return dict(rows)

    def rejects(self, run_id: str | None = None) -> pl.DataFrame:
        """Quarantined rows (of one run, or all), by source and line."""
        sql = "SELECT * FROM rejected_prices"
        params: list[Any] = []
        if run_id is not None:
            sql += " WHERE run_id = ?"
            params.append(run_id)
        return self._frame(sql + " ORDER BY source, line, reason", params)

    def rejects_on(self, day: date) -> int:
        """Rejected rows dated `day` (rows whose date could be read), for the daily gate."""
        return self._exec("SELECT count(*) FROM rejected_prices WHERE date = ?", [day])[0][0]

    def runs(self) -> pl.DataFrame:
        """Ingestion runs, oldest first."""
        return self._frame("SELECT * FROM ingestion_runs ORDER BY started_at, run_id")
