"""A deterministic, seeded NEPSE-like synthetic market: prices, corporate actions, securities.

It is the default data of the README's main command, of most tests and (large) of the
benchmarks. It is a synthetic market, not a promise about the real one.

Universe: `symbols` equities over NEPSE's 12 sectors in roughly the real proportions (hydro,
microfinance and banks dominate), first prices NPR 150-3000 by sector, plus about one
debenture or mutual fund per 25 equities (in `prices` and `CompanyList.csv`, never in
`generate_panel`). 55 % of equities are liquid (trade every day), 30 % middling (75-98 % of
days), 15 % thin (20-60 %); ~8 % list during the window; ~1 % are suspended (status S) and
stop trading 60 days before the end.

The price process, per trading day t and stock i of sector s (log returns):

    market  m_t    GARCH(1,1), Student-t(4) shocks, long-run vol 0.9 %/day, alpha .10, beta .86
    sector  f_s,t  GARCH(1,1), Student-t(4) shocks, long-run vol 0.6 %/day, alpha .08, beta .88
    idio    e_i,t  GARCH(1,1), Student-t(4) shocks, long-run vol 1.2-3.2 %/day, alpha .06, beta .90
    fair value  F_i,t = F_i,t-1 + mu_i,t + beta_i m_t + gamma_i f_s,t + e_i,t - 0.002 (F - anchor)
    beta_i ~ U(0.6, 1.3), gamma_i ~ U(0.6, 1.2); the anchor (first price) moves with actions.

The only predictable part is `mu` (weak on purpose, so a model can find *some* signal):

    mu_i,t = 0.0002                                   drift
           - 0.08 * r_i,t-1     (liquid names only)   reversal of the last observed simple return
           + 0.06 * sum_{k=1..5} f_s,t-k               sector momentum over the past week

Measured on the default sample: pooled slope of r_t on r_t-1 for liquid names about -0.05; the
slope of the cross-sectionally demeaned return on the demeaned past-week sector return about
+0.05 (t ~ 25); return kurtosis ~7; lag-1 autocorrelation of |market return| ~0.14.

The observed close moves toward exp(F) but stays on the 0.1 tick and inside the price limit in
force (±10 % until 2026-04-19, ±15 % from 2026-04-20, rounded inward to a tick) around the
reference price (the previous close, or the adjusted one on an action day), so a capped stock
keeps catching up on later days. Open, high and low are drawn around the reference and the
close inside the same band; volume is lognormal around the stock's liquidity and grows with
|move|; turnover = volume * mean(o, h, l, c). A stock that does not trade has no row. Bonus
and rights issues lower the reference price on the first traded day on or after the ex-date
(the book-closure date for bonus) by NEPSE's formulas `P/(1+B%)` and
`(P + issue_price*R%)/(1+R%)`, rounded to a tick; that day opens at the adjusted price. Cash
dividends do not move the price. `right-share.csv` has no book-closure date (only opening and
closing dates, the opening 7-15 trading days after the ex-date), as in the real files;
`actions.book_closure_date` is the true ex-date.

The trading calendar is Sunday-Thursday before 2026-04-10 and Monday-Friday from then on,
minus fixed-date public holidays, approximate Dashain/Tihar blocks and the real 2025-09-08..18
closure. It does not depend on the seed.

Files (`write_sample`) copy the real ones: ShareSansar prices newest-first with the last
APPENDED_DAYS market days appended in ascending order, `percent_change` against the previous
row, Nepali fiscal years, `[Closed]` book closures, blank bonus cells, inconsistently written
rights ratios, and a few planted bad lines (`BAD_KINDS`, listed in `SampleMarket.bad_rows`).

Everything is seeded per symbol (numpy streams keyed by seed and the symbol's index), so the
same arguments give byte-identical files and `generate_panel` gives the same paths as
`generate_market` for any chunking.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from nepse import schema
from nepse.schema import DATASET_MARKER, DATASET_SAMPLE
from nepse.settings import Settings

logger = logging.getLogger(__name__)

TICK = 0.1
CALENDAR_SWITCH = date(2026, 4, 10)
"""First day of Monday-Friday trading (Sunday-Thursday before)."""
_FIELDS = Settings.model_fields
LIMIT_CHANGE: date = _FIELDS["price_limit_change_date"].default
LIMIT_BEFORE_PCT = round(_FIELDS["price_limit_before"].default * 100)
LIMIT_AFTER_PCT = round(_FIELDS["price_limit_after"].default * 100)

DEFAULT_END = date(2026, 11, 20)

# Coefficients of the predictable part (the module docstring is their documentation).
DRIFT = 0.0002
RHO_REVERSAL = 0.08
KAPPA_SECTOR_MOMENTUM = 0.06
MOMENTUM_DAYS = 5
MEAN_REVERSION = 0.002
T_DOF = 4.0

PRICES_HEADER = "date,open,high,low,ltp,percent_change,qty,turnover"
DIVIDEND_HEADER = "fiscal_year,bonus_share,cash_dividend,total_dividend,book_closure_date"
RIGHTS_HEADER = "ratio,total_units,issue_price,opening_date,closing_date,status,issue_manager"
COMPANY_HEADER = (
    "companyEmail,companyName,id,instrumentType,regulatoryBody,sectorName,securityName,status,"
    "symbol,website,fetched_at,date,source_endpoint"
)
APPENDED_DAYS = 30
"""The last this-many market days of each prices.csv are appended in ascending order."""

# --- calendar ------------------------------------------------------------------------------

# Fixed Gregorian stand-ins for NEPSE's public holidays (the real ones follow the Nepali and
# lunar calendars); enough to make the calendar irregular the way real data is.
_FIXED_HOLIDAYS = frozenset(
    {(1, 11), (1, 30), (2, 19), (3, 8), (4, 14), (5, 1), (5, 28), (9, 19), (12, 25)}
)
_FESTIVAL_BLOCKS = ((10, 2, 5), (10, 21, 3))  # (month, first day, days): Dashain, Tihar
_CLOSURES = ((date(2025, 9, 8), date(2025, 9, 18)),)  # real multi-day market closure


def is_trading_day(day: date) -> bool:
    """Whether the synthetic NEPSE calendar trades on `day`."""
    weekday = day.weekday()  # Monday 0 .. Sunday 6
    if day < CALENDAR_SWITCH:
        if weekday in (4, 5):  # Friday, Saturday off
            return False
    elif weekday >= 5:
        return False
    if (day.month, day.day) in _FIXED_HOLIDAYS:
        return False
    for month, first, days in _FESTIVAL_BLOCKS:
        if day.month == month and first <= day.day < first + days:
            return False
    return not any(lo <= day <= hi for lo, hi in _CLOSURES)


def trading_days(start: date, end: date) -> list[date]:
    """The synthetic NEPSE trading days in [start, end], ascending."""
    n = (end - start).days + 1
    return [d for d in (start + timedelta(days=k) for k in range(max(n, 0))) if is_trading_day(d)]


def price_limit_pct(day: date) -> int:
    """The daily price limit in force on `day`, in whole percent."""
    return LIMIT_AFTER_PCT if day >= LIMIT_CHANGE else LIMIT_BEFORE_PCT


def fiscal_year(day: date) -> str:
    """The Nepali fiscal year (mid-July to mid-July) containing `day`, e.g. '2081/2082'."""
    first = day.year + 57 if (day.month, day.day) >= (7, 16) else day.year + 56
    return f"{first}/{first + 1}"


# --- universe ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Sector:
    name: str
    weight: int  # equities per 250
    price: tuple[float, float]  # NPR range of the first price
    regulator: str
    nouns: tuple[str, ...]
    suffixes: tuple[str, ...]
    dividend_p: float  # chance of a dividend in a fiscal year


SECTORS: tuple[_Sector, ...] = (
    _Sector("Commercial Banks", 20, (180, 650), "Nepal Rastra Bank",
            ("Bank Limited",), ("BL", "B", "BNK"), 0.85),
    _Sector("Development Banks", 17, (250, 550), "Nepal Rastra Bank",
            ("Bikas Bank Limited", "Development Bank Limited"), ("BBL", "DBL"), 0.7),
    _Sector("Finance", 16, (300, 900), "Nepal Rastra Bank",
            ("Finance Limited",), ("FL", "FC", "FIN"), 0.55),
    _Sector("Microfinance", 48, (600, 2500), "Nepal Rastra Bank",
            ("Laghubitta Bittiya Sanstha Limited",), ("LBSL", "MBL", "LBS"), 0.6),
    _Sector("Hydro Power", 85, (150, 600), "Nepal Hydropower Board",
            ("Hydropower Limited", "Jalavidyut Company Limited", "Power Company Limited"),
            ("HPC", "HL", "PCL", "JCL", "HP"), 0.3),
    _Sector("Life Insurance", 14, (400, 1200), "Nepal Insurance Board",
            ("Life Insurance Limited",), ("LIC", "LICL", "LI"), 0.7),
    _Sector("Non Life Insurance", 13, (500, 1000), "Nepal Insurance Board",
            ("Insurance Company Limited", "General Insurance Limited"), ("GIC", "ICL", "IC"), 0.7),
    _Sector("Manufacturing And Processing", 14, (300, 3000), "Department of Industry",
            ("Industries Limited", "Cement Limited", "Mills Limited"), ("IL", "CL", "ML", "NL"),
            0.5),
    _Sector("Hotels And Tourism", 7, (400, 800), "Ministry of Tourism",
            ("Hotels Limited", "Resort Limited"), ("HTL", "HRL", "RL"), 0.4),
    _Sector("Investment", 8, (500, 1500), "Nepal Rastra Bank",
            ("Investment Company Limited", "Capital Limited"), ("INV", "CIL", "IC"), 0.5),
    _Sector("Tradings", 3, (1500, 3000), "Department of Industry",
            ("Trading Company Limited",), ("TC", "TRD"), 0.5),
    _Sector("Others", 5, (300, 1200), "N/A",
            ("Company Limited", "Telecom Limited", "Reinsurance Limited"), ("CL", "TL", "OL"),
            0.6),
)  # fmt: skip
SECTOR_NAMES = tuple(s.name for s in SECTORS)

_WORDS = (
    "Himal", "Sagarmatha", "Kailash", "Janakpur", "Gandaki", "Lumbini", "Bagmati", "Koshi",
    "Karnali", "Mahakali", "Annapurna", "Manakamana", "Pokhara", "Chitwan", "Butwal",
    "Dhaulagiri", "Makalu", "Kanchan", "Rara", "Phewa", "Tinau", "Seti", "Trishuli", "Arun",
    "Tamor", "Sunkoshi", "Madi", "Marsyangdi", "Bhote", "Dordi", "Langtang", "Rapti",
    "Narayani", "Bheri", "Mithila", "Shivam", "Siddhartha", "Mahalaxmi", "Kamana", "Muktinath",
    "Nilgiri", "Ganesh", "Gaurishankar", "Saptakoshi", "Shikhar", "Prabhu", "Upakar", "Samata",
    "Jyoti", "Unnati", "Sahara", "Deurali", "Tara", "Kalika", "Pathibhara", "Ilam", "Surya",
    "Chandra", "Ratna", "Api", "Saipal", "Khaptad", "Tilicho", "Gorkha", "Lamjung", "Palpa",
    "Everest", "Yeti", "Swarna", "Vijaya", "Akash", "Bindu", "Om", "Shree", "Nava", "Uttar",
)  # fmt: skip
_MANAGERS = (
    "Himal Capital Limited", "Sagarmatha Merchant Banking Ltd.", "Gandaki Capital Markets Ltd.",
    "Koshi Investment Banking Limited", "Lumbini Capital Ltd.", "Annapurna Capital Limited",
)  # fmt: skip
_LETTERS = "ABCDEFGHIJKLMNOPRSTUVY"


@dataclass(frozen=True)
class _Universe:
    """Per-instrument parameters, in alphabetical order of symbol."""

    symbol: list[str]
    name: list[str]
    company: list[str]  # the issuer (differs from name for debentures and mutual funds)
    sector: list[str]
    instrument: list[str]
    status: list[str]
    key: np.ndarray  # seed-stream key of each symbol (stable under reordering)
    sector_idx: np.ndarray
    p0: np.ndarray  # first price, NPR
    participation: np.ndarray  # chance to trade on a market day
    liquidity: np.ndarray  # typical shares per day
    lot: np.ndarray  # typical shares per trade
    vol: np.ndarray  # long-run idiosyncratic daily vol
    beta: np.ndarray
    gamma: np.ndarray
    rho: np.ndarray  # reversal coefficient (liquid names only)
    list_t: np.ndarray  # first market-day index it can trade
    stop_t: np.ndarray  # market-day index from which it no longer trades (suspended)

    def __len__(self) -> int:
        return len(self.symbol)


def _allocate(n: int, weights: list[int]) -> list[int]:
    """Split n into integer parts proportional to weights (largest remainder), each >= 1."""
    total = sum(weights)
    raw = [n * w / total for w in weights]
    parts = [max(1, int(r)) if n >= len(weights) else int(r) for r in raw]
    order = sorted(range(len(weights)), key=lambda k: (parts[k] - raw[k], k))
    k = 0
    while sum(parts) < n:
        parts[order[k % len(order)]] += 1
        k += 1
    order = sorted(range(len(weights)), key=lambda k: (raw[k] - parts[k], -parts[k], k))
    k = 0
    while sum(parts) > n:
        j = order[k % len(order)]
        if parts[j] > (1 if n >= len(weights) else 0):
            parts[j] -= 1
        k += 1
    return parts


def _ticker(words: list[str], suffix: str, taken: set[str], rng: np.random.Generator) -> str:
    """A unique ticker from the name's initials (or first letters) and a sector suffix."""
    bases = []
    if len(words) > 1:
        bases.append("".join(w[0] for w in words))
    bases += [words[0][:k] for k in (1, 2, 3)]
    for base in bases:
        cand = (base + suffix).upper()
        if cand not in taken and len(cand) <= 8:
            return cand
    while True:
        cand = (words[0][:2] + "".join(rng.choice(list(_LETTERS), 2)) + suffix).upper()
        if cand not in taken:
            return cand


def _build_universe(symbols: int, n_days: int, seed: int, *, non_equities: bool) -> _Universe:
    """Equities over NEPSE's sectors, plus a few debentures and mutual funds if asked."""
    rng = np.random.default_rng([seed, 0])
    counts = _allocate(symbols, [s.weight for s in SECTORS])
    taken: set[str] = set()
    names_taken: set[str] = set()
    rows: list[dict] = []
    for sector_idx, (sector, count) in enumerate(zip(SECTORS, counts, strict=True)):
        for _ in range(count):
            while True:
                nw = 1 if rng.random() < 0.55 else 2
                words = [str(w) for w in rng.choice(_WORDS, nw, replace=False)]
                noun = str(rng.choice(sector.nouns))
                name = " ".join([*words, noun])
                if name not in names_taken:
                    break
            names_taken.add(name)
            symbol = _ticker(words, str(rng.choice(sector.suffixes)), taken, rng)
            taken.add(symbol)
            rows.append({"symbol": symbol, "name": name, "company": name, "sector": sector.name,
                         "sector_idx": sector_idx, "instrument": schema.EQUITY})  # fmt: skip
    n = len(rows)
    tier = rng.random(n)  # 55 % liquid, 30 % middling, 15 % thin
    liquid = tier < 0.55
    participation = np.where(
        liquid, 1.0, np.where(tier < 0.85, rng.uniform(0.75, 0.98, n), rng.uniform(0.2, 0.6, n))
    )
    lo = np.array([SECTORS[r["sector_idx"]].price[0] for r in rows])
    hi = np.array([SECTORS[r["sector_idx"]].price[1] for r in rows])
    p0 = np.exp(rng.uniform(np.log(lo), np.log(hi)))
    liquidity = np.where(liquid, rng.lognormal(10.0, 1.0, n), rng.lognormal(7.0, 1.0, n))
    vol = np.where(liquid, rng.uniform(0.012, 0.022, n), rng.uniform(0.018, 0.032, n))
    late = rng.random(n) < 0.08  # new listings during the window
    list_t = np.where(late, rng.integers(n_days // 10, max(n_days * 8 // 10, 2), n), 0)
    suspended = rng.random(n) < 0.01
    if n >= 50:  # at least one, so status S is always exercised
        suspended[int(rng.integers(n))] = True
    stop_t = np.where(suspended, max(n_days - 60, 1), n_days)
    status = ["S" if s else "A" for s in suspended]
    params = {
        "p0": p0,
        "participation": participation,
        "liquidity": liquidity,
        "lot": rng.uniform(40, 250, n),
        "vol": vol,
        "beta": rng.uniform(0.6, 1.3, n),
        "gamma": rng.uniform(0.6, 1.2, n),
        "rho": np.where(liquid, RHO_REVERSAL, 0.0),
        "list_t": list_t.astype(np.int64),
        "stop_t": stop_t.astype(np.int64),
        "key": np.arange(n, dtype=np.int64),
        "sector_idx": np.array([r["sector_idx"] for r in rows], dtype=np.int64),
    }
    if non_equities:
        # A separate stream, so adding them never changes an equity's path.
        nrng = np.random.default_rng([seed, 3])
        banks = [r for r in rows if r["sector"] in ("Commercial Banks", "Development Banks")]
        extra = max(2, symbols // 25) if banks else 0
        for j in range(extra):
            bank = banks[int(nrng.integers(len(banks)))]
            base = bank["name"].split(" Bank")[0].split(" Bikas")[0].split(" Development")[0]
            if j % 2 == 0:
                year = 85 + int(nrng.integers(0, 8))
                sym, name = f"{bank['symbol']}D{year}", f"{base} Debenture 20{year}"
                kind, sector, price, part, vol_ = (
                    "Non-Convertible Debentures",
                    bank["sector"],
                    1000.0,
                    0.25,
                    0.003,
                )
            else:
                sym, name = f"{bank['symbol'][:3]}MF{j}", f"{base} Growth Fund {j}"
                kind, sector, price, part, vol_ = ("Mutual Funds", "Mutual Fund", 10.0, 0.8, 0.01)
            if sym in taken:
                continue
            taken.add(sym)
            rows.append({"symbol": sym, "name": name, "company": bank["name"], "sector": sector,
                         "sector_idx": 0, "instrument": kind})  # fmt: skip
            for k, v in (("p0", price * nrng.uniform(0.9, 1.1)), ("participation", part),
                         ("liquidity", nrng.lognormal(7.5, 0.8)), ("lot", 100.0),
                         ("vol", vol_), ("beta", 0.2 if kind == "Mutual Funds" else 0.0),
                         ("gamma", 0.0), ("rho", 0.0), ("list_t", 0), ("stop_t", n_days),
                         ("key", 1_000_000 + j), ("sector_idx", 0)):  # fmt: skip
                params[k] = np.append(params[k], v)
            status.append("A")
    order = sorted(range(len(rows)), key=lambda k: rows[k]["symbol"])
    return _Universe(
        symbol=[rows[k]["symbol"] for k in order],
        name=[rows[k]["name"] for k in order],
        company=[rows[k]["company"] for k in order],
        sector=[rows[k]["sector"] for k in order],
        instrument=[rows[k]["instrument"] for k in order],
        status=[status[k] for k in order],
        **{k: np.asarray(v)[order] for k, v in params.items()},
    )


# --- corporate actions ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Event:
    symbol: str
    kind: str  # bonus | rights | cash
    t: int  # market-day index of the ex-date (may be >= n_days: announced, not yet effective)
    ex_date: date
    percent: float
    issue_price: float | None = None
    ratio: str | None = None
    fiscal_year: str | None = None


def _num(x: float) -> str:
    """A short decimal: '1', '0.5', '1.25'."""
    text = f"{x:.4f}".rstrip("0").rstrip(".")
    return text or "0"


def _ratio_text(pct: float, style: int) -> str:
    """A rights ratio `held:right` written in one of the real files' inconsistent styles."""
    r = pct / 100
    if style == 1:
        return f"1: {_num(r)}"
    if style == 2:
        return f"1:{r:.2f}"
    if style == 3 and pct % 10 == 0 and pct < 100:
        return f"10:{_num(pct / 10)}"
    if style == 4 and (100 / pct).is_integer():
        return f"{int(100 / pct)}:1"
    return f"1:{_num(r)}"


_BONUS = np.array([5, 6, 8, 10, 10, 12, 15, 16, 20, 25, 30], dtype=float)
_CASH = np.array([5, 8, 10, 12, 15, 20, 25], dtype=float)
_RIGHTS = np.array([100, 100, 100, 50, 50, 80, 30, 40, 60, 25, 150, 20], dtype=float)


def _events(uni: _Universe, cal: list[date], n_days: int, seed: int) -> dict[int, list[_Event]]:
    """Bonus, cash and rights events of every equity, by position in `uni`."""
    ordinals = np.array([d.toordinal() for d in cal])
    years = np.arange(cal[0].year - 2, cal[min(n_days, len(cal)) - 1].year + 1)
    # Dividends of fiscal year (Y+57)/(Y+58) close their books Sep Y+1 .. Mar Y+2.
    season_a = np.searchsorted(ordinals, [date(y + 1, 9, 1).toordinal() for y in years])
    season_b = np.searchsorted(ordinals, [date(y + 2, 3, 31).toordinal() for y in years])
    has_season = season_b > season_a
    season_b = np.maximum(season_b, season_a + 1)
    ny = len(years)
    out: dict[int, list[_Event]] = {}
    for pos in range(len(uni)):
        if uni.instrument[pos] != schema.EQUITY:
            continue
        rng = np.random.default_rng([seed, 2, int(uni.key[pos])])
        sym = uni.symbol[pos]
        sector = SECTORS[int(uni.sector_idx[pos])]
        lo_t = int(uni.list_t[pos]) + 20
        hi_t = min(int(uni.stop_t[pos]), n_days + 15)  # a few announced, not yet effective
        pays = (rng.random(ny) < sector.dividend_p) & has_season
        ts = rng.integers(season_a, season_b)
        is_bonus = rng.random(ny) < 0.5
        bonus_pick = _BONUS[rng.integers(0, len(_BONUS), ny)]
        odd = rng.random(ny) < 0.2
        odd_mult = rng.uniform(0.3, 1.2, ny)
        extra_cash = (rng.random(ny) < 0.4) | ~is_bonus
        cash_pick = _CASH[rng.integers(0, len(_CASH), ny)]
        events: list[_Event] = []
        taken: list[int] = []
        for k in np.flatnonzero(pays & (ts >= lo_t) & (ts < hi_t)):
            t = int(ts[k])
            fy = f"{years[k] + 57}/{years[k] + 58}"
            bonus = 0.0
            if is_bonus[k]:
                bonus = round(bonus_pick[k] * odd_mult[k], 2) if odd[k] else float(bonus_pick[k])
            # Bonus comes with a small cash part paying its 5 % tax (B/19), as in real rows.
            cash = round(bonus / 19, 4) if bonus else 0.0
            if extra_cash[k]:
                cash = round(cash + float(cash_pick[k]), 4)
            if bonus:
                events.append(_Event(sym, "bonus", t, cal[t], bonus, fiscal_year=fy))
            events.append(_Event(sym, "cash", t, cal[t], cash, fiscal_year=fy))
            taken.append(t)
        n_rights = int(rng.poisson(0.035 * n_days / 235))
        if n_rights:
            r_ts = rng.integers(lo_t, max(lo_t + 1, min(hi_t, n_days)), n_rights)
            r_pct = _RIGHTS[rng.integers(0, len(_RIGHTS), n_rights)]
            r_style = rng.integers(0, 5, n_rights)
            for t, pct, style in zip(r_ts.tolist(), r_pct.tolist(), r_style.tolist(), strict=True):
                if t >= n_days or any(abs(t - u) < 25 for u in taken):
                    continue
                text = _ratio_text(pct, style)
                events.append(
                    _Event(sym, "rights", t, cal[t], pct, 100.0, text, fiscal_year(cal[t]))
                )
                taken.append(t)
        if events:
            out[pos] = sorted(events, key=lambda e: (e.t, e.kind))
    return out


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


# --- the market with its files ----------------------------------------------------------

BAD_ROW_SCHEMA: dict[str, pl.DataType] = {
    "symbol": pl.String(),
    "kind": pl.String(),
    "date": pl.Date(),  # the true date of the row the bad line is about
    "file": pl.String(),  # relative to the sample folder
    "line": pl.Int64(),  # 1-based line in that file (header = line 1)
    "raw": pl.String(),  # the bad line exactly as written
    "expect": pl.String(),  # schema.REASONS code, or 'keep' / 'dedupe'
    "detail": pl.String(),
}
BAD_KINDS: dict[str, str] = {
    "zero_close": "nonpositive_price",
    "high_below_low": "high_below_low",
    "conflicting_duplicate": "conflicting_duplicate",
    "exact_duplicate": "dedupe",
    "unparseable_date": "unparseable",
    "thousands_separator": "keep",
    "dash_open": "keep",
    "dash_close": "missing_close",
}
"""Corruptions written on purpose into prices.csv files, with what the quarantine should do."""


@dataclass(frozen=True)
class SampleMarket:
    """The synthetic market: true clean prices, actions, securities and the planted bad rows."""

    prices: pl.DataFrame  # PRICE_COLUMNS, every instrument (equities and a few non-equities)
    actions: pl.DataFrame  # CORPORATE_ACTION_SCHEMA; book_closure_date is the true ex-date
    securities: pl.DataFrame  # SECURITY_SCHEMA
    bad_rows: pl.DataFrame  # BAD_ROW_SCHEMA
    calendar: list[date]  # market days of the window
    dividend_rows: pl.DataFrame  # symbol + dividend.csv columns, as written
    right_rows: pl.DataFrame  # symbol + right-share.csv columns, as written
    company_rows: pl.DataFrame  # CompanyList.csv columns, as written
    corrupted_lines: dict[str, list[str]]  # symbol -> data lines of its prices.csv (with bad rows)


@dataclass(frozen=True)
class SampleSummary:
    """What `write_sample` wrote."""

    out_dir: Path
    symbols: int  # price folders written
    rows: int  # data lines in all prices.csv files (bad lines included)
    bad_rows: dict[str, int]  # planted bad lines by kind
    first_date: date
    last_date: date


def _price_lines(prices: pl.DataFrame, split: date) -> pl.DataFrame:
    """prices.csv data lines per symbol, in file order: newest-first, then the appended tail."""
    num = [pl.col(c).cast(pl.String) for c in ("open", "high", "low", "close")]
    pct = ((pl.col("close") / pl.col("close").shift(1).over("symbol") - 1) * 100).round(2)
    return (
        prices.lazy()
        .sort("symbol", "date")
        .with_columns(
            text=pl.concat_str(
                [
                    pl.col("date").dt.strftime("%Y-%m-%d"),
                    *num,
                    (pct.fill_null(0.0) + 0.0).cast(pl.String),
                    pl.col("volume").cast(pl.Int64).cast(pl.String),
                    pl.col("turnover").cast(pl.String),
                ],
                separator=",",
            ),
            order=pl.when(pl.col("date") < split)
            .then(-pl.col("date").cast(pl.Int32))
            .otherwise(pl.col("date").cast(pl.Int32) + 1_000_000),
        )
        .sort("symbol", "order")
        .select("symbol", "date", "text")
        .collect()
    )


def _corrupt(
    lines: list[tuple[str, date]], kind: str, k: int
) -> tuple[list[tuple[str, date, str | None]], str]:
    """Plant one bad line of `kind` at/after data line k; returns the tagged lines and a detail."""
    out: list[tuple[str, date, str | None]] = [(t, d, None) for t, d in lines]
    text, day, _ = out[k]
    f = text.split(",")
    detail = ""
    if kind == "zero_close":
        f[4] = "0.0"
        out[k] = (",".join(f), day, kind)
    elif kind == "high_below_low":
        f[2], f[3] = f[3], f[2]
        out[k] = (",".join(f), day, kind)
        detail = "high and low swapped"
    elif kind == "conflicting_duplicate":
        f[4] = str(round(float(f[4]) * 1.02 + 0.1, 1))
        out.insert(k + 1, (",".join(f), day, kind))
        detail = f"second row for {day} with a different close; the line above is the true one"
    elif kind == "exact_duplicate":
        out.insert(k + 1, (text, day, kind))
        detail = "exact copy of the line above"
    elif kind == "unparseable_date":
        f[0] = f"{day:%Y-%m}-32"
        out.insert(k + 1, (",".join(f), day, kind))
        detail = "copy of the line above with an impossible date"
    elif kind == "thousands_separator":
        f[6] = f'"{int(f[6]):,}"'
        f[7] = f'"{float(f[7]):,.1f}"'
        out[k] = (",".join(f), day, kind)
        detail = "qty and turnover quoted with thousands separators; values are the true ones"
    elif kind == "dash_open":
        f[1] = "-"
        out[k] = (",".join(f), day, kind)
        detail = "open written as '-' (missing); the rest is true"
    elif kind == "dash_close":
        f[4] = "-"
        out[k] = (",".join(f), day, kind)
        detail = "ltp written as '-' (missing)"
    else:  # pragma: no cover - BAD_KINDS is the closed list
        raise ValueError(f"unknown bad-row kind {kind!r}")
    return out, detail


def _fits(kind: str, text: str) -> bool:
    """Whether a clean line can carry this kind of corruption visibly."""
    f = text.split(",")
    if kind == "high_below_low":
        return float(f[2]) > float(f[3])
    if kind == "thousands_separator":
        return float(f[6]) >= 1000 and float(f[7]) >= 1000
    return True


def _fmt_pct(x: float) -> str:
    return f"{x:.2f}" if round(x, 2) == x else _num(x)


def _dividend_rows(
    uni: _Universe, events: dict[int, list[_Event]], end: date, seed: int
) -> pl.DataFrame:
    rows = []
    for pos, evs in sorted(events.items()):
        rng = np.random.default_rng([seed, 5, int(uni.key[pos])])
        by_fy: dict[tuple[str, date], dict[str, float]] = {}
        for ev in evs:
            if ev.kind in ("bonus", "cash"):
                by_fy.setdefault((ev.fiscal_year or "", ev.ex_date), {})[ev.kind] = ev.percent
        for (fy, day), parts in sorted(by_fy.items(), reverse=True):
            bonus, cash = parts.get("bonus", 0.0), parts.get("cash", 0.0)
            blank = rng.random() < 0.4
            rows.append(
                {
                    "symbol": uni.symbol[pos],
                    "fiscal_year": fy,
                    "bonus_share": _fmt_pct(bonus) if bonus else ("" if blank else "0.00"),
                    "cash_dividend": _fmt_pct(cash) if cash else "",
                    "total_dividend": _fmt_pct(round(bonus + cash, 4)),
                    "book_closure_date": f"{day} [Closed]" if day <= end else f"{day}",
                }
            )
    cols = ["symbol", *DIVIDEND_HEADER.split(",")]
    return pl.DataFrame(rows, schema=dict.fromkeys(cols, pl.String))


def _right_rows(
    uni: _Universe, events: dict[int, list[_Event]], cal: list[date], seed: int
) -> pl.DataFrame:
    rows = []
    for pos, evs in sorted(events.items()):
        rng = np.random.default_rng([seed, 6, int(uni.key[pos])])
        mine = []
        for ev in evs:
            if ev.kind != "rights":
                continue
            # The file has no book-closure date: it is 7-15 trading days before opening.
            opening = cal[min(ev.t + int(rng.integers(7, 16)), len(cal) - 1)]
            mine.append(
                {
                    "symbol": uni.symbol[pos],
                    "ratio": ev.ratio,
                    "total_units": f"{int(rng.integers(500_000, 20_000_000)):.2f}",
                    "issue_price": f"{ev.issue_price:.2f}",
                    "opening_date": f"{opening}",
                    "closing_date": f"{opening + timedelta(days=int(rng.integers(14, 29)))}",
                    "status": "",
                    "issue_manager": str(rng.choice(_MANAGERS)),
                }
            )
        rows += sorted(mine, key=lambda r: r["opening_date"], reverse=True)
    cols = ["symbol", *RIGHTS_HEADER.split(",")]
    return pl.DataFrame(rows, schema=dict.fromkeys(cols, pl.String))


def generate_market(
    *, symbols: int = 250, years: float = 6.0, seed: int = 42, end: date = DEFAULT_END
) -> SampleMarket:
    """The synthetic market (true values, actions, securities and the bad rows its files get)."""
    uni, cal, n_days, events, factors = _setup(symbols, years, seed, end, non_equities=True)
    parts = [
        _simulate(uni, np.arange(lo, min(lo + 400, len(uni))), cal, n_days, factors, events, seed)
        for lo in range(0, len(uni), 400)
    ]
    prices = schema.conform(pl.concat(parts), schema.PRICE_COLUMNS)

    action_rows = [
        {
            "symbol": ev.symbol,
            "kind": ev.kind,
            "percent": ev.percent,
            "ratio": ev.ratio,
            "issue_price": ev.issue_price,
            "book_closure_date": ev.ex_date,
            "fiscal_year": ev.fiscal_year,
            "source": "sample",
        }
        for evs in events.values()
        for ev in evs
    ]
    actions = schema.conform(
        pl.DataFrame(action_rows, schema=schema.CORPORATE_ACTION_SCHEMA),
        schema.CORPORATE_ACTION_SCHEMA,
    ).sort("symbol", "book_closure_date", "kind")
    securities = pl.DataFrame(
        {
            "symbol": uni.symbol,
            "name": uni.name,
            "sector": uni.sector,
            "instrument_type": uni.instrument,
            "status": uni.status,
        },
        schema=schema.SECURITY_SCHEMA,
    )

    # Plant each kind of bad line in a different (liquid enough) equity.
    rng = np.random.default_rng([seed, 4])
    counts = prices.group_by("symbol").len()
    eligible = sorted(
        counts.join(securities, on="symbol")
        .filter((pl.col("len") >= 40) & (pl.col("instrument_type") == schema.EQUITY))
        .get_column("symbol")
        .to_list()
    )
    plan: dict[str, list[str]] = {}
    if eligible:
        chosen = [str(s) for s in rng.permutation(eligible)]
        for i, kind in enumerate(BAD_KINDS):
            plan.setdefault(chosen[i % len(chosen)], []).append(kind)
    split = cal[max(n_days - APPENDED_DAYS, 0)]
    lines = _price_lines(prices.filter(pl.col("symbol").is_in(list(plan))), split)
    bad: list[dict] = []
    corrupted: dict[str, list[str]] = {}
    for sym in sorted(plan):
        mine = lines.filter(pl.col("symbol") == sym)
        tagged: list[tuple[str, date, str | None]] = list(
            zip(mine["text"].to_list(), mine["date"].to_list(), [None] * mine.height, strict=True)
        )
        for kind in plan[sym]:
            # A line away from earlier bad lines (a duplicate's source must stay intact).
            tags = [tag for _, _, tag in tagged]
            clean = [
                i
                for i in range(3, len(tagged) - 3)
                if not (tags[i - 1] or tags[i] or tags[i + 1]) and _fits(kind, tagged[i][0])
            ]
            if not clean:
                continue
            k = clean[int(rng.integers(len(clean)))]
            new, detail = _corrupt([(t, d) for t, d, _ in tagged], kind, k)
            # Keep earlier tags (the helper returns a fresh list with only this kind tagged).
            old = {i: tag for i, (_, _, tag) in enumerate(tagged) if tag}
            shift = 1 if len(new) > len(tagged) else 0
            tagged = [
                (t, d, tag or old.get(i if i <= k else i - shift))
                for i, (t, d, tag) in enumerate(new)
            ]
            bad.append({"symbol": sym, "kind": kind, "detail": detail})
        corrupted[sym] = [t for t, _, _ in tagged]
        for i, (t, d, tag) in enumerate(tagged):
            if tag:
                for b in bad:
                    if b["symbol"] == sym and b["kind"] == tag:
                        b.update(date=d, line=i + 2, raw=t, file=f"{sym}/prices.csv")
    bad_rows = pl.DataFrame(
        [{**b, "expect": BAD_KINDS[b["kind"]]} for b in bad], schema=BAD_ROW_SCHEMA
    ).sort("symbol", "line")
    return SampleMarket(
        prices=prices,
        actions=actions,
        securities=securities,
        bad_rows=bad_rows,
        calendar=cal[:n_days],
        dividend_rows=_dividend_rows(uni, events, end, seed),
        right_rows=_right_rows(uni, events, cal, seed),
        company_rows=_company_rows(uni, end),
        corrupted_lines=corrupted,
    )


def _company_rows(uni: _Universe, end: date) -> pl.DataFrame:
    """CompanyList.csv rows (NEPSE API style, all strings): banks first, non-equities last."""
    regulator = {s.name: s.regulator for s in SECTORS} | {"Mutual Fund": "Nepal Rastra Bank"}
    rank = {name: i for i, name in enumerate(SECTOR_NAMES)}
    order = sorted(
        range(len(uni)),
        key=lambda k: (uni.instrument[k] != schema.EQUITY, rank.get(uni.sector[k], 99),
                       uni.symbol[k]),
    )  # fmt: skip
    rows = []
    for i, k in enumerate(order):
        domain = f"{uni.symbol[k].lower()}.com.np"
        rows.append(
            [
                f"info@{domain}",
                uni.company[k],
                str(131 + i),
                uni.instrument[k],
                regulator.get(uni.sector[k], "N/A"),
                uni.sector[k],
                uni.name[k],
                uni.status[k],
                uni.symbol[k],
                "" if i % 5 == 3 else f"www.{domain}",
                f"{end} 12:59:55.271204",
                f"{end}",
                "CompanyList",
            ]
        )
    return pl.DataFrame(
        rows, schema=dict.fromkeys(COMPANY_HEADER.split(","), pl.String), orient="row"
    )


_README = """# Synthetic NEPSE sample (not real data)

Generated by `nepse.devdata.sample.write_sample(symbols={symbols}, years={years}, seed={seed},
end={end})`: a seeded, NEPSE-like synthetic market in the ShareSansar company-wise folder
format (`<SYMBOL>/prices.csv`, `dividend.csv`, `right-share.csv`) plus a NEPSE API style
`CompanyList.csv`. Prices, symbols, companies and corporate actions are invented. A few bad
lines are planted on purpose (zero close, high < low, duplicates, an impossible date, quoted
thousands, `-` for missing values) to exercise the quarantine. See `nepse/devdata/sample.py` for the
price process and its (weak, deliberate) predictable part.
"""


def _write(path: Path, header: str, lines: list[str]) -> None:
    path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8", newline="\n")


def write_sample(
    out_dir: Path,
    *,
    symbols: int = 250,
    years: float = 6.0,
    seed: int = 42,
    end: date = DEFAULT_END,
) -> SampleSummary:
    """Write the synthetic market as a ShareSansar company-wise folder plus CompanyList.csv."""
    out_dir = Path(out_dir)
    market = generate_market(symbols=symbols, years=years, seed=seed, end=end)
    split = market.calendar[max(len(market.calendar) - APPENDED_DAYS, 0)]
    lines = _price_lines(market.prices, split)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = 0
    for (sym,), part in lines.partition_by("symbol", as_dict=True, maintain_order=True).items():
        folder = out_dir / str(sym)
        folder.mkdir(exist_ok=True)
        text = market.corrupted_lines.get(str(sym)) or part["text"].to_list()
        _write(folder / "prices.csv", PRICES_HEADER, text)
        rows += len(text)
    for name, header, frame in (
        ("dividend.csv", DIVIDEND_HEADER, market.dividend_rows),
        ("right-share.csv", RIGHTS_HEADER, market.right_rows),
    ):
        for (sym,), part in frame.partition_by("symbol", as_dict=True, maintain_order=True).items():
            body = [",".join(r) for r in part.drop("symbol").iter_rows()]
            _write(out_dir / str(sym) / name, header, body)
    company = [",".join(r) for r in market.company_rows.iter_rows()]
    _write(out_dir / "CompanyList.csv", COMPANY_HEADER, company)
    # Marks the folder as generated: the store refuses to put it next to real data.
    (out_dir / DATASET_MARKER).write_text(DATASET_SAMPLE + "\n", encoding="utf-8")
    (out_dir / "README.md").write_text(
        _README.format(symbols=symbols, years=years, seed=seed, end=end), encoding="utf-8"
    )
    kinds = market.bad_rows.group_by("kind").len().sort("kind").iter_rows()
    summary = SampleSummary(
        out_dir=out_dir,
        symbols=lines.get_column("symbol").n_unique(),
        rows=rows,
        bad_rows={str(k): int(n) for k, n in kinds},
        first_date=market.prices.get_column("date").min(),  # type: ignore[arg-type]
        last_date=market.prices.get_column("date").max(),  # type: ignore[arg-type]
    )
    logger.info(
        "wrote synthetic sample to %s: %d symbols, %d price rows, %s..%s, %d bad lines",
        out_dir, summary.symbols, rows, summary.first_date, summary.last_date,
        sum(summary.bad_rows.values()),
    )  # fmt: skip
    return summary
