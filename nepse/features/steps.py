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
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

import polars as pl

KEYS = ("symbol", "date")
CARRY = ("adj_close", "is_break")
WINDOWS = (5, 10, 20, 30, 60)
VOL_WINDOWS = (5, 10, 20, 60)
VOLUME_WINDOWS = (5, 20, 60)
TURNOVER_WINDOWS = (5, 20)
RANKED = ("ret_1", "roc_5", "roc_20", "vol_20", "rsi_14", "log_turnover_20", "vratio_20")

# NEPSE sector names as in the NEPSE API's CompanyList (2025-08-30), sorted: the position is the
# integer code LightGBM sees, so the list is part of the feature spec and only ever appended to.
NEPSE_SECTORS = (
    "Commercial Banks",
    "Development Banks",
    "Finance",
    "Hotels And Tourism",
    "Hydro Power",
    "Investment",
    "Life Insurance",
    "Manufacturing And Processing",
    "Microfinance",
    "Mutual Fund",
    "Non Life Insurance",
    "Others",
    "Tradings",
)

# The original design's lag / moving-average / volatility features: its RandomForest (the
# baseline in nepse/model/baselines.py) used exactly these.
LAG_MA_VOL_FEATURES = (
    "f_ret_1",
    "f_ret_lag_1",
    "f_ret_lag_2",
    "f_ret_lag_3",
    "f_ret_lag_5",
    "f_ma_ratio_5",
    "f_ma_ratio_10",
    "f_ma_ratio_20",
    "f_vol_5",
    "f_vol_10",
    "f_vol_20",
)
# The original design's whole set.
BASE_FEATURES = (
    *LAG_MA_VOL_FEATURES,
    "f_rsi_14",
    "f_macd",
    "f_macd_signal",
    "f_macd_hist",
)


def _feature_names() -> tuple[str, ...]:
    """Every feature `build_features` can compute (the catalogue), in a stable order."""
    names = [*BASE_FEATURES]
    names += ["f_ma_ratio_30", "f_ma_ratio_60", "f_vol_60"]
    names += [
        "f_kmid",
        "f_klen",
        "f_kmid2",
        "f_kup",
        "f_kup2",
        "f_klow",
        "f_klow2",
        "f_ksft",
        "f_ksft2",
    ]
    for kind in ("roc", "std", "max", "min", "qtlu", "qtld", "tsrank", "rsv"):
        names += [f"f_{kind}_{w}" for w in WINDOWS]
    names += [f"f_vratio_{w}" for w in VOLUME_WINDOWS]
    names += [f"f_tratio_{w}" for w in TURNOVER_WINDOWS]
    names += ["f_log_turnover_20", "f_traded_share_20", "f_days_since_trade"]
    names += ["f_mkt_ret", "f_sector_ret", "f_sector"]
    names += [f"f_rank_{n}" for n in RANKED]
    return tuple(names)


@dataclass(frozen=True)
class FeatureSpec:
    """What a model was trained on: feature names in order, categoricals, sectors, lookback."""

    version: str
    names: tuple[str, ...]
    categorical: tuple[str, ...] = ("f_sector",)
    sectors: tuple[str, ...] = NEPSE_SECTORS
    lookback_days: int = 750
    """Market trading days (~3 years) of history that reproduce the last day's features within
    1e-9 for symbols that traded on at least ~2/3 of them: RSI's Wilder EMA (in 0..100 units)
    needs ~450 of the symbol's own rows to forget its start, MACD ~350
    (tests/unit/features/test_features.py::test_lookback_reproduces_the_last_day measures it)."""
    extra: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> str:
        """The spec as JSON (stored next to a model)."""
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> FeatureSpec:
        """The spec back from `to_json`."""
        data = json.loads(text)
        for key in ("names", "categorical", "sectors"):
            data[key] = tuple(data[key])
        return cls(**data)


ALL_FEATURES = _feature_names()

# The model's features: the original design's, plus the Alpha158-style windows, candles, liquidity
# and cross-sectional features that carried signal in a validation walk-forward over 2016-2018
# (data before the evaluation's test days; docs/model.md). Near-duplicates of these (other window
# lengths, *_2 candle ratios, std/qtlu windows, more ranks) added nothing there and cost time
# in every retraining. Any subset of ALL_FEATURES works; BASE_FEATURES stay first.
MODEL_FEATURES: tuple[str, ...] = (
    *BASE_FEATURES,
    "f_roc_5",
    "f_roc_20",
    "f_min_5",
    "f_min_10",
    "f_min_20",
    "f_max_5",
    "f_max_20",
    "f_qtld_5",
    "f_qtlu_10",
    "f_rsv_5",
    "f_rsv_10",
    "f_tsrank_5",
    "f_tsrank_10",
    "f_kmid",
    "f_ksft",
    "f_klow",
    "f_kup",
    "f_vratio_5",
    "f_vratio_20",
    "f_log_turnover_20",
    "f_traded_share_20",
    "f_days_since_trade",
    "f_mkt_ret",
    "f_sector_ret",
    "f_sector",
    "f_rank_ret_1",
    "f_rank_roc_5",
    "f_rank_log_turnover_20",
)

FEATURE_SPEC = FeatureSpec(version="2026.11.1", names=MODEL_FEATURES)
FULL_SPEC = FeatureSpec(version="2026.11.1-all", names=ALL_FEATURES)


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
    brk = pl.col("is_break").fill_null(False)
    new_symbol = pl.col("symbol") != pl.col("symbol").shift(1)
    return (
        lf.sort("symbol", "date")
        # A trading day is a date with at least one stored row (derived, not weekday-based).
        .with_columns(_day=pl.col("date").rank("dense").cast(pl.Int64))
        .with_columns(
            _sym_start=new_symbol.fill_null(True),
            _seg_start=(new_symbol.fill_null(True) | brk),
        )
        .with_columns(
            _sid=pl.col("_sym_start").cum_sum(),
            _gid=pl.col("_seg_start").cum_sum(),
            _row=pl.int_range(pl.len(), dtype=pl.Int64),
        )
        .with_columns(
            _pos=pl.col("_row") - pl.col("_row").min().over("_gid"),
            _spos=pl.col("_row") - pl.col("_row").min().over("_sid"),
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


def add_price_windows(lf: pl.LazyFrame) -> pl.LazyFrame:
    """Alpha158-style window ratios of adjusted prices to today's close."""
    c, h, lo = pl.col("adj_close"), pl.col("adj_high"), pl.col("adj_low")
    exprs: list[pl.Expr] = []
    for w in WINDOWS:
        hi_w = rolling(h.rolling_max(w, min_samples=w), w)
        lo_w = rolling(lo.rolling_min(w, min_samples=w), w)
        exprs += [
            (rolling(c.rolling_mean(w, min_samples=w), w) / c - 1.0).alias(f"f_ma_ratio_{w}"),
            (rolling(c.rolling_std(w, min_samples=w), w) / c).alias(f"f_std_{w}"),
            (hi_w / c - 1.0).alias(f"f_max_{w}"),
            (lo_w / c - 1.0).alias(f"f_min_{w}"),
            (rolling(c.rolling_quantile(0.8, "linear", w, min_samples=w), w) / c - 1.0).alias(
                f"f_qtlu_{w}"
            ),
            (rolling(c.rolling_quantile(0.2, "linear", w, min_samples=w), w) / c - 1.0).alias(
                f"f_qtld_{w}"
            ),
            # Where today's close ranks among the window's closes, in (0, 1].
            (rolling(c.rolling_rank(w, min_samples=w), w) / w).alias(f"f_tsrank_{w}"),
            _ratio(c - lo_w, hi_w - lo_w).alias(f"f_rsv_{w}"),
        ]
    return lf.with_columns(exprs)


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

    gain = ema(delta.clip(lower_bound=0.0), alpha=1.0 / 14.0, min_samples=14)
    loss = ema((-delta).clip(lower_bound=0.0), alpha=1.0 / 14.0, min_samples=14)
    macd = ema(c, span=12, min_samples=12) - ema(c, span=26, min_samples=26)
    return (
        lf.with_columns(
            f_rsi_14=pl.when(gain + loss > 0)
            .then(100.0 * gain / (gain + loss))
            .otherwise(pl.when(gain.is_not_null()).then(50.0)),
            _macd=macd,
        )
        .with_columns(_signal=ema(pl.col("_macd"), span=9, min_samples=9))
        .with_columns(
            f_macd=pl.col("_macd") / c,
            f_macd_signal=pl.col("_signal") / c,
        )
        .with_columns(f_macd_hist=pl.col("f_macd") - pl.col("f_macd_signal"))
    )


def add_liquidity(lf: pl.LazyFrame) -> pl.LazyFrame:
    """Volume and turnover vs their means, turnover level, days traded, days since last trade."""
    v, t = pl.col("adj_volume"), pl.col("turnover")
    return lf.with_columns(
        *[
            _ratio(v, rolling(v.rolling_mean(w, min_samples=w), w, "_spos")).alias(f"f_vratio_{w}")
            for w in VOLUME_WINDOWS
        ],
        *[
            _ratio(t, rolling(t.rolling_mean(w, min_samples=w), w, "_spos")).alias(f"f_tratio_{w}")
            for w in TURNOVER_WINDOWS
        ],
        f_log_turnover_20=rolling(t.rolling_mean(20, min_samples=20), 20, "_spos").log1p(),
        # Rows of the symbol within the last 20 market days (day numbers rise within a symbol).
        f_traded_share_20=pl.col("_day")
        .cast(pl.Float64)
        .clip(1.0, 1.0)
        .rolling_sum_by("_day", "20i")
        .over("_sid")
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


def cross_rank(col: str) -> pl.Expr:
    """Cross-sectional rank of `col` on each date, in [0, 1] (0.5 when alone; null stays null)."""
    n = pl.col(col).count().over("date")
    r = pl.col(col).rank("average").over("date")
    return pl.when(n > 1).then((r - 1.0) / (n - 1.0)).otherwise(pl.when(n == 1).then(0.5))


def add_cross_section(lf: pl.LazyFrame) -> pl.LazyFrame:
    """Market and sector mean return of the day (known at the close) and per-date ranks."""
    ret = pl.col("f_ret_1")
    ranks = [
        pl.when(pl.col(f"f_{n}").is_not_null()).then(cross_rank(f"f_{n}")).alias(f"f_rank_{n}")
        for n in RANKED
    ]
    return lf.with_columns(
        *ranks,
        f_mkt_ret=ret.mean().over("date"),
        f_sector_ret=pl.when(pl.col("_sector").is_not_null()).then(
            ret.mean().over("date", "_sector")
        ),
    )


def build_features(
    prices_adj: pl.LazyFrame,
    securities: pl.LazyFrame | pl.DataFrame | None = None,
    *,
    spec: FeatureSpec = FEATURE_SPEC,
) -> pl.LazyFrame:
    """Features of each (symbol, date) of adjusted prices: keys, spec names, adj_close, is_break."""
    return (
        prices_adj.lazy()
        .pipe(add_segments)
        # Joined while the frame is still narrow (a join copies every column).
        .pipe(add_sector, securities, spec.sectors)
        .pipe(add_returns)
        .pipe(add_price_windows)
        .pipe(add_candles)
        .pipe(add_oscillators)
        .pipe(add_liquidity)
        .pipe(add_cross_section)
        .select(*KEYS, *spec.names, *CARRY)
    )
