"""A long secret is masked before anything is cut, logged or stored (issue 13 item 6)."""

from __future__ import annotations

import logging
import secrets as pysecrets
from datetime import date

import pytest

from nepse import secrets
from nepse.devdata.fake_api import FakeNepseApi
from nepse.errors import SourceError
from nepse.ingest.service import ingest_read
from nepse.settings import load_settings
from nepse.sources.api import ApiSource
from nepse.sources.api_parse import parse_today_price_items
from nepse.store import open_store

TOKEN = "tok-" + pysecrets.token_hex(248)  # 500 characters


def test_token_is_500_characters():
    assert len(TOKEN) == 500


def test_long_token_echoed_in_an_error_body_never_leaks(settings, monkeypatch, caplog, tmp_path):
    monkeypatch.setenv("NEPSE_API_TOKEN", TOKEN)
    with FakeNepseApi(pl_prices(), token=TOKEN) as fake:
        s = load_settings(data_dir=settings.data_dir, api_base_url=fake.url)
        # The server echoes the Authorization header into its error body (as some do).
        fake.set_faults(fail_times=-1, fail_status=400, echo_auth=True)
        source = ApiSource(s)
        with caplog.at_level(logging.DEBUG), pytest.raises(SourceError) as info:
            source.fetch_day(date(2025, 8, 28), raw_dir=tmp_path / "raw")
        logging.getLogger("nepse.test").warning("request failed: %s", info.value)
    message = str(info.value)
    for prefix in (TOKEN, TOKEN[:100], TOKEN[:20]):
        assert prefix not in message
        assert prefix not in caplog.text
    assert "***" in message


def test_logs_and_stored_rejects_mask_a_registered_secret(settings, caplog):
    secrets.register(TOKEN)
    with caplog.at_level(logging.INFO):
        logging.getLogger("nepse.anything").info("token was %s", TOKEN)
        logging.getLogger("prefect.other").warning('body: {"auth": "%s"}', TOKEN)
    assert TOKEN[:30] not in caplog.text
    items = [
        {
            "businessDate": "2025-08-28",
            "symbol": "ADBL",
            "openPrice": TOKEN,  # unparseable: the raw item goes to rejected_prices
            "highPrice": 1.0,
            "lowPrice": 1.0,
            "closePrice": 1.0,
            "totalTradedQuantity": 1,
            "totalTradedValue": 1.0,
            "totalTrades": 1,
        }
    ]
    read = parse_today_price_items(items, source="api", first_record=1)
    with open_store(settings.database) as store:
        ingest_read(store, read, settings=settings, today=date(2025, 8, 28))
        rejects = store.rejects()
    assert rejects.height == 1
    for column in ("raw", "detail"):
        assert TOKEN[:20] not in (rejects[column][0] or "")


def pl_prices():
    import polars as pl

    return pl.DataFrame(
        {
            "symbol": ["ADBL"],
            "date": [date(2025, 8, 28)],
            "open": [1.0],
            "high": [1.0],
            "low": [1.0],
            "close": [1.0],
            "volume": [1.0],
            "turnover": [1.0],
            "trades": [1],
        }
    )
