"""A folder source ingests only the files that changed since its last ingestion."""

from __future__ import annotations

import os
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from nepse.ingest.changes import ingest_changes

TODAY = date(2021, 2, 1)
HEADER = "date,open,high,low,ltp,percent_change,qty,turnover"
DAYS = [date(2021, 1, 3) + timedelta(days=i) for i in range(5)]


def _write(root: Path, symbol: str, base: float, days: list[date] = DAYS) -> Path:
    folder = root / symbol
    folder.mkdir(parents=True, exist_ok=True)
    rows = [
        f"{d},{base},{base + 5},{base - 5},{base + i},0,100,{(base + i) * 100}"
        for i, d in enumerate(days)
    ]
    path = folder / "prices.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n")
    return path


@pytest.fixture
def folder(tmp_path) -> Path:
    root = tmp_path / "sharesansar"
    for n, symbol in enumerate(("ADBL", "NABIL", "NICA")):
        _write(root, symbol, 100.0 * (n + 1))
    return root


def _ingest(settings, folder, **kw):
    return ingest_changes(settings, folder, today=TODAY, **kw)


def _closes(settings, symbol: str) -> list[float]:
    con = duckdb.connect(str(settings.database), read_only=True)
    try:
        rows = con.execute(
            "SELECT close FROM prices WHERE symbol = ? ORDER BY date", [symbol]
        ).fetchall()
    finally:
        con.close()
    return [r[0] for r in rows]


def test_a_second_ingestion_of_an_unchanged_folder_reads_nothing(settings, folder):
    first, changes = _ingest(settings, folder)
    assert first.rows_read == 15 and first.inserted == 15 and len(changes.to_read) == 3
    again, changes = _ingest(settings, folder)
    assert again.rows_read == 0 and again.fmt == "unchanged"
    assert changes.to_read == () and changes.unchanged == 3 and changes.removed == ()
    again.check_identity()


def test_a_touched_file_is_not_read_a_changed_one_is_read_whole(settings, folder):
    _ingest(settings, folder)
    touched = folder / "ADBL" / "prices.csv"
    os.utime(touched, ns=(touched.stat().st_atime_ns, touched.stat().st_mtime_ns + 10**9))
    report, changes = _ingest(settings, folder)
    assert report.rows_read == 0 and changes.unchanged == 3  # same content: re-stamped only
    _, changes = _ingest(settings, folder)
    assert changes.restamped == {} and changes.unchanged == 3  # the new stamp was recorded

    _write(folder, "NABIL", 250.0)  # a corrected file: new closes for every day
    report, changes = _ingest(settings, folder)
    assert [p.parent.name for p in changes.to_read] == ["NABIL"]
    assert report.rows_read == 5 and report.updated == 5
    assert _closes(settings, "NABIL") == [250.0, 251.0, 252.0, 253.0, 254.0]
    assert _closes(settings, "ADBL") == [100.0, 101.0, 102.0, 103.0, 104.0]


def test_a_new_file_is_read_and_a_removed_one_reported(settings, folder, caplog):
    _ingest(settings, folder)
    _write(folder, "SHIVM", 400.0)
    gone = folder / "NICA" / "prices.csv"
    gone.unlink()
    with caplog.at_level("WARNING", logger="nepse.ingest.changes"):
        report, changes = _ingest(settings, folder)
    assert [p.parent.name for p in changes.to_read] == ["SHIVM"] and report.inserted == 5
    assert changes.removed == (str(gone.resolve()),)
    assert "gone (their prices stay stored)" in caplog.text and str(gone.resolve()) in caplog.text
    assert len(_closes(settings, "NICA")) == 5
    _, changes = _ingest(settings, folder)
    assert changes.removed == ()  # reported once, then forgotten


def test_changed_only_false_reads_every_file_again(settings, folder):
    _ingest(settings, folder)
    report, changes = _ingest(settings, folder, changed_only=False)
    assert report.rows_read == 15 and report.unchanged == 15 and len(changes.to_read) == 3


def test_a_single_file_is_read_as_before(settings, folder):
    report, changes = _ingest(settings, folder / "ADBL" / "prices.csv")
    assert changes is None and report.rows_read == 5
