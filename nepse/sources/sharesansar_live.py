"""ShareSansar's today's-price page as a second source: the day to fall back on when the
exchange's API is down or answers too little (docs/live-data.md).

The page (`/today-share-price`) is an HTML table (`<table id="headFixed">`) with one row per
traded security: `S.No, Symbol, Conf., Open, High, Low, Close, VWAP, Vol, Prev. Close,
Turnover, Trans., Diff, Range, Diff %, Range %, VWAP %, 120 Days, 180 Days, 52 Weeks High,
52 Weeks Low`, numbers written with thousands commas, and the business day shown as
`As of : YYYY-MM-DD`. Its CSV/Excel export has the same header. The page shows the latest
business day only, so this source answers that day and refuses any other (a backfill cannot
use it). Rows go through the same reject rules as every reader: a row that does not parse is
rejected with the field named, never guessed.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import polars as pl

from nepse.errors import SourceError, TransientSourceError
from nepse.schema import READ_PRICE_SCHEMA, REJECT_SCHEMA
from nepse.settings import Settings
from nepse.sources.api import parse_retry_after
from nepse.sources.base import DayResult, Holiday, MarketStatus
from nepse.sources.deadline import DeadlineTransport
from nepse.sources.nepse_exchange import tls_verify

log = logging.getLogger(__name__)

NAME = "sharesansar"
FMT = "sharesansar_today"
# Page column -> canonical column. Every one must be in the header.
COLUMNS = {
    "Symbol": "symbol",
    "Open": "open",
    "High": "high",
    "Low": "low",
    "Close": "close",
    "Vol": "volume",
    "Turnover": "turnover",
    "Trans.": "trades",
}
_AS_OF_RE = re.compile(r"As\s+of\s*:?\s*(\d{4}-\d{2}-\d{2})", re.IGNORECASE)


class _TableParser(HTMLParser):
    """Header cells and body rows of the first `<table id="headFixed">` (text only)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.header: list[str] = []
        self.rows: list[list[str]] = []
        self._depth = 0  # >0 while inside the table
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._in_head = False
        self.done = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.done:
            return
        if tag == "table":
            if self._depth or dict(attrs).get("id") == "headFixed":
                self._depth += 1
            return
        if not self._depth:
            return
        if tag == "thead":
            self._in_head = True
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if self.done or not self._depth:
            return
        if tag == "table":
            self._depth -= 1
            self.done = self._depth == 0
        elif tag == "thead":
            self._in_head = False
        elif tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            if self._in_head or not self.header:
                self.header = self._row
            elif self._row:
                self.rows.append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def parse_page(text: str, *, source: str) -> tuple[date | None, list[str], list[list[str]]]:
    """The page's business day (None if not shown), header cells and body rows."""
    parser = _TableParser()
    parser.feed(text)
    if not parser.header:
        raise SourceError(
            f'{source}: no <table id="headFixed"> with a header row; ShareSansar changed its '
            "page: update nepse/sources/sharesansar_live.py"
        )
    found = _AS_OF_RE.search(re.sub(r"<[^>]*>", " ", text))  # the date sits in its own span
    return (date.fromisoformat(found.group(1)) if found else None), parser.header, parser.rows


def parse_export(text: str) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the page's CSV export."""
    rows = [r for r in csv.reader(io.StringIO(text.lstrip("\ufeff"))) if any(c.strip() for c in r)]
    return ([c.strip() for c in rows[0]], rows[1:]) if rows else ([], [])


def rows_to_result(
    day: date, header: list[str], rows: list[list[str]], *, source: str
) -> DayResult:
    """A DayResult of `day` from the table's header and rows (rejects name the bad field)."""
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise SourceError(
            f"{source}: header lacks {', '.join(missing)} (header: {', '.join(header)}); "
            "ShareSansar changed its table: update COLUMNS in nepse/sources/sharesansar_live.py"
        )
    at = {name: header.index(name) for name in COLUMNS}
    prices: list[dict[str, Any]] = []
    rejects: list[dict[str, Any]] = []
    for line, cells in enumerate(rows, start=1):
        raw = json.dumps(dict(zip(header, cells, strict=False)), ensure_ascii=False)
        row: dict[str, Any] = {"date": day, "source": source, "line": line, "raw": raw}
        problems = []
        for name, column in COLUMNS.items():
            value = cells[at[name]].strip() if at[name] < len(cells) else ""
            try:
                row[column] = _value(column, value)
            except ValueError:
                problems.append(f"{name}={value!r}")
        if problems or not row["symbol"] or row["close"] is None:
            detail = ", ".join(problems) or "no symbol or no close"
            rejects.append(
                {"source": source, "line": line, "raw": raw, "reason": "unparseable",
                 "detail": f"cannot parse {detail}"}
            )  # fmt: skip
            continue
        prices.append(row)
    return DayResult(
        day=day,
        pages=1,
        fmt=FMT,
        prices=pl.DataFrame(prices, schema=READ_PRICE_SCHEMA, orient="row") if prices else None,
        rejects=pl.DataFrame(rejects, schema=REJECT_SCHEMA) if rejects else None,
        sources=[source],
    )


def _value(column: str, text: str) -> Any:
    if column == "symbol":
        return text.upper() or None
    if text in ("", "-", "--"):
        return None
    number = float(text.replace(",", ""))
    if column == "trades":
        if number != int(number):
            raise ValueError("fractional trade count")
        return int(number)
    return number


class ShareSansarSource:
    """ShareSansar's today's-price page: the latest business day, as a fallback."""

    name = NAME

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.url = settings.sharesansar_url

    def __repr__(self) -> str:
        return f"ShareSansarSource({self.url!r})"

    def fetch_day(self, day: date, *, raw_dir: Path) -> DayResult:
        """The page's day if it is `day` (saved raw as raw_dir/<day>/sharesansar.html)."""
        body = self._get()
        raw_file = _save(body, raw_dir / day.isoformat())
        source = str(raw_file)
        text = body.decode("utf-8", errors="replace")
        shown, header, rows = parse_page(text, source=source)
        if shown is None:
            raise SourceError(f"{self.url}: the page shows no 'As of' date; cannot tell its day")
        if shown != day:
            raise SourceError(
                f"{self.url}: the page shows {shown}, not {day}; ShareSansar's page serves the "
                "latest business day only, so it cannot fill this day"
            )
        result = rows_to_result(day, header, rows, source=source)
        result.raw_files = [raw_file]
        return result

    def securities(self) -> pl.DataFrame:
        """ShareSansar's page lists no security master: always empty."""
        return pl.DataFrame(schema={"symbol": pl.String()})

    def market_status(self) -> MarketStatus | None:
        """ShareSansar cannot say whether the market is open."""
        return None

    def holidays(self, year: int) -> list[Holiday]:
        """ShareSansar publishes no holiday list here."""
        return []

    def _get(self) -> bytes:
        s = self.settings
        timeout = httpx.Timeout(s.api_read_timeout_s, connect=s.api_connect_timeout_s)
        where = f"GET {self.url}"
        try:
            inner = httpx.HTTPTransport(verify=tls_verify(s))
            transport = DeadlineTransport(inner, s.api_deadline_s)
            with httpx.Client(timeout=timeout, transport=transport) as client:
                response = client.get(self.url, headers={"User-Agent": "nepse-predict"})
        except httpx.TimeoutException as exc:
            raise TransientSourceError(f"{where}: {type(exc).__name__}") from exc
        except httpx.TransportError as exc:
            raise TransientSourceError(f"{where}: {type(exc).__name__}: {exc}") from exc
        status = response.status_code
        if status == 429 or status >= 500:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            raise TransientSourceError(f"{where}: HTTP {status}", retry_after=retry_after)
        if status != 200:
            raise SourceError(f"{where}: HTTP {status}; check NEPSE_SHARESANSAR_URL")
        return response.content


def _save(body: bytes, folder: Path) -> Path:
    """folder/sharesansar.html, or sharesansar.<n>.html if taken (never overwrite)."""
    folder.mkdir(parents=True, exist_ok=True)
    n = 0
    while True:
        path = folder / ("sharesansar.html" if n == 0 else f"sharesansar.{n}.html")
        try:
            with path.open("xb") as fh:
                fh.write(body)
            return path
        except FileExistsError:
            n += 1
