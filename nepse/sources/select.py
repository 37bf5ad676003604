"""Which price source a run reads, chosen from settings (not by string tests in tasks).

`source_for(settings, label)`: 'api' (or 'nepse') is the exchange through nepsepy (or, with
`api_protocol` 'bearer', the token-protected today-price proxy of nepse/sources/api.py),
'sharesansar' ShareSansar's today's-price page, and a folder is either recorded exchange pages
(`<folder>/<YYYY-MM-DD>/page-N.json`, as saved by a live fetch) or price files for the readers.
`fallback_for(settings)` is the second source of `fallback_source` (None when 'none').
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl

from nepse.errors import ConfigError, SourceError
from nepse.schema import SECURITY_SCHEMA
from nepse.settings import Settings
from nepse.sources.api import ApiSource
from nepse.sources.base import DayResult, Holiday, MarketStatus, PriceSource
from nepse.sources.recorded import RecordedApiSource

API_LABELS = frozenset({"api", "nepse"})


class RecordedSource:
    """Recorded exchange pages replayed as a source (no network, no status, no holidays)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.name = f"recorded:{self.folder}"
        self._recorded = RecordedApiSource(self.folder)

    def has_day(self, day: date) -> bool:
        """True when a page of `day` was recorded."""
        return self._recorded.has_day(day)

    def fetch_day(self, day: date, *, raw_dir: Path) -> DayResult:
        """The recorded pages of `day`, parsed as a live fetch would be."""
        return self._recorded.fetch_day(day)

    def securities(self) -> pl.DataFrame:
        """`securities.parquet` (SECURITY_SCHEMA) beside the pages when recorded, else empty."""
        path = self.folder / "securities.parquet"
        if path.is_file():
            return pl.read_parquet(path).select(list(SECURITY_SCHEMA))
        return pl.DataFrame(schema=SECURITY_SCHEMA)

    def market_status(self) -> MarketStatus | None:
        """A recording cannot tell whether the market is open now."""
        return None

    def holidays(self, year: int) -> list[Holiday]:
        """`holidays.csv` (date,description) beside the pages when recorded, else empty."""
        path = self.folder / "holidays.csv"
        if not path.is_file():
            return []
        frame = pl.read_csv(path, try_parse_dates=True)
        return [Holiday(d, str(t)) for d, t in frame.iter_rows() if d.year == year]


class BearerApiSource:
    """The token-protected today-price proxy (nepse/sources/api.py) as a PriceSource."""

    name = "api"

    def __init__(self, settings: Settings) -> None:
        self._api = ApiSource(settings)

    def fetch_day(self, day: date, *, raw_dir: Path) -> DayResult:
        """Every today-price page of `day` from the proxy."""
        return self._api.fetch_day(day, raw_dir=raw_dir)

    def securities(self) -> pl.DataFrame:
        """The proxy serves no security list."""
        return pl.DataFrame(schema=SECURITY_SCHEMA)

    def market_status(self) -> MarketStatus | None:
        """The proxy cannot tell."""
        return None

    def holidays(self, year: int) -> list[Holiday]:
        """The proxy serves no holiday list."""
        return []


def api_protocol(settings: Settings) -> str:
    """'exchange' or 'bearer': what source 'api' speaks under these settings."""
    if settings.api_protocol != "auto":
        return settings.api_protocol
    has_token = settings.api_token is not None or settings.api_token_block is not None
    return "bearer" if has_token else "exchange"


def source_for(settings: Settings, label: str | None = None) -> PriceSource:
    """The source named by `label` (default: settings.source)."""
    label = label or settings.source
    if label in API_LABELS and api_protocol(settings) == "bearer":
        return BearerApiSource(settings)
    if label in API_LABELS:
        from nepse.sources.nepse_exchange import ExchangeSource

        return ExchangeSource(settings)
    if label == "sharesansar":
        from nepse.sources.sharesansar_live import ShareSansarSource

        return ShareSansarSource(settings)
    path = Path(label)
    if path.is_dir():
        try:
            return RecordedSource(path)
        except SourceError:
            pass
    raise ConfigError(
        f"source {label!r} is not 'api', 'sharesansar' or a folder of recorded exchange pages; "
        "price files are ingested with `nepse ingest PATH`"
    )


def fallback_for(settings: Settings) -> PriceSource | None:
    """The fallback of source 'api' (None when fallback_source is 'none' or on the proxy)."""
    if settings.fallback_source == "none" or api_protocol(settings) == "bearer":
        return None
    return source_for(settings, settings.fallback_source)
