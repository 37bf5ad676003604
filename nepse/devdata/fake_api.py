"""A fake NEPSE today-price API on 127.0.0.1 with fault injection, for tests and demos.

It serves the days of a prices frame (symbol, date, open, high, low, close, volume, turnover,
trades) in the paged JSON shape of `GET /api/nots/nepse-data/today-price` with every documented
field. Faults are set in the constructor or, from another process, with
`POST /_faults` (JSON object of `Faults` fields; `{}` clears them); `GET /_stats` counts requests
per path and `POST /_reset` zeroes the counts.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import signal
import ssl
import sys
import threading
from collections import Counter
from dataclasses import asdict, dataclass, field, fields
from datetime import date
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import polars as pl

from nepse.sources.api_parse import TODAY_PRICE_PATH
from nepse.sources.readers import read_path

log = logging.getLogger(__name__)

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
    """Apply `delay_s` to the next N today-price requests only (-1: every request)."""
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
    ignore_business_date: bool = False
    """Answer the latest day of the frame whatever businessDate asks (a misbehaving server)."""
    echo_auth: bool = False
    """Failure bodies echo the Authorization header (tests that the client redacts it)."""
    pages: list[int] | None = None
    """Apply delay/drop/truncate/rename/market_open only to these pages (None: every page)."""

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


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    fake: FakeNepseApi


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("fake-api %s " + format, self.address_string(), *args)

    def do_GET(self) -> None:
        self.server.fake._handle(self, "GET")

    def do_POST(self) -> None:
        self.server.fake._handle(self, "POST")


class FakeNepseApi:
    """A threaded fake of NEPSE's today-price API; use as a context manager, read `.url`."""

    def __init__(
        self,
        prices: pl.DataFrame,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        faults: Faults | dict[str, Any] | None = None,
        token: str | None = None,
        max_page_size: int | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._frames = today_price_frames(prices)
        self._items: dict[date, list[dict[str, Any]]] = {}  # built on first request of a day
        self.host = host
        self.port = port
        self.token = token
        self.max_page_size = max_page_size
        self.ssl_context = ssl_context
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._counts: Counter[str] = Counter()
        self._targets: Counter[str] = Counter()
        self._faults = Faults()
        self._failures_left = 0
        self._delays_left = -1
        self.set_faults(faults or Faults())
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -------------------------------------------------------------------------
    def start(self) -> FakeNepseApi:
        """Bind and serve in a daemon thread."""
        server = _Server((self.host, self.port), _Handler)
        if self.ssl_context is not None:
            server.socket = self.ssl_context.wrap_socket(server.socket, server_side=True)
        server.fake = self
        self._server = server
        self.port = server.server_address[1]
        self._stop.clear()
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket (slow answers in flight are cut short)."""
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeNepseApi:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def days(self) -> list[date]:
        """The business days served (ascending)."""
        return sorted(self._frames)

    def items(self, day: date) -> list[dict[str, Any]]:
        """The `content[]` items of `day` (empty for a day not in the frame)."""
        with self._lock:
            if day not in self._items:
                frame = self._frames.get(day)
                self._items[day] = [] if frame is None else items_of(frame)
            return self._items[day]

    @property
    def url(self) -> str:
        """Base URL to put in `api_base_url`."""
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://{self.host}:{self.port}"

    # --- control ---------------------------------------------------------------------------
    def set_faults(self, faults: Faults | dict[str, Any] | None = None, **kwargs: Any) -> None:
        """Replace the faults (a Faults, a dict of its fields, or keyword fields)."""
        if faults is None:
            faults = Faults.from_json(kwargs)
        elif isinstance(faults, dict):
            faults = Faults.from_json({**faults, **kwargs})
        with self._lock:
            self._faults = faults
            self._failures_left = faults.fail_times
            self._delays_left = faults.delay_times

    @property
    def faults(self) -> Faults:
        """The faults in force."""
        return self._faults

    def stats(self) -> dict[str, Any]:
        """Requests counted per path (and per full target with query), control paths excluded."""
        with self._lock:
            return {
                "requests": sum(self._counts.values()),
                "paths": dict(self._counts),
                "targets": dict(self._targets),
            }

    def reset_stats(self) -> None:
        """Zero the request counts."""
        with self._lock:
            self._counts.clear()
            self._targets.clear()

    # --- serving ---------------------------------------------------------------------------
    def _handle(self, h: _Handler, method: str) -> None:
        parts = urlsplit(h.path)
        try:
            if parts.path == "/_stats" and method == "GET":
                return _send_json(h, 200, self.stats())
            if parts.path == "/_faults":
                if method == "POST":
                    self.set_faults(Faults.from_json(_read_json(h)))
                return _send_json(h, 200, asdict(self.faults))
            if parts.path == "/_reset" and method == "POST":
                self.reset_stats()
                return _send_json(h, 200, {"ok": True})
        except (ValueError, TypeError) as exc:
            return _send_json(h, 400, {"error": str(exc)})

        with self._lock:
            self._counts[parts.path] += 1
            self._targets[h.path] += 1
        if method != "GET" or parts.path != TODAY_PRICE_PATH:
            return _send_json(h, 404, {"error": "Not Found", "path": parts.path})
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        self._today_price(h, query)

    def _today_price(self, h: _Handler, query: dict[str, str]) -> None:
        with self._lock:
            faults = self._faults
            fail = self._failures_left != 0
            if self._failures_left > 0:
                self._failures_left -= 1
            delay = faults.delay_s if self._delays_left != 0 else 0.0
            if delay > 0 and self._delays_left > 0:
                self._delays_left -= 1
        try:
            page = int(query.get("page", "0"))
            size = int(query.get("size", "20"))
            day = date.fromisoformat(query["businessDate"])
        except (KeyError, ValueError):
            return _send_json(h, 400, {"error": "need businessDate=YYYY-MM-DD, page, size"})
        if size < 1 or page < 0:
            return _send_json(h, 400, {"error": "page >= 0 and size >= 1"})
        if self.max_page_size is not None:
            size = min(size, self.max_page_size)

        if self.token is not None and h.headers.get("Authorization") != f"Bearer {self.token}":
            return _send_json(h, 401, self._error_body(h, "Unauthorized"))
        if fail:
            headers = {"Retry-After": faults.retry_after} if faults.retry_after else {}
            phrase = HTTPStatus(faults.fail_status).phrase
            return _send_json(h, faults.fail_status, self._error_body(h, phrase), headers)

        this_page = faults.pages is None or page in faults.pages
        if this_page and delay > 0 and self._stop.wait(delay):
            return  # shutting down
        if this_page and faults.drop_connection:
            h.close_connection = True
            return

        if faults.ignore_business_date and self._frames:
            day = max(self._frames)
        items = [] if day.isoformat() in faults.holidays else self.items(day)
        total = len(items)
        total_pages = math.ceil(total / size) if total else 0
        chunk = items[page * size : (page + 1) * size]
        if this_page and faults.market_open:
            chunk = [{**i, "closePrice": None} for i in chunk]
        if this_page and faults.rename_fields:
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
        if this_page and faults.rename_page_fields:
            payload = {faults.rename_page_fields.get(k, k): v for k, v in payload.items()}
        body = json.dumps(payload).encode()
        if this_page and faults.truncate:
            body = body[: len(body) // 2]
        _send_bytes(h, 200, body)

    def _error_body(self, h: _Handler, message: str) -> dict[str, Any]:
        body: dict[str, Any] = {"error": message, "path": urlsplit(h.path).path}
        if self._faults.echo_auth:
            body["authorization"] = h.headers.get("Authorization")
        return body


def _read_json(h: _Handler) -> Any:
    length = int(h.headers.get("Content-Length") or 0)
    raw = h.rfile.read(length) if length else b"{}"
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"body is not JSON: {exc}") from exc


def _send_json(
    h: _Handler, status: int, payload: Any, headers: dict[str, str] | None = None
) -> None:
    _send_bytes(h, status, json.dumps(payload).encode(), headers)


def _send_bytes(
    h: _Handler, status: int, body: bytes, headers: dict[str, str] | None = None
) -> None:
    try:
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            h.send_header(key, value)
        h.end_headers()
        h.wfile.write(body)
    except (BrokenPipeError, ConnectionResetError):
        # The client gave up (its read timeout fired first): nothing left to tell it.
        log.debug("fake-api: client went away before the answer was sent")


# --- CLI ---------------------------------------------------------------------------------------
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


def main(argv: list[str] | None = None) -> int:
    """CLI `nepse fake-api --data DIR --port P`: serve until interrupted."""
    parser = argparse.ArgumentParser(prog="nepse fake-api", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, required=True, help="prices parquet/CSV file or folder"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: any free port (printed)")
    parser.add_argument("--token", default=None, help="require this Bearer token")
    parser.add_argument("--max-page-size", type=int, default=None)
    parser.add_argument("--faults", default=None, help="initial faults as a JSON object")
    args = parser.parse_args(argv)
    try:
        prices = load_prices(args.data)
        faults = Faults.from_json(json.loads(args.faults)) if args.faults else None
    except (OSError, ValueError, pl.exceptions.PolarsError) as exc:
        print(f"nepse fake-api: {exc}", file=sys.stderr)
        return 2
    api = FakeNepseApi(
        prices,
        host=args.host,
        port=args.port,
        faults=faults,
        token=args.token,
        max_page_size=args.max_page_size,
    )
    with api:
        # One parseable line so a test in another process can find the port.
        print(f"fake NEPSE API serving {len(api.days)} day(s) at {api.url}", flush=True)
        stop = threading.Event()
        # SIGTERM (a test or supervisor stopping us) shuts down as cleanly as Ctrl-C.
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
