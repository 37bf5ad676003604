"""The live price source: NEPSE's today-price JSON API, one business day at a time.

Retries belong to the orchestrator (Prefect task retries with a `retry_condition_fn`), so this
module never retries: it raises `TransientSourceError` for faults a later attempt may not meet
(timeouts, connection errors, 5xx, 429 with its Retry-After) and `SourceError` for faults a
retry cannot fix (other 4xx, TLS verification, a malformed or changed payload).
"""

from __future__ import annotations

import json
import logging
import ssl
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx
import polars as pl

from nepse.errors import ConfigError, SourceError, TransientSourceError
from nepse.schema import READ_PRICE_SCHEMA, REJECT_SCHEMA, ReadResult
from nepse.settings import Settings

log = logging.getLogger(__name__)

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
_BODY_SNIPPET = 200
_MAX_PAGES = 10_000  # a server that never says `last` must not loop us forever


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


class ApiSource:
    """Reads NEPSE's paged today-price API for one business day (`fetch_day`)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.base_url = settings.api_base_url.rstrip("/")
        try:
            scheme = httpx.URL(self.base_url).scheme
        except httpx.InvalidURL as exc:
            raise ConfigError(f"api_base_url {self.base_url!r} is not a URL: {exc}") from exc
        if scheme not in ("http", "https"):
            raise ConfigError(
                f"api_base_url {self.base_url!r} must start with https:// (or http:// for a "
                "local fake API); set NEPSE_API_BASE_URL"
            )
        self._token = (
            settings.api_token.get_secret_value() if settings.api_token is not None else None
        )

    def __repr__(self) -> str:
        return f"ApiSource({self.base_url!r}, token={'set' if self._token else 'unset'})"

    # --- HTTP client ---------------------------------------------------------------------
    def tls_verify(self) -> ssl.SSLContext | bool:
        """What httpx gets as `verify`: True, False, or a context trusting `api_ca_bundle`."""
        if not self.settings.api_verify_tls:
            return False
        bundle = self.settings.api_ca_bundle
        if bundle is None:
            return True
        if not bundle.is_file():
            raise ConfigError(
                f"api_ca_bundle {bundle} is not a file; point NEPSE_API_CA_BUNDLE at a PEM "
                "file holding the CA chain of the API's certificate"
            )
        try:
            return ssl.create_default_context(cafile=str(bundle))
        except ssl.SSLError as exc:
            raise ConfigError(f"api_ca_bundle {bundle} holds no usable PEM CA: {exc}") from exc

    def timeout(self) -> httpx.Timeout:
        """Connect and read timeouts from settings (write/pool use the read timeout)."""
        return httpx.Timeout(
            self.settings.api_read_timeout_s, connect=self.settings.api_connect_timeout_s
        )

    def client(self) -> httpx.Client:
        """A new httpx client with the token, timeouts and TLS settings of this source."""
        headers = {"Accept": "application/json", "User-Agent": "nepse-predict"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        return httpx.Client(
            base_url=self.base_url,
            headers=headers,
            timeout=self.timeout(),
            verify=self.tls_verify(),
            follow_redirects=False,
        )

    # --- public ----------------------------------------------------------------------------
    def fetch_day(self, day: date, *, raw_dir: Path) -> ApiDayResult:
        """Fetch every page of `day`, save each raw body under raw_dir/<day>/, then parse."""
        size = self.settings.api_page_size
        source = f"{self.base_url}{TODAY_PRICE_PATH}?businessDate={day.isoformat()}"
        pages: list[_Page] = []
        with self.client() as client:
            number = 0
            while True:
                page = self._fetch_page(client, day, number, size, raw_dir)
                pages.append(page)
                if page.last or not page.items or number + 1 >= page.total_pages:
                    break
                number += 1
                if number >= _MAX_PAGES:
                    raise SourceError(
                        f"{source}: still no last page after {_MAX_PAGES} pages; the API "
                        "ignores `page` or never sets `last`"
                    )
        return _day_result(day, pages, source)

    # --- one page ------------------------------------------------------------------------
    def _fetch_page(
        self, client: httpx.Client, day: date, number: int, size: int, raw_dir: Path
    ) -> _Page:
        params = {"businessDate": day.isoformat(), "page": number, "size": size}
        where = f"GET {self.base_url}{TODAY_PRICE_PATH} businessDate={day} page={number}"
        if not self.settings.api_verify_tls:
            log.warning("%s: TLS certificate verification is OFF (api_verify_tls=false)", where)
        try:
            response = client.get(TODAY_PRICE_PATH, params=params)
        except httpx.TimeoutException as exc:
            raise TransientSourceError(
                f"{where}: {type(exc).__name__} (connect timeout "
                f"{self.settings.api_connect_timeout_s}s, read timeout "
                f"{self.settings.api_read_timeout_s}s); retry later or raise "
                "NEPSE_API_READ_TIMEOUT_S"
            ) from exc
        except httpx.TransportError as exc:
            if _is_tls_error(exc):
                raise SourceError(
                    f"{where}: TLS verification failed ({_redact(str(exc), self._token)}); "
                    "set NEPSE_API_CA_BUNDLE to the API's CA chain (PEM)"
                ) from exc
            raise TransientSourceError(
                f"{where}: {type(exc).__name__}: {_redact(str(exc), self._token)}"
            ) from exc
        except httpx.RequestError as exc:
            # e.g. a body whose Content-Encoding does not decode: retrying gets the same bytes.
            raise SourceError(
                f"{where}: {type(exc).__name__}: {_redact(str(exc), self._token)}"
            ) from exc
        self._raise_for_status(response, where)
        body = response.content
        raw_file = save_raw(body, raw_dir / day.isoformat(), f"page-{number}")
        return _parse_page(body, number=number, where=where, raw_file=raw_file)

    def _raise_for_status(self, response: httpx.Response, where: str) -> None:
        status = response.status_code
        if 200 <= status < 300:
            return
        snippet = _redact(response.text[:_BODY_SNIPPET], self._token)
        received = f"HTTP {status} {response.reason_phrase}; body: {snippet!r}"
        if status == 429 or status >= 500:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            wait = f"; Retry-After {retry_after:g}s" if retry_after is not None else ""
            raise TransientSourceError(f"{where}: {received}{wait}", retry_after=retry_after)
        hint = {
            401: "check NEPSE_API_TOKEN",
            403: "check NEPSE_API_TOKEN and its permissions",
            404: "check NEPSE_API_BASE_URL and the API path",
        }.get(status, "the request was refused; check the API settings")
        if 300 <= status < 400:
            hint = f"redirected to {response.headers.get('Location')!r}; update NEPSE_API_BASE_URL"
        raise SourceError(f"{where}: {received}; {hint}")


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
        rejects=parsed.rejects,
        sources=[str(f) for f in raw_files],
    )


class RecordedApiSource:
    """Replays raw today-price pages saved by `ApiSource` (<folder>/<YYYY-MM-DD>/page-N.json)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise SourceError(
                f"recorded API folder {self.folder} does not exist; pass a folder of raw pages "
                "as saved under <data_dir>/raw by an API fetch"
            )

    def __repr__(self) -> str:
        return f"RecordedApiSource({str(self.folder)!r})"

    def has_day(self, day: date) -> bool:
        """True when the folder holds at least one recorded page of `day`."""
        return any((self.folder / day.isoformat()).glob("page-*.json"))

    def fetch_day(self, day: date, *, raw_dir: Path | None = None) -> ApiDayResult:
        """Parse the recorded pages of `day` (the latest copy of each page) like a live fetch."""
        folder = self.folder / day.isoformat()
        latest: dict[int, tuple[int, Path]] = {}
        for path in folder.glob("page-*.json"):
            # save_raw never overwrites: page-0.json, then page-0.1.json, page-0.2.json ...
            parts = path.name.split(".")
            try:
                number = int(parts[0].removeprefix("page-"))
                copy = int(parts[1]) if len(parts) == 3 else 0
            except ValueError:
                continue
            if number not in latest or copy > latest[number][0]:
                latest[number] = (copy, path)
        if not latest:
            raise SourceError(
                f"{folder}: no recorded pages (page-N.json) for {day}; fetch the day from the "
                "API first or backfill it with source 'api'"
            )
        pages = [
            _parse_page(path.read_bytes(), number=n, where=str(path), raw_file=path)
            for n, (_, path) in sorted(latest.items())
        ]
        if [p.number for p in pages] != list(range(len(pages))):
            raise SourceError(f"{folder}: recorded pages {sorted(latest)} are not 0..n-1")
        return _day_result(day, pages, str(folder))


# --- pure helpers ------------------------------------------------------------------------------
def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date); None if absent."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def save_raw(body: bytes, folder: Path, stem: str) -> Path:
    """Write `body` to folder/<stem>.json, or <stem>.<n>.json if taken (never overwrite)."""
    folder.mkdir(parents=True, exist_ok=True)
    n = 0
    while True:
        path = folder / (f"{stem}.json" if n == 0 else f"{stem}.{n}.json")
        try:
            with path.open("xb") as fh:  # exclusive create: two runs never clobber each other
                fh.write(body)
            return path
        except FileExistsError:
            n += 1


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
        row: dict[str, Any] = {"source": source, "line": line, "raw": raw}
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
        return value.strip()
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
                f"object: {json.dumps(item)[:_BODY_SNIPPET]}"
            )
        missing = [f for f in REQUIRED_FIELDS if f not in item]
        if missing:
            raise SourceError(
                f"{source}: record {first_record + offset} lacks required field(s) "
                f"{', '.join(missing)}; fields received: {', '.join(item)}. The API schema "
                "changed: update FIELD_MAP in nepse/sources/api.py"
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
    rejects = pl.concat([parsed.rejects, held.cast(REJECT_SCHEMA)]).sort("line")
    return ReadResult(fmt=FMT, rejects=rejects, sources=[source])


def _count_null_close(items: list[dict[str, Any]]) -> int:
    return sum(1 for i in items if i.get("closePrice") is None)


def _is_tls_error(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return True
        seen = seen.__cause__ or seen.__context__
    return "CERTIFICATE_VERIFY_FAILED" in str(exc)


def _redact(text: str, token: str | None) -> str:
    # Servers sometimes echo the Authorization header in error bodies.
    return text.replace(token, "***") if token else text
