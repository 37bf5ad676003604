"""A fake nepalstock.com on 127.0.0.1 that speaks the exchange's real protocol, for tests and demos.

The handshake is the site's: `GET /api/authenticate/prove` answers an access token, a refresh
token and five salts; both tokens carry five decoy characters at positions that the functions of
`GET /assets/prod/css.wasm` compute from the salts, so only a client that loads that wasm and
cuts the decoys (as the site's frontend does) holds a token this server accepts. Every data
request must send `Authorization: Salter <clean token>`; tokens expire after `token_ttl_s` (or
at once with `expire_tokens()`) and are renewed with `POST /api/authenticate/refresh-token`.
`POST /api/nots/nepse-data/today-price` wants the payload id `{"id": n}` derived from the
market-session id, the day of the month (Nepal time) and the session's salts, and pages like
Spring (`page` 0-based, `size`, `totalPages`, `last`). Market status, the holiday list, the
company list and the security list are served too. Faults (nepse.devdata.fake_api.Faults) apply
to today-price, as on the fake today-price API.

The wasm is this fake's own (nepse/devdata/exchange_protocol.py, not the site's binary): same
exports and signatures, different arithmetic, and argument order matters, so the client's own
call order and cutting code are what the tests exercise.
"""

from __future__ import annotations

import random
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

import polars as pl

from nepse.devdata.exchange_protocol import (
    NPT,
    add_decoys,
    company_list,
    cut_positions,
    payload_id,
    security_list,
    wasm_bytes,
)
from nepse.devdata.fake_api import (
    Faults,
    _read_json,
    _send_bytes,
    _send_json,
    items_of,
    today_price_frames,
)
from nepse.devdata.fake_sharesansar import render_page
from nepse.devdata.market_items import page_body
from nepse.devdata.threaded import Handler as _Handler
from nepse.devdata.threaded import ThreadedFake
from nepse.market.rules import market_rules
from nepse.sources.api_parse import TODAY_PRICE_PATH

PROVE_PATH = "/api/authenticate/prove"
REFRESH_PATH = "/api/authenticate/refresh-token"
WASM_PATH = "/assets/prod/css.wasm"
MARKET_OPEN_PATH = "/api/nots/nepse-data/market-open"
HOLIDAY_PATH = "/api/nots/holiday/list"
COMPANY_LIST_PATH = "/api/nots/company/list"
SECURITY_PATH = "/api/nots/security"
SHARESANSAR_PATH = "/today-share-price"  # ShareSansar's page, served here too for fallback tests


@dataclass
class _Session:
    salts: tuple[int, ...]
    access: str
    refresh: str
    expires: float


class FakeExchange(ThreadedFake):
    """A threaded fake of nepalstock.com's API; use as a context manager, read `.url`."""

    def __init__(
        self,
        prices: pl.DataFrame,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        faults: Faults | dict[str, Any] | None = None,
        token_ttl_s: float = 45.0,
        market_id: int = 37,
        securities: pl.DataFrame | None = None,
        holidays: dict[date, str] | None = None,
        max_page_size: int = 500,
        seed: int = 0,
        fallback_prices: pl.DataFrame | None = None,
    ) -> None:
        self._frames = today_price_frames(prices)
        self.fallback_prices = prices if fallback_prices is None else fallback_prices
        self.fallback_status = 200
        self.fallback_trickle_s = 0.0  # > 0: the ShareSansar page a byte every N seconds
        """Status of the ShareSansar page (set 503 to make the fallback fail too)."""
        self._items: dict[date, list[dict[str, Any]]] = {}
        self.host, self.port = host, port
        self.token_ttl_s = token_ttl_s
        self.market_id = market_id
        self.max_page_size = max_page_size
        self._securities = securities
        self._symbols = sorted(prices["symbol"].unique().to_list())
        self._holidays = holidays if holidays is not None else self._gap_holidays()
        self._rng = random.Random(seed)
        self._wasm = wasm_bytes()
        self._sessions: dict[str, _Session] = {}
        self._refresh: dict[str, _Session] = {}
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._faults, self._failures_left, self._delays_left = Faults(), 0, -1
        self.set_faults(faults)
        self._init_serving()

    # --- control ---------------------------------------------------------------------------
    def set_faults(self, faults: Faults | dict[str, Any] | None = None) -> None:
        """Replace the faults (a Faults or a dict of its fields; None clears them)."""
        faults = Faults.from_json(faults) if isinstance(faults, dict) else faults or Faults()
        with self._lock:
            self._faults = faults
            self._failures_left, self._delays_left = faults.fail_times, faults.delay_times

    def expire_tokens(self) -> None:
        """Make every access token expired now (refresh tokens stay valid)."""
        with self._lock:
            for session in self._sessions.values():
                session.expires = 0.0

    def stats(self) -> dict[str, int]:
        """Requests counted per path."""
        with self._lock:
            return dict(self._counts)

    def holidays(self) -> dict[date, str]:
        """The holiday list served (date -> description)."""
        return dict(self._holidays)

    def _gap_holidays(self) -> dict[date, str]:
        # Traded weekdays without any row between the first and last day: the exchange closed.
        days = self.days
        if not days:
            return {}
        weekdays = {d.weekday() for d in days}
        have, out, d = set(days), {}, days[0]
        while d < days[-1]:
            if d.weekday() in weekdays and d not in have:
                out[d] = "Exchange closed"
            d += timedelta(days=1)
        return out

    # --- serving ---------------------------------------------------------------------------
    def _handle(self, h: _Handler, method: str) -> None:
        parts = urlsplit(h.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        try:
            # Read every POST body first: one left unread would corrupt the kept-alive stream.
            body = _read_json(h) if method == "POST" else None
        except ValueError:
            body = None
        with self._lock:
            self._counts[parts.path] += 1
        route = (method, parts.path.rstrip("/") or "/")
        if route == ("GET", WASM_PATH):
            return _send_bytes(h, 200, self._wasm, {"Content-Type": "application/wasm"})
        if route == ("GET", SHARESANSAR_PATH):
            return self._sharesansar(h)
        if route == ("GET", PROVE_PATH):
            return _send_json(h, 200, self._new_session())
        if route == ("POST", REFRESH_PATH):
            return self._refresh_session(h, body)
        session = self._authorised(h)
        if session is None:
            return _send_json(h, 401, {"message": "Unauthorized", "path": parts.path})
        if route == ("GET", MARKET_OPEN_PATH):
            return _send_json(h, 200, self._market_status())
        if route == ("GET", HOLIDAY_PATH):
            return _send_json(h, 200, self._holiday_list(query))
        if route == ("GET", COMPANY_LIST_PATH):
            return _send_json(h, 200, self._company_list())
        if route == ("GET", SECURITY_PATH):
            return _send_json(h, 200, self._security_list(query))
        if route == ("POST", TODAY_PRICE_PATH):
            return self._today_price(h, query, session, body)
        return _send_json(h, 404, {"message": "Not Found", "path": parts.path})

    def _new_session(self) -> dict[str, Any]:
        with self._lock:
            salts = tuple(self._rng.randint(100, 999) for _ in range(5))
            session = _Session(salts, secrets.token_urlsafe(72), secrets.token_urlsafe(72), 0.0)
            session.expires = time.monotonic() + self.token_ttl_s
            self._sessions[session.access] = session
            self._refresh[session.refresh] = session
            rng = self._rng
        return {
            "serverTime": int(time.time() * 1000),
            "accessToken": add_decoys(session.access, cut_positions(salts, refresh=False), rng),
            "refreshToken": add_decoys(session.refresh, cut_positions(salts, refresh=True), rng),
            **{f"salt{i + 1}": s for i, s in enumerate(salts)},
            "isDisplayActive": False,
            "popupDocFor": "BOTH",
        }

    def _refresh_session(self, h: _Handler, body: Any) -> None:
        token = body.get("refreshToken") if isinstance(body, dict) else None
        with self._lock:
            old = self._refresh.pop(token, None) if isinstance(token, str) else None
            if old is not None:
                self._sessions.pop(old.access, None)
        if old is None:
            return _send_json(h, 401, {"message": "Invalid refresh token"})
        _send_json(h, 200, self._new_session())

    def _authorised(self, h: _Handler) -> _Session | None:
        header = h.headers.get("Authorization") or ""
        scheme, _, token = header.partition(" ")
        with self._lock:
            session = self._sessions.get(token) if scheme == "Salter" else None
            if session is None or session.expires < time.monotonic():
                return None
            return session

    def _sharesansar(self, h: _Handler) -> None:
        if self.fallback_status != 200:
            return _send_bytes(h, self.fallback_status, b"unavailable")
        dates = self.fallback_prices["date"]
        day = dates.max() if len(dates) else date.today()
        page = render_page(self.fallback_prices, day).encode()
        html = {"Content-Type": "text/html; charset=utf-8"}
        _send_bytes(h, 200, page, html, trickle_s=self.fallback_trickle_s, stop=self._stop)

    def _market_status(self) -> dict[str, Any]:
        last = max(self._frames) if self._frames else date.today()
        return {
            "isOpen": "OPEN" if self._faults.market_open else "CLOSE",
            "asOf": datetime.combine(last, market_rules().close_time(last)).isoformat(),
            "id": self.market_id,
        }

    def _holiday_list(self, query: dict[str, str]) -> list[dict[str, Any]]:
        listed = dict(self._holidays)
        listed.update({date.fromisoformat(d): "Exchange closed" for d in self._faults.holidays})
        year = int(query["year"]) if query.get("year", "").isdigit() else None
        return [
            {"holidayDate": d.isoformat(), "holidayDescription": text}
            for d, text in sorted(listed.items())
            if year is None or d.year == year
        ]

    def _company_list(self) -> list[dict[str, Any]]:
        return company_list(self._security_rows())

    def _security_list(self, query: dict[str, str]) -> list[dict[str, Any]]:
        keep_delisted = query.get("nonDelisted") == "false"
        return security_list(self._security_rows(), non_delisted=not keep_delisted)

    def _security_rows(self) -> list[dict[str, Any]]:
        if self._securities is not None:
            return self._securities.to_dicts()
        return [
            {
                "symbol": s,
                "name": f"{s} Limited",
                "sector": "Commercial Banks",
                "instrument_type": "Equity",
                "status": "A",
            }
            for s in self._symbols
        ]

    def _today_price(
        self, h: _Handler, query: dict[str, str], session: _Session, body: Any
    ) -> None:
        sent = body.get("id") if isinstance(body, dict) else None
        now = datetime.now(UTC).astimezone(NPT)
        days = {now.day, (now - timedelta(minutes=5)).day}  # a request across midnight
        if sent not in {payload_id(self.market_id, session.salts, d) for d in days}:
            return _send_json(h, 400, {"message": "Invalid payload id"})
        try:
            page = int(query.get("page", "0"))
            size = min(int(query.get("size", "20")), self.max_page_size)
            day = date.fromisoformat(query["businessDate"]) if "businessDate" in query else None
        except ValueError:
            return _send_json(h, 400, {"message": "bad page, size or businessDate"})
        if day is None:
            day = max(self._frames) if self._frames else date.today()
        with self._lock:
            faults, fail = self._faults, self._failures_left != 0
            if self._failures_left > 0:
                self._failures_left -= 1
            slowed = self._delays_left != 0
            delay = faults.delay_s if slowed else 0.0
            trickle = faults.trickle_s if slowed else 0.0
            if (delay > 0 or trickle > 0) and self._delays_left > 0:
                self._delays_left -= 1
        if fail:
            headers = {"Retry-After": faults.retry_after} if faults.retry_after else {}
            phrase = HTTPStatus(faults.fail_status).phrase
            return _send_json(h, faults.fail_status, {"message": phrase}, headers)
        this_page = faults.pages is None or page in faults.pages
        if this_page and delay > 0 and self._stop.wait(delay):
            return
        if this_page and faults.drop_connection:
            h.close_connection = True
            return
        if faults.ignore_business_date and self._frames:
            day = max(self._frames)
        items = [] if day.isoformat() in faults.holidays else self._day_items(day)
        body = page_body(items, page=page, size=size, faults=faults, this=this_page)
        _send_bytes(h, 200, body, trickle_s=trickle if this_page else 0.0, stop=self._stop)

    def _day_items(self, day: date) -> list[dict[str, Any]]:
        with self._lock:
            if day not in self._items:
                frame = self._frames.get(day)
                self._items[day] = [] if frame is None else items_of(frame)
            return self._items[day]
