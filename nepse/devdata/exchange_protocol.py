"""The server side of the exchange's handshake, for the fake exchange: its own css.wasm, where
the decoy characters go, and the payload id a today-price request must carry.

The wasm is compiled from the WAT text below, not the site's binary: the same five exports
(`cdx rdx bdx ndx mdx`, five i32 salts -> one i32 cut position) with this module's arithmetic.
The weights differ per argument, so a client that calls the exports in another argument order
than the site's frontend cuts the wrong characters and is refused.
"""

from __future__ import annotations

import random
from datetime import timedelta, timezone
from typing import Any

NPT = timezone(timedelta(hours=5, minutes=45))  # the day of month in payload ids is Nepal's

# Five exports of five i32 salts -> one i32 cut position; the bands keep positions ascending.
_EXPORTS = {"cdx": 6, "rdx": 22, "bdx": 38, "ndx": 54, "mdx": 70}
_WEIGHTS = (1, 2, 3, 5, 7)  # unequal weights: a client passing salts in the wrong order fails
_BAND = 9


def _wat() -> str:
    body = []
    for name, base in _EXPORTS.items():
        t = [f"(i32.mul (local.get {i}) (i32.const {w}))" for i, w in enumerate(_WEIGHTS)]
        total = f"(i32.add (i32.add (i32.add (i32.add {t[0]} {t[1]}) {t[2]}) {t[3]}) {t[4]})"
        body.append(
            f'(func (export "{name}") (param i32 i32 i32 i32 i32) (result i32) '
            f"(i32.add (i32.const {base}) (i32.rem_u {total} (i32.const {_BAND}))))"
        )
    return "(module " + " ".join(body) + ")"


def wasm_bytes() -> bytes:
    """The fake's css.wasm (compiled once per call; small)."""
    from wasmtime import wat2wasm

    return bytes(wat2wasm(_wat()))


def _cut(name: str, *args: int) -> int:
    return _EXPORTS[name] + sum(a * w for a, w in zip(args, _WEIGHTS, strict=True)) % _BAND


def cut_positions(salts: tuple[int, ...], *, refresh: bool) -> tuple[int, ...]:
    """Where the decoys sit, calling the exports in the site frontend's argument orders."""
    s1, s2, s3, s4, s5 = salts
    if refresh:
        return (
            _cut("cdx", s2, s1, s3, s5, s4),
            _cut("rdx", s2, s1, s3, s4, s5),
            _cut("bdx", s2, s1, s4, s3, s5),
            _cut("ndx", s2, s1, s4, s3, s5),
            _cut("mdx", s2, s1, s4, s3, s5),
        )
    return (
        _cut("cdx", s1, s2, s3, s4, s5),
        _cut("rdx", s1, s2, s4, s3, s5),
        _cut("bdx", s1, s2, s4, s3, s5),
        _cut("ndx", s1, s2, s4, s3, s5),
        _cut("mdx", s1, s2, s4, s3, s5),
    )


def add_decoys(token: str, positions: tuple[int, ...], rng: random.Random) -> str:
    """`token` with a decoy character at each raw position (what /prove sends)."""
    chars, it = [], iter(token)
    for i in range(len(token) + len(positions)):
        chars.append(rng.choice("!#$%*") if i in positions else next(it))
    return "".join(chars)


def payload_id(market_id: int, salts: tuple[int, ...], day_of_month: int) -> int:
    """The today-price body id: dummy[market] + market + 2*day, mixed with two salts."""
    from nepsepy.checksum import DUMMY  # the site's 100-entry table, one copy in the environment

    base = DUMMY[market_id] + market_id + 2 * day_of_month
    j = 1 if base % 10 < 5 else 3
    return base + salts[j] * day_of_month - salts[j - 1]


def company_list(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`/api/nots/company/list` items of the master rows (the exchange leaves delisted out)."""
    return [
        {
            "id": i,
            "companyName": r["name"],
            "symbol": r["symbol"],
            "securityName": r["name"],
            "status": r["status"],
            "sectorName": r["sector"],
            "instrumentType": r["instrument_type"],
            "regulatoryBody": "Securities Board of Nepal",
        }
        for i, r in enumerate(rows, start=100)
        if r["status"] != "D"
    ]


def security_list(rows: list[dict[str, Any]], *, non_delisted: bool) -> list[dict[str, Any]]:
    """`/api/nots/security?nonDelisted=` items of the master rows."""
    return [
        {
            "id": i,
            "symbol": r["symbol"],
            "securityName": r["name"],
            "name": r["name"],
            "activeStatus": r["status"],
        }
        for i, r in enumerate(rows, start=100)
        if not (non_delisted and r["status"] == "D")
    ]
