"""Constants and the trading calendar of the synthetic market (see nepse/devdata/sample.py)."""

from __future__ import annotations

import logging
from datetime import date, timedelta

from nepse.calendar import may_trade
from nepse.market.rules import market_rules

logger = logging.getLogger(__name__)

TICK = 0.1
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
    """Whether the synthetic NEPSE calendar trades on `day` (the rules' week, minus holidays)."""
    if not may_trade(day):
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
    """The daily price limit in force on `day` (nepse/market/rules.toml), in whole percent."""
    return round(market_rules().price_limit(day) * 100)


def fiscal_year(day: date) -> str:
    """The Nepali fiscal year (mid-July to mid-July) containing `day`, e.g. '2081/2082'."""
    first = day.year + 57 if (day.month, day.day) >= (7, 16) else day.year + 56
    return f"{first}/{first + 1}"
