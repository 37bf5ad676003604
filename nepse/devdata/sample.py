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
force (nepse/market/rules.toml's `[[price_limit]]`, rounded inward to a tick) around the
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

The trading calendar is the trading week in force on each day (nepse/market/rules.toml's
`[[trading_week]]`: Sunday-Thursday for most of the history, the 2022 changes, Monday-Friday
from 2026-04-10), minus fixed-date public holidays, approximate Dashain/Tihar blocks and the real
2025-09-08..18 closure. It does not depend on the seed.

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
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

from nepse import schema
from nepse.devdata.sample_params import (  # noqa: F401 - re-exported
    APPENDED_DAYS,
    COMPANY_HEADER,
    DEFAULT_END,
    DIVIDEND_HEADER,
    MOMENTUM_DAYS,
    PRICES_HEADER,
    RIGHTS_HEADER,
    fiscal_year,
    is_trading_day,
    price_limit_pct,
    trading_days,
)
from nepse.devdata.sample_rows import (
    BAD_KINDS,
    BAD_ROW_SCHEMA,
    _company_rows,
    _corrupt,
    _dividend_rows,
    _fits,
    _price_lines,
    _right_rows,
)
from nepse.devdata.sample_simulation import _setup, _simulate, generate_panel, iter_panel  # noqa: F401
from nepse.devdata.sample_universe import (  # noqa: F401 - re-exported
    _MANAGERS,
    SECTOR_NAMES,
    SECTORS,
    _Event,
    _num,
    _ratio_text,
    _Universe,
)
from nepse.schema import DATASET_MARKER, DATASET_SAMPLE

logger = logging.getLogger(__name__)


# --- the market with its files ----------------------------------------------------------


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
