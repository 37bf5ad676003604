"""The flows on the real exchange protocol: nepsepy's own code against the fake exchange.

`nepse backfill` and `nepse daily --source api` run with no API token, so source 'api' is the
exchange (prove, css.wasm, Salter, payload ids) with ShareSansar's page as the fallback, both
served by one `FakeExchange` on 127.0.0.1. Retry delays are cut to milliseconds with
`.with_options` (which errors are retried is unchanged).
"""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from nepse.devdata.fake_exchange import PROVE_PATH, REFRESH_PATH, FakeExchange
from tests.flows.test_live import D1, D2, D3, assert_same_tables, hand_prices, snapshot

pytestmark = pytest.mark.usefixtures("prefect_harness")
FAST_DELAY = 0.02


class ExpiringExchange(FakeExchange):
    """Expires every access token after each today-price page: a refresh between pages."""

    def _today_price(self, h, query, session, body):
        super()._today_price(h, query, session, body)
        self.expire_tokens()


@pytest.fixture
def exchange():
    with ExpiringExchange(hand_prices()) as fx:
        yield fx


@pytest.fixture
def exchange_env(flow_env, exchange, monkeypatch):
    """Flow settings pointing at the fake exchange: no token, 2 items a page.

    The read timeout is generous: these tests count handshakes, and a 0.5 s timeout made a
    slow moment of a loaded CI machine retry one day (5 handshakes counted, not 4)."""
    monkeypatch.setenv("NEPSE_API_BASE_URL", exchange.url)
    monkeypatch.setenv("NEPSE_SHARESANSAR_URL", f"{exchange.url}/today-share-price")
    monkeypatch.setenv("NEPSE_API_PAGE_SIZE", "2")
    monkeypatch.setenv("NEPSE_API_READ_TIMEOUT_S", "10")
    monkeypatch.setenv("NEPSE_EXCHANGE_MIN_INTERVAL_S", "0")
    monkeypatch.setenv("NEPSE_FALLBACK_MIN_ROWS", "3")
    return flow_env


@pytest.fixture
def fast_retries(monkeypatch):
    import flows.backfill
    from tasks.fetch import fetch_and_ingest_day

    fast = fetch_and_ingest_day.with_options(
        retry_delay_seconds=FAST_DELAY, retry_jitter_factor=None
    )
    monkeypatch.setattr(flows.backfill, "fetch_and_ingest_day", fast)
    return fast


def run_backfill(start: date, end: date):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    from flows.backfill import backfill_prices

    state = backfill_prices(start=start, end=end, return_state=True)
    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(
                id=FlowRunFilterId(any_=[state.state_details.flow_run_id])
            )
        )
    fetches = {r.name.removeprefix("fetch-and-ingest-"): r for r in runs if "fetch" in r.name}
    return state, fetches


def test_backfill_runs_the_handshake_refreshes_and_pages(exchange_env, exchange, fast_retries):
    state, _ = run_backfill(D1, D3)
    assert state.is_completed(), state.message
    assert state.result()["statuses"] == {"ok": 3}
    prices = snapshot(exchange_env.database)["prices"]
    assert prices.height == 15 and prices["date"].unique().sort().to_list() == [D1, D2, D3]
    stats = exchange.stats()
    assert stats[PROVE_PATH] == 4  # one session per day fetched, one for the security list
    assert stats[REFRESH_PATH] >= 6  # 3 pages a day, the token expired after each
    from nepse.store import open_store

    with open_store(exchange_env.database, read_only=True) as store:
        history = store.security_history()
    # The exchange's security list was recorded once (not once a day fetched), as of today.
    assert history.height == 5 and history["first_seen"].n_unique() == 1
    assert stats["/api/nots/company/list"] == 1
    raw = exchange_env.data_dir / "raw" / D2.isoformat()
    assert sorted(p.name for p in raw.glob("page-*.json")) == [
        "page-0.json",
        "page-1.json",
        "page-2.json",
    ]


def test_transient_exchange_faults_are_retried_to_completion(exchange_env, exchange, fast_retries):
    exchange.set_faults({"fail_times": 2, "fail_status": 503, "pages": [1]})
    # The fallback must not mask the retries here: it is asked for D2 and has only D3.
    state, fetches = run_backfill(D2, D2)
    assert state.is_completed(), state.message
    assert fetches[D2.isoformat()].run_count == 3
    assert snapshot(exchange_env.database)["prices"].height == 5


@pytest.mark.parametrize(
    "faults",
    [{"truncate": True, "pages": [1]}, {"rename_fields": {"closePrice": "ltp"}, "pages": [2]}],
    ids=["truncated-json", "changed-schema"],
)
def test_permanent_faults_store_nothing_partial(exchange_env, exchange, fast_retries, faults):
    assert run_backfill(D1, D1)[0].is_completed()
    before = snapshot(exchange_env.database, exact=True)
    exchange.set_faults(faults)
    state, fetches = run_backfill(D2, D2)
    assert state.is_failed()
    assert fetches[D2.isoformat()].run_count == 1  # not retried
    assert_same_tables(snapshot(exchange_env.database, exact=True), before)


def test_market_open_stores_no_partial_day(exchange_env, exchange, fast_retries):
    exchange.set_faults({"market_open": True, "pages": [1]})
    state, _ = run_backfill(D2, D2)
    assert state.result()["statuses"] == {"market_open": 1}
    assert snapshot(exchange_env.database)["prices"].height == 0


def test_fallback_end_to_end_when_the_exchange_is_down(exchange_env, exchange, fast_retries):
    exchange.set_faults({"fail_times": -1, "fail_status": 503})
    state, fetches = run_backfill(D3, D3)  # ShareSansar's page shows D3, the latest day
    assert state.is_completed(), state.message
    assert fetches[D3.isoformat()].run_count == 1  # the fallback answered: nothing to retry
    stored = snapshot(exchange_env.database)["prices"]
    assert stored.height == 5 and stored["date"].unique().to_list() == [D3]
    assert stored["source"].str.ends_with("sharesansar.html").all()


def test_fallback_disagreements_are_counted(exchange_env, flow_env, monkeypatch, fast_retries):
    other = hand_prices().with_columns(
        close=pl.when(pl.col("symbol") == "SYM1").then(pl.col("close") * 1.03)
        .otherwise(pl.col("close"))
    )  # fmt: skip
    with FakeExchange(hand_prices(), fallback_prices=other) as fx:
        monkeypatch.setenv("NEPSE_API_BASE_URL", fx.url)
        monkeypatch.setenv("NEPSE_SHARESANSAR_URL", f"{fx.url}/today-share-price")
        from tasks.fetch import fetch_and_ingest_day

        out = fetch_and_ingest_day(D3)
    assert out.status == "ok" and out.source_used == "nepse"
    assert out.conflicts == 1 and out.fallback_reason is None
    # Both answers are stored as observations of their kinds; the store records the conflict
    # and `prices` keeps the exchange's value (it ranks first).
    # The fallback's raised close lies above its own high, which the store repairs by widening
    # high (ohlc_repaired): so close and high disagree with the exchange.
    assert out.conflicts_stored == 2
    from nepse.store import open_store

    with open_store(flow_env.database, read_only=True) as store:
        found = store.conflicts()
        kinds = set(store.observations(current_only=True)["kind"])
        close = store.prices().filter(pl.col("symbol") == "SYM1")["close"].to_list()
    assert found.select("symbol", "column", "kind", "other_kind").rows() == [
        ("SYM1", "close", "nepse_api", "sharesansar_today"),
        ("SYM1", "high", "nepse_api", "sharesansar_today"),
    ]
    assert kinds == {"nepse_api", "sharesansar_today"}
    assert close == [
        hand_prices().filter(pl.col("symbol") == "SYM1", pl.col("date") == D3)["close"][0]
    ]


def test_a_day_the_exchange_lists_as_holiday_is_complete_at_once(
    exchange_env, exchange, fast_retries
):
    exchange.set_faults({"holidays": [D2.isoformat()]})  # empty answer and on the list
    state, _ = run_backfill(D1, D3)
    assert state.result()["statuses"] == {"ok": 2, "holiday": 1}  # not 'pending'
