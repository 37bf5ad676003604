"""A large file read in slices gives exactly what a whole read gives (nepse/sources/bigfile.py).

The slice size is made tiny here, so a few kilobytes take many slices; the real sizes only
change how many."""

from __future__ import annotations

from datetime import date

import pytest
from polars.testing import assert_frame_equal

from nepse.ingest.service import ingest_path
from nepse.sources import bigfile
from nepse.sources.bigfile import fill_raw
from nepse.sources.readers import read_path
from nepse.store import open_store

HEADER = "symbol,date,open,high,low,close,volume,turnover,trades"


def rows(n: int, *, bad: dict[int, str] | None = None) -> list[str]:
    out = []
    for i in range(n):
        close = 100 + i % 37
        out.append(
            f"S{i % 53:02d},2026-01-{1 + i // 53:02d},{close},{close + 1},{close - 1},"
            f"{close},10,{close * 10},2"
        )
    for i, line in (bad or {}).items():
        out[i] = line
    return out


def whole_and_sliced(path, monkeypatch):
    whole = read_path(path)
    monkeypatch.setattr(bigfile, "BIG_FILE_BYTES", 100)
    monkeypatch.setattr(bigfile, "SLICE_BYTES", 257)  # cuts lines anywhere
    sliced = read_path(path)
    return whole, sliced


def same(whole, sliced):
    assert_frame_equal(sliced.prices.drop("raw"), whole.prices.drop("raw"))
    assert sliced.prices["raw"].is_null().all()
    keys = ["source", "line", "reason", "detail", "date"]
    assert_frame_equal(
        sliced.rejects.sort("line").select(keys), whole.rejects.sort("line").select(keys)
    )
    assert_frame_equal(fill_raw(sliced.rejects).sort("line"), whole.rejects.sort("line"))


@pytest.mark.parametrize("end", ["\n", "\r\n"], ids=["LF", "CRLF"])
def test_slices_give_what_a_whole_read_gives(tmp_path, monkeypatch, end):
    bad = {40: "S01,2026-01-02,1,2,1,abc,10,10,2", 41: "S01,2026-01-0x,1,2,1,1,10,10,2", 99: ""}
    path = tmp_path / "big.csv"
    path.write_bytes(("\ufeff" + end.join([HEADER, *rows(500, bad=bad)]) + end).encode())
    whole, sliced = whole_and_sliced(path, monkeypatch)
    assert whole.rejects.height == 2 and sliced.prices.height == 497
    same(whole, sliced)


def test_a_file_cut_in_its_last_line_is_caught_in_the_last_slice(tmp_path, monkeypatch):
    path = tmp_path / "big.csv"
    before = "S09,2026-01-09,100,101,99,100,10,1000,12345"
    cut = "S10,2026-01-09,100,101,99,100,10,1000,1"  # the trades field cut short, no newline
    path.write_text("\n".join([HEADER, *rows(300), before, cut]))
    whole, sliced = whole_and_sliced(path, monkeypatch)
    assert whole.rejects["reason"].to_list() == ["maybe_truncated"]
    same(whole, sliced)


def test_a_decimal_comma_in_a_late_slice_quarantines_the_whole_file(tmp_path, monkeypatch):
    path = tmp_path / "big.csv"
    late = {450: 'S01,2026-01-09,"100,50",101,99,100,10,1000,2'}
    path.write_text("\n".join([HEADER, *rows(500, bad=late)]) + "\n")
    whole, sliced = whole_and_sliced(path, monkeypatch)
    assert whole.prices.is_empty() and sliced.prices.is_empty()
    assert set(sliced.rejects["reason"]) == {"decimal_comma"} and sliced.rejects.height == 500


def test_windows_1252_found_in_a_late_slice_restarts_the_file(tmp_path, monkeypatch):
    path = tmp_path / "big.csv"
    text = "\n".join([HEADER, *rows(400, bad={390: "S\u201c1,2026-01-08,1,2,1,1,10,10,2"})]) + "\n"
    path.write_bytes(text.encode("cp1252"))  # a curly quote: byte 0x93, not UTF-8
    whole, sliced = whole_and_sliced(path, monkeypatch)
    assert "S\u201c1" in whole.prices["symbol"].to_list()  # decoded, not a C1 control code
    same(whole, sliced)


def test_an_ingest_in_slices_stores_the_same_and_rejects_with_raw(tmp_path, monkeypatch, settings):
    path = tmp_path / "big.csv"
    path.write_text(
        "\n".join([HEADER, *rows(400, bad={7: "S01,2026-01-01,1,2,1,-5,10,10,2"})]) + "\n"
    )
    monkeypatch.setattr(bigfile, "BIG_FILE_BYTES", 100)
    monkeypatch.setattr(bigfile, "SLICE_BYTES", 300)
    report = ingest_path(settings, path, today=date(2026, 4, 30))
    assert (report.rows_read, report.inserted, report.rejected) == (400, 399, 1)
    with open_store(settings.database, read_only=True) as st:
        reject = st.rejects().row(0, named=True)
        assert st.prices().height == 399
    assert reject["reason"] == "nonpositive_price" and reject["line"] == 9
    assert reject["raw"] == "S01,2026-01-01,1,2,1,-5,10,10,2"  # read back from the file


def test_formats_judged_per_file_are_read_whole(tmp_path, monkeypatch):
    today = (
        "Id,Business Date,Security Id,Symbol,Security Name,Open Price,High Price,Low Price,"
        "Close Price,Total Traded Quantity,Total Traded Value,Previous Day Close Price"
    )
    lines = [f"{i},03/0{1 + i % 2}/2026,{i},S{i:03d},X,1,2,1,2,5,10,1" for i in range(200)]
    lines.append("999,13/01/2026,999,SZZ,X,1,2,1,2,5,10,1")  # decides day-first for the file
    path = tmp_path / "today.csv"
    path.write_text("\n".join([today, *lines]) + "\n")
    whole, sliced = whole_and_sliced(path, monkeypatch)
    assert_frame_equal(sliced.prices, whole.prices)  # read whole: raw kept
    assert sliced.prices["date"].unique().sort().to_list() == [
        date(2026, 1, 3),
        date(2026, 1, 13),
        date(2026, 2, 3),
    ]
