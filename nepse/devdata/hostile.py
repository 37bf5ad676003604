"""Hostile inputs, defined once: the test suite and scripts/reliability.py both run these tables.

Every input case (`nepse/devdata/hostile_cases.py`) writes its own small input (files into a
folder, or API items), optionally on top of a stored history (`before`), and says what the
service must do with it: store it (`stored:N` rows), reject its bad rows with a reason code
(`rejected:<reason>`), or refuse the input with a `NepseError` whose message names the file
(`error:<text>`). `run_case` ingests the case into a fresh database and reports what happened:
the rows lost (read but neither stored, rejected nor counted a duplicate), the wrong values
stored (against the case's `truth` and `check`) and whether anything crashed (an exception
that is not a `NepseError` reaches a user as a raw traceback). All three must be 0.
The scenarios that are not one ingest (a full disk, a lying clock, a crashing model file, a
trickling server, ...) live in `nepse/devdata/hostile_scenarios.py` and report the same way.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from nepse.errors import NepseError

CANONICAL = "symbol,date,open,high,low,close,volume,turnover,trades"
HISTORY = "published_date,open,high,low,close,per_change,traded_quantity,traded_amount,status"
TODAY_PRICE = (
    "Id,Business Date,Security Id,Symbol,Security Name,Open Price,High Price,Low Price,"
    "Close Price,Total Traded Quantity,Total Traded Value,Previous Day Close Price"
)
COMPANY_LIST = "companyName,id,instrumentType,sectorName,securityName,status,symbol"
TODAY = date(2026, 4, 30)


def row(close: str = "101", volume: str = "1000", turnover: str = "101000", **kw: str) -> str:
    """One canonical CSV line (NABIL on 2026-01-05 unless told otherwise)."""
    values = {"symbol": "NABIL", "date": "2026-01-05", "open": "100", "high": "105", "low": "95"}
    values |= kw
    return (
        f"{values['symbol']},{values['date']},{values['open']},{values['high']},{values['low']},"
        f"{close},{volume},{turnover},{kw.get('trades', '10')}"
    )


def canonical(*rows: str) -> dict[str, bytes]:
    """A canonical `prices.csv` holding a good ADBL row and `rows`."""
    return {"prices.csv": ("\n".join([CANONICAL, row(symbol="ADBL"), *rows]) + "\n").encode()}


def api_items(**overrides: object) -> list[dict]:
    """Two today-price API items (ADBL, NABIL on 2026-01-05); `overrides` change NABIL's."""
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
    """'stored:N', 'rejected:<reason>' (the bad rows, the rest stored) or 'error:<text>'."""
    files: dict[str, bytes] = field(default_factory=dict)
    api_items: list[dict] | None = None
    """JSON items of one API day (parsed as the API client would), instead of files."""
    links: dict[str, str] = field(default_factory=dict)
    """Symbolic links made in the input folder: name -> target (as written in the link)."""
    before: dict[str, bytes] = field(default_factory=dict)
    """Files ingested first into the same database: the stored history the input meets."""
    truth: dict[tuple[str, str], float] | None = None
    """(symbol, ISO date) -> the close that must be stored. With it, every stored price row
    not listed, or stored with another close, counts as a wrong value stored."""
    check: Callable[[Any], list[str]] | None = None
    """Wrong values the store holds beyond prices (securities, corporate actions), one line
    each; called with the open store."""


@dataclass(frozen=True)
class CaseResult:
    """What the service did with a case."""

    case: Case
    outcome: str
    """'stored:N', 'rejected:<reason>', 'error:<message>' or 'crash:<exception>'."""
    rows_read: int = 0
    rows_lost: int = 0
    wrong: tuple[str, ...] = ()
    """Wrong values stored, one line each (must be empty)."""

    @property
    def crashed(self) -> bool:
        """True when something other than a NepseError escaped (a raw traceback)."""
        return self.outcome.startswith("crash:")

    @property
    def ok(self) -> bool:
        """The outcome the case expects, nothing lost, nothing wrong stored, no crash."""
        kind, _, want = self.case.expect.partition(":")
        got_kind, _, got = self.outcome.partition(":")
        if self.rows_lost or self.wrong or kind != got_kind:
            return False
        return want in got if kind == "error" else got.split(",")[0] == want


def write_files(files: dict[str, bytes], folder: Path) -> Path:
    """Write `files` (relative name -> bytes) under `folder`; return the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return folder


def write_case(case: Case, folder: Path) -> Path:
    """Write the case's files and links under `folder`; return the path to ingest."""
    write_files(case.files, folder)
    for name, target in case.links.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).symlink_to(target)
    return folder


def run_case(case: Case, root: Path) -> CaseResult:
    """Ingest `case` into a fresh database under `root`; report the outcome."""
    from nepse.ingest.service import ingest_path, ingest_read
    from nepse.settings import load_settings
    from nepse.sources.api_parse import FMT, parse_today_price_items
    from nepse.store import open_store

    settings = load_settings(data_dir=root, db_path=root / "case.duckdb")
    try:
        if case.before:
            ingest_path(settings, write_files(case.before, root / "before"), today=TODAY)
        if case.api_items is not None:
            items = json.loads(json.dumps(case.api_items))  # as received on the wire
            read = parse_today_price_items(items, source="api:case", first_record=1)
            read.fmt = FMT
            with open_store(settings.database) as store:
                report = ingest_read(store, read, settings=settings, today=TODAY)
        else:
            report = ingest_path(settings, write_case(case, root / "in"), today=TODAY)
    except NepseError as exc:
        return CaseResult(case, f"error:{exc}", wrong=wrong_values(case, settings.database))
    except Exception as exc:
        return CaseResult(case, f"crash:{type(exc).__name__}: {exc}")
    stored = report.inserted + report.updated + report.unchanged
    lost = report.rows_read - stored - report.rejected - report.duplicates
    # Reasons most frequent first.
    outcome = "rejected:" + ",".join(report.reasons) if report.rejected else f"stored:{stored}"
    return CaseResult(
        case,
        outcome,
        rows_read=report.rows_read,
        rows_lost=lost,
        wrong=wrong_values(case, settings.database),
    )


def wrong_values(case: Case, db: Path) -> tuple[str, ...]:
    """The case's wrong values in the store at `db`: prices against `truth`, then `check`."""
    from nepse.store import open_store

    if (case.truth is None and case.check is None) or not db.exists():
        return ()
    with open_store(db, read_only=True) as store:
        wrong: list[str] = []
        if case.truth is not None:
            for r in store.prices().iter_rows(named=True):
                want = case.truth.get((r["symbol"], r["date"].isoformat()))
                if want is None or abs(r["close"] - want) > 1e-9 * max(1.0, abs(want)):
                    wrong.append(f"{r['symbol']} {r['date']} close {r['close']} (want {want})")
        if case.check is not None:
            wrong += case.check(store)
    return tuple(wrong)
