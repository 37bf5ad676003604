"""What the fake NEPSE servers serve: today-price items built from a prices frame, and faults."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, fields
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from nepse.sources.readers import read_path

PRICE_FRAME_COLUMNS = (
    "symbol",
    "date",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "turnover",
    "trades",
)
_FAKE_LISTED_SHARES = 1_000_000  # market capitalisation needs a share count; any constant does


@dataclass
class Faults:
    """What the fake API does wrong. Every field defaults to behaving well."""

    fail_times: int = 0
    """Answer the next N today-price requests with `fail_status` (-1: every request)."""
    fail_status: int = 503
    """Status of those failures (500, 503, 429, 401, 404, ...)."""
    retry_after: str | None = None
    """Retry-After header sent with the failures (seconds or an HTTP-date)."""
    delay_s: float = 0.0
    """Sleep this long before answering (beyond the client's read timeout: a timeout)."""
    delay_times: int = -1
    """Apply `delay_s` and `trickle_s` to the next N today-price requests only (-1: every one)."""
    truncate: bool = False
    """Cut the JSON body in half (still a 200 with a matching Content-Length)."""
    rename_fields: dict[str, str] = field(default_factory=dict)
    """Rename item fields, e.g. {"closePrice": "ltp"}: a changed schema."""
    rename_page_fields: dict[str, str] = field(default_factory=dict)
    """Rename page fields, e.g. {"content": "data"}: a changed page envelope."""
    holidays: list[str] = field(default_factory=list)
    """ISO dates answered with an empty `content` even if the frame has rows."""
    market_open: bool = False
    """Serve `closePrice: null` (trading hours); with `pages`, only on those pages."""
    drop_connection: bool = False
    """Close the connection without answering."""
    trickle_s: float = 0.0
    """Send the answer's body one byte every N seconds: every read returns within the read
    timeout, the whole answer takes minutes (only an overall deadline stops the wait)."""
    ignore_business_date: bool = False
    """Answer the latest day of the frame whatever businessDate asks (a misbehaving server)."""
    echo_auth: bool = False
    """Failure bodies echo the Authorization header (tests that the client redacts it)."""
    pages: list[int] | None = None
    """Apply delay/drop/trickle/truncate/rename/market_open only to these pages (None: all)."""

    @classmethod
    def from_json(cls, data: Any) -> Faults:
        """Build from a JSON object; unknown keys are an error (a typo must not pass silently)."""
        if not isinstance(data, dict):
            raise ValueError("faults must be a JSON object")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(
                f"unknown fault(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        return cls(**data)


def today_price_frames(prices: pl.DataFrame) -> dict[date, pl.DataFrame]:
    """Each day of a prices frame as a frame of today-price item fields, keyed by date."""
    missing = [c for c in PRICE_FRAME_COLUMNS if c not in prices.columns]
    if missing:
        raise ValueError(f"prices frame lacks column(s) {', '.join(missing)}")
    sym = pl.col("symbol")
    enriched = (
        prices.select(PRICE_FRAME_COLUMNS)
        .with_columns(pl.col("date").cast(pl.Date))
        .sort("symbol", "date")
        .with_columns(
            pl.col("close").shift(1).over("symbol").alias("previousDayClosePrice"),
            # 52 weeks back from each day, per symbol (the frame is sorted by date within it).
            pl.col("high").rolling_max_by("date", window_size="52w").over("symbol").alias("hi"),
            pl.col("low").rolling_min_by("date", window_size="52w").over("symbol").alias("lo"),
        )
        .sort("date", "symbol")
    )
    items = enriched.select(
        pl.int_range(1, pl.len() + 1).alias("id"),
        pl.col("date").dt.to_string("%Y-%m-%d").alias("businessDate"),
        (sym.rank("dense") + 99).cast(pl.Int64).alias("securityId"),
        sym,
        (sym + " Limited").alias("securityName"),
        pl.col("open").alias("openPrice"),
        pl.col("high").alias("highPrice"),
        pl.col("low").alias("lowPrice"),
        pl.col("close").alias("closePrice"),
        pl.col("volume").alias("totalTradedQuantity"),
        pl.col("turnover").alias("totalTradedValue"),
        "previousDayClosePrice",
        pl.col("hi").alias("fiftyTwoWeekHigh"),
        pl.col("lo").alias("fiftyTwoWeekLow"),
        (pl.col("date").dt.to_string("%Y-%m-%d") + "T14:59:59.000").alias("lastUpdatedTime"),
        pl.col("close").alias("lastUpdatedPrice"),
        pl.col("trades").cast(pl.Int64).alias("totalTrades"),
        # No volume: no average (not a division by zero).
        pl.when(pl.col("volume") > 0)
        .then((pl.col("turnover") / pl.col("volume")).round(2))
        .alias("averageTradedPrice"),
        (pl.col("close") * _FAKE_LISTED_SHARES).round(2).alias("marketCapitalization"),
        pl.col("date").alias("_date"),
    )
    return {
        key[0]: frame.drop("_date")
        for key, frame in items.partition_by("_date", as_dict=True).items()
    }


def items_of(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """The JSON-ready `content[]` items of one day's frame (whole numbers without '.0')."""
    return [{k: _num(v) for k, v in row.items()} for row in frame.iter_rows(named=True)]


def today_price_items(prices: pl.DataFrame) -> dict[date, list[dict[str, Any]]]:
    """All days of a prices frame as today-price `content[]` items, keyed by business date."""
    return {day: items_of(frame) for day, frame in sorted(today_price_frames(prices).items())}


def _num(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)  # the API writes whole quantities without a decimal point
    return value


def load_prices(path: Path) -> pl.DataFrame:
    """The prices of a file or folder in any format the readers know, one row per (symbol, date).

    A folder is read as `nepse ingest` reads it (nepse.sources.readers.read_path), so its
    CompanyList.csv, dividends and rights are recognised for what they are, not taken for
    prices. An exchange answers one row per symbol and day: of repeated rows the last read is
    served, and rows without a close are left out.
    """
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    result = read_path(path)
    prices = result.prices.filter(pl.col("close").is_not_null() & pl.col("date").is_not_null())
    if prices.is_empty():
        raise FileNotFoundError(f"{path} holds no price rows in a known format")
    return (
        prices.unique(["symbol", "date"], keep="last", maintain_order=True)
        .select(PRICE_FRAME_COLUMNS)
        .sort("date", "symbol")
    )


def page_body(
    items: list[dict[str, Any]], *, page: int, size: int, faults: Faults, this: bool
) -> bytes:
    """One today-price page as NEPSE pages it, with the page faults applied when `this`."""
    total = len(items)
    total_pages = math.ceil(total / size) if total else 0
    chunk = items[page * size : (page + 1) * size]
    if this and faults.market_open:
        chunk = [{**i, "closePrice": None} for i in chunk]
    if this and faults.rename_fields:
        chunk = [{faults.rename_fields.get(k, k): v for k, v in i.items()} for i in chunk]
    payload = {
        "content": chunk,
        "pageable": {"pageNumber": page, "pageSize": size, "offset": page * size},
        "totalPages": total_pages,
        "totalElements": total,
        "last": page + 1 >= total_pages,
        "first": page == 0,
        "number": page,
        "size": size,
        "numberOfElements": len(chunk),
        "empty": not chunk,
    }
    if this and faults.rename_page_fields:
        payload = {faults.rename_page_fields.get(k, k): v for k, v in payload.items()}
    body = json.dumps(payload).encode()
    return body[: len(body) // 2] if this and faults.truncate else body
