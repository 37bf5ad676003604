"""The hostile-input table: each case an input a careless or hostile user could give, and the
outcome the service owes it (nepse/devdata/hostile.py runs them; docs/reliability.md lists
them). `_EARLIER` are the cases of the earlier rounds; the groups below were added with issue 25.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nepse.devdata.hostile import (
    CANONICAL,
    COMPANY_LIST,
    HISTORY,
    TODAY_PRICE,
    Case,
    api_items,
    canonical,
    row,
)

_EARLIER: tuple[Case, ...] = (
    Case(
        "negative volume",
        "implausible value",
        "rejected:negative_value",
        canonical(row(volume="-5")),
    ),
    Case(
        "negative turnover",
        "implausible value",
        "rejected:negative_value",
        canonical(row(turnover="-101000")),
    ),
    Case(
        "negative trades",
        "implausible value",
        "rejected:negative_value",
        canonical(row(trades="-3")),
    ),
    Case(
        "close 1e308",
        "implausible value",
        "rejected:implausible_price",
        canonical(row(close="1e308", high="1e308")),
    ),
    Case(
        "close 5e-324",
        "implausible value",
        "rejected:implausible_price",
        canonical(row(close="5e-324", open="5e-324", high="5e-324", low="5e-324")),
    ),
    Case(
        "turnover 1000x volume x close",
        "implausible value",
        "rejected:implausible_value",
        canonical(row(turnover="101000000000")),
    ),
    Case(
        "Infinity from the API",
        "implausible value",
        "rejected:implausible_price",
        api_items=api_items(closePrice=float("inf"), highPrice=float("inf")),
    ),
    Case(
        "lower-case symbol from the API",
        "implausible value",
        "stored:2",
        api_items=api_items(symbol="nabil"),
    ),
    Case(
        "symbol with a space in the data",
        "implausible value",
        "rejected:bad_symbol",
        canonical(row(symbol="NA BIL")),
    ),
    Case(
        "date in year 1",
        "odd date",
        "rejected:implausible_date",
        canonical(row(date="0001-01-05")),
    ),
    Case(
        "date in 1900", "odd date", "rejected:implausible_date", canonical(row(date="1900-01-05"))
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
    Case("date after today", "odd date", "rejected:future_date", canonical(row(date="2027-01-05"))),
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
        {"prices.csv": ("\n".join([CANONICAL, row(symbol="ADBL"), row()]) + "\n").encode("utf-16")},
    ),
    Case(
        "UTF-16 file without a byte-order mark",
        "malformed file",
        "error:NUL bytes",
        {"prices.csv": ("\n".join([CANONICAL, row()]) + "\n").encode("utf-16-le")},
    ),
    Case(
        "CR-only line ends",
        "malformed file",
        "stored:2",
        {"prices.csv": ("\r".join([CANONICAL, row(symbol="ADBL"), row()]) + "\r").encode()},
    ),
    Case(
        "an unknown header",
        "malformed file",
        "error:unknown header",
        {"prices.csv": b"a,b,c\n1,2,3\n"},
    ),
)


def _today_price(*lines: str, name: str = "today.csv") -> dict[str, bytes]:
    """A NEPSE Today's Price export holding `lines` (after the header)."""
    return {name: ("\n".join([TODAY_PRICE, *lines]) + "\n").encode()}


_NUMBERS: tuple[Case, ...] = (
    Case(
        'decimal comma "297,00"',
        "wrong value",
        "rejected:decimal_comma",
        canonical('NABIL,2026-01-05,"296,00","298,50","295,00","297,00",1000,"297000,00",10'),
        truth={},  # the whole file is quarantined: nothing of it is stored, least of all 29,700
    ),
    Case(
        "decimal comma with dot thousands in a Today's Price export",
        "wrong value",
        "rejected:decimal_comma",
        _today_price(
            '1,2026-01-05,1,ADBL,A,"300,00","305,00","298,00","301,00",1.000,"301.000,00","300,00"',
            "2,2026-01-05,2,NABIL,N,500,505,498,501,1000,501000,500",
        ),
        truth={},
    ),
    Case(
        'thousands separators "1,842.00" (as ShareSansar writes them)',
        "wrong value",
        "stored:2",
        canonical('NABIL,2026-01-05,"1,830.00","1,850.00","1,820.00","1,842.00",10,"18,420",2'),
        truth={("ADBL", "2026-01-05"): 101.0, ("NABIL", "2026-01-05"): 1842.0},
    ),
    Case(
        'Indian lakh grouping "3,01,000.00"',
        "wrong value",
        "stored:2",
        canonical('NABIL,2026-01-05,300,305,298,301,1000,"3,01,000.00",10'),
        truth={("ADBL", "2026-01-05"): 101.0, ("NABIL", "2026-01-05"): 301.0},
    ),
)

_ADBL = {
    "ADBL/prices.csv": b"date,open,high,low,ltp,percent_change,qty,turnover\n"
    b"2026-01-05,300,305,298,301,0,1000,301000\n"
}

_FILES: tuple[Case, ...] = (
    Case(
        "header names close twice",
        "unclear refusal",
        "error:'close' twice",
        {"prices.csv": f"{CANONICAL},close\n{row()},99\n".encode()},
        truth={},
    ),
    Case(
        "Today's Price export with 'Close Price' twice (different values)",
        "unclear refusal",
        "error:'Close Price' twice",
        {
            "today.csv": f"{TODAY_PRICE},Close Price\n"
            "1,2026-01-05,1,ADBL,A,300,305,298,301,1000,301000,300,310\n".encode()
        },
        truth={},
    ),
    Case(
        "dangling link in the input folder",
        "unclear refusal",
        "error:dangling link",
        _ADBL,
        links={"NABIL.csv": "missing/NABIL.csv"},
        truth={},
    ),
    Case(
        "symbolic link loop in the input folder",
        "unclear refusal",
        "error:link loop",
        _ADBL,
        links={"ADBL/again": ".."},
        truth={},
    ),
    Case(
        "link that points at itself",
        "unclear refusal",
        "error:link loop",
        _ADBL,
        links={"loop.csv": "loop.csv"},
        truth={},
    ),
    Case(
        "a linked folder is read (once)",
        "unclear refusal",
        "stored:1",
        {"data/ADBL/prices.csv": _ADBL["ADBL/prices.csv"]},
        links={"mine": "data", "also-mine": "data"},
        truth={("ADBL", "2026-01-05"): 301.0},
    ),
    Case(
        "bytes that are neither UTF-8 nor Windows-1252",
        "unclear refusal",
        "error:re-save it as UTF-8",
        {
            "today.csv": (
                f"{TODAY_PRICE}\n1,2026-01-05,1,ADBL,A\x81,300,305,298,301,1000,301000,300\n"
            ).encode("latin-1")
        },
        truth={},
    ),
)


def _company_list(*lines: str, header: str = COMPANY_LIST, encoding: str = "utf-8") -> dict:
    return {"CompanyList.csv": ("\n".join([header, *lines]) + "\n").encode(encoding)}


def _securities_are(**want: tuple[str, str]) -> Callable[[Any], list[str]]:
    """A check: the master holds exactly these symbols with this (name, instrument type)."""

    def check(store: Any) -> list[str]:
        got = {
            r["symbol"]: (r["name"], r["instrument_type"])
            for r in store.securities().iter_rows(named=True)
        }
        return [
            f"securities: {symbol} stored as {got.get(symbol)!r}, want {want.get(symbol)!r}"
            for symbol in sorted(set(got) | set(want))
            if got.get(symbol) != want.get(symbol)
        ]

    return check


_BANK = "Nabil Bank,1,Equity,Commercial Banks,Nabil Bank Limited,A,NABIL"
_SECURITIES: tuple[Case, ...] = (
    Case(
        "company list naming NABIL twice: Equity, then Mutual Funds",
        "wrong value",
        "rejected:conflicting_duplicate",
        _company_list(_BANK, "Nabil Bank,1,Mutual Funds,Mutual Fund,Nabil Fund,A,NABIL"),
        check=_securities_are(),
    ),
    Case(
        "company list naming NABIL twice, identical rows",
        "wrong value",
        "stored:0",
        _company_list(_BANK, _BANK),
        check=_securities_are(NABIL=("Nabil Bank Limited", "Equity")),
    ),
    Case(
        "two company lists (other headers) disagreeing on NABIL",
        "wrong value",
        "error:disagree on NABIL",
        {
            **_company_list(_BANK),
            "old/CompanyList.csv": b"symbol,instrumentType,sectorName,status\n"
            b"NABIL,Mutual Funds,Mutual Fund,A\n",
        },
        check=_securities_are(),
    ),
    Case(
        "path-like symbol in a company list",
        "unchecked text",
        "rejected:bad_symbol",
        _company_list(_BANK, "Evil,2,Equity,Banks,Evil Ltd,A,../../etc/passwd"),
        check=_securities_are(NABIL=("Nabil Bank Limited", "Equity")),
    ),
    Case(
        "markup in a sector name",
        "unchecked text",
        "rejected:bad_text",
        _company_list(_BANK, "X,2,Equity,<script>alert(1)</script>,X Ltd,A,XBANK"),
        check=_securities_are(NABIL=("Nabil Bank Limited", "Equity")),
    ),
    Case(
        "control characters in a security name",
        "unchecked text",
        "rejected:bad_text",
        _company_list(_BANK, 'X,2,Equity,Banks,"X\x1b[31mBank\x85",A,XBANK'),
        check=_securities_are(NABIL=("Nabil Bank Limited", "Equity")),
    ),
    Case(
        "a status that is not A, S or D",
        "unchecked text",
        "rejected:bad_text",
        _company_list(_BANK, "X,2,Equity,Banks,X Ltd,Active,XBANK"),
        check=_securities_are(NABIL=("Nabil Bank Limited", "Equity")),
    ),
    Case(
        "company list saved as Windows-1252 (curly quotes, en dash)",
        "wrong value",
        "stored:0",
        _company_list(
            "N,1,Equity,Commercial Banks,\u201cNabil\u201d Bank \u2013 Ltd,A,NABIL",
            encoding="cp1252",
        ),
        check=_securities_are(NABIL=("\u201cNabil\u201d Bank \u2013 Ltd", "Equity")),
    ),
)

_PRICES_HEADER = "date,open,high,low,ltp,percent_change,qty,turnover"
# NABIL trades 500 around a book closure on 2026-01-06 and never drops.
_FLAT = {
    "NABIL/prices.csv": "\n".join(
        [_PRICES_HEADER]
        + [f"2026-01-0{d},500,505,498,{500 + d},0,1000,{(500 + d) * 1000}" for d in range(4, 9)]
    ).encode()
    + b"\n"
}
_DIVIDEND = "fiscal_year,bonus_share,cash_dividend,total_dividend,book_closure_date"
_RIGHTS = "ratio,total_units,issue_price,opening_date,closing_date,status,issue_manager"


def _actions(file: str, header: str, line: str) -> dict[str, bytes]:
    return {**_FLAT, f"NABIL/{file}": f"{header}\n{line}\n".encode()}


def _history_not_divided(store: Any) -> list[str]:
    """A check: adjusted closes equal raw ones (no action may divide this flat history)."""
    from nepse.features.adjust import adjust_prices
    from nepse.settings import load_settings

    adjusted = adjust_prices(
        store.prices(), store.corporate_actions(), settings=load_settings()
    ).collect()
    return [
        f"{r['symbol']} {r['date']}: adjusted close {r['adj_close']:.2f}, raw {r['close']}"
        for r in adjusted.iter_rows(named=True)
        if abs(r["adj_close"] - r["close"]) > 1e-9
    ]


_FLAT_TRUTH = {("NABIL", f"2026-01-0{d}"): 500.0 + d for d in range(4, 9)}
_ACTIONS: tuple[Case, ...] = (
    Case(
        "bonus of -50 %",
        "wrong value",
        "rejected:implausible_action",
        _actions("dividend.csv", _DIVIDEND, "2082/2083,-50,5,0,2026-01-06"),
        truth=_FLAT_TRUTH,
        check=_history_not_divided,
    ),
    Case(
        "bonus of 1,000 % where the price never moved",
        "wrong value",
        "rejected:implausible_action",
        _actions("dividend.csv", _DIVIDEND, "2082/2083,1000,5,0,2026-01-06"),
        truth=_FLAT_TRUTH,
        check=_history_not_divided,
    ),
    Case(
        "rights ratio 1:0",
        "wrong value",
        "rejected:implausible_action",
        _actions("right-share.csv", _RIGHTS, "1:0,1,100,2026-01-20,,,X"),
        truth=_FLAT_TRUTH,
        check=_history_not_divided,
    ),
    Case(
        "rights 1:12 (1,200 %)",
        "wrong value",
        "rejected:implausible_action",
        _actions("right-share.csv", _RIGHTS, "1:12,1,100,2026-01-20,,,X"),
        truth=_FLAT_TRUTH,
        check=_history_not_divided,
    ),
    Case(
        "rights issue price = the issue's total amount (as MLBBL 2016)",
        "wrong value",
        "rejected:implausible_action",
        _actions("right-share.csv", _RIGHTS, "2:1,169740,16974000,2026-01-20,,,X"),
        truth=_FLAT_TRUTH,
        check=_history_not_divided,
    ),
    Case(
        "plausible 100 % bonus, but the price never moved: stored, not applied",
        "wrong value",
        "stored:5",
        _actions("dividend.csv", _DIVIDEND, "2082/2083,100,5,0,2026-01-06"),
        truth=_FLAT_TRUTH,
        check=_history_not_divided,
    ),
)


def _session(day: str, *, seed: int, copied: int = 0, copy_seed: int = 0) -> dict[str, bytes]:
    """A Today's Price file of 12 symbols on `day`; the first `copied` rows carry the values
    of the session made with `copy_seed` (a file of another day served again)."""
    lines = []
    for i in range(12):
        s = copy_seed if i < copied else seed
        close = 100 + (s * 7 + i) % 13
        volume = 10 + (s * 3 + i) % 17
        lines.append(
            f"{i + 1},{day},{i + 1},S{i:02d},S{i:02d},{close},{close},{close},{close},{volume},"
            f"{close * volume},{close}"
        )
    return _today_price(*lines, name=f"today-{day}.csv")


def _sessions_truth(*days: tuple[str, int]) -> dict[tuple[str, str], float]:
    return {
        (f"S{i:02d}", day): 100.0 + (seed * 7 + i) % 13 for day, seed in days for i in range(12)
    }


_DAYS: tuple[Case, ...] = (
    Case(
        "yesterday's file served again as today's",
        "wrong value",
        "error:newest day read is a copy of the session before it",
        _session("2026-04-07", seed=2, copied=12, copy_seed=1),
        before=_session("2026-04-06", seed=1),
        truth=_sessions_truth(("2026-04-06", 1)),
    ),
    Case(
        "today's file with 7 of 12 rows from yesterday's",
        "wrong value",
        "error:7 of 12 symbols",
        _session("2026-04-07", seed=2, copied=7, copy_seed=1),
        before=_session("2026-04-06", seed=1),
        truth=_sessions_truth(("2026-04-06", 1)),
    ),
    Case(
        "a quiet day: 3 of 12 symbols as yesterday",
        "wrong value",
        "stored:12",
        _session("2026-04-07", seed=2, copied=3, copy_seed=1),
        before=_session("2026-04-06", seed=1),
        truth={
            **_sessions_truth(("2026-04-06", 1), ("2026-04-07", 2)),
            **{(f"S{i:02d}", "2026-04-07"): 100.0 + (7 + i) % 13 for i in range(3)},
        },
    ),
    Case(
        "a copied day inside a history: quarantined, the rest stored",
        "wrong value",
        "rejected:repeated_day",
        {
            **_session("2026-04-06", seed=1),
            **_session("2026-04-07", seed=1),
            **_session("2026-04-08", seed=3),
        },
        truth=_sessions_truth(("2026-04-06", 1), ("2026-04-08", 3)),
    ),
)

CASES: tuple[Case, ...] = (*_EARLIER, *_NUMBERS, *_FILES, *_SECURITIES, *_ACTIONS, *_DAYS)
