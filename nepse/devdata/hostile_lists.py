"""Hostile inputs about what the store believes beyond one price row: securities lists,
corporate actions and whole days (a day served again). Part of the table in
nepse/devdata/hostile_cases.py (issue 25).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nepse.devdata.hostile import COMPANY_LIST, TODAY_PRICE, Case


def _today_price(*lines: str, name: str = "today.csv") -> dict[str, bytes]:
    """A NEPSE Today's Price export holding `lines` (after the header)."""
    return {name: ("\n".join([TODAY_PRICE, *lines]) + "\n").encode()}


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
SECURITIES: tuple[Case, ...] = (
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

    adjusted = adjust_prices(store.prices(), store.corporate_actions()).collect()
    return [
        f"{r['symbol']} {r['date']}: adjusted close {r['adj_close']:.2f}, raw {r['close']}"
        for r in adjusted.iter_rows(named=True)
        if abs(r["adj_close"] - r["close"]) > 1e-9
    ]


_FLAT_TRUTH = {("NABIL", f"2026-01-0{d}"): 500.0 + d for d in range(4, 9)}
ACTIONS: tuple[Case, ...] = (
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


DAYS: tuple[Case, ...] = (
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
