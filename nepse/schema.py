"""Column names and dtypes of every frame that crosses a module boundary or is stored.

Roles by name: keys `symbol`, `date`; features `f_*`; labels `y_*`; model outputs `pred_*`.
"""

from __future__ import annotations

import polars as pl

# Canonical daily prices, as every reader returns them (before quality rules).
# `line` is the 1-based line number in the source file (header = line 1) or the record
# number in an API answer; `raw` the original text of the record, kept for rejects.
PRICE_COLUMNS: dict[str, pl.DataType] = {
    "symbol": pl.String(),
    "date": pl.Date(),
    "open": pl.Float64(),
    "high": pl.Float64(),
    "low": pl.Float64(),
    "close": pl.Float64(),
    "volume": pl.Float64(),  # shares traded (the legacy export writes 26.00)
    "turnover": pl.Float64(),  # traded amount, NPR
    "trades": pl.Int64(),  # number of transactions (null where the source has none)
}
READ_PRICE_SCHEMA: dict[str, pl.DataType] = {
    **PRICE_COLUMNS,
    "source": pl.String(),
    "line": pl.Int64(),
    "raw": pl.String(),
}

# What a reader or a quality rule sends to quarantine. One reason code per row.
REJECT_SCHEMA: dict[str, pl.DataType] = {
    "source": pl.String(),
    "line": pl.Int64(),
    "raw": pl.String(),
    "reason": pl.String(),
    "detail": pl.String(),
}

# Reason codes of rejected_prices (README "Data-quality rules" documents each).
REASONS: dict[str, str] = {
    "unparseable": "a field could not be parsed (date or number)",
    "missing_symbol": "symbol empty",
    "missing_close": "close missing",
    "nonpositive_price": "close (or another given price) is zero or negative",
    "high_below_low": "high < low",
    "ohlc_inconsistent": "open or close outside [low, high] (ohlc_policy=reject)",
    "conflicting_duplicate": "several different rows for one (symbol, date) in one load",
    "future_date": "date after today in Asia/Kathmandu",
    "not_equity": "securities master says not an equity (non_equity_policy=skip)",
    "market_open": "close not yet published (market still open)",
}

# Row flags kept on stored prices (null = clean).
FLAGS: dict[str, str] = {
    "ohlc_repaired": "high/low widened to contain open and close (ohlc_policy=repair)",
    "beyond_limit": "close-to-close move beyond the daily price limit in force: a likely "
    "corporate action (or data error), stored but not used as a return",
}

SECURITY_SCHEMA: dict[str, pl.DataType] = {
    "symbol": pl.String(),
    "name": pl.String(),
    "sector": pl.String(),
    "instrument_type": pl.String(),
    "status": pl.String(),  # A active, S suspended, D delisted (NEPSE's codes)
}

CORPORATE_ACTION_SCHEMA: dict[str, pl.DataType] = {
    "symbol": pl.String(),
    "kind": pl.String(),  # bonus | rights | cash
    "percent": pl.Float64(),  # bonus % / rights % of holding / cash % of face value
    "ratio": pl.String(),  # rights ratio as written, e.g. "10:8"
    "issue_price": pl.Float64(),  # rights issue price, NPR
    "book_closure_date": pl.Date(),  # ex-date proxy (rights: see nepse/features/adjust.py)
    "fiscal_year": pl.String(),  # Nepali fiscal year, e.g. "2081/2082"
    "source": pl.String(),
}

EQUITY = "Equity"

KEYS: tuple[str, str] = ("symbol", "date")
"""The key of every per-stock daily frame and table."""


def empty(schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """An empty frame with the given schema."""
    return pl.DataFrame(schema=schema)


def conform(df: pl.DataFrame, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """Select and cast `df` to exactly `schema` (missing columns become nulls)."""
    if not df.columns:
        # A literal-only select would broadcast to one all-null row.
        return empty(schema)
    return df.select(
        [
            (pl.col(c) if c in df.columns else pl.lit(None)).cast(t).alias(c)
            for c, t in schema.items()
        ]
    )


class ReadResult:
    """What every reader (file or API) returns: parsed rows, parse rejects, side tables.

    `prices` follows READ_PRICE_SCHEMA, `rejects` REJECT_SCHEMA (rows that could not be parsed),
    `corporate_actions` CORPORATE_ACTION_SCHEMA and `securities` SECURITY_SCHEMA (either may be
    empty). Every data record read is in exactly one of `prices` or `rejects`, so
    `rows_read == prices.height + rejects.height`.
    """

    __slots__ = (
        "corporate_actions",
        "fmt",
        "prices",
        "rejects",
        "securities",
        "skipped",
        "sources",
    )

    def __init__(
        self,
        *,
        fmt: str,
        prices: pl.DataFrame | None = None,
        rejects: pl.DataFrame | None = None,
        corporate_actions: pl.DataFrame | None = None,
        securities: pl.DataFrame | None = None,
        sources: list[str] | None = None,
        skipped: list[str] | None = None,
    ) -> None:
        self.fmt = fmt
        self.prices = (
            conform(prices, READ_PRICE_SCHEMA) if prices is not None else empty(READ_PRICE_SCHEMA)
        )
        self.rejects = (
            conform(rejects, REJECT_SCHEMA) if rejects is not None else empty(REJECT_SCHEMA)
        )
        self.corporate_actions = (
            conform(corporate_actions, CORPORATE_ACTION_SCHEMA)
            if corporate_actions is not None
            else empty(CORPORATE_ACTION_SCHEMA)
        )
        self.securities = (
            conform(securities, SECURITY_SCHEMA)
            if securities is not None
            else empty(SECURITY_SCHEMA)
        )
        self.sources = sources or []
        # Files a folder read passed over (not CSV/Parquet, or empty), for the run summary.
        self.skipped = skipped or []

    @property
    def rows_read(self) -> int:
        """Data records seen (header lines not counted)."""
        return self.prices.height + self.rejects.height

    @staticmethod
    def concat(results: list[ReadResult], fmt: str | None = None) -> ReadResult:
        """Merge several results (e.g. one per file of a folder) into one."""
        fmts = sorted({r.fmt for r in results})
        return ReadResult(
            fmt=fmt or ("+".join(fmts) if fmts else "empty"),
            prices=pl.concat([r.prices for r in results]) if results else None,
            rejects=pl.concat([r.rejects for r in results]) if results else None,
            corporate_actions=pl.concat([r.corporate_actions for r in results])
            if results
            else None,
            securities=pl.concat([r.securities for r in results]) if results else None,
            sources=[s for r in results for s in r.sources],
            skipped=[s for r in results for s in r.skipped],
        )
