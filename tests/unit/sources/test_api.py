"""ApiSource against the fake NEPSE API on 127.0.0.1: paging, every fault class, raw pages, TLS."""

from __future__ import annotations

import json
import logging
import socket
import ssl
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from nepse.devdata.fake_api import TODAY_PRICE_PATH, FakeNepseApi
from nepse.errors import ConfigError, SourceError, TransientSourceError
from nepse.ingest.service import ingest_read
from nepse.schema import READ_PRICE_SCHEMA, REJECT_SCHEMA
from nepse.settings import load_settings
from nepse.sources import api as api_module
from nepse.sources.api import (
    REQUIRED_FIELDS,
    ApiDayResult,
    ApiSource,
    parse_retry_after,
    parse_today_price_items,
    save_raw,
)

DAY = date(2025, 8, 28)
PREV = date(2025, 8, 27)
TOKEN = "tok-3f9a-very-secret-7c21"


@pytest.fixture
def prices() -> pl.DataFrame:
    """Five symbols on DAY (three pages of two), two of them also on PREV."""
    rows = [
        ("ADBL", PREV, 300.0, 305.0, 298.0, 301.0, 1000.0, 301000.0, 10),
        ("NABIL", PREV, 500.0, 510.0, 495.0, 505.0, 200.0, 101000.0, 5),
        ("ADBL", DAY, 301.0, 310.0, 300.0, 309.5, 1500.0, 462000.0, 12),
        ("API", DAY, 250.0, 255.0, 249.0, 254.0, 300.0, 76000.0, 3),
        ("NABIL", DAY, 505.0, 506.0, 490.0, 492.3, 400.0, 197000.0, 8),
        ("NICA", DAY, 800.0, 820.0, 799.0, 815.0, 50.0, 40500.0, 2),
        ("UPPER", DAY, 120.0, 121.0, 118.0, 118.5, 9000.0, 1071000.0, 40),
    ]
    cols = ["symbol", "date", "open", "high", "low", "close", "volume", "turnover", "trades"]
    return pl.DataFrame(rows, schema=cols, orient="row")


@pytest.fixture
def fake(prices):
    with FakeNepseApi(prices, token=TOKEN) as server:
        yield server


@pytest.fixture
def make_source(settings, tmp_path):
    """ApiSource factory: the conftest `settings` fixture has cleared NEPSE_* from the env."""

    def make(url: str, **overrides) -> ApiSource:
        values = {
            "data_dir": tmp_path / "data",
            "api_base_url": url,
            "api_token": TOKEN,
            "api_page_size": 2,
            "api_connect_timeout_s": 0.5,
            "api_read_timeout_s": 0.5,
            **overrides,
        }
        return ApiSource(load_settings(**values))

    return make


@pytest.fixture
def raw_dir(tmp_path) -> Path:
    return tmp_path / "raw"


# --- the happy path --------------------------------------------------------------------------
def test_three_pages_are_reassembled_with_record_numbers(fake, make_source, raw_dir):
    result = make_source(fake.url).fetch_day(DAY, raw_dir=raw_dir)

    assert isinstance(result, ApiDayResult)
    assert (result.status, result.pages, result.market_open, result.holiday) == (
        "ok",
        3,
        False,
        False,
    )
    expected = pl.DataFrame(
        {
            "symbol": ["ADBL", "API", "NABIL", "NICA", "UPPER"],
            "date": [DAY] * 5,
            "open": [301.0, 250.0, 505.0, 800.0, 120.0],
            "high": [310.0, 255.0, 506.0, 820.0, 121.0],
            "low": [300.0, 249.0, 490.0, 799.0, 118.0],
            "close": [309.5, 254.0, 492.3, 815.0, 118.5],
            "volume": [1500.0, 300.0, 400.0, 50.0, 9000.0],
            "turnover": [462000.0, 76000.0, 197000.0, 40500.0, 1071000.0],
            "trades": [12, 3, 8, 2, 40],
            "line": [1, 2, 3, 4, 5],
        },
        schema={c: READ_PRICE_SCHEMA[c] for c in [*api_module.FIELD_MAP.values(), "line"]},
    )
    assert_frame_equal(result.prices.select(expected.columns), expected)
    assert result.rejects.is_empty()
    # `raw` is the item's JSON, as served.
    raw = json.loads(result.prices["raw"][2])
    assert (raw["symbol"], raw["closePrice"], raw["previousDayClosePrice"]) == ("NABIL", 492.3, 505)
    assert result.prices["source"].unique().to_list() == [
        f"{fake.url}{TODAY_PRICE_PATH}?businessDate={DAY}"
    ]
    assert [p.name for p in result.raw_files] == ["page-0.json", "page-1.json", "page-2.json"]
    assert all(p.parent == raw_dir / DAY.isoformat() for p in result.raw_files)
    assert fake.stats()["paths"] == {TODAY_PRICE_PATH: 3}


def test_raw_pages_are_never_overwritten_by_a_second_run(fake, make_source, raw_dir):
    source = make_source(fake.url)
    first = source.fetch_day(DAY, raw_dir=raw_dir)
    before = first.raw_files[0].read_bytes()
    second = source.fetch_day(DAY, raw_dir=raw_dir)

    assert [p.name for p in second.raw_files] == ["page-0.1.json", "page-1.1.json", "page-2.1.json"]
    assert first.raw_files[0].read_bytes() == before
    assert len(list((raw_dir / DAY.isoformat()).iterdir())) == 6


def test_save_raw_picks_a_new_name_when_taken(tmp_path):
    a = save_raw(b"first", tmp_path / "d", "page-0")
    b = save_raw(b"second", tmp_path / "d", "page-0")
    c = save_raw(b"third", tmp_path / "d", "page-0")

    assert (a.name, b.name, c.name) == ("page-0.json", "page-0.1.json", "page-0.2.json")
    assert [p.read_bytes() for p in (a, b, c)] == [b"first", b"second", b"third"]


# --- transient faults: Prefect retries these --------------------------------------------------
@pytest.mark.parametrize(
    ("status", "retry_after", "expected_wait"),
    [(500, None, None), (503, None, None), (503, "2", 2.0), (429, "7", 7.0), (429, None, None)],
)
def test_server_errors_and_429_are_transient(
    fake, make_source, raw_dir, status, retry_after, expected_wait
):
    fake.set_faults(fail_times=1, fail_status=status, retry_after=retry_after)

    with pytest.raises(TransientSourceError) as info:
        make_source(fake.url).fetch_day(DAY, raw_dir=raw_dir)

    assert info.value.retry_after == expected_wait
    assert f"HTTP {status}" in str(info.value)
    assert "page=0" in str(info.value)
    assert not raw_dir.exists()  # error answers are not price data


def test_fetch_succeeds_after_n_failures_as_a_retrying_caller_would_see(fake, make_source, raw_dir):
    fake.set_faults(fail_times=2, fail_status=503)
    source = make_source(fake.url)

    for _ in range(2):
        with pytest.raises(TransientSourceError):
            source.fetch_day(DAY, raw_dir=raw_dir)
    result = source.fetch_day(DAY, raw_dir=raw_dir)

    assert result.prices.height == 5
    assert fake.stats()["paths"][TODAY_PRICE_PATH] == 2 + 3


def test_read_timeout_is_transient(fake, make_source, raw_dir):
    fake.set_faults(delay_s=1.5)  # beyond make_source's 0.5 s read timeout

    with pytest.raises(TransientSourceError) as info:
        make_source(fake.url).fetch_day(DAY, raw_dir=raw_dir)

    assert "ReadTimeout" in str(info.value)
    assert "read timeout 0.5s" in str(info.value)


def test_connection_refused_is_transient(make_source, raw_dir):
    with socket.socket() as sock:  # a port that was free a moment ago: nobody listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    with pytest.raises(TransientSourceError) as info:
        make_source(f"http://127.0.0.1:{port}").fetch_day(DAY, raw_dir=raw_dir)

    assert "ConnectError" in str(info.value)


def test_dropped_connection_is_transient(fake, make_source, raw_dir):
    fake.set_faults(drop_connection=True, pages=[1])

    with pytest.raises(TransientSourceError) as info:
        make_source(fake.url).fetch_day(DAY, raw_dir=raw_dir)

    assert "page=1" in str(info.value)
    assert "RemoteProtocolError" in str(info.value)


def test_total_elements_changing_while_paging_is_transient(make_source, raw_dir, monkeypatch):
    real = api_module._parse_page

    def shrink(body, **kwargs):
        page = real(body, **kwargs)
        return api_module._Page(
            page.number, page.items, page.total_pages, 6, page.last, page.raw_file
        )

    monkeypatch.setattr(api_module, "_parse_page", shrink)
    prices = pl.DataFrame(
        {
            "symbol": ["A"],
            "date": [DAY],
            **{c: [1.0] for c in ["open", "high", "low", "close", "volume", "turnover"]},
            "trades": [1],
        }
    )
    with FakeNepseApi(prices) as server, pytest.raises(TransientSourceError) as info:
        make_source(server.url).fetch_day(DAY, raw_dir=raw_dir)
    assert "totalElements=6" in str(info.value)


# --- permanent faults: retrying cannot help ----------------------------------------------------
@pytest.mark.parametrize(("status", "hint"), [(401, "NEPSE_API_TOKEN"), (404, "BASE_URL")])
def test_client_errors_are_permanent_with_status_and_body(fake, make_source, raw_dir, status, hint):
    fake.set_faults(fail_times=-1, fail_status=status)

    with pytest.raises(SourceError) as info:
        make_source(fake.url).fetch_day(DAY, raw_dir=raw_dir)

    assert not isinstance(info.value, TransientSourceError)
    message = str(info.value)
    assert f"HTTP {status}" in message
    assert TODAY_PRICE_PATH in message  # the first 200 chars of the body
    assert hint in message


@pytest.mark.parametrize("url", ["ftp://127.0.0.1:9", "http://[::1", "127.0.0.1:8080"])
def test_unusable_base_url_is_a_config_error_at_construction(make_source, url):
    with pytest.raises(ConfigError, match="api_base_url"):
        make_source(url)


def test_wrong_token_is_refused_by_the_fake(fake, make_source, raw_dir):
    with pytest.raises(SourceError, match="HTTP 401"):
        make_source(fake.url, api_token="not-the-token").fetch_day(DAY, raw_dir=raw_dir)


def test_truncated_json_is_permanent_and_the_raw_page_is_kept(fake, make_source, raw_dir):
    fake.set_faults(truncate=True, pages=[1])

    with pytest.raises(SourceError) as info:
        make_source(fake.url).fetch_day(DAY, raw_dir=raw_dir)

    assert not isinstance(info.value, TransientSourceError)
    saved = sorted(p.name for p in (raw_dir / DAY.isoformat()).iterdir())
    assert saved == ["page-0.json", "page-1.json"]  # saved before parsing, even the bad one
    bad = (raw_dir / DAY.isoformat() / "page-1.json").read_bytes()
    message = str(info.value)
    assert "not valid JSON" in message
    assert f"received {len(bad)} bytes" in message
    assert "page-1.json" in message
    with pytest.raises(json.JSONDecodeError):
        json.loads(bad)


def test_changed_item_schema_names_the_missing_and_received_fields(fake, make_source, raw_dir):
    fake.set_faults(rename_fields={"closePrice": "ltp", "totalTrades": "noOfTransactions"})

    with pytest.raises(SourceError) as info:
        make_source(fake.url).fetch_day(DAY, raw_dir=raw_dir)

    message = str(info.value)
    assert not isinstance(info.value, TransientSourceError)
    assert "lacks required field(s) closePrice, totalTrades" in message
    assert "ltp" in message and "noOfTransactions" in message
    assert (raw_dir / DAY.isoformat() / "page-0.json").is_file()


def test_changed_page_envelope_is_permanent(fake, make_source, raw_dir):
    fake.set_faults(rename_page_fields={"content": "data"})

    with pytest.raises(SourceError, match=r"lacks content \(keys received: data,"):
        make_source(fake.url).fetch_day(DAY, raw_dir=raw_dir)


def test_server_ignoring_business_date_is_refused(fake, make_source, raw_dir):
    fake.set_faults(ignore_business_date=True)

    with pytest.raises(
        SourceError, match="asked for 2025-08-27 but items carry businessDate 2025-08-28"
    ):
        make_source(fake.url).fetch_day(PREV, raw_dir=raw_dir)


# --- holidays and trading hours -----------------------------------------------------------------
@pytest.mark.parametrize("how", ["absent_from_frame", "holiday_fault"])
def test_empty_day_is_a_holiday(fake, make_source, raw_dir, how):
    day = date(2025, 8, 29) if how == "absent_from_frame" else DAY
    if how == "holiday_fault":
        fake.set_faults(holidays=[DAY.isoformat()])

    result = make_source(fake.url).fetch_day(day, raw_dir=raw_dir)

    assert (result.status, result.holiday, result.rows_read, result.pages) == (
        "holiday",
        True,
        0,
        1,
    )
    assert result.prices.schema == pl.Schema(READ_PRICE_SCHEMA)
    assert (raw_dir / day.isoformat() / "page-0.json").is_file()
    assert fake.stats()["paths"][TODAY_PRICE_PATH] == 1


def test_market_open_holds_back_the_whole_day(fake, make_source, raw_dir):
    fake.set_faults(market_open=True)

    result = make_source(fake.url).fetch_day(DAY, raw_dir=raw_dir)

    assert (result.status, result.market_open, result.holiday) == ("market_open", True, False)
    assert result.prices.is_empty()
    assert result.rejects["reason"].to_list() == ["market_open"] * 5
    assert result.rejects["line"].to_list() == [1, 2, 3, 4, 5]


def test_market_open_on_one_page_still_stores_no_partial_day(fake, make_source, raw_dir):
    fake.set_faults(market_open=True, pages=[2])

    result = make_source(fake.url).fetch_day(DAY, raw_dir=raw_dir)

    assert result.market_open
    assert result.prices.is_empty()
    assert result.rows_read == 5
    details = dict(zip(result.rejects["line"], result.rejects["detail"], strict=True))
    assert details[5] == "closePrice is null"
    assert details[1].startswith("held back")


# --- parsing -----------------------------------------------------------------------------------
def _item(**changes):
    item = {
        "id": 1,
        "businessDate": "2025-08-28",
        "securityId": 397,
        "symbol": "ADBL",
        "securityName": "Agricultural Development Bank Limited",
        "openPrice": 330,
        "highPrice": 331.5,
        "lowPrice": 325,
        "closePrice": 327.55,
        "totalTradedQuantity": 66102,
        "totalTradedValue": 21700000.5,
        "previousDayClosePrice": 331.31,
        "totalTrades": 812,
    }
    item.update(changes)
    return item


def test_parse_maps_fields_and_numbers_records_from_first_record():
    items = [
        _item(),
        _item(symbol="NABIL", closePrice=None),
        _item(symbol="X", openPrice="abc", totalTrades=True),
        _item(symbol="Y", openPrice=None, businessDate="2025-08-28T00:00:00"),
    ]

    result = parse_today_price_items(items, source="api:test", first_record=11)

    assert result.prices["line"].to_list() == [11, 14]
    assert result.prices.row(0, named=True) | {"raw": None} == {
        "symbol": "ADBL",
        "date": DAY,
        "open": 330.0,
        "high": 331.5,
        "low": 325.0,
        "close": 327.55,
        "volume": 66102.0,
        "turnover": 21700000.5,
        "trades": 812,
        "source": "api:test",
        "line": 11,
        "raw": None,
        "kind": "nepse_api",
    }
    assert json.loads(result.prices["raw"][0]) == items[0]
    assert result.prices["open"][1] is None  # kept: quality rules judge a missing open
    expected_rejects = pl.DataFrame(
        {
            "source": ["api:test"] * 2,
            "line": [12, 13],
            "reason": ["market_open", "unparseable"],
            "detail": ["closePrice is null", "cannot parse openPrice='abc', totalTrades=True"],
        },
        schema={c: REJECT_SCHEMA[c] for c in ["source", "line", "reason", "detail"]},
    )
    assert_frame_equal(result.rejects.drop("raw", "date"), expected_rejects)
    assert result.rows_read == len(items)


def test_parse_of_nothing_is_empty_and_typed():
    result = parse_today_price_items([], source="s", first_record=1)
    assert result.rows_read == 0
    assert result.prices.schema == pl.Schema(READ_PRICE_SCHEMA)


@pytest.mark.parametrize("field", REQUIRED_FIELDS)
def test_parse_refuses_an_item_missing_any_required_field(field):
    item = _item()
    del item[field]
    with pytest.raises(SourceError, match=f"record 7 lacks required field\\(s\\) {field};"):
        parse_today_price_items([_item(), item], source="s", first_record=6)


@pytest.mark.parametrize(
    ("header", "expected"),
    [(None, None), ("", None), ("7", 7.0), (" 1.5 ", 1.5), ("-3", 0.0), ("soon", None)],
)
def test_parse_retry_after_seconds(header, expected):
    assert parse_retry_after(header) == expected


def test_parse_retry_after_http_date():
    now = datetime(2025, 8, 28, 9, 0, 0, tzinfo=UTC)
    header = (now + timedelta(seconds=90)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert parse_retry_after(header, now=now) == 90.0


# --- secrets -----------------------------------------------------------------------------------
def test_token_never_in_logs_errors_or_repr(fake, make_source, raw_dir, caplog):
    caplog.set_level(logging.DEBUG)  # httpx and httpcore log requests at DEBUG/INFO
    source = make_source(fake.url)
    source.fetch_day(DAY, raw_dir=raw_dir)  # succeeds: the fake saw the right Bearer token
    fake.set_faults(fail_times=-1, fail_status=401, echo_auth=True)
    with pytest.raises(SourceError) as info:
        source.fetch_day(DAY, raw_dir=raw_dir)
    fake.set_faults(fail_times=1, fail_status=503, echo_auth=True)
    with pytest.raises(TransientSourceError) as transient:
        source.fetch_day(DAY, raw_dir=raw_dir)

    assert "HTTP Request" in caplog.text  # the logs were captured at all
    assert "***" in str(info.value)  # the fake echoed the header and it was redacted
    for text in (caplog.text, str(info.value), str(transient.value), repr(source)):
        assert TOKEN not in text


# --- TLS ---------------------------------------------------------------------------------------
def test_tls_verification_is_on_by_default(make_source):
    assert make_source("https://example.invalid").tls_verify() is True


def test_ca_bundle_reaches_httpx(make_source, tmp_path, monkeypatch):
    import certifi

    seen: dict = {}
    real_client, real_transport = httpx.Client, httpx.HTTPTransport

    def spy(real):
        def make(*args, **kwargs):
            seen.update(kwargs)
            return real(*args, **kwargs)

        return make

    monkeypatch.setattr(api_module.httpx, "Client", spy(real_client))
    monkeypatch.setattr(api_module.httpx, "HTTPTransport", spy(real_transport))
    source = make_source("https://example.invalid", api_ca_bundle=Path(certifi.where()))
    source.client().close()

    assert isinstance(seen["verify"], ssl.SSLContext)
    assert seen["verify"].verify_mode == ssl.CERT_REQUIRED
    assert seen["verify"].cert_store_stats()["x509_ca"] > 10
    assert (seen["timeout"].connect, seen["timeout"].read) == (0.5, 0.5)


def test_missing_or_garbage_ca_bundle_is_a_config_error(make_source, tmp_path):
    with pytest.raises(ConfigError, match="NEPSE_API_CA_BUNDLE"):
        make_source("https://x", api_ca_bundle=tmp_path / "nope.pem").tls_verify()
    (tmp_path / "junk.pem").write_text("not a certificate")
    with pytest.raises(ConfigError, match="no usable PEM CA"):
        make_source("https://x", api_ca_bundle=tmp_path / "junk.pem").tls_verify()


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    """A throwaway CA and a server certificate for 127.0.0.1 signed by it."""
    x509 = pytest.importorskip("cryptography.x509")
    from ipaddress import IPv4Address

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    folder = tmp_path_factory.mktemp("tls")
    now = datetime.now(UTC)

    def cert(subject, key, issuer, issuer_key, *, ca):
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(IPv4Address("127.0.0.1"))]),
                critical=False,
            )
        else:
            builder = builder.add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
        return builder.sign(issuer_key, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = cert("nepse test CA", ca_key, "nepse test CA", ca_key, ca=True)
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = cert("127.0.0.1", key, "nepse test CA", ca_key, ca=False)
    pem = serialization.Encoding.PEM
    (folder / "ca.pem").write_bytes(ca.public_bytes(pem))
    (folder / "server.pem").write_bytes(leaf.public_bytes(pem))
    (folder / "server.key").write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return folder


@pytest.fixture
def tls_fake(prices, tls_files):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tls_files / "server.pem", tls_files / "server.key")
    with FakeNepseApi(prices, ssl_context=context) as server:
        yield server


def test_tls_unknown_ca_is_permanent_and_says_how_to_fix(tls_fake, make_source, raw_dir):
    assert tls_fake.url.startswith("https://")
    with pytest.raises(SourceError) as info:
        make_source(tls_fake.url).fetch_day(DAY, raw_dir=raw_dir)
    assert not isinstance(info.value, TransientSourceError)
    assert "NEPSE_API_CA_BUNDLE" in str(info.value)


def test_tls_with_ca_bundle_succeeds(tls_fake, tls_files, make_source, raw_dir):
    source = make_source(tls_fake.url, api_ca_bundle=tls_files / "ca.pem")
    assert source.fetch_day(DAY, raw_dir=raw_dir).prices.height == 5


def test_tls_verification_off_warns_on_every_request(tls_fake, make_source, raw_dir, caplog):
    caplog.set_level(logging.WARNING, logger="nepse.sources.api")
    source = make_source(tls_fake.url, api_verify_tls=False)
    assert source.tls_verify() is False

    result = source.fetch_day(DAY, raw_dir=raw_dir)

    warnings = [r for r in caplog.records if "TLS certificate verification is OFF" in r.message]
    assert result.pages == 3
    assert len(warnings) == 3
    assert {r.levelno for r in warnings} == {logging.WARNING}


# --- hand-over to the store (helper H2's nepse/store.py) ----------------------------------------
def test_fetched_day_ingests_into_the_store(fake, make_source, raw_dir, tmp_path):
    store_module = pytest.importorskip("nepse.store")
    source = make_source(fake.url)
    day = source.fetch_day(DAY, raw_dir=raw_dir)
    fake.set_faults(market_open=True)
    held = source.fetch_day(DAY, raw_dir=raw_dir)

    with store_module.open_store(tmp_path / "t.duckdb") as store:
        report = ingest_read(store, day, settings=source.settings, today=DAY)
        stored = store.prices()
        late = ingest_read(store, held, settings=source.settings, today=DAY)

    assert (report.rows_read, report.inserted, report.rejected) == (5, 5, 0)
    assert stored["symbol"].to_list() == ["ADBL", "API", "NABIL", "NICA", "UPPER"]
    # A market-open day writes no price at all, whatever the caller does with the flag.
    assert (late.inserted, late.updated, late.rejected) == (0, 0, 5)


# Each byte arrives well inside the read timeout; the whole answer would take minutes.
TRICKLE = {"trickle_s": 0.05}
DEADLINE = 1.0


def test_the_api_source_stops_a_trickling_answer(fake, make_source, tmp_path):
    fake.set_faults(TRICKLE)
    source = make_source(fake.url, api_deadline_s=DEADLINE)
    with pytest.raises(TransientSourceError, match="no complete answer within 1 s") as caught:
        source.fetch_day(DAY, raw_dir=tmp_path / "raw")
    assert "businessDate=2025-08-28" in str(caught.value)
    fake.set_faults()
    assert source.fetch_day(DAY, raw_dir=tmp_path / "raw").rows_read == 5  # the retry works
