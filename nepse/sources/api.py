"""The live price source: NEPSE's today-price JSON API, one business day at a time.

Retries belong to the orchestrator (Prefect task retries with a `retry_condition_fn`), so this
module never retries: it raises `TransientSourceError` for faults a later attempt may not meet
(timeouts, connection errors, 5xx, 429 with its Retry-After) and `SourceError` for faults a
retry cannot fix (other 4xx, TLS verification, a malformed or changed payload).
"""

from __future__ import annotations

import contextlib
import logging
import ssl
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

import httpx

from nepse.errors import ConfigError, NepseError, SourceError, TransientSourceError
from nepse.secrets import redact, register
from nepse.settings import Settings
from nepse.sources.api_parse import (  # noqa: F401 - re-exported for callers
    BODY_SNIPPET,
    FIELD_MAP,
    FMT,
    REQUIRED_FIELDS,
    TODAY_PRICE_PATH,
    ApiDayResult,
    _day_result,
    _Page,
    _parse_page,
    parse_today_price_items,
)
from nepse.sources.deadline import DeadlineTransport
from nepse.sources.recorded import RecordedApiSource  # noqa: F401 - re-exported

log = logging.getLogger(__name__)

_MAX_PAGES = 10_000  # a server that never says `last` must not loop us forever


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
        # From now on every log record, error message and stored reject masks the token.
        register(self._token)

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
        inner = httpx.HTTPTransport(verify=self.tls_verify())
        return httpx.Client(
            base_url=self.base_url,
            headers=headers,
            timeout=self.timeout(),
            transport=DeadlineTransport(inner, self.settings.api_deadline_s),
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
        # Redact first, then cut: a cut token would no longer match and leak its head.
        snippet = _redact(response.text, self._token)[:BODY_SNIPPET]
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
        except OSError as exc:
            with contextlib.suppress(OSError):
                path.unlink()
            raise NepseError(
                f"cannot save the raw answer to {path} ({exc.strerror or exc}); nothing of the "
                "day was stored. Free space (or fix the folder's permissions) and run again"
            ) from exc


def _is_tls_error(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return True
        seen = seen.__cause__ or seen.__context__
    return "CERTIFICATE_VERIFY_FAILED" in str(exc)


def _redact(text: str, token: str | None) -> str:
    # Servers sometimes echo the Authorization header in error bodies.
    text = text.replace(token, "***") if token else text
    return redact(text)
