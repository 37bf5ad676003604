"""`nepse daily --source api` on the exchange protocol: nepsepy against the fake exchange
serving the sample market, then scoring with the trained champion (test_daily's fixtures)."""

from __future__ import annotations

import pytest

from nepse.devdata.fake_api import load_prices
from nepse.devdata.fake_exchange import PROVE_PATH, TODAY_PRICE_PATH, FakeExchange
from tests.flows.test_daily import _db, _run, data_dir, trained_dir  # noqa: F401  (fixtures)

pytestmark = pytest.mark.usefixtures("prefect_harness")


@pytest.fixture
def exchange(sample_dir, data_dir, monkeypatch):  # noqa: F811
    with FakeExchange(load_prices(sample_dir), token_ttl_s=0.5) as fx:
        monkeypatch.setenv("NEPSE_API_BASE_URL", fx.url)
        monkeypatch.setenv("NEPSE_SHARESANSAR_URL", f"{fx.url}/today-share-price")
        monkeypatch.setenv("NEPSE_EXCHANGE_MIN_INTERVAL_S", "0")
        monkeypatch.setenv("NEPSE_API_DATASET", "sample")  # it serves the sample market
        monkeypatch.setenv("NEPSE_API_PAGE_SIZE", "7")  # several pages for 30 symbols
        monkeypatch.delenv("NEPSE_API_TOKEN", raising=False)
        yield fx


def test_daily_source_api_scores_from_the_exchange(exchange, data_dir):  # noqa: F811
    day = max(exchange.days)
    state, out = _run(source="api", as_of=day)
    assert state.is_completed(), state.message
    assert out.as_of == day and out.n_predictions > 0
    stats = exchange.stats()
    assert stats[PROVE_PATH] >= 1 and stats[TODAY_PRICE_PATH] >= 4  # 25 rows, 7 a page
    con = _db(data_dir)
    try:
        kinds = {k for (k,) in con.execute(
            "SELECT DISTINCT kind FROM price_observations WHERE date = ?", [day]
        ).fetchall()}  # fmt: skip
        scored = con.execute("SELECT count(*) FROM predictions WHERE date = ?", [day]).fetchone()
        days = con.execute(
            "SELECT status FROM ingested_days WHERE date = ? AND source = 'api'", [day]
        ).fetchall()
    finally:
        con.close()
    assert "nepse_api" in kinds  # the exchange's rows are stored as their own kind
    assert scored[0] > 0
    assert days == [("ok",)]
