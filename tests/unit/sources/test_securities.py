"""Securities lists are checked before they reach the master (nepse/sources/securities.py)."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from nepse.errors import DataQualityError, SourceError
from nepse.schema import SECURITY_SCHEMA
from nepse.sources.nepse_exchange import securities_frame
from nepse.sources.securities import check_securities
from nepse.store import open_store


def frame(*rows: tuple) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema=SECURITY_SCHEMA, orient="row")


BANK = ("NABIL", "Nabil Bank Limited", "Commercial Banks", "Equity", "A")


@pytest.mark.parametrize(
    ("row", "reason", "detail"),
    [
        (("../ETC", "x", "s", "Equity", "A"), "bad_symbol", "symbol '../ETC' does not match"),
        (("X", "<b>X</b>", "s", "Equity", "A"), "bad_text", "name holds markup"),
        (
            ("X", "X", "Banks\x85", "Equity", "A"),
            "bad_text",
            r"sector holds a control character: 'Banks\x85'",
        ),
        (("X", "X", "s", "Equity\t", "A"), "bad_text", "instrument_type holds a control"),
        (("X", "N" * 201, "s", "Equity", "A"), "bad_text", "name is longer than 200"),
        (("X", "X", "s", "Equity", "Active"), "bad_text", "status 'Active' is not one of A/S/D"),
        ((None, "X", "s", "Equity", "A"), "missing_symbol", "symbol is empty"),
    ],
)
def test_a_bad_row_is_rejected_with_its_reason(row, reason, detail):
    checked = check_securities(frame(BANK, row))
    assert checked["reason"].to_list() == [None, reason]
    assert detail in checked["detail"][1]


def test_a_symbol_listed_twice_with_other_values_rejects_every_copy_naming_both():
    checked = check_securities(
        frame(BANK, ("NABIL", "Nabil Fund", "Mutual Fund", "Mutual Funds", "A"))
    )
    assert checked["reason"].to_list() == ["conflicting_duplicate"] * 2
    assert (
        "line 1: Nabil Bank Limited / Commercial Banks / Equity / A; line 2: Nabil Fund"
        in (checked["detail"][0])
    )


def test_exact_copies_are_one_row():
    checked = check_securities(frame(BANK, BANK))
    assert checked["reason"].to_list() == [None, None]
    assert checked["_extra"].to_list() == [False, True]


def test_the_store_never_lets_the_last_copy_win(tmp_path):
    with (
        open_store(tmp_path / "db.duckdb") as store,
        pytest.raises(DataQualityError, match="NABIL"),
    ):
        store.record_securities(
            frame(BANK, ("NABIL", "Nabil Fund", "Mutual Fund", "Mutual Funds", "A")),
            as_of=date(2026, 1, 5),
            source="test",
        )


def test_the_exchange_list_is_checked_too(caplog):
    every = [
        {"symbol": "NABIL", "activeStatus": "A"},
        {"symbol": "../x", "activeStatus": "A"},
    ]
    companies = [{"symbol": "NABIL", "companyName": "Nabil", "instrumentType": "Equity"}]
    listed = securities_frame(every, companies)
    assert listed["symbol"].to_list() == ["NABIL"]
    assert "security item 2 left out (bad_symbol)" in caplog.text
    with pytest.raises(SourceError, match="listed 2 times"):
        securities_frame(
            [*every[:1], {"symbol": "NABIL", "activeStatus": "D"}], companies, where="list"
        )
