"""A large input is validated and stored in batches, in one transaction, with the same result."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import nepse.ingest.service as service
from nepse.schema import ReadResult
from nepse.settings import load_settings
from nepse.store import open_store

TODAY = date(2026, 4, 30)


def _input() -> pl.DataFrame:
    rows = []
    for i in range(40):
        for d in range(12):
            day = date(2026, 1, 5) + timedelta(days=d)
            close = 100.0 + (i * 7 + d * 3) % 11
            rows.append(
                (
                    f"S{i:02d}",
                    day,
                    close,
                    close + 1,
                    close - 1,
                    close,
                    10.0 + d + i,
                    close * (10 + d + i),
                )
            )
    frame = pl.DataFrame(
        rows,
        schema=["symbol", "date", "open", "high", "low", "close", "volume", "turnover"],
        orient="row",
    )
    extra = pl.concat(
        [
            frame.filter(pl.col("symbol") == "S03").head(2),  # exact copies: counted
            frame.filter(pl.col("symbol") == "S07").head(1).with_columns(close=pl.lit(999.0)),
            frame.filter(pl.col("symbol") == "S09").head(1).with_columns(close=pl.lit(-1.0)),
        ]
    )
    return pl.concat([frame, extra]).with_columns(
        source=pl.lit("in.csv"), line=pl.int_range(2, pl.len() + 2, dtype=pl.Int64)
    )


def _ingest(tmp_path, name):
    settings = load_settings(data_dir=tmp_path / name)
    read = ReadResult(fmt="canonical", prices=_input(), sources=["in.csv"])
    with open_store(settings.database) as store:
        report = service.ingest_read(store, read, settings=settings, today=TODAY)
        stored = store.prices().drop("ingested_at", "run_id")
        rejects = store.rejects().select("line", "reason").sort("line")
    return report, stored, rejects


@pytest.mark.parametrize("batch", [7, 100, 333])
def test_batches_store_what_one_pass_stores(tmp_path, monkeypatch, batch):
    whole, stored, rejects = _ingest(tmp_path, "whole")
    monkeypatch.setattr(service, "BATCH_ROWS", batch)
    parts, stored_b, rejects_b = _ingest(tmp_path, f"batch-{batch}")
    assert_frame_equal(stored_b, stored)
    assert_frame_equal(rejects_b, rejects)
    keep = ("rows_read", "inserted", "updated", "unchanged", "rejected", "duplicates", "symbols")
    assert {k: getattr(parts, k) for k in keep} == {k: getattr(whole, k) for k in keep}
    assert (parts.reasons, parts.min_date, parts.max_date) == (
        whole.reasons,
        whole.min_date,
        whole.max_date,
    )
    assert whole.duplicates == 2 and whole.reasons == {
        "conflicting_duplicate": 2,
        "nonpositive_price": 1,
    }
