"""The file formats NEPSE prices come in, each recognised by its header line.

`FORMATS` names every format with the header columns that identify it and how they map to the
canonical columns; `detect_format` picks one for a header, `symbol_from_path` reads the symbol
a file's path names when its rows carry none. docs/formats.md documents every format.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from nepse.errors import SourceError
from nepse.schema import PRICE_COLUMNS

PRICES = "prices"
CORPORATE_ACTIONS = "corporate_actions"
SECURITIES = "securities"

CSV_SUFFIXES = frozenset({".csv"})
PARQUET_SUFFIXES = frozenset({".parquet", ".pq"})

# Cell values that mean "no value" in the wild (ShareSansar writes "-", spreadsheets leave "").
MISSING_TOKENS = ("", "-", "--", "N/A", "n/a", "NA", "na", "null", "NULL", "None")

# One CSV field, with the comma in front of it (a comma is prepended to each line): a quoted
# field (with "" escapes, may hold commas) or anything up to the next comma. Matching the
# leading comma makes empty fields non-empty matches, so `extract_all` counts them.
# File stems that name the content, not the symbol: the symbol is then the folder's name.
_GENERIC_STEM_RE = re.compile(
    r"^(prices?|price[-_ ]?history|dividends?\d*|right[-_ ]?shares?\d*|rights?\d*|bonus\d*|data)$",
    re.IGNORECASE,
)
_DATE_RANGE_SUFFIX_RE = re.compile(r"_\d{4}-\d{2}-\d{2}_\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class Format:
    """A file format: the header columns that identify it and how they map to our columns."""

    name: str
    header: tuple[str, ...]  # required header columns, as written in the files
    description: str
    kind: str = PRICES  # prices | corporate_actions | securities
    optional: tuple[str, ...] = ()  # header columns used when present
    columns: Mapping[str, str] = field(default_factory=dict)  # our column -> header column
    us_dates: bool = False  # dates may also be MM/DD/YYYY (a spreadsheet re-save)
    # First date on which the source's `open` is a real opening price; earlier opens are nulled.
    real_open_from: date | None = None

    @property
    def symbol_in_data(self) -> bool:
        """Whether rows carry their own symbol (else it comes from the file's path)."""
        return "symbol" in self.columns


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format(
            name="sharesansar_prices",
            header=("date", "open", "high", "low", "ltp", "percent_change", "qty", "turnover"),
            description="ShareSansar company-wise daily prices, `<SYMBOL>/prices.csv`; "
            "ltp is the close, qty the volume, no trade count",
            columns={
                "date": "date",
                "open": "open",
                "high": "high",
                "low": "low",
                "close": "ltp",
                "volume": "qty",
                "turnover": "turnover",
            },
            # Before 2018-02-18 ShareSansar's `open` is mostly the previous close (measured in
            # the shared data's README): keeping it would fake candle shapes and make the OHLC
            # rule "repair" ~35k rows. Null it, as the legacy export has no open at all.
            real_open_from=date(2018, 2, 18),
        ),
        Format(
            name="sharesansar_dividends",
            header=("fiscal_year", "bonus_share", "cash_dividend", "book_closure_date"),
            optional=("total_dividend",),
            description="ShareSansar company-wise `<SYMBOL>/dividend.csv`: one row per fiscal "
            "year, bonus % and cash % -> corporate actions `bonus` and `cash`",
            kind=CORPORATE_ACTIONS,
        ),
        Format(
            name="sharesansar_rights",
            header=("ratio", "issue_price", "opening_date"),
            optional=("total_units", "closing_date", "status", "issue_manager"),
            description="ShareSansar company-wise `<SYMBOL>/right-share.csv`: rights issues "
            "-> corporate actions `rights` (book closure = opening date, a proxy)",
            kind=CORPORATE_ACTIONS,
        ),
        Format(
            name="sharesansar_price_history",
            header=(
                "published_date",
                "open",
                "high",
                "low",
                "close",
                "per_change",
                "traded_quantity",
                "traded_amount",
                "status",
            ),
            description="ShareSansar price history, one `<SYMBOL>.csv` per symbol",
            columns={
                "date": "published_date",
                "open": "open",
                "high": "high",
                "low": "low",
                "close": "close",
                "volume": "traded_quantity",
                "turnover": "traded_amount",
            },
        ),
        Format(
            name="nepalstock_legacy",
            header=(
                "S.N.",
                "Date",
                "Total Transactions",
                "Total Traded Shares",
                "Total Traded Amount",
                "Max. Price",
                "Min. Price",
                "Close Price",
            ),
            description="legacy nepalstock.com stock-wise export `<SYMBOL>_<from>_<to>.csv`; "
            "no open price",
            columns={
                "date": "Date",
                "high": "Max. Price",
                "low": "Min. Price",
                "close": "Close Price",
                "volume": "Total Traded Shares",
                "turnover": "Total Traded Amount",
                "trades": "Total Transactions",
            },
        ),
        Format(
            name="nepse_today_price",
            header=(
                "Id",
                "Business Date",
                "Security Id",
                "Symbol",
                "Security Name",
                "Open Price",
                "High Price",
                "Low Price",
                "Close Price",
                "Total Traded Quantity",
                "Total Traded Value",
                "Previous Day Close Price",
            ),
            optional=(
                "Fifty Two Week High",
                "Fifty Two Week Low",
                "Last Updated Price",
                "Total Trades",
                "Average Traded Price",
                "Market Capitalization",
            ),
            description='NEPSE "Today\'s Price" export, one file per day for all symbols; '
            "Business Date YYYY-MM-DD or MM/DD/YYYY",
            columns={
                "symbol": "Symbol",
                "date": "Business Date",
                "open": "Open Price",
                "high": "High Price",
                "low": "Low Price",
                "close": "Close Price",
                "volume": "Total Traded Quantity",
                "turnover": "Total Traded Value",
                "trades": "Total Trades",
            },
            us_dates=True,
        ),
        Format(
            name="nepse_company_list",
            header=("symbol", "instrumentType", "sectorName", "status"),
            optional=("companyName", "securityName"),
            description="NEPSE API company list `CompanyList.csv` -> securities",
            kind=SECURITIES,
        ),
        Format(
            name="canonical",
            header=("symbol", "date", "open", "high", "low", "close", "volume", "turnover"),
            optional=("trades",),
            description="this project's own CSV or Parquet: one row per (symbol, date)",
            columns={c: c for c in PRICE_COLUMNS},
        ),
    )
}


def _norm(name: str) -> str:
    """Header name compared case- and whitespace-insensitively (Excel re-saves vary)."""
    return " ".join(name.replace("\ufeff", "").strip().strip('"').lower().split())


@functools.cache
def _required(name: str) -> frozenset[str]:
    return frozenset(_norm(h) for h in FORMATS[name].header)


def _known_formats_text() -> str:
    return "\n".join(f"  - {f.name}: {','.join(f.header)}" for f in FORMATS.values())


def detect_format(header: list[str], *, source: str | None = None) -> str:
    """Name of the format in FORMATS whose required columns all appear in `header`."""
    have = {_norm(h) for h in header}
    matches = [f for f in FORMATS.values() if _required(f.name) <= have]
    if not matches:
        where = f"{source}: " if source else ""
        raise SourceError(
            f"{where}unknown header {','.join(header)!r}. Known formats (name: required "
            f"header columns):\n{_known_formats_text()}\n"
            "Fix: convert the file to the canonical CSV (symbol,date,open,high,low,close,"
            "volume,turnover[,trades]) or add a Format to nepse.sources.formats.FORMATS."
        )
    # The most specific format wins where one header satisfies several.
    return max(matches, key=lambda f: len(f.header)).name


def symbol_from_path(path: Path) -> str:
    """Symbol a path names: `<SYMBOL>.csv`, `<SYMBOL>_<from>_<to>.csv`, `<SYMBOL>/prices.csv`."""
    stem = _DATE_RANGE_SUFFIX_RE.sub("", path.stem).strip()
    if _GENERIC_STEM_RE.match(stem):
        stem = path.parent.name.strip()
    return stem.upper()
