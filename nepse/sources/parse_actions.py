"""Parsers of the side tables: ShareSansar dividends and rights (corporate actions), and the NEPSE
company list (securities). Same vectorised approach as nepse/sources/parse.py."""

from __future__ import annotations

import polars as pl

from nepse.schema import (
    BONUS_PERCENT_MAX,
    CASH_PERCENT_MAX,
    CORPORATE_ACTION_SCHEMA,
    PRICE_RANGE,
    REJECT_SCHEMA,
    RIGHTS_PERCENT_MAX,
    SECURITY_SCHEMA,
    ReadResult,
    conform,
)
from nepse.sources.parse import (
    _RATIO_RE,
    _bad,
    _clean,
    _column_exprs,
    _date,
    _Loaded,
    _number,
    _with_detail,
)
from nepse.sources.securities import check_securities


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
    df = _judge(
        lf.collect(),
        [
            _outside("bonus_share", pl.col("bonus"), BONUS_PERCENT_MAX),
            _outside("cash_dividend", pl.col("cash"), CASH_PERCENT_MAX),
        ],
    )
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
        rejects=conform(df.filter(pl.col("detail").is_not_null()), REJECT_SCHEMA),
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
    lo, hi = PRICE_RANGE
    df = _judge(
        lf.collect(),
        [
            pl.when(pl.col("percent") <= 0).then(
                pl.format("ratio {} offers no new shares", pl.col("ratio"))
            ),
            _outside("ratio", pl.col("percent"), RIGHTS_PERCENT_MAX),
            pl.when(~pl.col("issue_price").is_between(lo, hi)).then(
                pl.format(
                    f"issue_price {{}} is outside NPR {lo:g}..{hi:,.0f}", pl.col("issue_price")
                )
            ),
        ],
    )
    return ReadResult(
        fmt=loaded.fmt.name,
        corporate_actions=conform(df.filter(pl.col("detail").is_null()), CORPORATE_ACTION_SCHEMA),
        rejects=conform(df.filter(pl.col("detail").is_not_null()), REJECT_SCHEMA),
    )


def _outside(field: str, percent: pl.Expr, most: float) -> pl.Expr:
    """Detail for a percentage outside (0, most] (null when it is inside or missing)."""
    return pl.when((percent < 0) | (percent > most)).then(
        pl.format(f"{field} {{}} % is outside the plausible (0, {most:g}] %", percent.round(4))
    )


def _judge(df: pl.DataFrame, rules: list[pl.Expr]) -> pl.DataFrame:
    """Parse rejects (`detail` set) become `unparseable`; rows breaking a plausibility rule
    become `implausible_action` with every broken rule in `detail`."""
    broken = pl.concat_str(rules, separator="; ", ignore_nulls=True)
    return df.with_columns(_broken=broken).with_columns(
        reason=pl.when(pl.col("detail").is_not_null())
        .then(pl.lit("unparseable"))
        .when(pl.col("_broken") != "")
        .then(pl.lit("implausible_action")),
        detail=pl.when(pl.col("detail").is_not_null())
        .then(pl.col("detail"))
        .when(pl.col("_broken") != "")
        .then(
            pl.format(
                "{}: not stored (nepse/schema.py gives the ranges, measured on real history)",
                pl.col("_broken"),
            )
        ),
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
    df = lf.collect()
    # A row with the wrong field count is unparseable; the others are checked as securities.
    broken = df.filter(pl.col("detail").is_not_null()).with_columns(reason=pl.lit("unparseable"))
    checked = check_securities(df.filter(pl.col("detail").is_null()).drop("detail"))
    return ReadResult(
        fmt=loaded.fmt.name,
        securities=conform(
            checked.filter(pl.col("reason").is_null() & ~pl.col("_extra")), SECURITY_SCHEMA
        ),
        rejects=pl.concat(
            [
                conform(broken, REJECT_SCHEMA),
                conform(checked.filter(pl.col("reason").is_not_null()), REJECT_SCHEMA),
            ]
        ).sort("source", "line"),
    )


_PARSERS = {
    "sharesansar_dividends": _parse_dividends,
    "sharesansar_rights": _parse_rights,
    "nepse_company_list": _parse_securities,
}
