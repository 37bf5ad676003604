"""The exchange source: nepsepy's own protocol code against the fake exchange on 127.0.0.1."""

from __future__ import annotations

import json
import time
from datetime import date
from types import SimpleNamespace

import nepsepy.client
import polars as pl
import pytest

from nepse.devdata.fake_exchange import (
    HOLIDAY_PATH,
    PROVE_PATH,
    REFRESH_PATH,
    TODAY_PRICE_PATH,
    WASM_PATH,
    FakeExchange,
)
from nepse.errors import ConfigError, SourceError, TransientSourceError
from nepse.settings import load_settings
from nepse.sources.base import PriceSource
from nepse.sources.nepse_exchange import ExchangeSource, securities_frame
from nepse.sources.sharesansar_live import ShareSansarSource

D1, D2, D3 = date(2025, 8, 25), date(2025, 8, 26), date(2025, 8, 28)
SYMBOLS = ["ADBL", "API", "NABIL", "NICA", "SCB"]


@pytest.fixture
def prices() -> pl.DataFrame:
    rows = [
        (s, d, 100.0 + i, 110.0 + i, 95.0 + i, 105.0 + i, 1000.0, 105000.0, 10)
        for d in (date(2025, 8, 20), date(2025, 8, 21), D1, D2, D3)
        for i, s in enumerate(SYMBOLS)
    ]
    cols = ["symbol", "date", "open", "high", "low", "close", "volume", "turnover", "trades"]
    return pl.DataFrame(rows, schema=cols, orient="row")


@pytest.fixture
def exchange(prices):
    with FakeExchange(prices, max_page_size=500) as fx:
        yield fx


def source_for(fx: FakeExchange, **overrides) -> ExchangeSource:
    s = load_settings(
        api_base_url=fx.url,
        exchange_min_interval_s=0,
        api_page_size=2,
        api_read_timeout_s=1.0,
        **overrides,
    )
    return ExchangeSource(s)


def test_is_a_price_source(exchange):
    assert isinstance(source_for(exchange), PriceSource)


def test_fetch_day_pages_through_and_saves_every_page(exchange, tmp_path):
    with source_for(exchange) as src:
        result = src.fetch_day(D3, raw_dir=tmp_path)
    assert result.status == "ok"
    assert result.pages == 3  # 5 symbols, 2 a page
    assert sorted(result.prices["symbol"].to_list()) == SYMBOLS
    assert result.prices["date"].unique().to_list() == [D3]
    saved = sorted(p.name for p in (tmp_path / D3.isoformat()).iterdir())
    assert saved == ["page-0.json", "page-1.json", "page-2.json"]
    assert json.loads((tmp_path / D3.isoformat() / "page-2.json").read_text())["last"] is True
    stats = exchange.stats()
    assert stats[PROVE_PATH] == 1 and stats[WASM_PATH] == 1  # one handshake for all pages
    assert stats[TODAY_PRICE_PATH] == 3


def test_an_expired_token_is_refreshed_once_and_the_day_still_read(exchange, tmp_path):
    with source_for(exchange) as src:
        src.fetch_day(D1, raw_dir=tmp_path)
        exchange.expire_tokens()
        result = src.fetch_day(D2, raw_dir=tmp_path)
    assert result.status == "ok" and result.prices.height == 5
    assert exchange.stats()[REFRESH_PATH] == 1
    assert exchange.stats()[PROVE_PATH] == 1


def test_a_token_past_its_life_is_refreshed(prices, tmp_path):
    with FakeExchange(prices, token_ttl_s=0.3) as fx, source_for(fx) as src:
        src.fetch_day(D1, raw_dir=tmp_path)
        time.sleep(0.4)
        assert src.fetch_day(D2, raw_dir=tmp_path).prices.height == 5
        assert fx.stats()[REFRESH_PATH] >= 1


def test_a_holiday_is_empty_and_listed_by_the_exchange(exchange, tmp_path):
    with source_for(exchange) as src:
        result = src.fetch_day(date(2025, 8, 27), raw_dir=tmp_path)
        listed = src.holidays(2025)
    assert result.status == "holiday"
    # The fake lists the traded weekday without rows between its first and last day.
    assert [h.day for h in listed] == [date(2025, 8, 27)]
    assert exchange.stats()[HOLIDAY_PATH] == 2  # fetch_day asked the exchange too


def test_an_empty_weekday_not_on_the_holiday_list_is_not_a_holiday(prices, tmp_path):
    # 2025-08-27 had no trading, but this exchange lists no holidays.
    with FakeExchange(prices, holidays={}) as fx, source_for(fx) as src:
        with pytest.raises(SourceError, match="not on the exchange's holiday list"):
            src.fetch_day(date(2025, 8, 27), raw_dir=tmp_path)
        # Friday and Saturday were the weekend before 2026-04-10: no list needed.
        assert src.fetch_day(date(2025, 8, 29), raw_dir=tmp_path).status == "holiday"
        assert fx.stats()[HOLIDAY_PATH] == 1


def test_market_status_and_market_open_day_is_held_back(exchange, tmp_path):
    exchange.set_faults({"market_open": True})
    with source_for(exchange) as src:
        status = src.market_status()
        result = src.fetch_day(D3, raw_dir=tmp_path)
    assert status.is_open and status.business_day == D3 and status.market_id == 37
    assert result.status == "market_open"
    assert result.prices.is_empty() and result.rejects.height == 5


def test_securities_include_delisted_with_status(prices):
    listed = pl.DataFrame(
        {
            "symbol": ["ADBL", "OLDCO"],
            "name": ["Agricultural Development Bank", "Old Company"],
            "sector": ["Commercial Banks", "Finance"],
            "instrument_type": ["Equity", "Equity"],
            "status": ["A", "D"],
        }
    )
    with FakeExchange(prices, securities=listed) as fx, source_for(fx) as src:
        frame = src.securities()
    assert frame.sort("symbol").rows() == [
        ("ADBL", "Agricultural Development Bank", "Commercial Banks", "Equity", "A"),
        ("OLDCO", "Old Company", None, None, "D"),  # the company list leaves delisted out
    ]


def test_securities_frame_refuses_items_without_symbol():
    with pytest.raises(SourceError, match="without symbol"):
        securities_frame([{"id": 1}], [])


@pytest.mark.parametrize(
    ("faults", "kind", "retry_after"),
    [
        ({"fail_times": 1, "fail_status": 503, "retry_after": "7"}, TransientSourceError, 7.0),
        ({"fail_times": 1, "fail_status": 500}, TransientSourceError, None),
        ({"fail_times": 1, "fail_status": 404}, SourceError, None),
        ({"delay_s": 2.0, "delay_times": 1}, TransientSourceError, None),
        ({"drop_connection": True}, TransientSourceError, None),
        ({"truncate": True}, SourceError, None),
        ({"rename_fields": {"closePrice": "ltp"}}, SourceError, None),
        ({"rename_page_fields": {"content": "data"}}, SourceError, None),
    ],
    ids=["503", "500", "404", "timeout", "dropped", "truncated", "schema", "envelope"],
)
def test_faults_are_transient_or_not(exchange, tmp_path, faults, kind, retry_after):
    exchange.set_faults(faults)
    with source_for(exchange) as src, pytest.raises(SourceError) as info:
        src.fetch_day(D3, raw_dir=tmp_path)
    assert type(info.value) is kind
    if kind is TransientSourceError:
        assert info.value.retry_after == retry_after


def test_429_counts_the_wait_nepsepy_already_made(exchange, tmp_path, monkeypatch):
    # A Retry-After beyond nepsepy's own cap: the client sleeps the cap (recorded here, not
    # slept), the task is left the rest.
    slept: list[float] = []
    fake_time = SimpleNamespace(sleep=slept.append, monotonic=time.monotonic)
    monkeypatch.setattr(nepsepy.client, "time", fake_time)
    exchange.set_faults({"fail_times": 1, "fail_status": 429, "retry_after": "45"})
    with source_for(exchange) as src, pytest.raises(TransientSourceError) as info:
        src.fetch_day(D3, raw_dir=tmp_path)
    cap = nepsepy.client.MAX_RETRY_AFTER_S
    assert slept == [cap]  # the client honoured Retry-After itself, up to its cap
    assert info.value.retry_after == 45.0 - cap  # only the rest is left for the task to wait


def test_a_retry_after_a_transient_fault_reads_the_whole_day(exchange, tmp_path):
    exchange.set_faults({"fail_times": 1, "fail_status": 503, "pages": [1]})
    with source_for(exchange) as src:
        with pytest.raises(TransientSourceError):
            src.fetch_day(D3, raw_dir=tmp_path)
        result = src.fetch_day(D3, raw_dir=tmp_path)
    assert result.prices.height == 5


def test_a_server_ignoring_business_date_is_refused(exchange, tmp_path):
    exchange.set_faults({"ignore_business_date": True})
    with source_for(exchange) as src, pytest.raises(SourceError, match="ignored businessDate"):
        src.fetch_day(D1, raw_dir=tmp_path)


def test_settings_are_checked(exchange, tmp_path):
    with pytest.raises(ConfigError, match="https://"):
        ExchangeSource(load_settings(api_base_url="ftp://example"))
    src = source_for(exchange, api_ca_bundle=tmp_path / "missing.pem")
    with pytest.raises(ConfigError, match="NEPSE_API_CA_BUNDLE"):
        src.fetch_day(D1, raw_dir=tmp_path)


def test_unreachable_exchange_is_transient(tmp_path):
    s = load_settings(api_base_url="http://127.0.0.1:9", exchange_min_interval_s=0)
    with ExchangeSource(s) as src, pytest.raises(TransientSourceError):
        src.fetch_day(D1, raw_dir=tmp_path)


# Each byte arrives well inside the read timeout; the whole answer would take minutes.
TRICKLE = {"trickle_s": 0.05}
DEADLINE = 1.0


def test_the_exchange_source_stops_a_trickling_answer(exchange, tmp_path):
    exchange.set_faults(TRICKLE)
    src = source_for(exchange, api_deadline_s=DEADLINE)
    with pytest.raises(TransientSourceError, match="no complete answer within 1 s"):
        src.fetch_day(D3, raw_dir=tmp_path)
    exchange.set_faults()
    assert src.fetch_day(D3, raw_dir=tmp_path).status == "ok"  # a new session after the cut


def test_the_sharesansar_source_stops_a_trickling_page(exchange, tmp_path):
    exchange.fallback_trickle_s = 0.05
    s = source_for(exchange, api_deadline_s=DEADLINE).settings.model_copy(
        update={"sharesansar_url": f"{exchange.url}/today-share-price"}
    )
    with pytest.raises(TransientSourceError, match="no complete answer within 1 s"):
        ShareSansarSource(s).fetch_day(D3, raw_dir=tmp_path)


def test_an_exchange_source_is_not_reused_half_closed(exchange, tmp_path):
    exchange.set_faults(TRICKLE)
    src = source_for(exchange, api_deadline_s=DEADLINE)
    with pytest.raises(TransientSourceError):
        src.fetch_day(D3, raw_dir=tmp_path)
    assert isinstance(src, ExchangeSource) and src._client is None
