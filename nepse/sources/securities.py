"""Checking a securities list before it reaches the master: symbols, text fields, duplicates.

A company list (a file, or the exchange's JSON) names each security once. What it says is
stored and shown (names, sectors) and decides the model's universe (instrument type, status),
so a row is rejected, never repaired, when:

- `bad_symbol`: the symbol is not a NEPSE symbol (`SYMBOL_PATTERN`): `../../etc`, `<b>X`;
- `bad_text`: a name, sector or instrument type holds a control character (a C0 or C1 code,
  as a file mis-decoded as latin-1 would give) or markup (`<` or `>`), or is longer than
  `MAX_TEXT`; or the status is not one of NEPSE's codes (`STATUSES`);
- `conflicting_duplicate`: the list names the symbol twice with different values. Every copy is
  rejected, naming both: the last one must not win (a bank listed again as a mutual fund would
  leave the scored universe). Exact copies are one row.

Measured on `nepse-api-2025-08-30/CompanyList.csv` (598 securities): no rule fires; the longest
name has 55 characters, the longest sector 28.
"""

from __future__ import annotations

import polars as pl

from nepse.errors import SourceError
from nepse.schema import SECURITY_SCHEMA, SYMBOL_PATTERN

MAX_TEXT = 200
"""Longest name, sector or instrument type accepted (the real list's longest name: 55)."""
STATUSES = ("A", "S", "D")
"""NEPSE's status codes: active, suspended, delisted."""
TEXT_FIELDS = ("name", "sector", "instrument_type")
_CONTROL = r"[\x00-\x1f\x7f-\x9f]"
_MARKUP = r"[<>]"


def _text_problem(column: str) -> pl.Expr:
    value = pl.col(column)
    return (
        pl.when(value.str.contains(_CONTROL))
        .then(pl.format(f"{column} holds a control character: {{}}", _shown(column)))
        .when(value.str.contains(_MARKUP))
        .then(pl.format(f"{column} holds markup (< or >): {{}}", _shown(column)))
        .when(value.str.len_chars() > MAX_TEXT)
        .then(pl.lit(f"{column} is longer than {MAX_TEXT} characters"))
    )


def _shown(column: str) -> pl.Expr:
    """A field as a detail may show it: quoted, cut at 80 characters, control characters and
    anything beyond ASCII escaped (\\x85)."""
    return pl.col(column).str.slice(0, 80).map_elements(ascii, return_dtype=pl.String)


def check_securities(frame: pl.DataFrame) -> pl.DataFrame:
    """Add `reason` and `detail` (null for a good row) to SECURITY_SCHEMA rows, plus `_extra`:
    an exact copy of an earlier row. `frame` may carry `line` (named in duplicate details)."""
    if "line" not in frame.columns:
        frame = frame.with_row_index("line", offset=1).with_columns(pl.col("line").cast(pl.Int64))
    status_ok = pl.col("status").is_null() | pl.col("status").is_in(STATUSES)
    problems = frame.with_columns(
        _symbol_ok=pl.col("symbol").str.contains(SYMBOL_PATTERN).fill_null(False),
        _text=pl.concat_str(
            [
                *(_text_problem(c) for c in TEXT_FIELDS),
                pl.when(~status_ok).then(
                    pl.format("status {} is not one of " + "/".join(STATUSES), _shown("status"))
                ),
            ],
            separator="; ",
            ignore_nulls=True,
        ),
    )
    missing, symbol_ok, text = (
        pl.col("symbol").is_null(),
        pl.col("_symbol_ok"),
        pl.col("_text").fill_null(""),
    )
    checked = problems.with_columns(
        reason=pl.when(missing)
        .then(pl.lit("missing_symbol"))
        .when(~symbol_ok)
        .then(pl.lit("bad_symbol"))
        .when(text != "")
        .then(pl.lit("bad_text")),
        detail=pl.when(missing)
        .then(pl.lit("symbol is empty"))
        .when(~symbol_ok)
        .then(pl.format("symbol {} does not match {}", _shown("symbol"), pl.lit(SYMBOL_PATTERN)))
        .when(text != "")
        .then(text),
    ).drop("_symbol_ok", "_text")
    return _duplicates(checked)


def _duplicates(checked: pl.DataFrame) -> pl.DataFrame:
    """Reject every copy of a symbol listed twice with different values; mark exact copies."""
    alive = pl.col("reason").is_null()
    fields = list(SECURITY_SCHEMA)
    variants = pl.struct(fields).filter(alive).n_unique().over("symbol")
    conflict = alive & (variants > 1)
    listing = pl.format(
        "line {}: {} / {} / {} / {}",
        pl.col("line"),
        *(pl.col(c).fill_null("-") for c in ("name", "sector", "instrument_type", "status")),
    )
    shown = listing.filter(alive).over("symbol", mapping_strategy="join").list.join("; ")
    out = checked.with_columns(
        reason=pl.when(conflict).then(pl.lit("conflicting_duplicate")).otherwise("reason"),
        detail=pl.when(conflict)
        .then(
            pl.format(
                "symbol {} is listed {} times with different values ({}); which one is right is "
                "unknown, so none is stored: fix the list",
                pl.col("symbol"),
                alive.sum().over("symbol"),
                shown,
            )
        )
        .otherwise("detail"),
    )
    first = pl.col("reason").is_null().cast(pl.Int64).cum_sum().over("symbol") > 1
    return out.with_columns(_extra=pl.col("reason").is_null() & first)


def refuse_disagreeing_lists(frames: list[pl.DataFrame], sources: list[list[str]]) -> None:
    """SourceError when securities lists read together give one symbol different values.

    Each list is checked on its own by its parser (`check_securities`); lists in other layouts
    are parsed apart, so they are compared here: the last must not win. `sources[i]` are the
    files of `frames[i]`.
    """
    lists = [
        frame.with_columns(_files=pl.lit(", ".join(files)))
        for frame, files in zip(frames, sources, strict=True)
        if frame.height
    ]
    if len(lists) < 2:
        return
    every = pl.concat(lists).unique(subset=list(SECURITY_SCHEMA), maintain_order=True)
    twice = every.filter(pl.col("symbol").is_duplicated())
    if twice.height:
        symbol = twice["symbol"][0]
        shown = "; ".join(
            f"{r['_files']}: {r['instrument_type']} / {r['sector']} / {r['status']}"
            for r in twice.filter(pl.col("symbol") == symbol).iter_rows(named=True)
        )
        raise SourceError(
            f"securities lists read together disagree on {symbol} ({shown}) and "
            f"{twice['symbol'].n_unique()} symbol(s) in all; which is right is unknown: read "
            "one list at a time, or fix the older one"
        )
