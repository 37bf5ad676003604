"""A fake NEPSE today-price API on 127.0.0.1 with fault injection, for tests and demos.

It serves the days of a prices frame (symbol, date, open, high, low, close, volume, turnover,
trades) in the paged JSON shape of `GET /api/nots/nepse-data/today-price` with every documented
field. Faults are set in the constructor or, from another process, with
`POST /_faults` (JSON object of `Faults` fields; `{}` clears them); `GET /_stats` counts requests
per path and `POST /_reset` zeroes the counts.
"""

from __future__ import annotations

import json
import logging
import ssl
import threading
from collections import Counter
from dataclasses import asdict
from datetime import date
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

import polars as pl

from nepse.devdata.market_items import (  # noqa: F401  (re-exported for callers)
    PRICE_FRAME_COLUMNS,
    Faults,
    items_of,
    load_prices,
    page_body,
    today_price_frames,
    today_price_items,
)
from nepse.devdata.threaded import Handler as _Handler
from nepse.devdata.threaded import ThreadedFake
from nepse.sources.api_parse import TODAY_PRICE_PATH

log = logging.getLogger(__name__)


class FakeNepseApi(ThreadedFake):
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
        self._init_serving()
        self._counts: Counter[str] = Counter()
        self._targets: Counter[str] = Counter()
        self._faults = Faults()
        self._failures_left = 0
        self._delays_left = -1
        self.set_faults(faults or Faults())

    def items(self, day: date) -> list[dict[str, Any]]:
        """The `content[]` items of `day` (empty for a day not in the frame)."""
        with self._lock:
            if day not in self._items:
                frame = self._frames.get(day)
                self._items[day] = [] if frame is None else items_of(frame)
            return self._items[day]

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
            slowed = self._delays_left != 0
            delay = faults.delay_s if slowed else 0.0
            trickle = faults.trickle_s if slowed else 0.0
            if (delay > 0 or trickle > 0) and self._delays_left > 0:
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
        body = page_body(items, page=page, size=size, faults=faults, this=this_page)
        _send_bytes(h, 200, body, trickle_s=trickle if this_page else 0.0, stop=self._stop)

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
    h: _Handler,
    status: int,
    body: bytes,
    headers: dict[str, str] | None = None,
    *,
    trickle_s: float = 0.0,
    stop: threading.Event | None = None,
) -> None:
    try:
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            h.send_header(key, value)
        h.end_headers()
        if trickle_s <= 0:
            h.wfile.write(body)
            return
        for i in range(len(body)):  # a byte at a time: each read in time, the whole never
            h.wfile.write(body[i : i + 1])
            h.wfile.flush()
            if stop is not None and stop.wait(trickle_s):
                return
    except (BrokenPipeError, ConnectionResetError):
        # The client gave up (its read timeout fired first): nothing left to tell it.
        log.debug("fake-api: client went away before the answer was sent")


# --- CLI ---------------------------------------------------------------------------------------
