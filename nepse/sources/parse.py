"""Vectorised parsing of a format's lines into canonical rows and rejects (one pass per group).

Each price row keeps `source`, `line`, `raw` and `kind` (the format); a row that cannot be parsed
goes to `rejects` with a detail naming the field and the bad value. Quality rules are not applied
here (see nepse/ingest/quality.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import polars as pl

from nepse.schema import (
    READ_PRICE_SCHEMA,
    REJECT_SCHEMA,
    ReadResult,
    conform,
)
from nepse.sources.formats import MISSING_TOKENS, Format, _norm

_FIELD_RE = r',[ \t]*(?:"(?:[^"]|"")*"[ \t]*|[^,]*)'
_ISO_DATE_RE = r"^(\d{4}-\d{1,2}-\d{1,2})(?:[ T][0-9:.+\-Z]*)?$"
_US_DATE_RE = r"^(\d{1,2}/\d{1,2}/\d{4})$"
_RATIO_RE = r"^(\d+(?:\.\d+)?)\s*:\s*(\d+(?:\.\d+)?)$"


@dataclass
class _Loaded:
    """One file's data lines (header excluded) and what is needed to parse them."""

    source: str
    fmt: Format
    header: tuple[str, ...]  # normalised header names, in file order
    path_symbol: str
    first_line: int = 2  # physical line number of the first line after the header
    body: str = ""  # CSV text after the header line, line ends folded to \n
    cut_line: int | None = None  # a last line that may be cut off (no final newline)
    fields: pl.DataFrame | None = None  # Parquet: raw + f0..f{n-1} as strings


# --------------------------------------------------------------------------- expressions


def _clean(text: pl.Expr) -> pl.Expr:
    """A stripped field with the missing-value markers (blank, `-`, ...) turned into null."""
    return pl.when(~text.is_in(MISSING_TOKENS)).then(text)


def _split_fields(lf: pl.LazyFrame, n: int, *, any_quoted: bool = True) -> pl.LazyFrame:
    """Add `n_fields` and the first `n` CSV fields of `raw` as f0..f{n-1} (stripped strings)."""
    names = [f"f{i}" for i in range(n)]
    quoted = pl.col("raw").str.contains('"', literal=True)
    # Most lines hold no quote: a plain split is several times faster than the CSV regex.
    plain = (
        lf.filter(~quoted)
        .with_columns(
            n_fields=pl.col("raw").str.count_matches(",", literal=True).cast(pl.UInt32) + 1,
            _parts=pl.col("raw").str.split_exact(",", n - 1).struct.rename_fields(names),
        )
        .unnest("_parts")
        .with_columns([pl.col(c).str.strip_chars() for c in names])
    )

    def unquote(e: pl.Expr) -> pl.Expr:
        e = e.str.slice(1).str.strip_chars()
        inner = e.str.slice(1, e.str.len_chars() - 2).str.replace_all('""', '"', literal=True)
        is_quoted = e.str.starts_with('"') & e.str.ends_with('"') & (e.str.len_chars() >= 2)
        return pl.when(is_quoted).then(inner.str.strip_chars()).otherwise(e)

    with_quotes = (
        lf.filter(quoted)
        .with_columns(_parts=(pl.lit(",") + pl.col("raw")).str.extract_all(_FIELD_RE))
        .with_columns(
            n_fields=pl.col("_parts").list.len().cast(pl.UInt32),
            **{
                c: unquote(pl.col("_parts").list.get(i, null_on_oob=True))
                for i, c in enumerate(names)
            },
        )
        .drop("_parts")
    )
    if not any_quoted:
        return plain
    return pl.concat([plain, with_quotes], how="diagonal_relaxed").sort("_row")


# Thousands separators as written in the wild: 1,234,567.50 (Western groups of three) or
# 12,34,567.50 (the Indian lakh grouping some Nepali exports use).
_GROUPED_RE = r"^[+-]?(?:\d{1,3}(?:,\d{3})+|\d{1,2}(?:,\d{2})*,\d{3})(?:\.\d*)?$"
# A decimal comma (a European-locale spreadsheet): 297,00 / 0,5 / 1.234,56. Never read as a
# thousands separator: "297,00" is 297, not 29,700.
_DECIMAL_COMMA_RE = r"^[+-]?(?:\d{1,3}(?:\.\d{3})+|\d+),\d+$"


def _decimal_comma(text: pl.Expr) -> pl.Expr:
    """True where `text` is a number written with a decimal comma (not a thousands grouping)."""
    return text.str.contains(_DECIMAL_COMMA_RE) & ~text.str.contains(_GROUPED_RE)


def _number(text: pl.Expr) -> pl.Expr:
    """Float from text with thousands separators; null where missing, not a finite number, or
    written with commas that are not a thousands grouping (a decimal comma is never guessed)."""
    commas = text.str.contains(",", literal=True)
    plain = pl.when(~commas | text.str.contains(_GROUPED_RE)).then(text)
    value = plain.str.replace_all(",", "", literal=True).cast(pl.Float64, strict=False)
    return pl.when(value.is_finite()).then(value)


def _date(text: pl.Expr, *, us_dates: bool) -> pl.Expr:
    """Date from `YYYY-MM-DD` (an ISO time part is ignored) or, if allowed, `MM/DD/YYYY`."""
    iso = text.str.extract(_ISO_DATE_RE, 1).str.strptime(pl.Date, "%Y-%m-%d", strict=False)
    if not us_dates:
        return iso
    us = text.str.extract(_US_DATE_RE, 1).str.strptime(pl.Date, "%m/%d/%Y", strict=False)
    return pl.coalesce(iso, us)


def _bad(name: str, text: pl.Expr, value: pl.Expr, expected: str) -> pl.Expr:
    """Detail for a field whose text is present but did not parse, else null."""
    return pl.when(text.is_not_null() & value.is_null()).then(
        pl.format(f"{name}='{{}}' is not {expected}", text)
    )


def _column_exprs(loaded: _Loaded, names: Mapping[str, str]) -> dict[str, pl.Expr]:
    """Our column -> its field's text, for the header columns present in this file."""
    index: dict[str, int] = {}
    for i, h in enumerate(loaded.header):
        index.setdefault(h, i)
    return {
        ours: pl.col(f"f{index[_norm(theirs)]}")
        for ours, theirs in names.items()
        if _norm(theirs) in index
    }


def _with_detail(lf: pl.LazyFrame, problems: list[pl.Expr], n_fields: int) -> pl.LazyFrame:
    """Add `detail`: the wrong field count, else every field problem, else null."""
    found = (
        pl.concat_str(problems, separator="; ", ignore_nulls=True)
        if problems
        else pl.lit("", dtype=pl.String)
    )
    detail = (
        pl.when(pl.col("n_fields") != n_fields)
        .then(pl.format(f"expected {n_fields} fields, got {{}}", pl.col("n_fields")))
        .otherwise(found)
    )
    return lf.with_columns(detail=pl.when(detail != "").then(detail))


# --------------------------------------------------------------------------- parsers


_NUMERIC = ("open", "high", "low", "close", "volume", "turnover", "trades")


def _parse_prices(lf: pl.LazyFrame, loaded: _Loaded) -> ReadResult:
    """Canonical price rows (and rejects) from lines of a price format."""
    fmt = loaded.fmt
    n_fields = len(loaded.header)
    text = _column_exprs(loaded, fmt.columns)
    numeric = [c for c in _NUMERIC if c in text]
    symbol = (
        _clean(text["symbol"]).str.to_uppercase() if fmt.symbol_in_data else pl.col("path_symbol")
    )
    # Pass 1, every row: plain casts, which is all a well-formed row needs. A row any cast
    # leaves in doubt (a "-", a quoted "1,234.50", a bad value) is only flagged here.
    fast: dict[str, pl.Expr] = {
        "date": text["date"].str.strptime(pl.Date, "%Y-%m-%d", strict=False)
    }
    for c in numeric:
        fast[c] = text[c].cast(pl.Int64 if c == "trades" else pl.Float64, strict=False)
    doubt = [pl.col("n_fields") != n_fields, pl.col("date").is_null()]
    doubt += [pl.col("symbol").is_null(), pl.col("symbol") == ""]
    for c in numeric:
        doubt.append(pl.col(c).is_null() & text[c].is_not_null())
        if c != "trades":
            doubt.append(pl.col(c).is_not_null() & ~pl.col(c).is_finite())
    df = (
        lf.with_columns(symbol=symbol, **fast)
        .with_columns(_doubt=pl.any_horizontal(doubt).fill_null(True))
        .collect()
    )
    clear = df.filter(~pl.col("_doubt"))
    # Pass 2, the few doubtful rows: missing markers, thousands separators, other date
    # layouts, and a detail naming every field that still does not parse.
    doubtful = df.filter(pl.col("_doubt")).lazy()
    if fmt.us_dates:
        # The ISO dates of each file help decide the day/month order of its slash dates.
        iso = df.drop_nulls("date").group_by("source").agg(_iso=pl.col("date").unique())
        doubtful = doubtful.join(iso.lazy(), on="source", how="left", maintain_order="left")
    # Rejects are reported in file order (a join may reorder rows: Polars keeps no order
    # unless asked).
    checked = _check_prices(doubtful, loaded, text).collect().sort("_row")
    recovered = checked.filter(pl.col("reason").is_null())
    ok = clear
    if recovered.height:
        ok = pl.concat([clear, recovered], how="diagonal_relaxed").sort("_row")
    rejects = checked.filter(pl.col("reason").is_not_null())
    ok, rejects = _quarantine_decimal_comma(ok, rejects)
    if fmt.real_open_from is not None:
        ok = ok.with_columns(
            open=pl.when(pl.col("date") >= fmt.real_open_from).then(pl.col("open"))
        )
    return ReadResult(
        fmt=fmt.name,
        prices=conform(ok.with_columns(kind=pl.lit(fmt.name)), READ_PRICE_SCHEMA),
        rejects=conform(rejects, REJECT_SCHEMA),
    )


def _quarantine_decimal_comma(
    ok: pl.DataFrame, rejects: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Every row of a file that writes a number with a decimal comma goes to rejects.

    One such value shows the file was saved in a locale where `,` is the decimal mark, so its
    other numbers cannot be trusted either (`1.234` may be 1234): nothing of it is stored.
    """
    if not rejects.height:
        return ok, rejects
    evidence = (
        rejects.filter(pl.col("reason") == "decimal_comma")
        .group_by("source", maintain_order=True)
        .agg(_first=pl.col("line").first(), _example=pl.col("_dc").first())
    )
    if not evidence.height:
        return ok, rejects
    detail = pl.format(
        "the file writes numbers with a decimal comma (line {}: {}), so none of its numbers "
        "can be trusted; re-save it with '.' as the decimal mark and no thousands separators",
        pl.col("_first"),
        pl.col("_example"),
    )
    moved = (
        ok.join(evidence, on="source", how="inner")
        .with_columns(reason=pl.lit("decimal_comma"), detail=detail)
        .drop("_first", "_example")
    )
    ok = ok.join(evidence.select("source"), on="source", how="anti")
    rejects = pl.concat([rejects, moved], how="diagonal_relaxed").sort("_row")
    return ok, rejects


_SLASH_RE = r"^(\d{1,2})/(\d{1,2})/(\d{4})$"


def _slash_date(text: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """(date, ambiguous) for D/M/Y or M/D/Y text, the order decided per file (`source`).

    A file's unambiguous rows decide: a first number above 12 means day first, a second above
    12 month first, and so does a reading that matches one of the file's ISO dates. A file
    whose rows say both, or nothing, and that has a date the two readings differ on, has those
    dates rejected `ambiguous_date` (never read one way on some rows and the other on others).
    """
    first = text.str.extract(_SLASH_RE, 1).cast(pl.Int32, strict=False)
    second = text.str.extract(_SLASH_RE, 2).cast(pl.Int32, strict=False)
    mdy = text.str.extract(_SLASH_RE, 0).str.strptime(pl.Date, "%m/%d/%Y", strict=False)
    dmy = text.str.extract(_SLASH_RE, 0).str.strptime(pl.Date, "%d/%m/%Y", strict=False)
    iso = pl.col("_iso")
    day_first = ((first > 12) | iso.list.contains(dmy) & (dmy != mdy)).fill_null(False)
    month_first = ((second > 12) | iso.list.contains(mdy) & (dmy != mdy)).fill_null(False)
    says_day = day_first.any().over("source")
    says_month = month_first.any().over("source")
    value = (
        pl.when(says_month & ~says_day)
        .then(mdy)
        .when(says_day & ~says_month)
        .then(dmy)
        .when(mdy == dmy)
        .then(mdy)
        .when(mdy.is_null() | dmy.is_null())
        .then(pl.coalesce(mdy, dmy))
    )
    ambiguous = first.is_not_null() & value.is_null() & mdy.is_not_null() & dmy.is_not_null()
    return value, ambiguous


def _check_prices(lf: pl.LazyFrame, loaded: _Loaded, text: dict[str, pl.Expr]) -> pl.LazyFrame:
    """Full parse of price rows with `reason`/`detail` set where a row must be rejected."""
    fmt = loaded.fmt
    text = {c: _clean(e) for c, e in text.items()}
    ambiguous = pl.lit(False)
    if fmt.us_dates:
        slash, ambiguous = _slash_date(text["date"])
        parsed: dict[str, pl.Expr] = {
            "date": pl.coalesce(_date(text["date"], us_dates=False), slash)
        }
    else:
        parsed = {"date": _date(text["date"], us_dates=False)}
    layouts = "YYYY-MM-DD, MM/DD/YYYY or DD/MM/YYYY" if fmt.us_dates else "YYYY-MM-DD"
    problems = [
        pl.when(text["date"].is_null())
        .then(pl.lit("date is empty"))
        .when(ambiguous)
        .then(
            pl.format(
                "date='{}' reads as MM/DD or DD/MM and no row of this file decides which; "
                "re-save the file with ISO dates (YYYY-MM-DD)",
                text["date"],
            )
        )
        .otherwise(_bad("date", text["date"], parsed["date"], f"a date ({layouts})"))
    ]
    commas: list[pl.Expr] = []
    for c in _NUMERIC:
        if c not in text:
            continue
        commas.append(pl.when(_decimal_comma(text[c])).then(pl.format(f"{c}='{{}}'", text[c])))
        value = _number(text[c])
        if c == "trades":
            # A count written as 26.00 is fine; 2.5 trades is not.
            value = pl.when(value == value.floor()).then(value.cast(pl.Int64))
            problems.append(_bad(c, text[c], value, "a whole number"))
        else:
            problems.append(_bad(c, text[c], value, "a number"))
        parsed[c] = value
    lf = _with_detail(lf.with_columns(**parsed), problems, len(loaded.header))
    no_symbol = pl.col("symbol").is_null() | (pl.col("symbol") == "")
    lf = lf.with_columns(
        _ambiguous=ambiguous, _dc=pl.concat_str(commas, separator=", ", ignore_nulls=True)
    )
    return lf.with_columns(
        reason=pl.when(pl.col("_dc") != "")
        .then(pl.lit("decimal_comma"))
        .when(pl.col("detail").is_not_null() & pl.col("_ambiguous"))
        .then(pl.lit("ambiguous_date"))
        .when(pl.col("detail").is_not_null())
        .then(pl.lit("unparseable"))
        .when(no_symbol)
        .then(pl.lit("missing_symbol")),
        detail=pl.when(pl.col("_dc") != "")
        .then(pl.format("{} written with a decimal comma", pl.col("_dc")))
        .when(pl.col("detail").is_not_null())
        .then(pl.col("detail"))
        .when(no_symbol)
        .then(pl.lit("symbol is empty")),
    )
