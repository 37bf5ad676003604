"""The synthetic market's price process: GARCH factors, fair value, ticks and price limits."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from datetime import date, timedelta

import numpy as np
import polars as pl

from nepse.devdata.sample_params import (
    DEFAULT_END,
    DRIFT,
    KAPPA_SECTOR_MOMENTUM,
    MEAN_REVERSION,
    MOMENTUM_DAYS,
    T_DOF,
    TICK,
    price_limit_pct,
    trading_days,
)
from nepse.devdata.sample_universe import SECTORS, _build_universe, _Event, _events, _Universe

logger = logging.getLogger(__name__)


# --- price process -------------------------------------------------------------------------


def _garch(eps: np.ndarray, vol: float | np.ndarray, alpha: float, beta: float) -> np.ndarray:
    """GARCH(1,1) returns sigma_t * eps_t along axis 0 (unit-variance shocks in `eps`)."""
    var = np.broadcast_to(np.asarray(vol, dtype=float) ** 2, eps.shape[1:]).copy()
    omega = var * (1 - alpha - beta)
    cap = 16 * var  # keep a runaway variance path from producing absurd shocks
    # var_t+1 = omega + var_t * (alpha eps_t^2 + beta): the multiplier is path-free.
    mult = alpha * eps * eps + beta
    out = np.empty_like(eps)
    for t in range(eps.shape[0]):
        out[t] = var
        var = np.minimum(omega + var * mult[t], cap)
    np.sqrt(out, out=out)
    out *= eps
    return out


def _factors(n_days: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Market returns (T,), sector returns (T, S) and the sector-momentum signal (T, S)."""
    rng = np.random.default_rng([seed, 9])
    scale = math.sqrt(T_DOF / (T_DOF - 2))
    market = _garch(rng.standard_t(T_DOF, (n_days, 1)) / scale, 0.009, 0.10, 0.86)[:, 0]
    sector = _garch(rng.standard_t(T_DOF, (n_days, len(SECTORS))) / scale, 0.006, 0.08, 0.88)
    csum = np.vstack([np.zeros((1, len(SECTORS))), np.cumsum(sector, axis=0)])
    lag = np.maximum(np.arange(n_days) - MOMENTUM_DAYS, 0)
    momentum = csum[np.arange(n_days)] - csum[lag]  # sum of the MOMENTUM_DAYS days before t
    return market, sector, momentum


def _simulate(
    uni: _Universe,
    idx: np.ndarray,
    cal: list[date],
    n_days: int,
    factors: tuple[np.ndarray, np.ndarray, np.ndarray],
    events: dict[int, list[_Event]],
    seed: int,
) -> pl.DataFrame:
    """Daily rows of the instruments at positions `idx` (vectorised over them, looping days)."""
    c, n = len(idx), n_days
    eps = np.empty((n, c))  # day-major: the loops over days read rows
    z = np.empty((4, c, n))  # symbol-major: only read after the loop, per traded cell
    u = np.empty((c, n))
    for j, pos in enumerate(idx):
        rng = np.random.default_rng([seed, 1, int(uni.key[pos])])
        normal = rng.standard_normal((5, n))
        expo = rng.standard_exponential((2, n))
        # Student-t(4) = N / sqrt(chi2_4 / 4), chi2_4 = 2 (E1 + E2); / sqrt(2) for unit variance.
        eps[:, j] = normal[0] / np.sqrt(expo[0] + expo[1])
        z[:, j, :] = normal[1:]
        u[j] = rng.random(n)
    vol = uni.vol[idx]
    days = np.arange(n)
    listed_t = days >= uni.list_t[idx][:, None]
    mask = (u < uni.participation[idx][:, None]) & listed_t & (days < uni.stop_t[idx][:, None])
    del u
    listed = np.ascontiguousarray(listed_t.T)
    traded = np.ascontiguousarray(mask.T)
    del listed_t
    market, sector, momentum = factors
    sec = uni.sector_idx[idx]
    gamma, rho = uni.gamma[idx], uni.rho[idx]
    # Everything that does not depend on the path, for all days at once. Before listing the
    # step is 0, so the fair value waits at the first price.
    step = _garch(eps, vol, 0.06, 0.90)
    del eps
    step += DRIFT + uni.beta[idx] * market[:, None] + gamma * sector[:, sec]
    step += KAPPA_SECTOR_MOMENTUM * momentum[:, sec] * (gamma > 0)
    step *= listed
    limit_pct = np.array([price_limit_pct(d) for d in cal[:n]], dtype=np.float64)

    # Events by day compose the reference-price map ref = a * P + b (NPR) until the next trade.
    by_day: dict[int, list[tuple[int, _Event]]] = {}
    for j, pos in enumerate(idx):
        for ev in events.get(int(pos), []):
            if ev.kind != "cash" and ev.t < n:
                by_day.setdefault(ev.t, []).append((j, ev))

    # Prices are whole ticks held in float64 (exact below 2**53, and much faster than int64);
    # the fair value is kept in log ticks.
    close = np.rint(uni.p0[idx] / TICK)  # the reference price, ticks
    log_f = np.log(close)
    pull_anchor = MEAN_REVERSION * log_f  # before listing step = 0 and log_f = anchor: no pull
    last_ret = np.zeros(c)
    pend_a, pend_b = np.ones(c), np.zeros(c)
    pending = np.zeros(c, dtype=bool)
    # Limit bands rounded inward to a tick; the 1e-11 guards exact multiples against float error.
    up = (100 + limit_pct) / 100 + 1e-11
    down = (100 - limit_pct) / 100 - 1e-11
    rho_tr = rho * traded  # reversal acts on the last *observed* move only
    c_out = np.empty((n, c))
    ref_out = np.empty((n, c))
    act_out = np.zeros((n, c), dtype=bool)
    keep = 1.0 - MEAN_REVERSION
    any_pending = False
    for t in range(n):
        log_f *= keep
        log_f += pull_anchor
        log_f += step[t]
        log_f -= last_ret
        for j, ev in by_day.get(t, ()):
            pending[j] = any_pending = True
            if ev.kind == "bonus":
                pend_a[j] /= 1 + ev.percent / 100
                pend_b[j] /= 1 + ev.percent / 100
            else:
                r = ev.percent / 100
                pend_a[j] /= 1 + r
                pend_b[j] = (pend_b[j] + (ev.issue_price or 0.0) * r) / (1 + r)
        ref = close
        if any_pending:
            act = traded[t] & pending
            if act.any():
                adj = np.maximum(np.rint((pend_a * close * TICK + pend_b) / TICK), 1.0)
                ref = np.where(act, adj, close)
                shift = np.log(ref / close)
                log_f += shift
                pull_anchor += MEAN_REVERSION * shift
                pend_a[act], pend_b[act], pending[act] = 1.0, 0.0, False
                act_out[t] = act
                any_pending = bool(pending.any())
        c_t = np.rint(np.exp(log_f))
        np.minimum(c_t, np.floor(ref * up[t]), out=c_t)
        np.maximum(c_t, np.ceil(ref * down[t]), out=c_t)
        last_ret = c_t / ref
        last_ret -= 1.0
        last_ret *= rho_tr[t]
        close = np.where(traded[t], c_t, close)
        c_out[t] = c_t
        ref_out[t] = ref

    # Only traded cells become rows; open/high/low/volume are drawn around close and reference.
    del traded, rho_tr
    jj, tt = np.nonzero(mask)  # symbol-major: rows come out sorted by symbol, date

    def cells(a: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(a.T)[mask]

    ref, cl, act = cells(ref_out), cells(c_out), cells(act_out)
    del ref_out, c_out, act_out
    zs = [z[k][mask] for k in range(4)]
    del z
    hi = np.floor(ref * up[tt])
    lo = np.ceil(ref * down[tt])
    v = vol[jj]
    op = np.where(act, ref, np.clip(np.rint(ref * np.exp(0.35 * v * zs[0])), lo, hi))
    wick = 0.5 * v * cl  # an action day opens at the adjusted price (above)
    hi_ = np.minimum(hi, np.maximum(op, cl) + np.rint(np.abs(zs[1]) * wick))
    lo_ = np.maximum(lo, np.minimum(op, cl) - np.rint(np.abs(zs[2]) * wick))
    move = np.abs(cl / ref - 1.0)
    liq = uni.liquidity[idx][jj]
    volume = np.maximum(np.rint(liq * np.exp(0.5 * zs[3]) * (1 + 12 * move)), 10.0)
    # ticks / 10 (not * 0.1) gives the float nearest to the decimal price: 4953 -> 495.3.
    o, h, lw, cf = op / 10, hi_ / 10, lo_ / 10, cl / 10
    turnover = np.rint(volume * (o + h + lw + cf) / 4 * 10) / 10
    trades = np.maximum(np.rint(volume / uni.lot[idx][jj]), 1).astype(np.int64)
    day_ordinal = np.array([d.toordinal() for d in cal[:n]]) - date(1970, 1, 1).toordinal()
    symbols = pl.Series("symbol", [uni.symbol[p] for p in idx], dtype=pl.String)
    return pl.DataFrame(
        {
            "symbol": symbols.gather(jj),
            "date": pl.Series(day_ordinal[tt].astype(np.int32)).cast(pl.Date),
            "open": o,
            "high": h,
            "low": lw,
            "close": cf,
            "volume": volume,
            "turnover": turnover,
            "trades": trades,
        }
    )


def _window(years: float, end: date) -> tuple[date, date]:
    if years <= 0:
        raise ValueError(f"years must be positive, got {years}")
    return end - timedelta(days=round(years * 365.25)), end


def _setup(
    symbols: int, years: float, seed: int, end: date, *, non_equities: bool
) -> tuple[_Universe, list[date], int, dict[int, list[_Event]], tuple]:
    if symbols < 1:
        raise ValueError(f"symbols must be >= 1, got {symbols}")
    start, end = _window(years, end)
    cal = trading_days(start, end + timedelta(days=60))  # room for announced dates
    n_days = sum(1 for d in cal if d <= end)
    if n_days < 2:
        raise ValueError(f"the window {start}..{end} has fewer than 2 trading days")
    uni = _build_universe(symbols, n_days, seed, non_equities=non_equities)
    events = _events(uni, cal, n_days, seed)
    return uni, cal, n_days, events, _factors(n_days, seed)


def iter_panel(
    *,
    symbols: int,
    years: float,
    seed: int,
    end: date = DEFAULT_END,
    chunk_symbols: int = 400,
) -> Iterator[pl.DataFrame]:
    """The equity price panel in chunks of symbols (each sorted by symbol, date), for streaming."""
    uni, cal, n_days, events, factors = _setup(symbols, years, seed, end, non_equities=False)
    for lo in range(0, len(uni), chunk_symbols):
        idx = np.arange(lo, min(lo + chunk_symbols, len(uni)))
        yield _simulate(uni, idx, cal, n_days, factors, events, seed)


def generate_panel(
    *, symbols: int, years: float, seed: int, end: date = DEFAULT_END
) -> pl.DataFrame:
    """Clean daily equity prices (PRICE_COLUMNS) of the synthetic market: no files, no bad rows."""
    parts = list(iter_panel(symbols=symbols, years=years, seed=seed, end=end))
    return pl.concat(parts, rechunk=False)
