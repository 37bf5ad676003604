"""Column names and dtypes of every frame that crosses a module boundary or is stored.

Roles by name: keys `symbol`, `date`; features `f_*`; labels `y_*`; model outputs `pred_*`.
"""

from __future__ import annotations

from datetime import date

import polars as pl

# The key of every per-stock, per-day frame and table.
KEYS: tuple[str, str] = ("symbol", "date")

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
    # The source kind the row came from (a format name: nepse_api, sharesansar_prices, ...);
    # the store resolves `prices` from every kind's observations by SOURCE_PRECEDENCE.
    "kind": pl.String(),
}

# What a reader or a quality rule sends to quarantine. One reason code per row.
REJECT_SCHEMA: dict[str, pl.DataType] = {
    "source": pl.String(),
    "line": pl.Int64(),
    "raw": pl.String(),
    "reason": pl.String(),
    "detail": pl.String(),
    "date": pl.Date(),  # the row's date where it could be read (the daily gate counts by it)
}

# Reason codes of rejected_prices (README "Data-quality rules" documents each).
REASONS: dict[str, str] = {
    "unparseable": "a field could not be parsed (date or number)",
    "missing_symbol": "symbol empty",
    "missing_close": "close missing",
    "nonpositive_price": "close (or another given price) is zero or negative",
    "high_below_low": "high < low",
    "ohlc_inconsistent": "open or close outside [low, high] (ohlc_policy=reject)",
    "conflicting_duplicate": "several different rows for one (symbol, date) in one load, or one "
    "symbol listed twice with different values in a securities list",
    "future_date": "date after today in Asia/Kathmandu",
    "not_equity": "securities master says not an equity (non_equity_policy=skip)",
    "market_open": "close not yet published (market still open)",
    "negative_value": "volume, turnover or trades below zero",
    "implausible_price": "a price outside NEPSE's plausible range (PRICE_RANGE) or not finite",
    "implausible_value": "volume or turnover not finite, or turnover far from volume x price",
    "implausible_date": "date before NEPSE's history began (1994) or unreadable as a date",
    "bad_symbol": "symbol is not a plausible NEPSE symbol (SYMBOL_PATTERN)",
    "ambiguous_date": "slash dates whose day/month order the file does not decide",
    "maybe_truncated": "last line of a file without a final newline, its last field short",
    "bad_text": "a security's name, sector or type holds control characters or markup, or is "
    "too long; or its status is not A/S/D (nepse/sources/securities.py)",
    "repeated_day": "the day repeats the session before it (same close, volume and turnover for "
    "most symbols): another day's file served again (nepse/ingest/repeat.py)",
    "implausible_action": "a corporate action outside the plausible range (a bonus of 0 % or "
    "less or above BONUS_PERCENT_MAX, a rights ratio offering nothing, ...)",
    "decimal_comma": "the file writes numbers with a decimal comma (297,00): none of its rows",
}

# Plausibility bounds (nepse/ingest/quality.py). NEPSE began trading in 1994; no listed share
# has traded outside these prices (the dearest ~NPR 40,000, the cheapest ~NPR 1).
NEPSE_FIRST_DAY = date(1994, 1, 1)
PRICE_RANGE: tuple[float, float] = (0.01, 1_000_000.0)
# turnover / (volume x close): averages over a day stay near 1; a band this wide only catches
# a misplaced column or a unit error (rupees vs thousands), never an ordinary day.
TURNOVER_BAND: tuple[float, float] = (0.02, 50.0)
# Plausible corporate actions (nepse/sources/parse_actions.py rejects others as
# `implausible_action`), chosen on the ShareSansar dividend and rights files before 2024: the
# largest bonus was 114.27 % (RBCL 2017), the largest rights issue 1:9.5157 = 951.57 % (NBL 2013),
# the largest cash dividend 1,580 % (UNL 2023); every rights issue price was NPR 100 but one,
# 16,974,000 (MLBBL 2016: the total amount in the price column, rejected). 2024-2026
# confirm: bonus <= 40 %, rights <= 150 %, cash <= 1,842 %, all issue prices 100.
BONUS_PERCENT_MAX = 200.0
RIGHTS_PERCENT_MAX = 1000.0
CASH_PERCENT_MAX = 5000.0
# Upper-case letters and digits, starting with a letter (NABIL, NABILD2089, HIDCLP), and for
# debentures a fiscal-year suffix (NICAD85/86; in file names, where `/` cannot be, GBD80-81).
SYMBOL_PATTERN = r"^[A-Z][A-Z0-9]{0,19}(?:[/-][0-9]{2,4})?$"

# Row flags kept on stored prices (null = clean).
OHLC_REPAIRED = "ohlc_repaired"
BEYOND_LIMIT = "beyond_limit"
FLAGS: dict[str, str] = {
    OHLC_REPAIRED: "high/low widened to contain open and close (ohlc_policy=repair)",
    BEYOND_LIMIT: "close-to-close move beyond the daily price limit in force: a likely "
    "corporate action (or data error), stored but not used as a return",
}

# Statuses of `ingested_days` (nepse/ingest/backfill.py says when each is recorded).
DAY_OK = "ok"
DAY_HOLIDAY = "holiday"
DAY_PENDING = "pending"  # an empty answer after the close, not yet confirmed as a holiday
DAY_NOT_YET = "not_yet"
DAY_MARKET_OPEN = "market_open"
DAY_FAILED = "failed"
DAY_STATUSES: tuple[str, ...] = (
    DAY_OK,
    DAY_HOLIDAY,
    DAY_PENDING,
    DAY_NOT_YET,
    DAY_MARKET_OPEN,
    DAY_FAILED,
)
COMPLETE_DAY_STATUSES: frozenset[str] = frozenset({DAY_OK, DAY_HOLIDAY})

# What a store holds (`store_meta.dataset`): generated sample data never meets real data.
DATASET_SAMPLE = "sample"
DATASET_REAL = "real"
# A folder holding this file was written by nepse.devdata (its content: the dataset name).
DATASET_MARKER = ".nepse-dataset"

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
        "dataset",
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
        dataset: str = DATASET_REAL,
    ) -> None:
        self.fmt = fmt
        self.dataset = dataset
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
            dataset=results[0].dataset if results else DATASET_REAL,
        )


# The paper-trading record (issue 27; nepse/portfolio/paper.py, tables of migration 9).
PAPER_LEDGER_SCHEMA: dict[str, pl.DataType] = {
    "date": pl.Date(),
    "nav": pl.Float64(),
    "nav_gross": pl.Float64(),
    "cash": pl.Float64(),
    "invested": pl.Float64(),
    "n_holdings": pl.Int32(),
    "traded": pl.Float64(),
    "turnover": pl.Float64(),
    "costs": pl.Float64(),
    "ret": pl.Float64(),
    "ret_gross": pl.Float64(),
    "bench_ew": pl.Float64(),
    "bench_tw": pl.Float64(),
    "n_orders": pl.Int32(),
    "n_filled": pl.Int32(),
    "decided": pl.Boolean(),
    "orders_note": pl.String(),
    "capital": pl.Float64(),
    "model_version": pl.String(),
    "run_id": pl.String(),
}
PAPER_HOLDING_SCHEMA: dict[str, pl.DataType] = {
    "date": pl.Date(),
    "symbol": pl.String(),
    "bought_on": pl.Date(),
    "shares": pl.Float64(),
    "basis": pl.Float64(),
    "close": pl.Float64(),
}
PAPER_TRADE_SCHEMA: dict[str, pl.DataType] = {
    "date": pl.Date(),
    "symbol": pl.String(),
    "side": pl.String(),  # buy | sell
    "ordered": pl.Float64(),
    "shares": pl.Float64(),
    "price": pl.Float64(),
    "value": pl.Float64(),
    "cost": pl.Float64(),
    "reason": pl.String(),
}
PAPER_ORDER_SCHEMA: dict[str, pl.DataType] = {
    "date": pl.Date(),
    "symbol": pl.String(),
    "side": pl.String(),  # buy | sell | hold
    "shares": pl.Float64(),
    "ref_price": pl.Float64(),
    "target_shares": pl.Float64(),
    "note": pl.String(),
}
