"""A pandas reference implementation of nepse.features: test_pandas_reference.py checks the
library against it, bench/features_vs_pandas.py times the two side by side.

Written the way the original notebook pipeline computed features: pandas `groupby(...)`
followed by `.shift`, `.rolling(w)`, `.ewm(...)` per group, and `groupby("date")` for the
cross-section. Two styles of the per-group windows (same values):

- `rolling` (default): `df.groupby(key)[col].rolling(w).mean()`, pandas' own groupby-rolling
  (one Cython pass over all groups), the fastest idiomatic pandas.
- `transform`: `df.groupby(key)[col].transform(lambda s: s.rolling(w).mean())`, the classic
  notebook idiom (a Python call per group and window).

The same definitions as nepse/features.py (its module docstring is the spec): price windows
stay inside break-free segments (a symbol's rows cut at `is_break`), liquidity windows run
over the symbol's rows, days are market trading days (dates with any row).

Implemented: all 85 features of nepse.features.FULL_SPEC. The original design's 15
(BASE_FEATURES: return, lags, moving-average ratios, volatility, RSI(14), MACD(12, 26, 9));
f_ma_ratio_30/60, f_vol_60; the Alpha158-style candles (KMID, KLEN, KMID2, KUP, KUP2, KLOW,
KLOW2, KSFT, KSFT2) and window ratios ROC, STD, MAX, MIN, QTLU, QTLD, TSRANK, RSV over
5/10/20/30/60 days; volume and turnover ratios, log turnover, the share of the last 20 market
days traded, days since the last trade; the market and sector mean returns, the sector code
and the seven cross-sectional ranks. The sector features follow the library's definition for
a panel without a securities master (the generated one has none): code -1, sector return
null (its group-by runs all the same).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

WINDOWS = (5, 10, 20, 30, 60)
VOL_WINDOWS = (5, 10, 20, 60)
VOLUME_WINDOWS = (5, 20, 60)
TURNOVER_WINDOWS = (5, 20)
RANKED = ("ret_1", "roc_5", "roc_20", "vol_20", "rsi_14", "log_turnover_20", "vratio_20")


STYLE = {"name": "rolling"}
"""Which idiom `_rolling` and the EMAs use (set by `pandas_features(style=...)`)."""


def _rolling(g: pd.core.groupby.SeriesGroupBy, w: int, how: str, *args) -> pd.Series:
    """A groupby-rolling statistic aligned back to the frame's rows."""
    if STYLE["name"] == "transform":
        return g.transform(lambda x: getattr(x.rolling(w, min_periods=w), how)(*args))
    r = getattr(g.rolling(w, min_periods=w), how)(*args)
    return r.reset_index(level=0, drop=True)


def _div(num: pd.Series, den: pd.Series) -> pd.Series:
    return (num / den).where(den != 0)


def pandas_features(adj: pd.DataFrame, *, style: str = "rolling") -> pd.DataFrame:
    """Features of adjusted prices (symbol, date, adj_* prices and volume, turnover, is_break)."""
    if style not in ("rolling", "transform"):
        raise ValueError(f"style must be 'rolling' or 'transform', got {style!r}")
    STYLE["name"] = style
    df = adj.sort_values(["symbol", "date"]).reset_index(drop=True)
    new_symbol = df["symbol"].ne(df["symbol"].shift())
    df["seg"] = (new_symbol | df["is_break"].fillna(False).astype(bool)).cumsum()
    df["day"] = df["date"].rank(method="dense").astype(np.int64)
    c, h, lo, o = df["adj_close"], df["adj_high"], df["adj_low"], df["adj_open"]
    seg, sym = df.groupby("seg", sort=False), df.groupby("symbol", sort=False)
    f = pd.DataFrame({"symbol": df["symbol"], "date": df["date"]})

    # Returns, lags, momentum, volatility (inside segments).
    f["f_ret_1"] = c / seg["adj_close"].shift(1) - 1.0
    ret_by_seg = f.groupby(df["seg"], sort=False)["f_ret_1"]
    for k in (1, 2, 3, 5):
        f[f"f_ret_lag_{k}"] = ret_by_seg.shift(k)
    for w in WINDOWS:
        f[f"f_roc_{w}"] = c / seg["adj_close"].shift(w) - 1.0
    for w in VOL_WINDOWS:
        f[f"f_vol_{w}"] = _rolling(ret_by_seg, w, "std")

    # Alpha158-style price windows.
    for w in WINDOWS:
        hi_w = _rolling(seg["adj_high"], w, "max")
        lo_w = _rolling(seg["adj_low"], w, "min")
        f[f"f_ma_ratio_{w}"] = _rolling(seg["adj_close"], w, "mean") / c - 1.0
        f[f"f_std_{w}"] = _rolling(seg["adj_close"], w, "std") / c
        f[f"f_max_{w}"] = hi_w / c - 1.0
        f[f"f_min_{w}"] = lo_w / c - 1.0
        f[f"f_qtlu_{w}"] = _rolling(seg["adj_close"], w, "quantile", 0.8) / c - 1.0
        f[f"f_qtld_{w}"] = _rolling(seg["adj_close"], w, "quantile", 0.2) / c - 1.0
        f[f"f_rsv_{w}"] = _div(c - lo_w, hi_w - lo_w)
        # Average rank of today's close among the window's closes, over w.
        f[f"f_tsrank_{w}"] = _rolling(seg["adj_close"], w, "rank") / w

    # Candles.
    has_open = o.notna()
    top = np.where(o > c, o, c)
    bottom = np.where(o < c, o, c)
    rng = h - lo
    f["f_kmid"] = (c - o) / o
    f["f_klen"] = (rng / o).where(has_open)
    f["f_kmid2"] = _div(c - o, rng)
    f["f_kup"] = ((h - top) / o).where(has_open)
    f["f_kup2"] = _div(h - top, rng).where(has_open)
    f["f_klow"] = ((bottom - lo) / o).where(has_open)
    f["f_klow2"] = _div(bottom - lo, rng).where(has_open)
    f["f_ksft"] = ((2.0 * c - h - lo) / o).where(has_open)
    f["f_ksft2"] = _div(2.0 * c - h - lo, rng).where(has_open)

    # RSI(14) (Wilder) and MACD(12, 26, 9), per segment.
    delta = c - seg["adj_close"].shift(1)

    def ema(x: pd.Series, **kw) -> pd.Series:
        g = x.groupby(df["seg"], sort=False)
        if style == "transform":
            return g.transform(lambda s: s.ewm(adjust=False, ignore_na=False, **kw).mean())
        out = g.ewm(adjust=False, ignore_na=False, **kw).mean()
        return out.reset_index(level=0, drop=True)

    gain = ema(delta.clip(lower=0.0), alpha=1.0 / 14.0, min_periods=14)
    loss = ema((-delta).clip(lower=0.0), alpha=1.0 / 14.0, min_periods=14)
    total = gain + loss
    f["f_rsi_14"] = (100.0 * gain / total).where(total > 0, np.where(gain.notna(), 50.0, np.nan))
    macd = ema(c, span=12, min_periods=12) - ema(c, span=26, min_periods=26)
    signal = ema(macd, span=9, min_periods=9)
    f["f_macd"] = macd / c
    f["f_macd_signal"] = signal / c
    f["f_macd_hist"] = f["f_macd"] - f["f_macd_signal"]

    # Liquidity (per symbol: a break changes the price scale, not the trading activity).
    v, t = df["adj_volume"], df["turnover"]
    for w in VOLUME_WINDOWS:
        f[f"f_vratio_{w}"] = _div(v, _rolling(sym["adj_volume"], w, "mean"))
    for w in TURNOVER_WINDOWS:
        f[f"f_tratio_{w}"] = _div(t, _rolling(sym["turnover"], w, "mean"))
    f["f_log_turnover_20"] = np.log1p(_rolling(sym["turnover"], 20, "mean"))
    f["f_days_since_trade"] = sym["day"].diff()
    # Rows of the symbol in the last 20 market days: a window of 20 days on the day numbers.
    on_days = pd.Series(1.0, index=pd.to_datetime(df["day"], unit="D"))
    traded = on_days.groupby(df["symbol"].to_numpy(), sort=False)
    if style == "transform":
        share = traded.transform(lambda s: s.rolling("20D").count())
    else:
        share = traded.rolling("20D").count().reset_index(level=0, drop=True)
    f["f_traded_share_20"] = share.to_numpy() / 20.0

    # Cross-section of each date.
    by_date = f.groupby("date", sort=False)
    f["f_mkt_ret"] = by_date["f_ret_1"].transform("mean")
    sector = pd.Series(None, index=df.index, dtype=object)  # no securities master
    by_sector = f["f_ret_1"].groupby([df["date"], sector], sort=False)
    f["f_sector_ret"] = by_sector.transform("mean")
    f["f_sector"] = np.int32(-1)
    for name in RANKED:
        col = f"f_{name}"
        r = by_date[col].rank(method="average")
        n = by_date[col].transform("count")
        ranked = ((r - 1.0) / (n - 1.0)).where(n > 1, 0.5)
        f[f"f_rank_{name}"] = ranked.where(f[col].notna())
    return f
