"""The hostile-input table: each case an input a careless or hostile user could give, and the
outcome the service owes it (nepse/devdata/hostile.py runs them; docs/reliability.md lists
them). `_EARLIER` are the cases of the earlier rounds; the groups below were added with issue 25.
"""

from __future__ import annotations

from nepse.devdata.hostile import (
    CANONICAL,
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


from nepse.devdata.hostile_lists import ACTIONS, DAYS, SECURITIES  # noqa: E402

CASES: tuple[Case, ...] = (*_EARLIER, *_NUMBERS, *_FILES, *SECURITIES, *ACTIONS, *DAYS)
