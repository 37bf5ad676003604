"""Daily features per (symbol, date) from adjusted prices: pure `LazyFrame -> LazyFrame` steps.

Every feature looks only backward (rows on or before its date). Returns are never computed across
a break (`is_break`, see features/adjust.py): the rows of a symbol are cut into segments at breaks
and every price window (returns, lags, volatility, moving averages, EMAs, extremes) stays inside
one segment, so a window that would straddle a break is null. Liquidity features (turnover, days
traded) ignore breaks: a break changes the price scale, not the trading activity.

Windows count the symbol's own rows (the days it traded), except `f_traded_share_20` and
`f_days_since_trade`, which count market trading days (dates with any stored row).

For speed, rolling windows run over the whole sorted column and are masked by the row's position
in its segment instead of `.over()` per group (the same values; ~10x faster on the full history).
Rolling ranks, extremes and quantiles come from NumPy kernels (features/kernels.py)
that do every window in one cache-sized pass; the per-date features run on the rows listed
date by date, their ranks in a NumPy kernel too (features/cross_section.py). Collect with
`engine="in-memory"`: Polars' streaming engine (the default) runs these whole-column steps
~1.5x slower.
"""

from __future__ import annotations

from functools import partial

import polars as pl

from nepse.features.cross_section import date_order, date_ranks
from nepse.features.kernels import (
    day_numbers,
    rolling_extreme,
    rolling_quantiles,
    ts_rank,
)
from nepse.features.spec import (
    CARRY,
    CARRY_IF_PRESENT,
    FEATURE_SPEC,
    NEPSE_SECTORS,
    RANKED,
    TURNOVER_WINDOWS,
    VOL_WINDOWS,
    VOLUME_WINDOWS,
    WINDOWS,
    FeatureSpec,
)
from nepse.schema import KEYS

DATE_ORDER = pl.Struct({"perm": pl.get_index_type(), "inv": pl.get_index_type()})
QUANTILES = (0.2, 0.8)


# --- expression builders (frame sorted by symbol, date; `_pos` = row in its segment) ----------
def _within(expr: pl.Expr, rows: int, pos: str = "_pos") -> pl.Expr:
    """`expr` where at least `rows` earlier rows of the same segment exist, else null."""
    return pl.when(pl.col(pos) >= rows).then(expr)


def lagged(col: str, n: int, pos: str = "_pos") -> pl.Expr:
    """`col` of the row `n` rows earlier in the same segment."""
    return _within(pl.col(col).shift(n), n, pos)


def simple_return(n: int = 1, col: str = "adj_close") -> pl.Expr:
    """Return over the last `n` rows of the segment: close / close n rows ago - 1."""
    return pl.col(col) / lagged(col, n) - 1.0


def log_return(n: int = 1, col: str = "adj_close") -> pl.Expr:
    """Log return over the last `n` rows of the segment."""
    return (pl.col(col) / lagged(col, n)).log()


def rolling(expr: pl.Expr, window: int, pos: str = "_pos") -> pl.Expr:
    """Mask a whole-column rolling `expr` of `window` rows to windows inside one segment."""
    return _within(expr, window - 1, pos)


def _ratio(num: pl.Expr, den: pl.Expr) -> pl.Expr:
    return pl.when(den != 0).then(num / den)


# --- steps -------------------------------------------------------------------------------------
def add_segments(lf: pl.LazyFrame) -> pl.LazyFrame:
    """Sort, number market trading days, and cut each symbol's rows into break-free segments."""
    row = pl.col("_row")
    sym_start = (pl.col("symbol") != pl.col("symbol").shift(1)).fill_null(True)
    seg_start = pl.col("_sym_start") | pl.col("is_break").fill_null(False)
    return (
        lf.sort("symbol", "date")
        .with_columns(
            # A trading day is a date with at least one stored row (derived, not weekday-based).
            _day=pl.col("date").map_batches(day_numbers, return_dtype=pl.Int64),
            _row=pl.int_range(pl.len(), dtype=pl.Int64),
            _sym_start=sym_start,
        )
        .with_columns(_seg_start=seg_start)
        .with_columns(
            # Running counts rise along the column: flagged sorted, `.over()` slices instead of
            # hashing (the EMAs per segment: 1.5x faster).
            _sid=pl.col("_sym_start").cum_sum().set_sorted(),
            _gid=pl.col("_seg_start").cum_sum().set_sorted(),
            # Rows since the segment's (symbol's) first row: row numbers rise along the column.
            _pos=row - pl.when("_seg_start").then(row).forward_fill(),
            _spos=row - pl.when("_sym_start").then(row).forward_fill(),
        )
    )


def add_returns(lf: pl.LazyFrame) -> pl.LazyFrame:
    """1-day return (null across a break), its lags, momentum and volatility."""
    return lf.with_columns(f_ret_1=simple_return(1)).with_columns(
        *[lagged("f_ret_1", k).alias(f"f_ret_lag_{k}") for k in (1, 2, 3, 5)],
        *[simple_return(w).alias(f"f_roc_{w}") for w in WINDOWS],
        *[
            rolling(pl.col("f_ret_1").rolling_std(w, min_samples=w), w + 1).alias(f"f_vol_{w}")
            for w in VOL_WINDOWS
        ],
    )


def _struct_of(col: str, kernel, names: list[str], **kw) -> pl.Expr:
    """A whole-column NumPy kernel of features/kernels.py as a struct column of Float64 fields."""
    dtype = pl.Struct(dict.fromkeys(names, pl.Float64))
    return pl.col(col).map_batches(partial(kernel, **kw), return_dtype=dtype)


def add_price_windows(lf: pl.LazyFrame) -> pl.LazyFrame:
    """Alpha158-style window ratios of adjusted prices to today's close."""
    c = pl.col("adj_close")
    names = [f"w{w}" for w in WINDOWS]
    q_names = [f"q{q}_w{w}" for w in WINDOWS for q in QUANTILES]
    # Polars' rolling rank, max/min and quantiles cost 20-200 ns a row per window and share
    # nothing between windows; the NumPy kernels do every window in one cached pass.
    kernels = {
        "_tsrank": _struct_of("adj_close", ts_rank, names, windows=WINDOWS),
        "_hi": _struct_of("adj_high", rolling_extreme, names, windows=WINDOWS, how="max"),
        "_lo": _struct_of("adj_low", rolling_extreme, names, windows=WINDOWS, how="min"),
        "_q": _struct_of("adj_close", rolling_quantiles, q_names, windows=WINDOWS, qs=QUANTILES),
    }
    # Computed beside the kernels: native work for Polars' threads while a kernel holds the
    # GIL (the quantiles alone take ~0.15 s at 0.5 M rows). ~7 % off the whole build.
    moments = {
        **{f"_ma_{w}": c.rolling_mean(w, min_samples=w) for w in WINDOWS},
        **{f"_sd_{w}": c.rolling_std(w, min_samples=w) for w in WINDOWS},
    }

    def quantile(w: int, q: float) -> pl.Expr:
        return pl.col("_q").struct.field(f"q{q}_w{w}")

    exprs: list[pl.Expr] = []
    for w in WINDOWS:
        hi_w = rolling(pl.col("_hi").struct.field(f"w{w}"), w)
        lo_w = rolling(pl.col("_lo").struct.field(f"w{w}"), w)
        exprs += [hi_w.alias(f"_hi_{w}"), lo_w.alias(f"_lo_{w}")]
    exprs2: list[pl.Expr] = []
    for w in WINDOWS:
        hi_w, lo_w = pl.col(f"_hi_{w}"), pl.col(f"_lo_{w}")
        exprs2 += [
            (rolling(pl.col(f"_ma_{w}"), w) / c - 1.0).alias(f"f_ma_ratio_{w}"),
            (rolling(pl.col(f"_sd_{w}"), w) / c).alias(f"f_std_{w}"),
            (hi_w / c - 1.0).alias(f"f_max_{w}"),
            (lo_w / c - 1.0).alias(f"f_min_{w}"),
            (rolling(quantile(w, 0.8), w) / c - 1.0).alias(f"f_qtlu_{w}"),
            (rolling(quantile(w, 0.2), w) / c - 1.0).alias(f"f_qtld_{w}"),
            # Where today's close ranks among the window's closes, in (0, 1].
            rolling(pl.col("_tsrank").struct.field(f"w{w}"), w).alias(f"f_tsrank_{w}"),
            _ratio(c - lo_w, hi_w - lo_w).alias(f"f_rsv_{w}"),
        ]
    return lf.with_columns(**kernels, **moments).with_columns(exprs).with_columns(exprs2)


def add_candles(lf: pl.LazyFrame) -> pl.LazyFrame:
    """Candle shape of the day (KMID, KLEN, KUP, KLOW, KSFT); null where open is missing."""
    o, h, lo, c = (pl.col(f"adj_{k}") for k in ("open", "high", "low", "close"))
    top = pl.when(o > c).then(o).otherwise(c)  # null open -> null (max_horizontal would skip it)
    bottom = pl.when(o < c).then(o).otherwise(c)
    has_open = o.is_not_null()
    rng = h - lo
    return lf.with_columns(
        f_kmid=(c - o) / o,
        f_klen=pl.when(has_open).then(rng / o),
        f_kmid2=_ratio(c - o, rng),
        f_kup=pl.when(has_open).then((h - top) / o),
        f_kup2=pl.when(has_open).then(_ratio(h - top, rng)),
        f_klow=pl.when(has_open).then((bottom - lo) / o),
        f_klow2=pl.when(has_open).then(_ratio(bottom - lo, rng)),
        f_ksft=pl.when(has_open).then((2.0 * c - h - lo) / o),
        f_ksft2=pl.when(has_open).then(_ratio(2.0 * c - h - lo, rng)),
    )


def add_oscillators(lf: pl.LazyFrame) -> pl.LazyFrame:
    """RSI(14) (Wilder) and MACD(12, 26, 9) scaled by close, per break-free segment."""
    c = pl.col("adj_close")
    delta = c - lagged("adj_close", 1)

    def ema(expr: pl.Expr, **kw: float | int) -> pl.Expr:
        return expr.ewm_mean(adjust=False, ignore_nulls=False, **kw).over("_gid")

    gain, loss = pl.col("_gain"), pl.col("_loss")
    return (
        lf.with_columns(
            _gain=ema(delta.clip(lower_bound=0.0), alpha=1.0 / 14.0, min_samples=14),
            _loss=ema((-delta).clip(lower_bound=0.0), alpha=1.0 / 14.0, min_samples=14),
            _macd=ema(c, span=12, min_samples=12) - ema(c, span=26, min_samples=26),
        )
        .with_columns(
            f_rsi_14=pl.when(gain + loss > 0)
            .then(100.0 * gain / (gain + loss))
            .otherwise(pl.when(gain.is_not_null()).then(50.0)),
            _signal=ema(pl.col("_macd"), span=9, min_samples=9),
        )
        .with_columns(
            f_macd=pl.col("_macd") / c,
            f_macd_signal=pl.col("_signal") / c,
        )
        .with_columns(f_macd_hist=pl.col("f_macd") - pl.col("f_macd_signal"))
    )


def add_liquidity(lf: pl.LazyFrame) -> pl.LazyFrame:
    """Volume and turnover vs their means, turnover level, days traded, days since last trade."""
    v, t = pl.col("adj_volume"), pl.col("turnover")
    means = [
        *[
            rolling(v.rolling_mean(w, min_samples=w), w, "_spos").alias(f"_v_{w}")
            for w in VOLUME_WINDOWS
        ],
        *[
            rolling(t.rolling_mean(w, min_samples=w), w, "_spos").alias(f"_t_{w}")
            for w in dict.fromkeys((*TURNOVER_WINDOWS, 20))
        ],
    ]
    # Market day numbers made unique along the column: a symbol's keys sit more than 20 above the
    # previous symbol's, so a 20-day window by key never reaches into another symbol.
    day_key = pl.col("_sid").cast(pl.Int64) * (pl.col("_day").max() + 21) + pl.col("_day")
    return lf.with_columns(means).with_columns(
        *[_ratio(v, pl.col(f"_v_{w}")).alias(f"f_vratio_{w}") for w in VOLUME_WINDOWS],
        *[_ratio(t, pl.col(f"_t_{w}")).alias(f"f_tratio_{w}") for w in TURNOVER_WINDOWS],
        f_log_turnover_20=pl.col("_t_20").log1p(),
        # Rows of the symbol within the last 20 market days (day numbers rise within a symbol).
        f_traded_share_20=pl.col("_day")
        .cast(pl.Float64)
        .clip(1.0, 1.0)
        .rolling_sum_by(day_key, "20i")
        / 20.0,
        f_days_since_trade=lagged("_day", 0, "_spos") - lagged("_day", 1, "_spos"),
    )


def add_sector(
    lf: pl.LazyFrame,
    securities: pl.LazyFrame | pl.DataFrame | None,
    sectors: tuple[str, ...] = NEPSE_SECTORS,
) -> pl.LazyFrame:
    """Join each symbol's sector and its stable integer code (-1 when unknown)."""
    if securities is None:
        return lf.with_columns(_sector=pl.lit(None, pl.String), f_sector=pl.lit(-1, pl.Int32))
    sec = (
        securities.lazy()
        .select("symbol", pl.col("sector").alias("_sector"))
        .unique("symbol", keep="last", maintain_order=True)
    )
    codes = pl.DataFrame(
        {"_sector": list(sectors), "f_sector": list(range(len(sectors)))},
        schema={"_sector": pl.String(), "f_sector": pl.Int32()},
    ).lazy()
    return (
        lf.join(sec, on="symbol", how="left", maintain_order="left")
        .join(codes, on="_sector", how="left", maintain_order="left")
        .with_columns(pl.col("f_sector").fill_null(-1))
    )


def add_cross_section(lf: pl.LazyFrame, ranked: tuple[str, ...] = RANKED) -> pl.LazyFrame:
    """Market and sector mean return of the day (known at the close) and the per-date ranks
    `f_rank_{n}` of `ranked` (of RANKED).

    Computed on copies of the few columns it needs listed date by date (`date_order`): each
    date's rows become one contiguous slice, which makes counts and means nearly free and lets
    `date_ranks` rank whole blocks of dates at once; the results are put back in row order.
    The ranks are one kernel call, which Polars cannot prune field by field: pass only the
    ranks a spec needs (build_features does).
    """
    order = pl.col("_dorder")
    inv = order.struct.field("inv")
    rank_cols = {f"f_rank_{n}": f"f_{n}" for n in ranked}
    inputs = dict.fromkeys(["f_ret_1", "_sector", *rank_cols.values()])
    by_date = {f"_d{c}": pl.col(c).gather(order.struct.field("perm")) for c in ["date", *inputs]}
    day, ret = "_ddate", pl.col("_df_ret_1")
    ranks_of = pl.Struct({f"_d{c}": pl.Float64 for c in rank_cols.values()})
    ranks = pl.map_batches([day, *(f"_d{c}" for c in rank_cols.values())], date_ranks, ranks_of)
    return (
        lf.with_columns(_dorder=pl.col("date").map_batches(date_order, return_dtype=DATE_ORDER))
        .with_columns(**by_date)
        .with_columns(pl.col(day).set_sorted())
        # The rank kernel runs beside the means (Polars' threads).
        .with_columns(
            **({"_dranks": ranks} if rank_cols else {}),
            _dmkt=ret.mean().over(day),
            _dsector=ret.mean().over(day, "_d_sector"),
        )
        .with_columns(
            **{
                name: pl.col("_dranks").struct.field(f"_d{c}").gather(inv)
                for name, c in rank_cols.items()
            },
            f_mkt_ret=pl.col("_dmkt").gather(inv),
            f_sector_ret=pl.when(pl.col("_sector").is_not_null()).then(
                pl.col("_dsector").gather(inv)
            ),
        )
    )


CROSS_FEATURES = ("f_mkt_ret", "f_sector_ret", *(f"f_rank_{n}" for n in RANKED))
"""Features that need every symbol of a date (add_cross_section); all others need one symbol."""


def per_symbol_features(
    prices_adj: pl.LazyFrame,
    securities: pl.LazyFrame | pl.DataFrame | None = None,
    *,
    sectors: tuple[str, ...] = NEPSE_SECTORS,
) -> pl.LazyFrame:
    """Every feature but the cross-section's, plus the helper columns (`_sector`, `_day`, ...).

    Each symbol's rows depend only on that symbol's rows (and on the dates present), so a
    panel too large for memory can be built chunk of symbols by chunk, then `add_cross_section`
    run once over the few columns it needs.
    """
    return (
        prices_adj.lazy()
        .pipe(add_segments)
        # Joined while the frame is still narrow (a join copies every column).
        .pipe(add_sector, securities, sectors)
        .pipe(add_returns)
        .pipe(add_price_windows)
        .pipe(add_candles)
        .pipe(add_oscillators)
        .pipe(add_liquidity)
    )


def build_features(
    prices_adj: pl.LazyFrame,
    securities: pl.LazyFrame | pl.DataFrame | None = None,
    *,
    spec: FeatureSpec = FEATURE_SPEC,
) -> pl.LazyFrame:
    """Features of each (symbol, date) of adjusted prices: keys, spec names, adj_close, is_break
    (and the raw close when the input has it).

    Only the spec's features (and what they depend on) are computed: Polars drops the rest.
    """
    have = set(prices_adj.collect_schema().names())
    carry = [*CARRY, *(c for c in CARRY_IF_PRESENT if c in have)]
    ranked = tuple(n for n in RANKED if f"f_rank_{n}" in spec.names)
    return (
        per_symbol_features(prices_adj, securities, sectors=spec.sectors)
        .pipe(add_cross_section, ranked)
        .select(*KEYS, *spec.names, *carry)
    )
