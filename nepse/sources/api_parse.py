"""Parsing NEPSE today-price API pages and items into canonical rows (no HTTP here).

Shared by the live client (nepse/sources/api.py) and the replay of recorded pages
(nepse/sources/recorded.py). Symbols are upper-cased (the API has sent `nabil`); values are
converted without judging them: plausibility is the quality rules' job.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from nepse.errors import SourceError, TransientSourceError
from nepse.schema import READ_PRICE_SCHEMA, REJECT_SCHEMA, ReadResult, conform
from nepse.secrets import redact

log = logging.getLogger(__name__)

# The one definition of the API's path (the fake exchange in nepse/devdata imports it).
TODAY_PRICE_PATH = "/api/nots/nepse-data/today-price"
FMT = "nepse_api"

# API field -> canonical column. Every key must be present in every item (its value may be
# null): a missing key means NEPSE changed its schema, and guessing would store wrong columns.
FIELD_MAP: dict[str, str] = {
    "businessDate": "date",
    "symbol": "symbol",
    "openPrice": "open",
    "highPrice": "high",
    "lowPrice": "low",
    "closePrice": "close",
    "totalTradedQuantity": "volume",
    "totalTradedValue": "turnover",
    "totalTrades": "trades",
}
REQUIRED_FIELDS: tuple[str, ...] = tuple(FIELD_MAP)
_FLOAT_COLUMNS = ("open", "high", "low", "close", "volume", "turnover")
BODY_SNIPPET = 200


class ApiDayResult(ReadResult):
    """A `ReadResult` for one business day plus what the caller must branch on.

    `market_open`: some items had no `closePrice` yet, so the whole day is held back (every
    item is in `rejects` with reason `market_open`, `prices` is empty) and must not be stored
    as complete. `holiday`: the API answered an empty day (no trading). `raw_files`: the saved
    page bodies, in page order.
    """

    __slots__ = ("day", "market_open", "pages", "raw_files")

    def __init__(
        self,
        *,
        day: date,
        market_open: bool = False,
        pages: int = 0,
        raw_files: list[Path] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.day = day
        self.market_open = market_open
        self.pages = pages
        self.raw_files = raw_files or []

    @property
    def holiday(self) -> bool:
        """True when the API listed no trades at all for the day (a non-trading day)."""
        return self.rows_read == 0

    @property
    def status(self) -> str:
        """'market_open', 'holiday' or 'ok': the value a flow branches on."""
        if self.market_open:
            return "market_open"
        return "holiday" if self.holiday else "ok"


@dataclass(frozen=True)
class _Page:
    number: int
    items: list[dict[str, Any]]
    total_pages: int
    total_elements: int | None
    last: bool
    raw_file: Path


def _day_result(day: date, pages: list[_Page], source: str) -> ApiDayResult:
    """Check and parse a day's pages (all of them, in order) into an ApiDayResult."""
    items = [item for p in pages for item in p.items]
    expected = pages[0].total_elements
    if expected is not None and expected != len(items):
        # The day changed between page requests (e.g. still being published): re-read it.
        raise TransientSourceError(
            f"{source}: received {len(items)} items over {len(pages)} page(s) but the "
            f"first page announced totalElements={expected}; the day changed while paging"
        )
    _check_business_dates(items, day, source)
    parsed = parse_today_price_items(items, source=source, first_record=1)
    raw_files = [p.raw_file for p in pages]
    market_open = bool(parsed.rejects.filter(pl.col("reason") == "market_open").height)
    if market_open:
        parsed = _hold_back_day(parsed, source)
        log.info(
            "%s: market still open (%d of %d items without closePrice); day held back",
            day,
            _count_null_close(items),
            len(items),
        )
    return ApiDayResult(
        day=day,
        market_open=market_open,
        pages=len(pages),
        raw_files=raw_files,
        fmt=FMT,
        prices=parsed.prices,
        rejects=parsed.rejects.with_columns(date=pl.lit(day, dtype=pl.Date)),
        sources=[str(f) for f in raw_files],
    )


def parse_today_price_items(
    items: list[dict[str, Any]], *, source: str, first_record: int
) -> ReadResult:
    """Map today-price `content[]` items to READ_PRICE_SCHEMA; null closePrice -> market_open."""
    _check_fields(items, source, first_record)
    rows: list[dict[str, Any]] = []
    rejects: list[dict[str, Any]] = []
    for offset, item in enumerate(items):
        line = first_record + offset
        raw = json.dumps(item, ensure_ascii=False, separators=(",", ":"))
        if item["closePrice"] is None:
            rejects.append(_reject(source, line, raw, "market_open", "closePrice is null"))
            continue
        row: dict[str, Any] = {"source": source, "line": line, "raw": raw, "kind": FMT}
        problems: list[str] = []
        for field, column in FIELD_MAP.items():
            value = item[field]
            try:
                row[column] = _convert(column, value)
            except (TypeError, ValueError):
                problems.append(f"{field}={value!r}")
        if problems:
            rejects.append(
                _reject(source, line, raw, "unparseable", "cannot parse " + ", ".join(problems))
            )
            continue
        rows.append(row)
    return ReadResult(
        fmt=FMT,
        prices=pl.DataFrame(rows, schema=READ_PRICE_SCHEMA, orient="row")
        if rows
        else pl.DataFrame(schema=READ_PRICE_SCHEMA),
        rejects=pl.DataFrame(rejects, schema=REJECT_SCHEMA) if rejects else None,
        sources=[source],
    )


def _reject(source: str, line: int, raw: str, reason: str, detail: str) -> dict[str, Any]:
    return {"source": source, "line": line, "raw": raw, "reason": reason, "detail": detail}


def _convert(column: str, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, bool):  # bool is an int subclass: True must not become 1.0
        raise TypeError("boolean")
    if column == "date":
        if not isinstance(value, str):
            raise TypeError("date is not a string")
        # The API writes "2025-08-28" (sometimes with a time part); keep the date.
        return date.fromisoformat(value[:10])
    if column == "symbol":
        if not isinstance(value, str):
            raise TypeError("symbol is not a string")
        return value.strip().upper()
    if column == "trades":
        number = float(value)
        if number != int(number):
            raise ValueError("fractional trade count")
        return int(number)
    if column in _FLOAT_COLUMNS:
        return float(value)
    raise KeyError(column)  # pragma: no cover - FIELD_MAP and the columns agree


def _check_fields(items: list[Any], source: str, first_record: int) -> None:
    for offset, item in enumerate(items):
        if not isinstance(item, dict):
            raise SourceError(
                f"{source}: record {first_record + offset} is {type(item).__name__}, not a JSON "
                f"object: {redact(json.dumps(item))[:BODY_SNIPPET]}"
            )
        missing = [f for f in REQUIRED_FIELDS if f not in item]
        if missing:
            raise SourceError(
                f"{source}: record {first_record + offset} lacks required field(s) "
                f"{', '.join(missing)}; fields received: {', '.join(item)}. The API schema "
                "changed: update FIELD_MAP in nepse/sources/api_parse.py"
            )


def _parse_page(body: bytes, *, number: int, where: str, raw_file: Path) -> _Page:
    received = f"received {len(body)} bytes starting {body[:80]!r} (saved as {raw_file})"
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SourceError(f"{where}: answer is not valid JSON ({exc}); {received}") from exc
    if not isinstance(payload, dict):
        raise SourceError(
            f"{where}: answer is a JSON {type(payload).__name__}, not an object; {received}"
        )
    missing = [k for k in ("content", "totalPages") if k not in payload]
    if missing:
        raise SourceError(
            f"{where}: answer lacks {', '.join(missing)} (keys received: "
            f"{', '.join(payload) or 'none'}); {received}. The API schema changed"
        )
    content = payload["content"]
    if not isinstance(content, list):
        raise SourceError(
            f"{where}: `content` is a {type(content).__name__}, not a list; {received}"
        )
    got = payload.get("number", number)
    if got != number:
        raise SourceError(f"{where}: asked for page {number} but the answer is page {got}")
    try:
        total_pages = int(payload["totalPages"])
        total_elements = (
            int(payload["totalElements"]) if payload.get("totalElements") is not None else None
        )
    except (TypeError, ValueError) as exc:
        raise SourceError(f"{where}: totalPages/totalElements not integers; {received}") from exc
    last = bool(payload.get("last", number + 1 >= total_pages))
    return _Page(number, content, total_pages, total_elements, last, raw_file)


def _check_business_dates(items: list[Any], day: date, source: str) -> None:
    # A server that ignores businessDate (and answers its latest day) would make us store
    # another day's prices and mark `day` complete: refuse.
    other = sorted(
        {
            str(i.get("businessDate"))[:10]
            for i in items
            if isinstance(i, dict)
            and isinstance(i.get("businessDate"), str)
            and i["businessDate"][:10] != day.isoformat()
        }
    )
    if other:
        raise SourceError(
            f"{source}: asked for {day} but items carry businessDate {', '.join(other[:5])}; "
            "the API ignored businessDate"
        )


def _hold_back_day(parsed: ReadResult, source: str) -> ReadResult:
    # No partial day: rows that already have a close are held back with the rest.
    held = parsed.prices.select(
        "source",
        "line",
        "raw",
        pl.lit("market_open").alias("reason"),
        pl.lit("held back: other items of the day have no closePrice yet").alias("detail"),
    )
    rejects = pl.concat([parsed.rejects, conform(held, REJECT_SCHEMA)]).sort("line")
    return ReadResult(fmt=FMT, rejects=rejects, sources=[source])


def _count_null_close(items: list[dict[str, Any]]) -> int:
    return sum(1 for i in items if i.get("closePrice") is None)
