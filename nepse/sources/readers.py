"""Readers for the NEPSE price files users really have, each format chosen by its header line.

Every file is read as text (or Parquet), split into physical lines once, and parsed with
vectorised Polars expressions: files of one format and header are parsed together in a single
pass. Each price row keeps `source`, `line` and `raw`; a row that cannot be parsed goes to
`rejects` with a detail naming the field and the bad value. Quality rules are not applied here
(see nepse/ingest/quality.py). docs/formats.md documents every format.
"""

from __future__ import annotations

import csv
import functools
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import polars as pl

from nepse.errors import SourceError
from nepse.schema import (
    CORPORATE_ACTION_SCHEMA,
    PRICE_COLUMNS,
    READ_PRICE_SCHEMA,
    REJECT_SCHEMA,
    SECURITY_SCHEMA,
    ReadResult,
    conform,
)

log = logging.getLogger(__name__)

PRICES = "prices"
CORPORATE_ACTIONS = "corporate_actions"
SECURITIES = "securities"

CSV_SUFFIXES = frozenset({".csv"})
PARQUET_SUFFIXES = frozenset({".parquet", ".pq"})

# Cell values that mean "no value" in the wild (ShareSansar writes "-", spreadsheets leave "").
MISSING_TOKENS = ("", "-", "--", "N/A", "n/a", "NA", "na", "null", "NULL", "None")

# One CSV field, with the comma in front of it (a comma is prepended to each line): a quoted
# field (with "" escapes, may hold commas) or anything up to the next comma. Matching the
# leading comma makes empty fields non-empty matches, so `extract_all` counts them.
_FIELD_RE = r',[ \t]*(?:"(?:[^"]|"")*"[ \t]*|[^,]*)'
_ISO_DATE_RE = r"^(\d{4}-\d{1,2}-\d{1,2})(?:[ T][0-9:.+\-Z]*)?$"
_US_DATE_RE = r"^(\d{1,2}/\d{1,2}/\d{4})$"
_RATIO_RE = r"^(\d+(?:\.\d+)?)\s*:\s*(\d+(?:\.\d+)?)$"
# File stems that name the content, not the symbol: the symbol is then the folder's name.
_GENERIC_STEM_RE = re.compile(
    r"^(prices?|price[-_ ]?history|dividends?\d*|right[-_ ]?shares?\d*|rights?\d*|bonus\d*|data)$",
    re.IGNORECASE,
)
_DATE_RANGE_SUFFIX_RE = re.compile(r"_\d{4}-\d{2}-\d{2}_\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class Format:
    """A file format: the header columns that identify it and how they map to our columns."""

    name: str
    header: tuple[str, ...]  # required header columns, as written in the files
    description: str
    kind: str = PRICES  # prices | corporate_actions | securities
    optional: tuple[str, ...] = ()  # header columns used when present
    columns: Mapping[str, str] = field(default_factory=dict)  # our column -> header column
    us_dates: bool = False  # dates may also be MM/DD/YYYY (a spreadsheet re-save)
    # First date on which the source's `open` is a real opening price; earlier opens are nulled.
    real_open_from: date | None = None

    @property
    def symbol_in_data(self) -> bool:
        """Whether rows carry their own symbol (else it comes from the file's path)."""
        return "symbol" in self.columns


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format(
            name="sharesansar_prices",
            header=("date", "open", "high", "low", "ltp", "percent_change", "qty", "turnover"),
            description="ShareSansar company-wise daily prices, `<SYMBOL>/prices.csv`; "
            "ltp is the close, qty the volume, no trade count",
            columns={
                "date": "date",
                "open": "open",
                "high": "high",
                "low": "low",
                "close": "ltp",
                "volume": "qty",
                "turnover": "turnover",
            },
            # Before 2018-02-18 ShareSansar's `open` is mostly the previous close (measured in
            # the shared data's README): keeping it would fake candle shapes and make the OHLC
            # rule "repair" ~35k rows. Null it, as the legacy export has no open at all.
            real_open_from=date(2018, 2, 18),
        ),
        Format(
            name="sharesansar_dividends",
            header=("fiscal_year", "bonus_share", "cash_dividend", "book_closure_date"),
            optional=("total_dividend",),
            description="ShareSansar company-wise `<SYMBOL>/dividend.csv`: one row per fiscal "
            "year, bonus % and cash % -> corporate actions `bonus` and `cash`",
            kind=CORPORATE_ACTIONS,
        ),
        Format(
            name="sharesansar_rights",
            header=("ratio", "issue_price", "opening_date"),
            optional=("total_units", "closing_date", "status", "issue_manager"),
            description="ShareSansar company-wise `<SYMBOL>/right-share.csv`: rights issues "
            "-> corporate actions `rights` (book closure = opening date, a proxy)",
            kind=CORPORATE_ACTIONS,
        ),
        Format(
            name="sharesansar_price_history",
            header=(
                "published_date",
                "open",
                "high",
                "low",
                "close",
                "per_change",
                "traded_quantity",
                "traded_amount",
                "status",
            ),
            description="ShareSansar price history, one `<SYMBOL>.csv` per symbol",
            columns={
                "date": "published_date",
                "open": "open",
                "high": "high",
                "low": "low",
                "close": "close",
                "volume": "traded_quantity",
                "turnover": "traded_amount",
            },
        ),
        Format(
            name="nepalstock_legacy",
            header=(
                "S.N.",
                "Date",
                "Total Transactions",
                "Total Traded Shares",
                "Total Traded Amount",
                "Max. Price",
                "Min. Price",
                "Close Price",
            ),
            description="legacy nepalstock.com stock-wise export `<SYMBOL>_<from>_<to>.csv`; "
            "no open price",
            columns={
                "date": "Date",
                "high": "Max. Price",
                "low": "Min. Price",
                "close": "Close Price",
                "volume": "Total Traded Shares",
                "turnover": "Total Traded Amount",
                "trades": "Total Transactions",
            },
        ),
        Format(
            name="nepse_today_price",
            header=(
                "Id",
                "Business Date",
                "Security Id",
                "Symbol",
                "Security Name",
                "Open Price",
                "High Price",
                "Low Price",
                "Close Price",
                "Total Traded Quantity",
                "Total Traded Value",
                "Previous Day Close Price",
            ),
            optional=(
                "Fifty Two Week High",
                "Fifty Two Week Low",
                "Last Updated Price",
                "Total Trades",
                "Average Traded Price",
                "Market Capitalization",
            ),
            description='NEPSE "Today\'s Price" export, one file per day for all symbols; '
            "Business Date YYYY-MM-DD or MM/DD/YYYY",
            columns={
                "symbol": "Symbol",
                "date": "Business Date",
                "open": "Open Price",
                "high": "High Price",
                "low": "Low Price",
                "close": "Close Price",
                "volume": "Total Traded Quantity",
                "turnover": "Total Traded Value",
                "trades": "Total Trades",
            },
            us_dates=True,
        ),
        Format(
            name="nepse_company_list",
            header=("symbol", "instrumentType", "sectorName", "status"),
            optional=("companyName", "securityName"),
            description="NEPSE API company list `CompanyList.csv` -> securities",
            kind=SECURITIES,
        ),
        Format(
            name="canonical",
            header=("symbol", "date", "open", "high", "low", "close", "volume", "turnover"),
            optional=("trades",),
            description="this project's own CSV or Parquet: one row per (symbol, date)",
            columns={c: c for c in PRICE_COLUMNS},
        ),
    )
}


def _norm(name: str) -> str:
    """Header name compared case- and whitespace-insensitively (Excel re-saves vary)."""
    return " ".join(name.replace("\ufeff", "").strip().strip('"').lower().split())


@functools.cache
def _required(name: str) -> frozenset[str]:
    return frozenset(_norm(h) for h in FORMATS[name].header)


def _known_formats_text() -> str:
    return "\n".join(f"  - {f.name}: {','.join(f.header)}" for f in FORMATS.values())


def detect_format(header: list[str], *, source: str | None = None) -> str:
    """Name of the format in FORMATS whose required columns all appear in `header`."""
    have = {_norm(h) for h in header}
    matches = [f for f in FORMATS.values() if _required(f.name) <= have]
    if not matches:
        where = f"{source}: " if source else ""
        raise SourceError(
            f"{where}unknown header {','.join(header)!r}. Known formats (name: required "
            f"header columns):\n{_known_formats_text()}\n"
            "Fix: convert the file to the canonical CSV (symbol,date,open,high,low,close,"
            "volume,turnover[,trades]) or add a Format to nepse.sources.readers.FORMATS."
        )
    # The most specific format wins where one header satisfies several.
    return max(matches, key=lambda f: len(f.header)).name


def symbol_from_path(path: Path) -> str:
    """Symbol a path names: `<SYMBOL>.csv`, `<SYMBOL>_<from>_<to>.csv`, `<SYMBOL>/prices.csv`."""
    stem = _DATE_RANGE_SUFFIX_RE.sub("", path.stem).strip()
    if _GENERIC_STEM_RE.match(stem):
        stem = path.parent.name.strip()
    return stem.upper()


# --------------------------------------------------------------------------- loading


@dataclass
class _Loaded:
    """One file's data lines (header excluded) and what is needed to parse them."""

    source: str
    fmt: Format
    header: tuple[str, ...]  # normalised header names, in file order
    path_symbol: str
    first_line: int = 2  # physical line number of the first line after the header
    body: str = ""  # CSV text after the header line, line ends folded to \n
    fields: pl.DataFrame | None = None  # Parquet: raw + f0..f{n-1} as strings


def _decode(data: bytes, source: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Old exports from Windows tools are cp1252; latin-1 never fails and keeps digits.
        log.warning("%s is not UTF-8; reading it as latin-1", source)
        return data.decode("latin-1")


def _load_csv(path: Path) -> _Loaded | None:
    """Split a CSV file into lines and detect its format; None if it has no header line."""
    source = str(path)
    try:
        text = _decode(path.read_bytes(), source)
    except OSError as exc:
        raise SourceError(f"{source}: cannot read the file ({exc}); check its permissions") from exc
    # Only \n (after CRLF folding) ends a line, so `line` matches what an editor shows.
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    start, number = 0, 1
    while True:  # to the first non-blank line, the header (blank lines are not data)
        end = text.find("\n", start)
        header_line = text[start:] if end < 0 else text[start:end]
        if header_line.strip():
            break
        if end < 0:
            return None
        start, number = end + 1, number + 1
    header_fields = next(csv.reader([header_line.strip().lstrip("\ufeff")]))
    return _Loaded(
        source=source,
        fmt=FORMATS[detect_format(header_fields, source=source)],
        header=tuple(_norm(h) for h in header_fields),
        path_symbol=symbol_from_path(path),
        first_line=number + 1,
        body="" if end < 0 else text[end + 1 :],
    )


def _load_parquet(path: Path) -> _Loaded:
    """Read a Parquet file as strings, so it goes through the same parsing as CSV."""
    source = str(path)
    try:
        df = pl.read_parquet(path)
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise SourceError(f"{source}: not a readable Parquet file ({exc})") from exc
    fmt = FORMATS[detect_format(df.columns, source=source)]
    fields = df.select(
        raw=pl.struct(pl.all()).struct.json_encode(),
        **{f"f{i}": pl.col(c).cast(pl.String).str.strip_chars() for i, c in enumerate(df.columns)},
    )
    return _Loaded(
        source=source,
        fmt=fmt,
        header=tuple(_norm(c) for c in df.columns),
        path_symbol=symbol_from_path(path),
        fields=fields.with_columns(n_fields=pl.lit(df.width, dtype=pl.UInt32)),
    )


def _lines_frame(group: list[_Loaded]) -> pl.DataFrame:
    """_row, source, path_symbol, line, raw for every line after the header in `group`'s CSVs."""
    files = pl.DataFrame(
        {
            "source": [item.source for item in group],
            "path_symbol": [item.path_symbol for item in group],
            "first": [item.first_line for item in group],
            "body": [item.body for item in group],
        },
        schema={
            "source": pl.String,
            "path_symbol": pl.String,
            "first": pl.Int64,
            "body": pl.String,
        },
    )
    return (
        files.select(
            "source",
            "path_symbol",
            line=pl.int_ranges(
                "first", pl.col("first") + pl.col("body").str.count_matches("\n", literal=True) + 1
            ),
            raw=pl.col("body").str.split("\n"),
        )
        .explode("line", "raw")
        .with_row_index("_row")
    )


def _parquet_frame(group: list[_Loaded]) -> pl.DataFrame:
    """The Parquet files of `group` with the same columns as a split CSV group."""
    return pl.concat(
        [
            item.fields.with_columns(
                source=pl.lit(item.source),
                path_symbol=pl.lit(item.path_symbol),
                line=pl.int_range(2, item.fields.height + 2, dtype=pl.Int64),
            )
            for item in group
            if item.fields is not None
        ],
        how="diagonal_relaxed",
    ).with_row_index("_row")


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


def _number(text: pl.Expr) -> pl.Expr:
    """Float from text with thousands separators; null where missing or not a finite number."""
    value = text.str.replace_all(",", "", literal=True).cast(pl.Float64, strict=False)
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
    checked = _check_prices(df.filter(pl.col("_doubt")).lazy(), loaded, text).collect()
    recovered = checked.filter(pl.col("reason").is_null())
    ok = clear
    if recovered.height:
        ok = pl.concat([clear, recovered], how="diagonal_relaxed").sort("_row")
    if fmt.real_open_from is not None:
        ok = ok.with_columns(
            open=pl.when(pl.col("date") >= fmt.real_open_from).then(pl.col("open"))
        )
    return ReadResult(
        fmt=fmt.name,
        prices=conform(ok, READ_PRICE_SCHEMA),
        rejects=conform(checked.filter(pl.col("reason").is_not_null()), REJECT_SCHEMA),
    )


def _check_prices(lf: pl.LazyFrame, loaded: _Loaded, text: dict[str, pl.Expr]) -> pl.LazyFrame:
    """Full parse of price rows with `reason`/`detail` set where a row must be rejected."""
    fmt = loaded.fmt
    text = {c: _clean(e) for c, e in text.items()}
    parsed: dict[str, pl.Expr] = {"date": _date(text["date"], us_dates=fmt.us_dates)}
    layouts = "YYYY-MM-DD or MM/DD/YYYY" if fmt.us_dates else "YYYY-MM-DD"
    problems = [
        pl.when(text["date"].is_null())
        .then(pl.lit("date is empty"))
        .otherwise(_bad("date", text["date"], parsed["date"], f"a date ({layouts})"))
    ]
    for c in _NUMERIC:
        if c not in text:
            continue
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
    return lf.with_columns(
        reason=pl.when(pl.col("detail").is_not_null())
        .then(pl.lit("unparseable"))
        .when(no_symbol)
        .then(pl.lit("missing_symbol")),
        detail=pl.when(pl.col("detail").is_not_null())
        .then(pl.col("detail"))
        .when(no_symbol)
        .then(pl.lit("symbol is empty")),
    )


def _parse_dividends(lf: pl.LazyFrame, loaded: _Loaded) -> ReadResult:
    """Bonus and cash corporate actions from ShareSansar dividend rows (one per non-zero value)."""
    text = {
        c: _clean(e) for c, e in _column_exprs(loaded, {c: c for c in loaded.fmt.header}).items()
    }
    closure_text = text["book_closure_date"]
    # "2025-12-31 [Closed]", "2026-04-09" (not yet closed) or blank.
    closure = pl.coalesce(
        closure_text.str.extract(r"(\d{4}-\d{1,2}-\d{1,2})", 1).str.strptime(
            pl.Date, "%Y-%m-%d", strict=False
        ),
        closure_text.str.extract(r"(\d{1,2}/\d{1,2}/\d{4})", 1).str.strptime(
            pl.Date, "%m/%d/%Y", strict=False
        ),
    )
    bonus = _number(text["bonus_share"])
    cash = _number(text["cash_dividend"])
    problems = [
        _bad("bonus_share", text["bonus_share"], bonus, "a number"),
        _bad("cash_dividend", text["cash_dividend"], cash, "a number"),
        _bad("book_closure_date", closure_text, closure, "a date"),
    ]
    lf = lf.with_columns(
        symbol=pl.col("path_symbol"),
        fiscal_year=text["fiscal_year"],
        book_closure_date=closure,
        bonus=bonus,
        cash=cash,
    )
    lf = _with_detail(lf, problems, len(loaded.header))
    df = lf.collect()
    ok = df.filter(pl.col("detail").is_null())
    actions = pl.concat(
        [
            ok.filter(pl.col(col).is_not_null() & (pl.col(col) != 0)).with_columns(
                kind=pl.lit(kind), percent=pl.col(col)
            )
            for col, kind in (("bonus", "bonus"), ("cash", "cash"))
        ]
    ).sort("source", "line", "kind")
    return ReadResult(
        fmt=loaded.fmt.name,
        corporate_actions=conform(actions, CORPORATE_ACTION_SCHEMA),
        rejects=_rejects(df.filter(pl.col("detail").is_not_null())),
    )


def _parse_rights(lf: pl.LazyFrame, loaded: _Loaded) -> ReadResult:
    """Rights actions: percent = b/a*100 of ratio `a:b`; book closure = opening date (a proxy)."""
    text = {
        c: _clean(e) for c, e in _column_exprs(loaded, {c: c for c in loaded.fmt.header}).items()
    }
    ratio = text["ratio"].str.replace_all(r"\s+", "")
    held = ratio.str.extract(_RATIO_RE, 1)
    offered = ratio.str.extract(_RATIO_RE, 2)
    percent = offered.cast(pl.Float64) / held.cast(pl.Float64) * 100
    issue_price = _number(text["issue_price"])
    opening = _date(text["opening_date"], us_dates=False)
    problems = [
        pl.when(text["ratio"].is_null())
        .then(pl.lit("ratio is empty"))
        .when(held.is_null() | (held.cast(pl.Float64) == 0))
        .then(pl.format("ratio='{}' is not a:b", text["ratio"])),
        _bad("issue_price", text["issue_price"], issue_price, "a number"),
        _bad("opening_date", text["opening_date"], opening, "a date (YYYY-MM-DD)"),
    ]
    lf = lf.with_columns(
        symbol=pl.col("path_symbol"),
        kind=pl.lit("rights"),
        percent=percent,
        ratio=pl.format("{}:{}", held, offered),
        issue_price=issue_price,
        book_closure_date=opening,
    )
    lf = _with_detail(lf, problems, len(loaded.header))
    df = lf.collect()
    return ReadResult(
        fmt=loaded.fmt.name,
        corporate_actions=conform(df.filter(pl.col("detail").is_null()), CORPORATE_ACTION_SCHEMA),
        rejects=_rejects(df.filter(pl.col("detail").is_not_null())),
    )


def _parse_securities(lf: pl.LazyFrame, loaded: _Loaded) -> ReadResult:
    """Securities master rows from the NEPSE company list."""
    names = {c: c for c in (*loaded.fmt.header, *loaded.fmt.optional)}
    text = {c: _clean(e) for c, e in _column_exprs(loaded, names).items()}
    # A symbol is a security: for debentures and mutual funds the security name says which
    # one, the company name only who issued or manages it.
    name_cols = [text[c] for c in ("securityName", "companyName") if c in text]
    lf = lf.with_columns(
        symbol=text["symbol"].str.to_uppercase(),
        name=pl.coalesce(name_cols) if name_cols else pl.lit(None, dtype=pl.String),
        sector=text["sectorName"],
        instrument_type=text["instrumentType"],
        status=text["status"],
    )
    lf = _with_detail(lf, [], len(loaded.header))
    df = lf.collect().with_columns(
        reason=pl.when(pl.col("detail").is_not_null())
        .then(pl.lit("unparseable"))
        .when(pl.col("symbol").is_null())
        .then(pl.lit("missing_symbol")),
        detail=pl.coalesce(
            "detail", pl.when(pl.col("symbol").is_null()).then(pl.lit("symbol is empty"))
        ),
    )
    return ReadResult(
        fmt=loaded.fmt.name,
        securities=conform(df.filter(pl.col("reason").is_null()), SECURITY_SCHEMA),
        rejects=conform(df.filter(pl.col("reason").is_not_null()), REJECT_SCHEMA),
    )


def _rejects(df: pl.DataFrame) -> pl.DataFrame:
    return conform(df.with_columns(reason=pl.lit("unparseable")), REJECT_SCHEMA)


_PARSERS = {
    "sharesansar_dividends": _parse_dividends,
    "sharesansar_rights": _parse_rights,
    "nepse_company_list": _parse_securities,
}


def _parse_group(group: list[_Loaded]) -> ReadResult:
    """Parse the lines of files sharing one format and header in a single vectorised pass."""
    first = group[0]
    if first.fields is None:
        frame = _lines_frame(group)
        lf = (
            frame.lazy()
            .filter(pl.col("raw").str.strip_chars().str.len_bytes() > 0)
            .pipe(
                _split_fields,
                len(first.header),
                any_quoted=bool(frame["raw"].str.contains('"', literal=True).any()),
            )
        )
    else:
        lf = _parquet_frame(group).lazy()
    result = _PARSERS.get(first.fmt.name, _parse_prices)(lf, first)
    result.sources = [g.source for g in group]
    return result


# --------------------------------------------------------------------------- public API


def _files(path: Path) -> list[Path]:
    if path.is_file():
        if path.suffix.lower() not in CSV_SUFFIXES | PARQUET_SUFFIXES:
            raise SourceError(
                f"{path}: not a price file (only .csv, .parquet and .pq are read); "
                "give a CSV or Parquet file, or a folder holding them"
            )
        return [path]
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file())
    raise SourceError(f"{path}: no such file or folder; check the path (relative to {Path.cwd()})")


def read_path(path: str | Path) -> ReadResult:
    """Read one price file or every file under a folder, each in the format its header names."""
    started = time.perf_counter()
    root = Path(path)
    loaded: list[_Loaded] = []
    skipped: list[str] = []
    for file in _files(root):
        suffix = file.suffix.lower()
        if suffix in CSV_SUFFIXES:
            item = _load_csv(file)
            if item is None:
                skipped.append(str(file))
                continue
        elif suffix in PARQUET_SUFFIXES:
            item = _load_parquet(file)
        else:
            skipped.append(str(file))
            continue
        loaded.append(item)
    if skipped:
        log.warning(
            "skipped %d file(s) that are not CSV/Parquet or have no header line: %s",
            len(skipped),
            ", ".join(skipped),
        )
    groups: dict[tuple[str, tuple[str, ...], bool], list[_Loaded]] = {}
    for item in loaded:
        groups.setdefault((item.fmt.name, item.header, item.fields is None), []).append(item)
    results = [_parse_group(group) for group in groups.values()]
    result = ReadResult.concat(results) if results else ReadResult(fmt="empty")
    result.sources = [item.source for item in loaded]
    result.skipped = skipped
    result.corporate_actions = _drop_repeated_actions(result.corporate_actions)
    log.info(
        "read %s: %d file(s) [%s], %d price rows, %d rejects, %d corporate actions, "
        "%d securities in %.2fs",
        root,
        len(loaded),
        result.fmt,
        result.prices.height,
        result.rejects.height,
        result.corporate_actions.height,
        result.securities.height,
        time.perf_counter() - started,
    )
    return result


def _drop_repeated_actions(actions: pl.DataFrame) -> pl.DataFrame:
    """One copy of an action found in several files (ADBL ships dividend.csv and dividend2.csv)."""
    keys = [c for c in CORPORATE_ACTION_SCHEMA if c != "source"]
    unique = actions.unique(subset=keys, keep="first", maintain_order=True)
    if unique.height < actions.height:
        # Applying one bonus twice would halve history twice; the copies add nothing.
        log.info("dropped %d repeated corporate action(s)", actions.height - unique.height)
    return unique


__all__ = [
    "FORMATS",
    "Format",
    "detect_format",
    "read_path",
    "symbol_from_path",
]
