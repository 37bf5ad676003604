"""Corporate-action adjustment of daily prices, and the breaks no action explains.

Raw prices are never edited: `adjust_prices` returns a new LazyFrame with `adj_*` columns.

Factors (NEPSE's own rules): bonus `P/(1+B%)`, rights `(P + issue_price*R%)/(1+R%)` with `P` the
close before the ex-date; ordinary cash dividends are not adjusted. A factor is applied
backwards: every row before the ex-date is multiplied by the product of the factors of all later
ex-dates (volumes divided), so the latest prices equal the traded ones. Because a new action
rescales all earlier rows, adjusted prices are recomputed from raw prices, never stored.

Ex-dates, as measured on the ShareSansar files (2026-04, see the report of `adjustment_report`):
- bonus: the first row of the symbol on or after `book_closure_date` (511 of 544 matched 10%+
  bonus drops appear on that row; 352 of them on the book-closure date itself, the rest on the
  symbol's next trading row when it did not trade that day);
- a bonus whose book-closure row shows no drop of about its size (the adjusted move there would
  itself be beyond the limit) is not applied: the price never moved, or the record's date or
  percent is wrong, and rescaling all earlier history on it would be a guess. On the ShareSansar
  data this leaves out 30 of 752 bonuses dated before 2024 (breaks 210 -> 188, breaks created
  by the adjustment 20 -> 0, moves explained 580 -> 582) and none of the 194 from 2024 on;
- rights: the files carry no book-closure date, the reader puts `opening_date` there. The ex-date
  is the row within [opening_date - 75, opening_date + 7] calendar days whose raw move is beyond
  the price limit and whose move net of the expected rights drop is within the limit (closest
  wins; 135 of 157 events located, median 22 calendar days before opening). Otherwise the default:
  the first row on or after opening_date - 22 days (the measured median).

After adjustment, a close-to-close move beyond the price limit in force (the dated
`[[price_limit]]` table of nepse/market/rules.toml) by more than `LIMIT_TOLERANCE` is a break:
`is_break` is true on the row whose move from the symbol's previous row is not a return (an
unrecorded action or a data error). A move of exactly the limit (+10.000000000000009% included)
is a real limit-hit day, not a break.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import polars as pl

from nepse.market.rules import LIMIT_TOLERANCE, market_rules

log = logging.getLogger(__name__)

EX_DATE_TOLERANCE = 0.005
"""Extra slack on ex-date rows, where NEPSE rounds the adjusted base price (measured: <0.5%)."""
RIGHTS_WINDOW_BEFORE = timedelta(days=75)
"""How far before the rights opening date the ex-date is searched (measured: up to 56 days)."""
RIGHTS_WINDOW_AFTER = timedelta(days=7)
"""How far after the rights opening date the ex-date is searched."""
RIGHTS_DEFAULT_OFFSET = timedelta(days=22)
"""Fallback rights ex-date: first row on or after opening_date minus this (the measured median)."""
RIGHTS_MATCH_SLACK = 0.02
"""Log-return slack when matching a rights drop: NEPSE rounds the adjusted base price."""
DEFAULT_ISSUE_PRICE = 100.0
"""Rights issue price when the record has none: NEPSE rights are issued at the NPR 100 par."""

ADJ_COLUMNS = (
    "adj_open",
    "adj_high",
    "adj_low",
    "adj_close",
    "adj_volume",
    "adj_factor",
    "is_break",
)
EX_DATE_SCHEMA: dict[str, pl.DataType] = {
    "symbol": pl.String(),
    "kind": pl.String(),
    "book_closure_date": pl.Date(),
    "ex_date": pl.Date(),
    "factor": pl.Float64(),
    "method": pl.String(),
}


def beyond_limit(ret: pl.Expr, limit: pl.Expr) -> pl.Expr:
    """True where a simple return is beyond the limit by more than LIMIT_TOLERANCE."""
    return ret.abs() > limit + LIMIT_TOLERANCE


def close_return(col: str = "close") -> pl.Expr:
    """Close-to-close return from the symbol's previous row (frame sorted by symbol, date)."""
    return (pl.col(col) / pl.col(col).shift(1) - 1.0).over("symbol")


def _rights_percent() -> pl.Expr:
    # The reader should fill `percent`; a bare ratio "a:b" (b new per a held) is the fallback.
    parts = pl.col("ratio").str.replace_all(r"\s", "").str.split(":")
    from_ratio = (
        parts.list.get(1, null_on_oob=True).cast(pl.Float64, strict=False)
        / parts.list.get(0, null_on_oob=True).cast(pl.Float64, strict=False)
        * 100.0
    )
    return pl.coalesce(pl.col("percent"), from_ratio)


def _rights_factor(prev_close: pl.Expr) -> pl.Expr:
    r = pl.col("percent") / 100.0
    x = pl.col("issue_price").fill_null(DEFAULT_ISSUE_PRICE)
    return (prev_close + x * r) / ((1.0 + r) * prev_close)


def _as_lazy(frame: pl.LazyFrame | pl.DataFrame) -> pl.LazyFrame:
    return frame.lazy() if isinstance(frame, pl.DataFrame) else frame


def locate_ex_dates(
    prices: pl.LazyFrame | pl.DataFrame,
    actions: pl.LazyFrame | pl.DataFrame | None,
) -> pl.LazyFrame:
    """One row per located bonus/rights action: its ex-date row, factor and how it was found."""
    if actions is None:
        return pl.LazyFrame(schema=EX_DATE_SCHEMA)
    rows = (
        _as_lazy(prices)
        .select("symbol", "date", "close")
        .sort("symbol", "date")
        .with_columns(prev_close=pl.col("close").shift(1).over("symbol"))
    )
    acts = (
        _as_lazy(actions)
        .filter(
            pl.col("book_closure_date").is_not_null() & pl.col("kind").is_in(["bonus", "rights"])
        )
        .with_columns(
            percent=pl.when(pl.col("kind") == "rights")
            .then(_rights_percent())
            .otherwise(pl.col("percent"))
        )
        .filter(pl.col("percent") > 0)
        # The same record may come from two loads; applying it twice would double the factor.
        .unique(
            ["symbol", "kind", "book_closure_date", "percent", "issue_price"],
            keep="first",
            maintain_order=True,
        )
        # A stable id: the plan below reads `acts` in several branches that must agree.
        .sort("symbol", "kind", "book_closure_date", "percent", "issue_price", nulls_last=True)
        .with_row_index("_aid")
    )
    by_date = rows.select("symbol", "date").sort("date")

    bonus = (
        acts.filter(pl.col("kind") == "bonus")
        .sort("book_closure_date")
        .join_asof(
            by_date.rename({"date": "ex_date"}),
            left_on="book_closure_date",
            right_on="ex_date",
            by="symbol",
            strategy="forward",
            check_sortedness=False,
        )
        .with_columns(method=pl.lit("book_closure"))
    )

    rights = acts.filter(pl.col("kind") == "rights")
    limit = market_rules().price_limit_expr()
    candidates = (
        rights.join(rows, on="symbol", how="inner")
        .filter(
            pl.col("date").is_between(
                pl.col("book_closure_date") - RIGHTS_WINDOW_BEFORE,
                pl.col("book_closure_date") + RIGHTS_WINDOW_AFTER,
            )
            & pl.col("prev_close").is_not_null()
        )
        .with_columns(
            resid=(pl.col("close") / pl.col("prev_close")).log()
            - _rights_factor(pl.col("prev_close")).log()
        )
        .filter(
            beyond_limit(pl.col("close") / pl.col("prev_close") - 1.0, limit)
            & (pl.col("resid").abs() <= (1.0 + limit).log() + RIGHTS_MATCH_SLACK)
        )
        .sort("_aid", pl.col("resid").abs(), "date")
        .group_by("_aid", maintain_order=True)
        .first()
        .select("_aid", pl.col("date").alias("ex_date"), pl.lit("matched_move").alias("method"))
    )
    rights_matched = rights.join(candidates, on="_aid", how="inner")
    rights_default = (
        rights.join(candidates.select("_aid"), on="_aid", how="anti")
        .with_columns(_key=pl.col("book_closure_date") - RIGHTS_DEFAULT_OFFSET)
        .sort("_key")
        .join_asof(
            by_date.rename({"date": "ex_date"}),
            left_on="_key",
            right_on="ex_date",
            by="symbol",
            strategy="forward",
            check_sortedness=False,
        )
        .drop("_key")
        .with_columns(method=pl.lit("default_offset"))
    )
    cols = [*acts.collect_schema().names(), "ex_date", "method"]
    located = (
        pl.concat(
            [bonus.select(cols), rights_matched.select(cols), rights_default.select(cols)],
            how="vertical",
        )
        .filter(pl.col("ex_date").is_not_null())
        .join(
            rows.select("symbol", pl.col("date").alias("ex_date"), "prev_close", "close"),
            on=["symbol", "ex_date"],
            how="left",
        )
    )
    factor = (
        pl.when(pl.col("kind") == "bonus")
        .then(1.0 / (1.0 + pl.col("percent") / 100.0))
        .otherwise(_rights_factor(pl.col("prev_close")))
    )
    ex_limit = market_rules().price_limit_expr("ex_date")
    return (
        located.with_columns(factor=factor)
        .filter(
            # The first row of a symbol has nothing earlier to adjust; a rights price below the
            # issue price (factor > 1) is a data error, not an adjustment.
            pl.col("prev_close").is_not_null()
            & pl.col("factor").is_finite()
            & pl.col("factor").is_between(0.0, 1.0, closed="right")
            # An unlocated rights drop bigger than a normal day's move would create a break where
            # the data shows none; leave it out (the real drop, if stored, stays a break).
            & (
                (pl.col("method") != "default_offset")
                | ((1.0 - pl.col("factor")) <= ex_limit + LIMIT_TOLERANCE)
            )
            # A bonus whose book-closure row shows no such drop (the price never moved, or the
            # record's date or percent is wrong) would itself make that row a break: rescaling
            # all earlier history on it would be a guess. Left out, the row keeps its raw move.
            & (
                (pl.col("kind") != "bonus")
                | ~beyond_limit(
                    pl.col("close") / (pl.col("prev_close") * pl.col("factor")) - 1.0,
                    ex_limit + EX_DATE_TOLERANCE,
                )
            )
        )
        .select(list(EX_DATE_SCHEMA))
        .sort("symbol", "ex_date", "kind")
    )


def adjust_prices(
    prices: pl.LazyFrame | pl.DataFrame,
    actions: pl.LazyFrame | pl.DataFrame | None,
) -> pl.LazyFrame:
    """Prices (unique symbol, date) with adj_open/high/low/close/volume, adj_factor and is_break."""
    lf = _as_lazy(prices).sort("symbol", "date")
    events = (
        locate_ex_dates(lf, actions)
        .group_by("symbol", "ex_date")
        .agg(pl.col("factor").product().alias("_f"))
        .rename({"ex_date": "date"})
    )
    out = (
        lf.join(events, on=["symbol", "date"], how="left", maintain_order="left")
        .with_columns(
            # Row t carries the product of the factors of the ex-dates strictly after t.
            adj_factor=pl.col("_f").shift(-1).fill_null(1.0).cum_prod(reverse=True).over("symbol")
        )
        .with_columns(
            adj_open=pl.col("open") * pl.col("adj_factor"),
            adj_high=pl.col("high") * pl.col("adj_factor"),
            adj_low=pl.col("low") * pl.col("adj_factor"),
            adj_close=pl.col("close") * pl.col("adj_factor"),
            adj_volume=pl.col("volume") / pl.col("adj_factor"),
        )
        .with_columns(
            # On an ex-date NEPSE's base price is its own rounded adjusted price, so a limit-hit
            # day there can exceed the limit on our exact factor by a few ticks.
            is_break=beyond_limit(
                close_return("adj_close"),
                market_rules().price_limit_expr()
                + pl.when(pl.col("_f").is_not_null()).then(EX_DATE_TOLERANCE).otherwise(0.0),
            ).fill_null(False)
        )
        .drop("_f")
    )
    return out


def adjustment_report(
    prices: pl.LazyFrame | pl.DataFrame,
    actions: pl.LazyFrame | pl.DataFrame | None,
) -> dict[str, Any]:
    """Beyond-limit moves before vs after adjustment, and how many recorded actions explain."""
    lf = _as_lazy(prices).sort("symbol", "date")
    ex = locate_ex_dates(lf, actions).collect()
    adj = adjust_prices(lf, actions)
    limit = market_rules().price_limit_expr()
    ex_rows = (
        ex.select("symbol", pl.col("ex_date").alias("date")).unique().with_columns(_ex=pl.lit(True))
    )
    stats = (
        adj.with_columns(raw_ret=close_return("close"), adj_ret=close_return("adj_close"))
        .join(ex_rows.lazy(), on=["symbol", "date"], how="left")
        .with_columns(
            raw_beyond=beyond_limit(pl.col("raw_ret"), limit),
            adj_beyond=pl.col("is_break"),
            on_ex=pl.col("_ex").fill_null(False),
        )
        .select(
            n_rows=pl.len(),
            n_returns=pl.col("raw_ret").is_not_null().sum(),
            raw_beyond=pl.col("raw_beyond").sum(),
            adj_beyond=pl.col("adj_beyond").sum(),
            explained=(pl.col("raw_beyond") & pl.col("on_ex") & ~pl.col("adj_beyond")).sum(),
            ex_still_beyond=(pl.col("on_ex") & pl.col("adj_beyond")).sum(),
            created=(~pl.col("raw_beyond") & pl.col("adj_beyond")).sum(),
        )
        .collect()
        .row(0, named=True)
    )
    n = max(stats["n_returns"], 1)
    n_actions = 0
    if actions is not None:
        n_actions = (
            _as_lazy(actions)
            .filter(
                pl.col("kind").is_in(["bonus", "rights"])
                & ((pl.col("percent") > 0) | pl.col("ratio").is_not_null())
            )
            .select(pl.len())
            .collect()
            .item()
        )
    by_method = {
        f"{k}/{m}": c
        for k, m, c in ex.group_by("kind", "method").len().sort("kind", "method").iter_rows()
    }
    report = {
        "rows": stats["n_rows"],
        "returns": stats["n_returns"],
        "beyond_limit_raw": stats["raw_beyond"],
        "beyond_limit_adjusted": stats["adj_beyond"],
        "share_beyond_raw": stats["raw_beyond"] / n,
        "share_beyond_adjusted": stats["adj_beyond"] / n,
        "breaks": stats["adj_beyond"],
        "explained_by_actions": stats["explained"],
        "share_of_raw_explained": stats["explained"] / max(stats["raw_beyond"], 1),
        "ex_rows_still_beyond": stats["ex_still_beyond"],
        "breaks_created_by_adjustment": stats["created"],
        "actions_bonus_rights": n_actions,
        "actions_located": ex.height,
        "located_by": by_method,
    }
    log.info(
        "adjustment: %d of %d beyond-limit moves explained by actions, %d breaks left",
        report["explained_by_actions"],
        report["beyond_limit_raw"],
        report["breaks"],
    )
    return report
