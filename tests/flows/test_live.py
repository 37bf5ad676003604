"""Live data on the Prefect harness: the fake NEPSE API with injected faults, real retries.

Every flow run here fetches from a `FakeNepseApi` on 127.0.0.1. Retry delays are cut to a few
milliseconds with `.with_options` (the policy itself, which errors are retried, is unchanged).
"""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from nepse.devdata.fake_api import FakeNepseApi
from nepse.devdata.faults import DEADLINE_S, PERMANENT, READ_TIMEOUT_S, TRANSIENT

pytestmark = pytest.mark.usefixtures("prefect_harness")

D1, D2, D3 = date(2025, 8, 24), date(2025, 8, 25), date(2025, 8, 26)  # Sun, Mon, Tue
TOKEN = "tok-live-5d1e-never-log-me"
FAST_DELAY = 0.02


def hand_prices(days: list[date] = [D1, D2, D3], symbols: int = 5) -> pl.DataFrame:  # noqa: B006
    """`symbols` equities on each day, prices moving a little (no limit hits, no bad rows)."""
    rows = []
    for s in range(symbols):
        for k, day in enumerate(days):
            close = 100.0 + 10 * s + k
            rows.append(
                (
                    f"SYM{s}",
                    day,
                    close - 0.5,
                    close + 1,
                    close - 1,
                    close,
                    1000.0 + s,
                    close * 1e3,
                    7,
                )
            )
    cols = ["symbol", "date", "open", "high", "low", "close", "volume", "turnover", "trades"]
    return pl.DataFrame(rows, schema=cols, orient="row")


def snapshot(db: Path, *, exact: bool = False) -> dict[str, pl.DataFrame]:
    """Every table the service writes; without `exact`, run ids and timestamps are dropped."""
    volatile = {
        "prices": ["ingested_at", "run_id"],
        "rejected_prices": ["ingested_at", "run_id"],
        "ingested_days": ["recorded_at", "run_id", "raw_dir"],
        "securities": ["updated_at"],
    }
    order = {
        "prices": "symbol, date",
        "rejected_prices": "source, line, reason",
        "ingested_days": "date, source",
        "securities": "symbol",
        "ingestion_runs": "run_id",
    }
    con = duckdb.connect(str(db), read_only=True)
    try:
        out = {}
        for table, by in order.items():
            if table == "ingestion_runs" and not exact:
                continue
            drop = (
                "" if exact or table not in volatile else f" EXCLUDE ({', '.join(volatile[table])})"
            )
            out[table] = con.sql(f"SELECT *{drop} FROM {table} ORDER BY {by}").pl()
        return out
    finally:
        con.close()


def assert_same_tables(left: dict, right: dict) -> None:
    assert left.keys() == right.keys()
    for table in left:
        assert_frame_equal(left[table], right[table], check_row_order=True), table


@pytest.fixture
def fake():
    with FakeNepseApi(hand_prices(), token=TOKEN) as server:
        yield server


@pytest.fixture
def live_env(flow_env, fake, monkeypatch):
    """Flow settings pointing at the fake API: 2 items per page, a 0.5 s read timeout."""
    monkeypatch.setenv("NEPSE_API_BASE_URL", fake.url)
    monkeypatch.setenv("NEPSE_API_TOKEN", TOKEN)
    monkeypatch.setenv("NEPSE_API_PROTOCOL", "bearer")  # also when a test removes the token
    monkeypatch.setenv("NEPSE_API_PAGE_SIZE", "2")
    monkeypatch.setenv("NEPSE_API_READ_TIMEOUT_S", str(READ_TIMEOUT_S))
    monkeypatch.setenv("NEPSE_API_DEADLINE_S", str(DEADLINE_S))
    return flow_env


@pytest.fixture
def fast_retries(monkeypatch):
    """The backfill flow's fetch task with millisecond retry delays and no jitter."""
    import flows.backfill
    from tasks.fetch import fetch_and_ingest_day

    fast = fetch_and_ingest_day.with_options(
        retry_delay_seconds=FAST_DELAY, retry_jitter_factor=None
    )
    monkeypatch.setattr(flows.backfill, "fetch_and_ingest_day", fast)
    return fast


def run_backfill(start: date, end: date, *, logs: bool = False, **kwargs):
    """Run the flow; return (final state, {day: task run}, its log text) read through the API."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterId,
        LogFilter,
        LogFilterFlowRunId,
    )

    from flows.backfill import backfill_prices

    state = backfill_prices(start=start, end=end, return_state=True, **kwargs)
    flow_run_id = state.state_details.flow_run_id
    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
        )
        # Logs reach the API in batches: wait for the flow's last line to land.
        text = ""
        for _ in range(50 if logs else 0):
            logs = client.read_logs(
                log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id]))
            )
            text = "\n".join(log.message for log in logs)
            if "Finished in state" in text and any(
                "Finished in state" in log.message and log.task_run_id is None for log in logs
            ):
                break
            time.sleep(0.1)
    fetches = {r.name.removeprefix("fetch-and-ingest-"): r for r in runs if "fetch" in r.name}
    return state, fetches, text


# --- transient faults: the run completes after retries --------------------------------------
@pytest.mark.parametrize("fault", TRANSIENT, ids=[f.id for f in TRANSIENT])
def test_transient_faults_complete_after_retries(live_env, fake, fast_retries, fault):
    faults, attempts = fault.faults, fault.attempts
    if faults is None:
        _drop_once(fake)  # the fake's own drop_connection would drop every request
    else:
        fake.set_faults(faults)
    state, fetches, logs = run_backfill(D2, D2, logs=True)
    assert state.is_completed(), state.message
    run = fetches[D2.isoformat()]
    assert run.state.is_completed()
    assert run.run_count == attempts
    assert state.result()["statuses"] == {"ok": 1}
    prices = snapshot(live_env.database)["prices"]
    assert prices.filter(pl.col("date") == D2).height == 5
    if faults and faults.get("retry_after"):
        # The attempt sleeps what the retry's backoff leaves of Retry-After (0.6 s).
        wait = float(faults["retry_after"]) - FAST_DELAY
        assert f"honouring Retry-After, waiting {wait:.2f} s before the retry" in logs
    assert TOKEN not in logs


def _drop_once(fake: FakeNepseApi) -> None:
    """Make the fake close the connection on the next request of page 1, once."""
    original = fake._today_price
    dropped = []

    def handler(h, query):
        if query.get("page") == "1" and not dropped:
            dropped.append(True)
            h.close_connection = True
            return None
        return original(h, query)

    fake._today_price = handler


def test_transient_fault_that_never_ends_fails_after_all_retries(live_env, fake, fast_retries):
    fake.set_faults(fail_times=-1, fail_status=503)
    state, fetches, _ = run_backfill(D2, D2)
    assert state.is_failed()
    assert fetches[D2.isoformat()].run_count == 4  # 1 + SOURCE_RETRY's 3 retries
    assert "503" in str(state.message) or "503" in repr(state.result(raise_on_failure=False))


# --- permanent faults: fail at once, clear message, database unchanged ------------------------
@pytest.mark.parametrize("fault", PERMANENT, ids=[f.id for f in PERMANENT])
def test_permanent_faults_fail_once_and_leave_the_database_unchanged(
    live_env, fake, fast_retries, fault
):
    faults, message = fault.faults, fault.message
    assert run_backfill(D1, D1)[0].is_completed()
    before = snapshot(live_env.database, exact=True)
    fake.set_faults(faults)
    state, fetches, _ = run_backfill(D2, D3)
    assert state.is_failed()
    exc = state.result(raise_on_failure=False)
    assert message in str(exc)
    assert fetches[D2.isoformat()].run_count == 1  # never retried
    assert D3.isoformat() not in fetches  # the backfill stopped at the first permanent fault
    assert_same_tables(snapshot(live_env.database, exact=True), before)


# --- market open, holiday -------------------------------------------------------------------
def test_market_open_stores_no_partial_day_and_a_later_run_completes_it(
    live_env, fake, fast_retries
):
    from nepse.store import open_store

    fake.set_faults(market_open=True, pages=[1])  # only some items lack a close
    state, _, _ = run_backfill(D2, D2)
    assert state.is_completed()
    assert state.result()["statuses"] == {"market_open": 1}
    tables = snapshot(live_env.database)
    assert tables["prices"].height == 0
    assert tables["rejected_prices"].height == 0
    assert tables["ingested_days"]["status"].to_list() == ["market_open"]
    fake.set_faults()
    state, _, _ = run_backfill(D2, D2)
    assert state.result()["statuses"] == {"ok": 1}
    with open_store(live_env.database, read_only=True) as store:
        assert store.complete_days("api") == {D2}
        assert store.prices().height == 5


def test_empty_day_is_pending_until_confirmed_then_a_holiday(
    live_env, fake, fast_retries, monkeypatch
):
    fake.set_faults(holidays=[D2.isoformat()])
    state, _, _ = run_backfill(D1, D3)
    # One empty answer is not a holiday: it may be a transient empty answer of the API.
    assert state.result()["statuses"] == {"ok": 2, "pending": 1}
    tables = snapshot(live_env.database)
    assert tables["prices"].filter(pl.col("date") == D2).height == 0
    assert tables["prices"].height == 10
    days = dict(tables["ingested_days"].select("date", "status").iter_rows())
    assert days == {D1: "ok", D2: "pending", D3: "ok"}
    # The backfill asks again; an answer too soon after the first keeps it pending ...
    state, fetches, _ = run_backfill(D1, D3)
    assert state.result()["planned"] == 1 and list(fetches) == [D2.isoformat()]
    assert state.result()["statuses"] == {"pending": 1}
    # ... a second empty answer after the confirmation delay makes it a holiday, for good.
    monkeypatch.setenv("NEPSE_HOLIDAY_CONFIRM_AFTER_MINUTES", "0")
    state, _, _ = run_backfill(D1, D3)
    assert state.result()["statuses"] == {"holiday": 1}
    fake.set_faults()
    fake.reset_stats()
    state, fetches, _ = run_backfill(D1, D3)
    assert state.result()["planned"] == 0 and not fetches
    assert fake.stats()["requests"] == 0


def test_transient_empty_answer_is_retried_and_the_trading_day_stored(live_env, fake, fast_retries):
    fake.set_faults(holidays=[D2.isoformat()])  # the API answers D2 empty, once
    assert run_backfill(D2, D2)[0].result()["statuses"] == {"pending": 1}
    fake.set_faults()
    state, _, _ = run_backfill(D2, D2)
    assert state.result()["statuses"] == {"ok": 1}
    assert snapshot(live_env.database)["prices"].filter(pl.col("date") == D2).height == 5


def test_token_from_a_prefect_secret_block_is_used_and_never_logged(
    live_env, fake, fast_retries, monkeypatch
):
    from prefect.blocks.system import Secret

    monkeypatch.delenv("NEPSE_API_TOKEN")
    Secret(value=TOKEN).save("nepse-api-token-test", overwrite=True)
    monkeypatch.setenv("NEPSE_API_TOKEN_BLOCK", "nepse-api-token-test")
    fake.set_faults(fail_times=1, fail_status=503, echo_auth=True)  # error body echoes the header
    state, fetches, logs = run_backfill(D2, D2, logs=True)
    assert state.is_completed()
    assert fetches[D2.isoformat()].run_count == 2
    assert "503" in logs  # the failure was logged ...
    assert TOKEN not in logs  # ... without the token it echoed


def test_missing_token_is_a_permanent_401(live_env, fake, fast_retries, monkeypatch):
    monkeypatch.delenv("NEPSE_API_TOKEN")
    state, fetches, _ = run_backfill(D2, D2)
    assert state.is_failed()
    assert "401" in str(state.result(raise_on_failure=False))
    assert fetches[D2.isoformat()].run_count == 1
