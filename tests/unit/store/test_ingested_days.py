"""Migration 10: `ingested_days`, written with the day's prices, never downgraded."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from nepse.ingest.service import ingest_read
from nepse.schema import ReadResult
from nepse.store import DayRecord, open_store

DAY = date(2025, 8, 28)


def one_day() -> ReadResult:
    rows = [
        ("x", 1, "raw", "ADBL", DAY, 300.0, 305.0, 298.0, 301.0, 1000.0, 301000.0, 10),
        ("x", 2, "raw", "NABIL", DAY, 500.0, 510.0, 495.0, 505.0, 200.0, 101000.0, 5),
    ]
    cols = ["source", "line", "raw", "symbol", "date", "open", "high", "low", "close"]
    cols += ["volume", "turnover", "trades"]
    frame = pl.DataFrame(rows, schema=cols, orient="row")
    return ReadResult(fmt="nepse_api", prices=frame, sources=["x"])


def test_ok_day_is_recorded_in_the_ingest_transaction(settings):
    with open_store(settings.database) as store:
        assert store.schema_version() >= 5
        report = ingest_read(
            store, one_day(), settings=settings, today=DAY, day=DayRecord(DAY, "api", pages=1)
        )
        days = store.ingested_days()
        assert store.complete_days("api") == {DAY}
        assert store.complete_days("elsewhere") == set()
    assert days.select("date", "source", "status", "run_id", "rows_read", "pages").row(0) == (
        DAY,
        "api",
        "ok",
        report.run_id,
        2,
        1,
    )


def test_a_failed_ingest_records_no_day(settings):
    def boom(stage: str) -> None:
        if stage == "run":
            raise RuntimeError("killed after the run row")

    with open_store(settings.database) as store:
        with pytest.raises(RuntimeError):
            ingest_read(
                store, one_day(), settings=settings, today=DAY, on_stage=boom, day=DayRecord(DAY)
            )
        assert store.ingested_days().height == 0
        assert store.prices().height == 0


@pytest.mark.parametrize(
    ("first", "then", "stored"),
    [
        ("ok", "market_open", "ok"),
        ("ok", "holiday", "ok"),  # rows are stored: never a holiday
        ("holiday", "not_yet", "holiday"),
        ("holiday", "failed", "holiday"),
        ("holiday", "ok", "ok"),  # data published late: upgrade
        ("market_open", "not_yet", "not_yet"),
        ("failed", "market_open", "market_open"),
        ("not_yet", "holiday", "holiday"),
    ],
)
def test_upsert_never_downgrades_a_complete_day(settings, first, then, stored):
    with open_store(settings.database) as store:
        store.record_day(DayRecord(DAY, "api", first))
        assert store.record_day(DayRecord(DAY, "api", then, pages=3)) == stored
        days = store.ingested_days("api")
    assert days["status"].to_list() == [stored]


def test_unknown_status_is_refused(settings):
    with open_store(settings.database) as store, pytest.raises(ValueError, match="status"):
        store.record_day(DayRecord(DAY, "api", "done"))
