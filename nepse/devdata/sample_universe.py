"""The synthetic market's universe (sectors, tickers, liquidity) and its corporate actions."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date

import numpy as np

from nepse import schema
from nepse.devdata.sample_params import RHO_REVERSAL, fiscal_year

logger = logging.getLogger(__name__)


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
