"""Several rows for one (symbol, date) in one load: exact copies counted, disagreeing ones
rejected (rule 8 of nepse/ingest/quality.py)."""

from __future__ import annotations

import polars as pl

from nepse.schema import KEYS


def _text(col: str) -> pl.Expr:
    """A column as text for reject details, with nulls written out."""
    return pl.col(col).cast(pl.String).fill_null("null")


def mark_duplicates(lf: pl.LazyFrame, *, value_columns: list[str]) -> pl.LazyFrame:
    """Among surviving rows, reject conflicting (symbol, date) copies and mark exact extra copies.

    `value_columns` are the columns compared (the values as read, before any OHLC repair).
    Adds boolean `_extra`: an exact copy of an earlier surviving row (counted, not stored).
    """
    alive = pl.col("reason").is_null()
    # Only survivors take part: a copy already rejected for another rule cannot conflict.
    variants = pl.struct(value_columns).filter(alive).n_unique().over(KEYS)
    closes = (
        pl.col("close")
        .filter(alive)
        .unique()
        .sort()
        .over(KEYS, mapping_strategy="join")
        .list.eval(pl.element().cast(pl.String))
        .list.join(", ")
    )
    same_close = pl.col("close").filter(alive).n_unique().over(KEYS) == 1
    detail = pl.format(
        "{} rows for {} {} differ; closes: {}{}",
        alive.sum().over(KEYS),
        pl.col("symbol"),
        _text("date"),
        closes,
        pl.when(same_close).then(pl.lit(" (other columns differ)")).otherwise(pl.lit("")),
    )
    return (
        lf.with_columns(_conflict=alive & (variants > 1))
        .with_columns(
            reason=pl.when(pl.col("_conflict"))
            .then(pl.lit("conflicting_duplicate"))
            .otherwise(pl.col("reason")),
            detail=pl.when(pl.col("_conflict")).then(detail).otherwise(pl.col("detail")),
            # Running count of survivors in input order: every survivor after the first is a copy.
            _extra=alive & ~pl.col("_conflict") & (alive.cast(pl.Int64).cum_sum().over(KEYS) > 1),
        )
        .drop("_conflict")
    )
