"""Data-quality rules for daily prices: which rows are stored, flagged, dropped or rejected.

Rules run in this order and the first one that fails names the row's single reason code
(`nepse.schema.REASONS`):

0. `unparseable`          date missing (a reader should already have rejected it; safety net,
                          since (symbol, date) is the stored key)
   `implausible_date`     date before NEPSE's first day (1994; year 0, 1 and 1900 included)
1. `missing_symbol`       symbol null or blank
   `bad_symbol`           not a plausible NEPSE symbol (`SYMBOL_PATTERN`: ADBL, NABILD2089;
                          never `ADBL (1)`, `PRICES-OLD` or lower case)
2. `missing_close`        close null (or NaN)
3. `nonpositive_price`    close, or any given open/high/low, is zero or negative
   `implausible_price`    a given price infinite or outside `PRICE_RANGE` (1e308, 5e-324)
   `negative_value`       volume, turnover or trades below zero
   `implausible_value`    volume or turnover infinite, or turnover / (volume x close) outside
                          `TURNOVER_BAND` (all three given and positive)
4. `high_below_low`       high < low
5. `ohlc_inconsistent`    open or close outside [low, high]; only with `ohlc_policy="reject"`.
                          With "repair" the given high/low are widened to contain open and
                          close and the row is kept with flag `ohlc_repaired` (a missing
                          high/low stays missing: nothing is invented)
6. `future_date`          date after `today` (the caller judges today in Asia/Kathmandu)
7. `not_equity`           the securities master lists the symbol with an instrument type other
                          than Equity; only with `non_equity_policy="skip"`. A symbol absent
                          from the master is kept: absence is not proof it is not an equity.
   `repeated_day`         the row's day repeats the session before it (nepse/ingest/repeat.py
                          finds those days; `validate` gets them as `repeated`)
8. duplicates of (symbol, date) among the rows that survived 0-7: copies whose price columns
   are all equal are one row stored and the rest *counted* as duplicates (neither stored nor
   rejected); copies that disagree are all rejected `conflicting_duplicate`, because nothing
   says which one is right.

Moves beyond the daily price limit are not judged here: they need the stored history and are
flagged `beyond_limit` by the store.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date

import polars as pl

from nepse.errors import DataQualityError
from nepse.ingest.duplicates import mark_duplicates
from nepse.schema import (
    EQUITY,
    KEYS,
    NEPSE_FIRST_DAY,
    OHLC_REPAIRED,
    PRICE_COLUMNS,
    PRICE_RANGE,
    READ_PRICE_SCHEMA,
    REASONS,
    REJECT_SCHEMA,
    SYMBOL_PATTERN,
    TURNOVER_BAND,
    conform,
    empty,
)
from nepse.settings import Settings

log = logging.getLogger(__name__)

VALUE_COLUMNS = tuple(c for c in PRICE_COLUMNS if c not in KEYS)
CLEAN_SCHEMA: dict[str, pl.DataType] = {
    **PRICE_COLUMNS,
    "source": pl.String(),
    "line": pl.Int64(),
    "flag": pl.String(),
    "kind": pl.String(),
}


@dataclass(frozen=True)
class QualityResult:
    """Outcome of `validate`: rows to store, rows to quarantine, and exact duplicates dropped."""

    clean: pl.DataFrame
    """PRICE_COLUMNS + source + line + flag (null or `ohlc_repaired`); unique (symbol, date)."""
    rejects: pl.DataFrame
    """REJECT_SCHEMA: parse rejects passed in, then quality rejects."""
    duplicates: int
    """Exact copies of a kept row (not stored, not rejected)."""
    rows_in: int
    """Records seen: price rows plus parse rejects."""

    @property
    def reasons(self) -> dict[str, int]:
        """Rejected rows per reason code, most frequent first."""
        counts = (
            self.rejects.group_by("reason").len().sort(["len", "reason"], descending=[True, False])
        )
        return dict(zip(counts["reason"].to_list(), counts["len"].to_list(), strict=True))

    @property
    def flagged(self) -> dict[str, int]:
        """Clean rows per flag (rows without a flag are not counted)."""
        counts = self.clean.drop_nulls("flag").group_by("flag").len().sort("flag")
        return dict(zip(counts["flag"].to_list(), counts["len"].to_list(), strict=True))

    def check_identity(self) -> None:
        """Raise DataQualityError unless rows_in == clean + rejected + duplicates."""
        total = self.clean.height + self.rejects.height + self.duplicates
        if self.rows_in != total:
            raise DataQualityError(
                f"quality identity broken: {self.rows_in} rows in != {self.clean.height} "
                f"clean + {self.rejects.height} rejected + {self.duplicates} duplicates"
            )


def _text(col: str) -> pl.Expr:
    """A column as text for reject details, with nulls written out."""
    return pl.col(col).cast(pl.String).fill_null("null")


def _ohlc_text() -> pl.Expr:
    return pl.format(
        "open={} high={} low={} close={}",
        _text("open"),
        _text("high"),
        _text("low"),
        _text("close"),
    )


def _outside(price: str) -> pl.Expr:
    """True where a given `price` lies outside the given [low, high] (missing bounds unchecked)."""
    p = pl.col(price)
    return ((p > pl.col("high")).fill_null(False) | (p < pl.col("low")).fill_null(False)) & (
        p.is_not_null()
    )


def _equity_types(securities: pl.DataFrame | None) -> pl.DataFrame:
    """symbol -> instrument_type for symbols the master lists as something other than Equity."""
    if securities is None or securities.is_empty():
        return pl.DataFrame(schema={"symbol": pl.String(), "_itype": pl.String()})
    return (
        securities.lazy()
        .select(pl.col("symbol").cast(pl.String), pl.col("instrument_type").cast(pl.String))
        .drop_nulls()
        .filter(pl.col("instrument_type").str.strip_chars().str.to_lowercase() != EQUITY.lower())
        .unique("symbol", keep="last", maintain_order=True)
        .rename({"instrument_type": "_itype"})
        .collect()
    )


def apply_rules(
    lf: pl.LazyFrame,
    *,
    ohlc_policy: str,
    non_equity_policy: str,
    today: date,
    non_equity: pl.LazyFrame,
    repeated: pl.LazyFrame | None = None,
) -> pl.LazyFrame:
    """Add `reason`, `detail` (first failing row rule 0-7) and `flag`; repair OHLC when asked.

    `repeated` (date, detail): days that repeat the session before them."""
    sym_blank = pl.col("symbol").is_null() | (pl.col("symbol").str.strip_chars() == "")
    nonpositive = pl.any_horizontal(
        [(pl.col(c) <= 0).fill_null(False) for c in ("open", "high", "low", "close")]
    )
    high_below_low = (pl.col("high") < pl.col("low")).fill_null(False)
    inconsistent = _outside("open") | _outside("close")
    future = pl.col("date") > pl.lit(today)
    early = pl.col("date") < pl.lit(NEPSE_FIRST_DAY)
    bad_symbol = ~pl.col("symbol").str.contains(SYMBOL_PATTERN).fill_null(True)
    lo, hi = PRICE_RANGE
    prices = [pl.col(c) for c in ("open", "high", "low", "close")]
    implausible_price = pl.any_horizontal(
        [(p.is_infinite() | (p < lo) | (p > hi)).fill_null(False) for p in prices]
    )
    negative = pl.any_horizontal(
        [(pl.col(c) < 0).fill_null(False) for c in ("volume", "turnover", "trades")]
    )
    ratio = pl.col("turnover") / (pl.col("volume") * pl.col("close"))
    band_lo, band_hi = TURNOVER_BAND
    implausible_value = (
        pl.col("volume").is_infinite().fill_null(False)
        | pl.col("turnover").is_infinite().fill_null(False)
        | (
            (pl.col("volume") > 0)
            & (pl.col("turnover") > 0)
            & ((ratio < band_lo) | (ratio > band_hi) | ratio.is_infinite())
        ).fill_null(False)
    )
    values = pl.format(
        "volume={} turnover={} trades={}", _text("volume"), _text("turnover"), _text("trades")
    )
    skip_non_equity = pl.col("_itype").is_not_null() & pl.lit(non_equity_policy == "skip")
    reject_ohlc = inconsistent & pl.lit(ohlc_policy == "reject")

    rules: list[tuple[str, pl.Expr, pl.Expr]] = [
        ("unparseable", pl.col("date").is_null(), pl.lit("date missing")),
        (
            "implausible_date",
            early,
            pl.format("date {} before NEPSE's first day {}", _text("date"), pl.lit("1994-01-01")),
        ),
        ("missing_symbol", sym_blank, pl.lit("symbol empty")),
        (
            "bad_symbol",
            bad_symbol,
            pl.format("symbol '{}' does not match {}", pl.col("symbol"), pl.lit(SYMBOL_PATTERN)),
        ),
        ("missing_close", pl.col("close").is_null(), _ohlc_text()),
        ("nonpositive_price", nonpositive, _ohlc_text()),
        ("implausible_price", implausible_price, _ohlc_text()),
        ("negative_value", negative, values),
        (
            "implausible_value",
            implausible_value,
            pl.format(
                "{} close={} (turnover/(volume x close) outside {})",
                values,
                _text("close"),
                pl.lit(f"[{band_lo:g}, {band_hi:g}]"),
            ),
        ),
        (
            "high_below_low",
            high_below_low,
            pl.format("high {} < low {}", _text("high"), _text("low")),
        ),
        ("ohlc_inconsistent", reject_ohlc, pl.format("{} outside [low, high]", _ohlc_text())),
        (
            "future_date",
            future,
            pl.format("date {} after today {}", _text("date"), pl.lit(today.isoformat())),
        ),
        ("not_equity", skip_non_equity, pl.format("instrument type {}", pl.col("_itype"))),
        ("repeated_day", pl.col("_repeat").is_not_null(), pl.col("_repeat")),
    ]
    unknown = [code for code, _, _ in rules if code not in REASONS]
    if unknown:
        raise ValueError(f"reason codes without a description in nepse.schema.REASONS: {unknown}")
    reason = pl.when(rules[0][1]).then(pl.lit(rules[0][0]))
    detail = pl.when(rules[0][1]).then(rules[0][2])
    for code, cond, text in rules[1:]:
        reason = reason.when(cond).then(pl.lit(code))
        detail = detail.when(cond).then(text)

    repair = reason.is_null() & inconsistent
    if repeated is None:
        repeated = pl.LazyFrame(schema={"date": pl.Date(), "detail": pl.String()})
    return (
        lf.join(non_equity, on="symbol", how="left", maintain_order="left")
        .join(repeated.rename({"detail": "_repeat"}), on="date", how="left", maintain_order="left")
        .with_columns(
            reason=reason.otherwise(None),
            detail=detail.otherwise(None),
            _repair=repair,
        )
        .with_columns(
            # Widen only the bounds that were given; a missing high/low stays missing.
            high=pl.when(pl.col("_repair") & pl.col("high").is_not_null())
            .then(pl.max_horizontal("high", "open", "close"))
            .otherwise(pl.col("high")),
            low=pl.when(pl.col("_repair") & pl.col("low").is_not_null())
            .then(pl.min_horizontal("low", "open", "close"))
            .otherwise(pl.col("low")),
            flag=pl.when(pl.col("_repair")).then(pl.lit(OHLC_REPAIRED)).otherwise(None),
        )
        .drop("_itype", "_repair", "_repeat")
    )


def validate(
    prices: pl.DataFrame,
    *,
    settings: Settings,
    today: date,
    securities: pl.DataFrame | None = None,
    parse_rejects: pl.DataFrame | None = None,
    repeated: pl.DataFrame | None = None,
) -> QualityResult:
    """Apply the data-quality rules to a reader's prices; see the module docstring for the order."""
    prices = conform(prices, READ_PRICE_SCHEMA)
    parse_rejects = (
        conform(parse_rejects, REJECT_SCHEMA) if parse_rejects is not None else empty(REJECT_SCHEMA)
    )
    floats = [c for c, t in PRICE_COLUMNS.items() if t == pl.Float64()]
    # Only high and low are ever repaired: the duplicate rules compare them as read.
    orig = {"high": "_orig_high", "low": "_orig_low"}
    value_columns = [orig.get(c, c) for c in VALUE_COLUMNS]
    # Keys that come more than once: only their rows need the per-key duplicate rules.
    twice = (
        prices.lazy()
        .group_by(KEYS)
        .len()
        .filter(pl.col("len") > 1)
        .select(*KEYS, _twice=pl.lit(True))
        .collect()
    )
    judged = (
        prices.lazy()
        .drop("raw")  # joined back for the rejected rows only: a large input's raw text is big
        .with_row_index("_row")
        # NaN is a missing value in price files, never a price.
        .with_columns([pl.col(c).fill_nan(None) for c in floats])
        .with_columns([pl.col(c).alias(o) for c, o in orig.items()])
        .pipe(
            apply_rules,
            ohlc_policy=settings.ohlc_policy,
            non_equity_policy=settings.non_equity_policy,
            today=today,
            non_equity=_equity_types(securities).lazy(),
            repeated=None if repeated is None else repeated.lazy(),
        )
        .join(twice.lazy(), on=KEYS, how="left", maintain_order="left")
    )
    once = pl.col("_twice").is_null()
    clean_once, rejected_once, multi = pl.collect_all(
        [
            judged.filter(once & pl.col("reason").is_null()).select(*CLEAN_SCHEMA, "_row"),
            judged.filter(once & pl.col("reason").is_not_null()),
            judged.filter(~once),
        ]
    )
    multi = multi.lazy().pipe(mark_duplicates, value_columns=value_columns).collect()
    duplicates = multi.filter(pl.col("reason").is_null() & pl.col("_extra")).height
    clean = pl.concat(
        [
            clean_once,
            multi.filter(pl.col("reason").is_null() & ~pl.col("_extra")).select(
                *CLEAN_SCHEMA, "_row"
            ),
        ]
    )
    if multi.height:
        clean = clean.sort("_row")
    raw = prices.select("raw").with_row_index("_row")
    rejected = (
        pl.concat([rejected_once, multi.filter(pl.col("reason").is_not_null())], how="diagonal")
        .sort("_row")
        .join(raw, on="_row", how="left", maintain_order="left")
        .with_columns(
            # A date NEPSE cannot have (year 0, 1) is kept in `raw`, not as a date value.
            date=pl.when(pl.col("reason") != "implausible_date").then(pl.col("date"))
        )
    )
    clean = clean.drop("_row")
    result = QualityResult(
        clean=conform(clean, CLEAN_SCHEMA),
        rejects=pl.concat([parse_rejects, conform(rejected, REJECT_SCHEMA)]),
        duplicates=duplicates,
        rows_in=prices.height + parse_rejects.height,
    )
    result.check_identity()
    log.debug(
        "validated %d rows: %d clean, %d rejected, %d duplicates",
        result.rows_in,
        result.clean.height,
        result.rejects.height,
        result.duplicates,
    )
    return result
