"""A replay's database as comparable content: every table, run-specific values taken out.

Run-specific (differ between two runs of the same replay, so left out or normalised):
- ids of runs: `run_id`, `flow_run_id`, `superseded_by` (the run id of a correction);
- wall-clock timestamps: every `*_at` column (`created_at`, `ingested_at`, `evaluated_at`,
  `recorded_at`, `detected_at`, `updated_at`, `revised_at`, `started_at`, `finished_at`,
  `promoted_at`, `applied_at`) and the staged files' `mtime_ns`;
- model versions (a UTC timestamp of the training plus a hash): replaced by `model-<n>`, n the
  model's place in the registry by training day then registration;
- the data folder's absolute path (in sources, file paths and report paths): `<data>`.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl

DROP = {"run_id", "flow_run_id", "superseded_by", "mtime_ns"}


def content(data_dir: Path) -> dict[str, pl.DataFrame]:
    """Every table of `data_dir`'s database, run-specific values taken out, rows sorted."""
    con = duckdb.connect(str(data_dir / "nepse.duckdb"), read_only=True)
    try:
        tables = [r[0] for r in con.execute("SHOW TABLES").fetchall()]
        frames = {t: con.sql(f"SELECT * FROM {t}").pl() for t in tables}
        versions = [
            r[0]
            for r in con.execute("SELECT version FROM models ORDER BY as_of, created_at").fetchall()
        ]
    finally:
        con.close()
    names = {v: f"model-{i + 1}" for i, v in enumerate(versions)}
    root = str(data_dir.resolve())
    out = {}
    for table, frame in frames.items():
        keep = [c for c in frame.columns if c not in DROP and not c.endswith("_at")]
        frame = frame.select(keep)
        text = [c for c, t in frame.schema.items() if t == pl.String]
        for column in text:
            expr = pl.col(column).str.replace_all(root, "<data>", literal=True)
            for version, name in names.items():
                expr = expr.str.replace_all(version, name, literal=True)
            frame = frame.with_columns(expr)
        out[table] = frame.sort(frame.columns, nulls_last=True) if frame.columns else frame
    return out
