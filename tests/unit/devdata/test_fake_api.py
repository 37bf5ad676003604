"""The fake NEPSE API itself: JSON shape, paging, fault control over HTTP, stats, the CLI."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import httpx
import polars as pl
import pytest

from nepse.devdata.fake_api import (
    TODAY_PRICE_PATH,
    FakeNepseApi,
    Faults,
    load_prices,
    today_price_items,
)
from nepse.devdata.serve import fake_api_main as main

NEPSE = str(Path(sys.executable).parent / "nepse")

D1, D2, D3 = date(2025, 8, 26), date(2025, 8, 27), date(2025, 8, 28)
DOCUMENTED_FIELDS = {
    "id",
    "businessDate",
    "securityId",
    "symbol",
    "securityName",
    "openPrice",
    "highPrice",
    "lowPrice",
    "closePrice",
    "totalTradedQuantity",
    "totalTradedValue",
    "previousDayClosePrice",
    "fiftyTwoWeekHigh",
    "fiftyTwoWeekLow",
    "lastUpdatedTime",
    "lastUpdatedPrice",
    "totalTrades",
    "averageTradedPrice",
    "marketCapitalization",
}


@pytest.fixture
def prices() -> pl.DataFrame:
    rows = [
        ("ADBL", D1, 300.0, 320.0, 298.0, 301.0, 1000.0, 301000.0, 10),
        ("ADBL", D2, 301.0, 305.0, 290.0, 295.0, 2000.0, 590000.0, 20),
        ("ADBL", D3, 295.0, 299.0, 294.0, 297.5, 400.0, 119000.0, 4),
        ("NABIL", D3, 500.0, 510.0, 495.0, 505.0, 200.0, 101000.0, 5),
        ("API", D3, 250.0, 255.0, 249.0, 254.0, 0.0, 0.0, 0),
    ]
    cols = ["symbol", "date", "open", "high", "low", "close", "volume", "turnover", "trades"]
    return pl.DataFrame(rows, schema=cols, orient="row")


@pytest.fixture
def fake(prices):
    with FakeNepseApi(prices) as server:
        yield server


def get_day(fake, day, page=0, size=20, **kw):
    params = {"businessDate": day.isoformat(), "page": page, "size": size}
    return httpx.get(f"{fake.url}{TODAY_PRICE_PATH}", params=params, timeout=2, **kw)


def test_items_carry_every_documented_field_with_derived_values(prices):
    days = today_price_items(prices)

    assert sorted(days) == [D1, D2, D3]
    adbl = next(i for i in days[D3] if i["symbol"] == "ADBL")
    assert set(adbl) == DOCUMENTED_FIELDS
    assert adbl["businessDate"] == "2025-08-28"
    assert adbl["closePrice"] == 297.5
    assert adbl["previousDayClosePrice"] == 295  # whole numbers are written without ".0"
    assert (adbl["fiftyTwoWeekHigh"], adbl["fiftyTwoWeekLow"]) == (320, 290)
    assert adbl["averageTradedPrice"] == round(119000 / 400, 2)
    assert [i["symbol"] for i in days[D3]] == ["ADBL", "API", "NABIL"]
    api = next(i for i in days[D3] if i["symbol"] == "API")
    assert api["averageTradedPrice"] is None  # no volume: no average, not a division by zero
    assert days[D1][0]["previousDayClosePrice"] is None
    ids = [i["id"] for d in days.values() for i in d]
    assert len(set(ids)) == len(ids)


def test_frame_without_a_price_column_is_refused(prices):
    with pytest.raises(ValueError, match="lacks column\\(s\\) trades"):
        today_price_items(prices.drop("trades"))


def test_pages_follow_the_spring_shape(fake):
    pages = [get_day(fake, D3, page=p, size=2).json() for p in range(3)]

    assert [len(p["content"]) for p in pages] == [2, 1, 0]
    assert [p["number"] for p in pages] == [0, 1, 2]
    assert [p["last"] for p in pages] == [False, True, True]
    assert {p["totalPages"] for p in pages} == {2}
    assert {p["totalElements"] for p in pages} == {3}


def test_unknown_day_is_an_empty_page(fake):
    body = get_day(fake, date(2025, 8, 29)).json()
    assert (body["content"], body["totalElements"], body["totalPages"]) == ([], 0, 0)


def test_max_page_size_caps_the_asked_size(prices):
    with FakeNepseApi(prices, max_page_size=1) as server:
        body = get_day(server, D3, size=500).json()
    assert (len(body["content"]), body["totalPages"]) == (1, 3)


def test_bad_query_and_unknown_path(fake):
    assert httpx.get(f"{fake.url}{TODAY_PRICE_PATH}?page=0", timeout=2).status_code == 400
    assert httpx.get(f"{fake.url}/api/other", timeout=2).status_code == 404


def test_token_is_required_when_set(prices):
    with FakeNepseApi(prices, token="t0k") as server:
        assert get_day(server, D3).status_code == 401
        assert get_day(server, D3, headers={"Authorization": "Bearer t0k"}).status_code == 200


def test_faults_set_over_http_fail_n_times_then_succeed(fake):
    answer = httpx.post(
        f"{fake.url}/_faults",
        json={"fail_times": 2, "fail_status": 429, "retry_after": "3"},
        timeout=2,
    )
    assert answer.status_code == 200
    assert answer.json()["fail_times"] == 2

    first, second, third = (get_day(fake, D3) for _ in range(3))

    assert (first.status_code, second.status_code, third.status_code) == (429, 429, 200)
    assert first.headers["Retry-After"] == "3"
    stats = httpx.get(f"{fake.url}/_stats", timeout=2).json()
    assert stats["paths"] == {TODAY_PRICE_PATH: 3}
    assert stats["requests"] == 3


def test_unknown_fault_is_a_400(fake):
    answer = httpx.post(f"{fake.url}/_faults", json={"fial_times": 1}, timeout=2)
    assert answer.status_code == 400
    assert "fial_times" in answer.json()["error"]
    assert fake.faults == Faults()


def test_empty_fault_object_clears_faults_and_reset_zeroes_stats(fake):
    fake.set_faults(fail_times=-1, fail_status=500)
    assert get_day(fake, D3).status_code == 500
    httpx.post(f"{fake.url}/_faults", json={}, timeout=2)
    assert get_day(fake, D3).status_code == 200
    httpx.post(f"{fake.url}/_reset", timeout=2)
    assert fake.stats()["requests"] == 0


@pytest.mark.parametrize(
    ("faults", "check"),
    [
        ({"market_open": True}, lambda r: {i["closePrice"] for i in r.json()["content"]} == {None}),
        ({"holidays": ["2025-08-28"]}, lambda r: r.json()["content"] == []),
        (
            {"rename_fields": {"closePrice": "ltp"}},
            lambda r: (
                "ltp" in r.json()["content"][0] and "closePrice" not in r.json()["content"][0]
            ),
        ),
        ({"rename_page_fields": {"content": "data"}}, lambda r: "content" not in r.json()),
        ({"truncate": True}, lambda r: r.text.startswith("{") and not r.text.endswith("}")),
        ({"truncate": True, "pages": [1]}, lambda r: r.json()["totalElements"] == 3),
    ],
)
def test_payload_faults(fake, faults, check):
    fake.set_faults(faults)
    assert check(get_day(fake, D3))


def test_slow_answer_trips_a_client_read_timeout(fake):
    fake.set_faults(delay_s=1.0)
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(f"{fake.url}{TODAY_PRICE_PATH}?businessDate=2025-08-28", timeout=0.2)


def test_dropped_connection(fake):
    fake.set_faults(drop_connection=True)
    with pytest.raises(httpx.RemoteProtocolError):
        get_day(fake, D3)


def test_load_prices_reads_a_folder_of_parquet_and_csv(prices, tmp_path):
    prices.head(2).write_parquet(tmp_path / "a.parquet")
    prices.tail(3).write_csv(tmp_path / "b.csv")
    loaded = load_prices(tmp_path).sort("symbol", "date")
    assert loaded.height == 5
    assert loaded.schema["date"] == pl.Date
    with pytest.raises(FileNotFoundError):
        load_prices(tmp_path / "missing")


def test_main_refuses_a_missing_data_path(tmp_path, capsys):
    assert main(["--data", str(tmp_path / "nope")]) == 2
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.slow  # starts the `nepse` CLI as a server process (tests/conftest.py)
def test_cli_serves_from_another_process(prices, tmp_path):
    prices.write_parquet(tmp_path / "prices.parquet")
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "nepse"),
            "fake-api",
            "--data",
            str(tmp_path),
            "--port",
            "0",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert "serving 3 day(s)" in line
        url = line.rsplit(" at ", 1)[1].strip()
        httpx.post(f"{url}/_faults", json={"fail_times": 1}, timeout=5)
        codes = [
            httpx.get(
                f"{url}{TODAY_PRICE_PATH}?businessDate=2025-08-28&page=0&size=5", timeout=5
            ).status_code
            for _ in range(2)
        ]
        assert codes == [503, 200]
        assert httpx.get(f"{url}/_stats", timeout=5).json()["paths"][TODAY_PRICE_PATH] == 2
    finally:
        proc.terminate()
        code = proc.wait(timeout=10)
    assert code == 0  # SIGTERM is a clean shutdown
