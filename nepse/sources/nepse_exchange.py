"""The exchange itself as a price source: nepalstock.com's API through the `nepsepy` client.

nepsepy does the protocol (docs/live-data.md has the evaluation): the `/api/authenticate/prove`
handshake, cleaning the tokens with the site's `css.wasm`, `Authorization: Salter`, one refresh
(then one fresh session) on a 401, and the payload ids of the signed POSTs. This module only
chooses the requests, pages through a day, saves every answer raw, and turns the client's
failures into ours: `TransientSourceError` (timeouts, connection faults, 5xx, 429) is retried by
Prefect; `SourceError` (TLS, 4xx, a changed handshake or payload) is not. It never retries.

The client is given an httpx transport of ours: it carries the TLS settings (the exchange's
chain is incomplete: NEPSE_API_CA_BUNDLE), the connect/read timeouts of the settings, and
remembers the last answer's status and Retry-After so a failed handshake can be classified.
"""

from __future__ import annotations

import json
import logging
import ssl
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import polars as pl
from nepsepy import NepseClient
from nepsepy.exceptions import (
    AuthExpiredError,
    BootstrapError,
    NepseError,
    RateLimitedError,
    WasmError,
)

from nepse.calendar import after_close, may_trade
from nepse.errors import ConfigError, SourceError, TransientSourceError
from nepse.schema import SECURITY_SCHEMA
from nepse.settings import Settings
from nepse.sources.api import parse_retry_after, save_raw
from nepse.sources.api_parse import (  # the today-price page checks, shared with the proxy
    _day_result,
    _hold_back_day,
    _parse_page,
)
from nepse.sources.base import (
    DayResult,
    Holiday,
    MarketStatus,
    missing_day_reason,
)
from nepse.sources.deadline import DeadlineTransport
from nepse.sources.securities import check_securities

log = logging.getLogger(__name__)

NAME = "nepse"
_MAX_PAGES = 1_000


class _Transport(httpx.BaseTransport):
    """httpx transport with our TLS and timeouts that remembers the last answer."""

    def __init__(
        self, *, verify: ssl.SSLContext | bool, timeout: httpx.Timeout, deadline_s: float
    ) -> None:
        self._inner = DeadlineTransport(httpx.HTTPTransport(verify=verify), deadline_s)
        self._timeout = timeout.as_dict()
        self.last_status: int | None = None
        self.last_retry_after: str | None = None
        self.last_target = ""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.extensions["timeout"] = self._timeout  # the client's fixed 15 s is not ours
        self.last_target = f"{request.method} {request.url.path}"
        response = self._inner.handle_request(request)
        self.last_status = response.status_code
        self.last_retry_after = response.headers.get("Retry-After")
        return response

    def close(self) -> None:
        self._inner.close()


def tls_verify(settings: Settings) -> ssl.SSLContext | bool:
    """What the transport verifies against: True, False, or a context of `api_ca_bundle`."""
    if not settings.api_verify_tls:
        return False
    bundle = settings.api_ca_bundle
    if bundle is None:
        return True
    if not bundle.is_file():
        raise ConfigError(
            f"api_ca_bundle {bundle} is not a file; point NEPSE_API_CA_BUNDLE at a PEM file "
            "holding the exchange's CA chain (its server sends an incomplete chain)"
        )
    try:
        return ssl.create_default_context(cafile=str(bundle))
    except ssl.SSLError as exc:
        raise ConfigError(f"api_ca_bundle {bundle} holds no usable PEM CA: {exc}") from exc


class ExchangeSource:
    """nepalstock.com through nepsepy: one client (one session) per source object."""

    name = NAME
    lists_holidays = True
    """An empty day from this source past the close is on the exchange's holiday list (or a
    weekend): `fetch_day` refuses the others, so such a holiday needs no second look."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.base_url = settings.api_base_url.rstrip("/")
        if not self.base_url.startswith(("https://", "http://")):
            raise ConfigError(
                f"api_base_url {self.base_url!r} must start with https:// (or http:// for the "
                "local fake exchange); set NEPSE_API_BASE_URL"
            )
        self._transport: _Transport | None = None
        self._client: NepseClient | None = None

    def __repr__(self) -> str:
        return f"ExchangeSource({self.base_url!r})"

    def __enter__(self) -> ExchangeSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Drop the session (tokens are kept in memory only)."""
        if self._client is not None:
            self._client.close()
        self._client = self._transport = None

    def client(self) -> NepseClient:
        """The nepsepy client of this source (created on first use)."""
        if self._client is None:
            s = self.settings
            timeout = httpx.Timeout(s.api_read_timeout_s, connect=s.api_connect_timeout_s)
            self._transport = _Transport(
                verify=tls_verify(s), timeout=timeout, deadline_s=s.api_deadline_s
            )
            if not s.api_verify_tls:
                log.warning("%s: TLS certificate verification is OFF", self.base_url)
            self._client = NepseClient(
                base_url=self.base_url,
                transport=self._transport,
                min_interval=s.exchange_min_interval_s,
            )
        return self._client

    # --- the interface ---------------------------------------------------------------------
    def fetch_day(self, day: date, *, raw_dir: Path) -> DayResult:
        """Every today-price page of `day`, each saved raw under raw_dir/<day>/, then parsed."""
        source = f"{self.base_url}/api/nots/nepse-data/today-price?businessDate={day}"
        size = self.settings.api_page_size
        pages = []
        for number in range(_MAX_PAGES):
            where = f"{source} page={number}"
            payload = self._call(
                where,
                lambda n=number: self.client().today_price(
                    page=n + 1, size=size, business_date=day.isoformat()
                ),
            )
            body = json.dumps(payload, ensure_ascii=False).encode()
            raw_file = save_raw(body, raw_dir / day.isoformat(), f"page-{number}")
            page = _parse_page(body, number=number, where=where, raw_file=raw_file)
            pages.append(page)
            if page.last or not page.items or number + 1 >= page.total_pages:
                break
        else:
            raise SourceError(f"{source}: no last page after {_MAX_PAGES} pages")
        result = _day_result(day, pages, source)
        if result.rows_read == 0:
            self._check_holiday(day, source)
            return result
        if result.market_open:
            return result
        status = self.market_status()
        if status is None or not status.is_open or status.business_day != day:
            return result
        # Closes may all be set while trading goes on: the exchange's word decides.
        log.info("%s: the exchange says the market is open; day held back", day)
        held = _hold_back_day(result, source)
        return DayResult(
            day=day,
            market_open=True,
            pages=result.pages,
            raw_files=result.raw_files,
            fmt=result.fmt,
            rejects=held.rejects,
            sources=result.sources,
        )

    def _check_holiday(self, day: date, source: str) -> None:
        """An empty day past the close is a holiday only if the exchange's list says so."""
        if not after_close(day, now=datetime.now(UTC), timezone=self.settings.timezone):
            return  # not published yet: the caller records 'not_yet'
        if not may_trade(day):
            return
        reason = missing_day_reason(day, self.holidays(day.year))
        if reason != "holiday":
            raise SourceError(
                f"{source}: no prices for {day}, a weekday that is not on the exchange's "
                "holiday list; not recorded as a holiday (fetch it again later, or check the "
                "exchange's notices for an unlisted closure)"
            )

    def securities(self) -> pl.DataFrame:
        """Every security the exchange lists, delisted ones included (SECURITY_SCHEMA)."""
        client = self.client()
        where = f"{self.base_url}/api/nots/security?nonDelisted=false"
        every = self._call(where, lambda: client.companies(include_delisted=True))
        companies = self._call(f"{self.base_url}/api/nots/company/list", client.companies_list)
        return securities_frame(every, companies, where=where)

    def market_status(self) -> MarketStatus | None:
        """The exchange's market-open answer."""
        where = f"{self.base_url}/api/nots/nepse-data/market-open"
        payload = self._call(where, self.client().market_status)
        if not isinstance(payload, dict) or "isOpen" not in payload:
            raise SourceError(f"{where}: answer lacks isOpen: {str(payload)[:200]!r}")
        as_of = payload.get("asOf")
        try:
            stamp = datetime.fromisoformat(str(as_of)[:19]) if as_of else None
        except ValueError as exc:
            raise SourceError(f"{where}: asOf {as_of!r} is not a timestamp") from exc
        is_open = payload["isOpen"]
        opened = is_open.upper() == "OPEN" if isinstance(is_open, str) else bool(is_open)
        market_id = payload.get("id") if isinstance(payload.get("id"), int) else None
        return MarketStatus(is_open=opened, as_of=stamp, market_id=market_id)

    def holidays(self, year: int) -> list[Holiday]:
        """The exchange's holiday list of `year`."""
        where = f"{self.base_url}/api/nots/holiday/list?year={year}"
        payload = self._call(where, lambda: self.client().holidays(year))
        if not isinstance(payload, list):
            raise SourceError(f"{where}: answer is not a list: {str(payload)[:200]!r}")
        out = []
        for item in payload:
            try:
                day = date.fromisoformat(str(item["holidayDate"])[:10])
            except (KeyError, TypeError, ValueError) as exc:
                raise SourceError(f"{where}: holiday item {item!r} has no holidayDate") from exc
            out.append(Holiday(day, str(item.get("holidayDescription") or "")))
        return out

    # --- errors ----------------------------------------------------------------------------
    def _call(self, where: str, fn: Any) -> Any:
        try:
            return fn()
        except TransientSourceError:
            self.close()  # the deadline closed the connection: a retry starts a new session
            raise
        except (NepseError, httpx.HTTPError, ValueError) as exc:
            raise self._translate(exc, where) from exc

    def _translate(self, exc: BaseException, where: str) -> SourceError:
        """The client's failure as ours: transient (Prefect retries) or not."""
        t = self._transport
        status = t.last_status if t is not None else None
        retry_after = parse_retry_after(t.last_retry_after) if t is not None else None
        last = f"last request {t.last_target} -> HTTP {status}" if t is not None else ""
        detail = str(exc).splitlines()[0] if str(exc) else ""
        text = f"{where}: {type(exc).__name__}: {detail} ({last})"
        if _is_tls_error(exc):
            return SourceError(
                f"{text}; TLS verification failed: set NEPSE_API_CA_BUNDLE to the exchange's "
                "CA chain (PEM)"
            )
        if _caused_by(exc, httpx.TransportError):
            return TransientSourceError(text)
        if isinstance(exc, RateLimitedError):
            # nepsepy has already slept min(Retry-After, 30 s): only the rest remains.
            left = None if retry_after is None else max(0.0, retry_after - exc.retry_after)
            return TransientSourceError(text, retry_after=left)
        if isinstance(exc, httpx.HTTPStatusError):
            status = exc.response.status_code
            retry_after = parse_retry_after(exc.response.headers.get("Retry-After"))
        if status is not None and (status >= 500 or status == 429):
            return TransientSourceError(text, retry_after=retry_after)
        if isinstance(exc, WasmError):
            return SourceError(f"{text}; the site's css.wasm changed: upgrade nepsepy")
        if isinstance(exc, BootstrapError | AuthExpiredError):
            return SourceError(f"{text}; the exchange refused the session: upgrade nepsepy")
        if isinstance(exc, ValueError):
            return SourceError(f"{text}; the answer is not valid JSON (truncated?)")
        return SourceError(text)


_SHOWN = ("line", "reason", "detail")


def securities_frame(every: Any, companies: Any, *, where: str = "securities") -> pl.DataFrame:
    """SECURITY_SCHEMA rows from the security list (with status) and the company list."""
    if not isinstance(every, list) or not isinstance(companies, list):
        raise SourceError(f"{where}: the security and company lists must be JSON lists")
    by_symbol = {c.get("symbol"): c for c in companies if isinstance(c, dict)}
    rows = []
    for item in every:
        if not isinstance(item, dict) or not item.get("symbol"):
            raise SourceError(f"{where}: security item without symbol: {str(item)[:200]!r}")
        company = by_symbol.get(item["symbol"], {})
        rows.append(
            {
                "symbol": str(item["symbol"]).strip(),
                "name": company.get("companyName") or item.get("securityName"),
                "sector": company.get("sectorName"),
                "instrument_type": company.get("instrumentType"),
                "status": item.get("activeStatus") or company.get("status"),
            }
        )
    checked = check_securities(pl.DataFrame(rows, schema=SECURITY_SCHEMA, orient="row"))
    bad = checked.filter(pl.col("reason").is_not_null())
    twice = bad.filter(pl.col("reason") == "conflicting_duplicate")
    if twice.height:
        raise SourceError(f"{where}: {twice['detail'][0]}")
    for r in bad.iter_rows(named=True):
        log.warning(
            "%s: security item %d left out (%s): %s", where, r["line"], r["reason"], r["detail"]
        )
    return checked.filter(pl.col("reason").is_null() & ~pl.col("_extra")).select(
        list(SECURITY_SCHEMA)
    )


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, kind):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _is_tls_error(exc: BaseException) -> bool:
    return _caused_by(exc, ssl.SSLError) or "CERTIFICATE_VERIFY_FAILED" in str(exc)
