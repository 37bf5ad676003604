"""The fake exchange: the handshake only a real client's cleaning code passes, payload ids, the
sample market folder served by both fakes, and the CLI."""

from __future__ import annotations

import subprocess
import sys
from datetime import date, datetime
from pathlib import Path
from random import Random

import httpx
import polars as pl
import pytest
from nepsepy.checksum import base as checksum_base
from nepsepy.checksum import variant_b
from nepsepy.wasm import WasmCleaner, strip_at_indexes

from nepse.devdata.exchange_protocol import (
    NPT,
    add_decoys,
    cut_positions,
    payload_id,
    wasm_bytes,
)
from nepse.devdata.fake_api import load_prices
from nepse.devdata.fake_exchange import (
    MARKET_OPEN_PATH,
    PROVE_PATH,
    REFRESH_PATH,
    TODAY_PRICE_PATH,
    WASM_PATH,
    FakeExchange,
)
from nepse.devdata.sample import write_sample

DAY = date(2025, 8, 28)


@pytest.fixture
def exchange():
    prices = pl.DataFrame(
        {
            "symbol": ["ADBL", "NABIL"],
            "date": [DAY, DAY],
            "open": [300.0, 500.0],
            "high": [310.0, 510.0],
            "low": [295.0, 495.0],
            "close": [305.0, 505.0],
            "volume": [100.0, 200.0],
            "turnover": [30500.0, 101000.0],
            "trades": [3, 4],
        }
    )
    with FakeExchange(prices) as fx:
        yield fx


def prove(client: httpx.Client) -> dict:
    return client.get(PROVE_PATH).json()


def salts_of(answer: dict) -> tuple[int, ...]:
    return tuple(answer[f"salt{i}"] for i in range(1, 6))


def test_only_the_cleaned_token_is_accepted(exchange):
    with httpx.Client(base_url=exchange.url) as client:
        answer = prove(client)
        cleaner = WasmCleaner.from_bytes(client.get(WASM_PATH).content)  # nepsepy's own code
        raw = answer["accessToken"]
        clean = cleaner.clean_access(raw, salts_of(answer))
        assert len(clean) == len(raw) - 5
        ok = client.get(MARKET_OPEN_PATH, headers={"Authorization": f"Salter {clean}"})
        assert ok.status_code == 200 and ok.json()["id"] == exchange.market_id
        for header in (f"Salter {raw}", f"Bearer {clean}", ""):
            refused = client.get(MARKET_OPEN_PATH, headers={"Authorization": header})
            assert refused.status_code == 401


def test_argument_order_matters_in_the_wasm():
    cleaner = WasmCleaner.from_bytes(wasm_bytes())
    salts = (101, 257, 389, 433, 977)
    assert cleaner.access_indexes(*salts) == cut_positions(salts, refresh=False)
    assert cleaner.refresh_indexes(*salts) == cut_positions(salts, refresh=True)
    assert cut_positions(salts, refresh=False) != cut_positions(salts, refresh=True)


def test_refresh_gives_a_new_session_and_retires_the_old_one(exchange):
    with httpx.Client(base_url=exchange.url) as client:
        answer = prove(client)
        cleaner = WasmCleaner.from_bytes(client.get(WASM_PATH).content)
        salts = salts_of(answer)
        access = cleaner.clean_access(answer["accessToken"], salts)
        refresh = cleaner.clean_refresh(answer["refreshToken"], salts)
        assert client.post(REFRESH_PATH, json={"refreshToken": "nope"}).status_code == 401
        renewed = client.post(REFRESH_PATH, json={"refreshToken": refresh})
        assert renewed.status_code == 200
        old = client.get(MARKET_OPEN_PATH, headers={"Authorization": f"Salter {access}"})
        assert old.status_code == 401
        new = renewed.json()
        fresh = cleaner.clean_access(new["accessToken"], salts_of(new))
        ok = client.get(MARKET_OPEN_PATH, headers={"Authorization": f"Salter {fresh}"})
        assert ok.status_code == 200


def test_today_price_wants_the_payload_id(exchange):
    with httpx.Client(base_url=exchange.url) as client:
        answer = prove(client)
        cleaner = WasmCleaner.from_bytes(client.get(WASM_PATH).content)
        salts = salts_of(answer)
        auth = {"Authorization": f"Salter {cleaner.clean_access(answer['accessToken'], salts)}"}
        day = datetime.now(NPT).day
        good = payload_id(exchange.market_id, salts, day)
        # The server's id is the one nepsepy's checksum computes (variant B for today-price).
        assert good == variant_b(checksum_base(exchange.market_id, day), salts, day)
        url = f"{TODAY_PRICE_PATH}?size=1&businessDate={DAY}"
        assert client.post(url, json={"id": good + 1}, headers=auth).status_code == 400
        page = client.post(url, json={"id": good}, headers=auth).json()
        assert page["totalPages"] == 2 and page["totalElements"] == 2
        assert [i["symbol"] for i in page["content"]] == ["ADBL"]


def test_strip_is_the_inverse_of_the_decoys():
    positions = cut_positions((1, 2, 3, 4, 5), refresh=False)
    token = "abcdefghij" * 10
    assert strip_at_indexes(add_decoys(token, positions, Random(0)), positions) == token


@pytest.fixture(scope="module")
def sample_folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("sample")
    write_sample(out, symbols=6, years=0.1, seed=5)
    return out


def test_both_fakes_serve_the_sample_market_folder(sample_folder):
    # The folder holds CompanyList.csv, dividends and rights beside the prices (issue 14).
    prices = load_prices(sample_folder)
    assert prices.height > 0
    assert prices.select("symbol", "date").is_unique().all()
    assert prices["close"].null_count() == 0
    with FakeExchange(prices) as fx:
        assert fx.days == sorted(prices["date"].unique().to_list())


def test_load_prices_names_a_folder_without_prices(tmp_path):
    (tmp_path / "notes.txt").write_text("nothing here")
    with pytest.raises(FileNotFoundError, match="no price rows"):
        load_prices(tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_prices(tmp_path / "missing")


@pytest.mark.slow  # starts the `nepse` CLI as a server process (tests/conftest.py)
@pytest.mark.parametrize("command", ["fake-exchange", "fake-api"])
def test_cli_serves_the_sample_folder(sample_folder, command):
    nepse = str(Path(sys.executable).parent / "nepse")
    proc = subprocess.Popen(
        [nepse, command, "--data", str(sample_folder)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert "serving" in line and "http://127.0.0.1:" in line, proc.stderr.read()
        url = line.rsplit(" at ", 1)[1].strip()
        if command == "fake-exchange":
            assert httpx.get(f"{url}{PROVE_PATH}").json()["salt1"] > 0
    finally:
        proc.terminate()
        proc.wait(timeout=10)
