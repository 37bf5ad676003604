"""Hostile inputs, defined once: the test suite and scripts/reliability.py both run this table.

Every case writes its own small input (files into a folder, or API items) and says what the
service must do with it: store it (`stored:N` rows), reject its bad rows with a reason code
(`rejected:<reason>`), or refuse the input with a `SourceError` whose message names the file
(`error:<text>`). `run_case` ingests the case into a fresh database and reports what happened,
including the rows lost (read but neither stored, rejected nor counted a duplicate): always 0.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from nepse.errors import NepseError

CANONICAL = "symbol,date,open,high,low,close,volume,turnover,trades"
HISTORY = "published_date,open,high,low,close,per_change,traded_quantity,traded_amount,status"
TODAY_PRICE = (
    "Id,Business Date,Security Id,Symbol,Security Name,Open Price,High Price,Low Price,"
    "Close Price,Total Traded Quantity,Total Traded Value,Previous Day Close Price"
)
TODAY = date(2026, 4, 30)


def _row(close: str = "101", volume: str = "1000", turnover: str = "101000", **kw: str) -> str:
    values = {"symbol": "NABIL", "date": "2026-01-05", "open": "100", "high": "105", "low": "95"}
    values |= kw
    return (
        f"{values['symbol']},{values['date']},{values['open']},{values['high']},{values['low']},"
        f"{close},{volume},{turnover},{kw.get('trades', '10')}"
    )


def _canonical(*rows: str) -> dict[str, bytes]:
    return {"prices.csv": ("\n".join([CANONICAL, _row(symbol="ADBL"), *rows]) + "\n").encode()}


def _api_items(**overrides: object) -> list[dict]:
    item = {
        "businessDate": "2026-01-05",
        "symbol": "ADBL",
        "openPrice": 300.0,
        "highPrice": 305.0,
        "lowPrice": 298.0,
        "closePrice": 301.0,
        "totalTradedQuantity": 1000,
        "totalTradedValue": 301000.0,
        "totalTrades": 10,
    }
    return [
        item,
        item | {"symbol": "NABIL", "closePrice": 501.0, "totalTradedValue": 501000.0} | overrides,
    ]


@dataclass(frozen=True)
class Case:
    """One hostile input and the outcome the service must give it."""

    name: str
    category: str
    expect: str
    """'stored:N', 'rejected:<reason>' (the bad row, the rest stored) or 'error:<text>'."""
    files: dict[str, bytes] = field(default_factory=dict)
    api_items: list[dict] | None = None
    """JSON items of one API day (parsed as the API client would), instead of files."""


CASES: tuple[Case, ...] = (
    Case(
        "negative volume",
        "implausible value",
        "rejected:negative_value",
        _canonical(_row(volume="-5")),
    ),
    Case(
        "negative turnover",
        "implausible value",
        "rejected:negative_value",
        _canonical(_row(turnover="-101000")),
    ),
    Case(
        "negative trades",
        "implausible value",
        "rejected:negative_value",
        _canonical(_row(trades="-3")),
    ),
    Case(
        "close 1e308",
        "implausible value",
        "rejected:implausible_price",
        _canonical(_row(close="1e308", high="1e308")),
    ),
    Case(
        "close 5e-324",
        "implausible value",
        "rejected:implausible_price",
        _canonical(_row(close="5e-324", open="5e-324", high="5e-324", low="5e-324")),
    ),
    Case(
        "turnover 1000x volume x close",
        "implausible value",
        "rejected:implausible_value",
        _canonical(_row(turnover="101000000000")),
    ),
    Case(
        "Infinity from the API",
        "implausible value",
        "rejected:implausible_price",
        api_items=_api_items(closePrice=float("inf"), highPrice=float("inf")),
    ),
    Case(
        "lower-case symbol from the API",
        "implausible value",
        "stored:2",
        api_items=_api_items(symbol="nabil"),
    ),
    Case(
        "symbol with a space in the data",
        "implausible value",
        "rejected:bad_symbol",
        _canonical(_row(symbol="NA BIL")),
    ),
    Case(
        "date in year 1",
        "odd date",
        "rejected:implausible_date",
        _canonical(_row(date="0001-01-05")),
    ),
    Case(
        "date in 1900", "odd date", "rejected:implausible_date", _canonical(_row(date="1900-01-05"))
    ),
    Case(
        "date in year 0 inside a folder",
        "crash instead of reject",
        "rejected:implausible_date",
        {
            "ADBL/prices.csv": b"date,open,high,low,ltp,percent_change,qty,turnover\n"
            b"2026-01-05,300,305,298,301,0,1000,301000\n0000-01-05,300,305,298,301,0,1000,301000\n",
            "NABIL/prices.csv": b"date,open,high,low,ltp,percent_change,qty,turnover\n"
            b"2026-01-05,500,505,498,501,0,1000,501000\n",
        },
    ),
    Case(
        "date after today", "odd date", "rejected:future_date", _canonical(_row(date="2027-01-05"))
    ),
    Case(
        "day/month decided by the file's other rows",
        "odd date",
        "stored:2",
        {
            "today.csv": f"{TODAY_PRICE}\n1,02/01/2026,1,ADBL,A,300,305,298,301,1000,301000,300\n"
            "2,13/01/2026,2,ADBL,A,300,305,298,301,1000,301000,300\n".encode()
        },
    ),
    Case(
        "day/month order nothing decides",
        "odd date",
        "rejected:ambiguous_date",
        {
            "today.csv": f"{TODAY_PRICE}\n1,2026-01-05,1,NABIL,N,500,505,498,501,1000,501000,500\n"
            "2,03/04/2026,2,ADBL,A,300,305,298,301,1000,301000,300\n".encode()
        },
    ),
    Case(
        "file cut inside its last field",
        "malformed file",
        "rejected:maybe_truncated",
        {
            "prices.csv": b"symbol,date,open,high,low,close,volume,turnover\n"
            b"ADBL,2026-01-05,300,305,298,301,26775,8059207.3\n"
            b"NABIL,2026-01-05,500,505,498,501,16086,80"
        },
    ),
    Case(
        "symbol from a file name 'ADBL (1).csv'",
        "symbol from file name",
        "error:ADBL (1)",
        {"ADBL (1).csv": f"{HISTORY}\n2026-01-05,300,305,298,301,0,1000,301000,A\n".encode()},
    ),
    Case(
        "symbol from a file name 'prices-old.csv'",
        "symbol from file name",
        "error:PRICES-OLD",
        {"prices-old.csv": f"{HISTORY}\n2026-01-05,300,305,298,301,0,1000,301000,A\n".encode()},
    ),
    Case(
        "UTF-16 file with a byte-order mark",
        "malformed file",
        "stored:2",
        {
            "prices.csv": ("\n".join([CANONICAL, _row(symbol="ADBL"), _row()]) + "\n").encode(
                "utf-16"
            )
        },
    ),
    Case(
        "UTF-16 file without a byte-order mark",
        "malformed file",
        "error:NUL bytes",
        {"prices.csv": ("\n".join([CANONICAL, _row()]) + "\n").encode("utf-16-le")},
    ),
    Case(
        "CR-only line ends",
        "malformed file",
        "stored:2",
        {"prices.csv": ("\r".join([CANONICAL, _row(symbol="ADBL"), _row()]) + "\r").encode()},
    ),
    Case(
        "an unknown header",
        "malformed file",
        "error:unknown header",
        {"prices.csv": b"a,b,c\n1,2,3\n"},
    ),
)


@dataclass(frozen=True)
class CaseResult:
    """What the service did with a case."""

    case: Case
    outcome: str
    """'stored:N', 'rejected:<reason>' or 'error:<message>'."""
    rows_read: int = 0
    rows_lost: int = 0

    @property
    def ok(self) -> bool:
        """True when the outcome is the one the case expects, and nothing was lost."""
        kind, _, want = self.case.expect.partition(":")
        got_kind, _, got = self.outcome.partition(":")
        if self.rows_lost or kind != got_kind:
            return False
        return want in got if kind == "error" else got.split(",")[0] == want


def write_case(case: Case, folder: Path) -> Path:
    """Write the case's files under `folder`; return the path to ingest."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in case.files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return folder


def run_case(case: Case, root: Path, *, ingest: Callable | None = None) -> CaseResult:
    """Ingest `case` into a fresh database under `root`; report the outcome."""
    from nepse.ingest.service import ingest_path, ingest_read
    from nepse.settings import load_settings
    from nepse.sources.api_parse import FMT, parse_today_price_items
    from nepse.store import open_store

    settings = load_settings(data_dir=root, db_path=root / "case.duckdb")
    try:
        if case.api_items is not None:
            items = json.loads(json.dumps(case.api_items))  # as received on the wire
            read = parse_today_price_items(items, source="api:case", first_record=1)
            read.fmt = FMT
            with open_store(settings.database) as store:
                report = ingest_read(store, read, settings=settings, today=TODAY)
        else:
            report = ingest_path(settings, write_case(case, root / "in"), today=TODAY)
    except NepseError as exc:
        return CaseResult(case, f"error:{exc}")
    stored = report.inserted + report.updated + report.unchanged
    lost = report.rows_read - stored - report.rejected - report.duplicates
    if report.rejected:
        outcome = "rejected:" + ",".join(sorted(report.reasons))
    else:
        outcome = f"stored:{stored}"
    return CaseResult(case, outcome, rows_read=report.rows_read, rows_lost=lost)
