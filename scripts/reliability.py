"""Inject every fault the live-data path must survive, record what the service did, write the doc.

    .venv/bin/python scripts/reliability.py [--out docs/reliability.md]

Each scenario starts from an empty database, serves a small synthetic market from the fake NEPSE
API on 127.0.0.1, injects one fault and runs the real `backfill-prices` flow on a temporary
Prefect server. Transient faults must be absorbed by retries; permanent ones must fail the run
with a clear message and leave the database as it was, after which the fault is cleared (the
operator's fix) and the backfill is rerun. Every scenario ends by comparing the stored prices
with a fault-free reference: `rows lost` must be 0. Retry delays are the production policy
scaled down 20x (0.1/0.2/0.4 s instead of 2/4/8 s, same jitter) so the whole run takes about a
minute; Retry-After values are honoured unscaled.
"""

from __future__ import annotations

import argparse
import functools
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")

import polars as pl  # noqa: E402

from nepse.devdata.faults import DEADLINE_S, PERMANENT, READ_TIMEOUT_S, TRANSIENT, Fault  # noqa: E402
from nepse.devdata.hostile import CaseResult, run_case  # noqa: E402
from nepse.devdata.hostile_cases import CASES  # noqa: E402
from nepse.devdata.hostile_scenarios import ScenarioResult, run_scenario  # noqa: E402
from nepse.devdata.hostile_services import SCENARIOS as SITUATIONS  # noqa: E402

TOKEN = "reliability-token"
START, END = date(2025, 8, 24), date(2025, 8, 28)  # Sun..Thu: five trading days


@dataclass
class Outcome:
    fault: str
    kind: str
    did: str
    attempts: int
    outcome: str
    rows_lost: int
    recover_s: float


def market() -> pl.DataFrame:
    """A small synthetic market, five business days, a dozen symbols."""
    from nepse.devdata.sample import generate_market

    prices = generate_market(symbols=12, years=0.05, seed=3, end=END).prices
    return prices.filter(pl.col("date").is_between(START, END))


def prices_of(db: Path) -> pl.DataFrame:
    """Stored prices without run ids and timestamps (read through the store)."""
    from nepse.errors import NepseError
    from nepse.store import open_store

    if not db.exists():
        return pl.DataFrame()
    try:
        with open_store(db, read_only=True) as store:
            return store.prices().drop("ingested_at", "run_id")
    except NepseError:  # created but not yet migrated by a killed run
        return pl.DataFrame()


def short(message: str) -> str:
    """An error message without the request URL and echoed body, for the table."""
    message = re.sub(r"^(GET )?http\S+( businessDate=\S+ page=\d+)?: ", "", message)
    message = re.sub(r"body: '.*?'; ", "", message)
    message = re.sub(r" \(saved as .*?\)", "", message)
    message = re.sub(r"received \d+ bytes starting b'.*?'", "raw page saved", message)
    message = re.sub(r"; fields received: .*?\.", ".", message)
    return message[:120]


def rows_lost(reference: pl.DataFrame, got: pl.DataFrame) -> int:
    """Reference rows missing from (or different in) `got`."""
    if got.is_empty():
        return reference.height
    return reference.join(got, on=reference.columns, how="anti", nulls_equal=True).height


class Lab:
    """One fake API, one temporary data folder per scenario, the backfill flow with fast retries."""

    def __init__(self, prices: pl.DataFrame, root: Path) -> None:
        from prefect.tasks import exponential_backoff

        import flows.backfill
        from nepse.devdata.fake_api import FakeNepseApi
        from tasks.fetch import fetch_and_ingest_day, plan_backfill_days

        self.root = root
        self.fake = FakeNepseApi(prices, token=TOKEN).start()
        fast = exponential_backoff(backoff_factor=0.1)(3)
        flows.backfill.fetch_and_ingest_day = fetch_and_ingest_day.with_options(
            retry_delay_seconds=fast
        )
        flows.backfill.plan_backfill_days = plan_backfill_days.with_options(
            retry_delay_seconds=fast
        )
        self.n = 0

    def new_env(self) -> Path:
        self.n += 1
        data = self.root / f"scenario-{self.n}"
        os.environ.update(
            NEPSE_DATA_DIR=str(data),
            NEPSE_API_BASE_URL=self.fake.url,
            NEPSE_API_TOKEN=TOKEN,
            NEPSE_API_PAGE_SIZE="5",
            NEPSE_API_READ_TIMEOUT_S=str(READ_TIMEOUT_S),
            NEPSE_API_DEADLINE_S=str(DEADLINE_S),
        )
        self.fake.set_faults()
        return data / "nepse.duckdb"

    def backfill(self) -> tuple[object, int, float]:
        """Run the flow; return its final state, the task attempts it took, and wall time."""
        from prefect.client.orchestration import get_client
        from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

        from flows.backfill import backfill_prices

        t0 = time.perf_counter()
        state = backfill_prices(start=START, end=END, chunk_days=2, return_state=True)
        wall = time.perf_counter() - t0
        with get_client(sync_client=True) as client:
            runs = client.read_task_runs(
                flow_run_filter=FlowRunFilter(
                    id=FlowRunFilterId(any_=[state.state_details.flow_run_id])
                )
            )
        retries = sum(max(r.run_count - 1, 0) for r in runs)
        return state, retries, wall


def transient(lab: Lab, reference: pl.DataFrame, *, name: str, faults: dict, did: str) -> Outcome:
    db = lab.new_env()
    lab.fake.set_faults(faults)
    state, attempts, wall = lab.backfill()
    outcome = "completed" if state.is_completed() else f"FAILED: {state.message}"
    return Outcome(
        name, "transient", did, attempts, outcome, rows_lost(reference, prices_of(db)), wall
    )


def permanent(lab: Lab, reference: pl.DataFrame, *, name: str, faults: dict, did: str) -> Outcome:
    db = lab.new_env()
    lab.fake.set_faults(faults)
    state, attempts, _ = lab.backfill()
    stored = prices_of(db)
    message = short(str(state.result(raise_on_failure=False)))
    assert state.is_failed(), f"{name}: the run should have failed"
    lab.fake.set_faults()  # the operator fixes the token / URL / waits for NEPSE's fix
    t0 = time.perf_counter()
    again, more, _ = lab.backfill()
    recover = time.perf_counter() - t0
    outcome = (
        f"failed at once ({stored.height} rows stored): `{message}`; rerun "
        f"{'completed' if again.is_completed() else 'FAILED'}"
    )
    return Outcome(
        name,
        "permanent",
        did,
        attempts + more,
        outcome,
        rows_lost(reference, prices_of(db)),
        recover,
    )


def market_open(lab: Lab, reference: pl.DataFrame) -> Outcome:
    db = lab.new_env()
    lab.fake.set_faults(market_open=True, pages=[0])
    state, attempts, _ = lab.backfill()
    held = prices_of(db).height
    statuses = state.result()["statuses"]
    lab.fake.set_faults()
    t0 = time.perf_counter()
    again, more, _ = lab.backfill()
    recover = time.perf_counter() - t0
    return Outcome(
        "market still open (closePrice null)",
        "not final",
        "holds the whole day back; status market_open, day not complete",
        attempts + more,
        f"{statuses}, {held} rows stored; rerun after the close: {again.result()['statuses']}",
        rows_lost(reference, prices_of(db)),
        recover,
    )


def holiday(lab: Lab, reference: pl.DataFrame) -> Outcome:
    db = lab.new_env()
    day = START.isoformat()
    lab.fake.set_faults(holidays=[day])
    state, attempts, wall = lab.backfill()
    first = state.result()["statuses"]
    os.environ["NEPSE_HOLIDAY_CONFIRM_AFTER_MINUTES"] = "0"  # the confirming second answer
    try:
        again, more, wall2 = lab.backfill()
    finally:
        del os.environ["NEPSE_HOLIDAY_CONFIRM_AFTER_MINUTES"]
    expected = reference.filter(pl.col("date") != START)
    return Outcome(
        f"empty day {day} (a holiday, or a transient empty answer)",
        "no data",
        "records it pending (retried), a holiday only when a later empty answer confirms it",
        attempts + more,
        f"first run {first}; confirming run {again.result()['statuses']}",
        rows_lost(expected, prices_of(db)),
        wall + wall2,
    )


def transient_empty(lab: Lab, reference: pl.DataFrame) -> Outcome:
    db = lab.new_env()
    day = START.isoformat()
    lab.fake.set_faults(holidays=[day])
    state, attempts, _ = lab.backfill()
    lab.fake.set_faults()  # the API answers the day properly on the next try
    t0 = time.perf_counter()
    again, more, _ = lab.backfill()
    return Outcome(
        f"transient empty answer for trading day {day}",
        "transient",
        "records it pending, not a holiday; the next backfill fetches and stores it",
        attempts + more,
        f"first run {state.result()['statuses']}; rerun {again.result()['statuses']}",
        rows_lost(reference, prices_of(db)),
        time.perf_counter() - t0,
    )


def database_locked(lab: Lab, reference: pl.DataFrame) -> Outcome:
    db = lab.new_env()
    db.parent.mkdir(parents=True, exist_ok=True)
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(db)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None and holder.stdout.readline().startswith("locked")
    state, attempts, wall = lab.backfill()
    holder.wait(timeout=30)
    return Outcome(
        "database locked by another process (0.6 s)",
        "transient",
        "the store waits for the lock (NEPSE_LOCK_TIMEOUT_S); after it, DatabaseLockedError "
        "names the holder's PID",
        attempts,
        "completed" if state.is_completed() else f"FAILED: {state.message}",
        rows_lost(reference, prices_of(db)),
        wall,
    )


_HOLD = (
    "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
    "print('locked', flush=True); time.sleep(0.6)"
)

_CHILD = """
import sys
from datetime import date
from prefect.tasks import exponential_backoff
import flows.backfill as fb
from tasks.fetch import fetch_and_ingest_day
fb.fetch_and_ingest_day = fetch_and_ingest_day.with_options(
    retry_delay_seconds=exponential_backoff(backoff_factor=0.1)(3))
fb.backfill_prices(start=date.fromisoformat(sys.argv[1]), end=date.fromisoformat(sys.argv[2]),
                   chunk_days=2)
"""


def killed(lab: Lab, reference: pl.DataFrame) -> Outcome:
    from prefect.settings import PREFECT_API_URL

    db = lab.new_env()
    lab.fake.set_faults(delay_s=0.2)
    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value()), "PYTHONUNBUFFERED": "1"}
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, START.isoformat(), END.isoformat()],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert child.stdout is not None
    for line in child.stdout:
        if "chunk 1/3 done" in line:
            os.kill(child.pid, signal.SIGKILL)
            break
    child.wait(timeout=30)
    kept = prices_of(db)["date"].n_unique()
    lab.fake.set_faults()
    t0 = time.perf_counter()
    state, attempts, _ = lab.backfill()
    recover = time.perf_counter() - t0
    summary = state.result()
    return Outcome(
        "backfill SIGKILLed after chunk 1",
        "crash",
        "committed days survive; the rerun skips complete days and fetches the rest",
        attempts,
        f"{kept} day(s) kept after the kill; rerun skipped {summary['skipped_complete']}, "
        f"fetched {summary['fetched']}",
        rows_lost(reference, prices_of(db)),
        recover,
    )


def _scenario(fault: Fault) -> Callable[[Lab, pl.DataFrame], Outcome]:
    if fault.faults is None:
        return lambda lab, ref: _dropped(lab, ref)  # defined below
    run = transient if fault.transient else permanent
    return functools.partial(run, name=fault.description, faults=fault.faults, did=fault.did)


# The live-API faults come from nepse/devdata/faults.py, the table tests/flows/test_live.py runs.
SCENARIOS: list[tuple[str, Callable[[Lab, pl.DataFrame], Outcome]]] = [
    *((f.id, _scenario(f)) for f in (*TRANSIENT, *PERMANENT)),
    ("market_open", market_open),
    ("holiday", holiday),
    ("transient_empty", transient_empty),
    ("locked", database_locked),
    ("killed", killed),
]


def _dropped(lab: Lab, ref: pl.DataFrame) -> Outcome:
    """The connection closes without an answer on the first two requests."""
    original = lab.fake._today_price
    left = [2]

    def handler(h, query):  # one-off fault: the fake's drop_connection applies to every request
        if left[0] > 0:
            left[0] -= 1
            h.close_connection = True
            return None
        return original(h, query)

    lab.fake._today_price = handler
    try:
        return transient(
            lab,
            ref,
            name="connection dropped without an answer (twice)",
            faults={},
            did="RemoteProtocolError -> TransientSourceError; retried",
        )
    finally:
        lab.fake._today_price = original


def machine() -> str:
    import duckdb as d
    import prefect

    cpu = platform.processor() or platform.machine()
    return (
        f"{platform.platform()}, {cpu}, {os.cpu_count()} CPU(s); Python "
        f"{platform.python_version()}, Prefect {prefect.__version__}, DuckDB {d.__version__}, "
        f"Polars {pl.__version__}"
    )


def hostile_inputs(root: Path) -> list[CaseResult]:
    """Run the hostile-input table (nepse/devdata/hostile_cases.py), each in a fresh database."""
    return [run_case(case, root / f"case-{n}") for n, case in enumerate(CASES)]


def hostile_situations(root: Path) -> list[ScenarioResult]:
    """Run the hostile situations (nepse/devdata/hostile_services.py), each in its own folder."""
    out = []
    for n, scenario in enumerate(SITUATIONS):
        result = run_scenario(scenario, root / f"scenario-{n}")
        print(f"{scenario.name[:60]:60} ok={result.ok}", flush=True)
        out.append(result)
    return out


def _cell(text: str, width: int = 160) -> str:
    text = re.sub(r"/\S*/((case|scenario)-\d+)/", "<tmp>/", text)
    return text[:width].replace("|", "\\|").replace("\n", " ")


def totals(hostile: list[CaseResult], situations: list[ScenarioResult]) -> dict[str, int]:
    """Rows lost, wrong values stored and crashes over both tables."""
    return {
        "rows lost": sum(r.rows_lost for r in hostile),
        "wrong values stored": sum(len(r.wrong) for r in [*hostile, *situations]),
        "crashes": sum(r.crashed for r in [*hostile, *situations]),
    }


def render_hostile(hostile: list[CaseResult], situations: list[ScenarioResult]) -> list[str]:
    sums = totals(hostile, situations)
    skipped = [r for r in situations if r.skipped]
    lines = [
        "",
        "## Hostile inputs and situations",
        "",
        "Each input case of `nepse/devdata/hostile_cases.py` and `hostile_lists.py` (the table "
        "`tests/unit/ingest/test_hostile.py` runs) writes its own input, optionally on top of a "
        "stored history, is ingested into a fresh database, and must get the expected outcome: "
        "stored, its bad rows rejected with the reason code (quarantined in `rejected_prices` "
        "with the raw line), or the input refused with an error naming the file. Rows lost = "
        "rows read - stored - rejected - duplicates; wrong values = stored rows (or securities, "
        "or adjusted closes) that differ from the case's truth; a crash = an exception that is "
        "not a NepseError (a raw traceback for a user).",
        "",
        f"- **input cases: {len(hostile)}, as expected: {sum(r.ok for r in hostile)}; "
        f"situations: {len(situations)}, as expected: {sum(r.ok for r in situations)}"
        f"{f' ({len(skipped)} skipped here: ' + skipped[0].skipped + ')' if skipped else ''}**",
        f"- **rows lost: {sums['rows lost']}, wrong values stored: "
        f"{sums['wrong values stored']}, crashes: {sums['crashes']}**",
        "",
        "| case | category | expected | outcome | rows read | rows lost | wrong values |",
        "| --- | --- | --- | --- | ---: | ---: | ---: |",
    ]
    for r in hostile:
        mark = "" if r.ok else " **(unexpected)**"
        lines.append(
            f"| {r.case.name} | {r.case.category} | `{r.case.expect}` | {_cell(r.outcome)}{mark} "
            f"| {r.rows_read} | {r.rows_lost} | {len(r.wrong)} |"
        )
    lines += [
        "",
        "Situations that are not one input (`nepse/devdata/hostile_scenarios.py`, "
        "`hostile_services.py`): each is staged in a folder of its own and met with the "
        "service's real code; the outcome must contain the expected words.",
        "",
        "| situation | category | expected words | what the service did | wrong values |",
        "| --- | --- | --- | --- | ---: |",
    ]
    for r in situations:
        did = f"skipped: {r.skipped}" if r.skipped else _cell(r.outcome, 260)
        mark = "" if r.ok else " **(unexpected)**"
        lines.append(
            f"| {r.scenario.name} | {r.scenario.category} | `{r.scenario.expect}` | {did}{mark} "
            f"| {len(r.wrong)} |"
        )
    lines += [
        "",
        "Integrity cases that need more than one input, each a test of its own: overlapping "
        "sources in every order give identical prices with no value lost, disagreements in "
        "`price_conflicts` (`tests/unit/ingest/test_sources.py`, real formats in "
        "`tests/realdata/test_sources.py`); a corrected book-closure date revises the bonus "
        "(`tests/unit/ingest/test_integrity.py`); sample data refused by a real database and "
        "the reverse, a run without a source refused naming NEPSE_SOURCE (same file); the "
        "quality gate judges the scored day (same file); a 500-character token never reaches "
        "an error, a log record or a stored reject (`tests/unit/test_secrets.py`); a daily run "
        "with the clock a year behind, a truncated and resealed champion, an edited drift "
        "baseline (`tests/flows/test_daily.py`); a 200 MB file's memory "
        "(`bench/ingest_memory.py`, docs/formats.md).",
    ]
    return lines


def render(
    results: list[Outcome],
    seconds: float,
    command: str,
    hostile: list[CaseResult] = (),
    situations: list[ScenarioResult] = (),
) -> str:
    lost = sum(r.rows_lost for r in results)
    lines = [
        "# Reliability of the live-data path",
        "",
        "Generated by `scripts/reliability.py`; do not edit by hand. Regenerate with:",
        "",
        "```",
        command,
        "```",
        "",
        f"- when: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; whole run {seconds:.0f} s",
        f"- machine: {machine()}",
        f"- data: the synthetic market (`devdata.sample.generate_market`, 12 symbols), business "
        f"days {START}..{END}, served by `devdata.fake_api.FakeNepseApi` on 127.0.0.1, 5 items a "
        f"page, read timeout {READ_TIMEOUT_S:g} s, overall deadline per request {DEADLINE_S:g} s",
        "- each scenario: an empty database, one injected fault, the real `backfill-prices` flow "
        "(chunks of 2 days) on a temporary Prefect server; permanent faults are then cleared and "
        "the backfill rerun",
        "- retry policy: `runs.retry.SOURCE_RETRY` (3 retries, only on TransientSourceError, "
        "exponential backoff with 50 % jitter) with delays scaled 20x down (0.1/0.2/0.4 s); "
        "Retry-After is honoured unscaled; a locked database is waited for "
        "(NEPSE_LOCK_TIMEOUT_S), not retried",
        f"- **rows lost over all scenarios: {lost}**",
        "",
        "| fault injected | kind | what the service did | task retries | outcome | rows lost "
        "| time to recover (s) |",
        "| --- | --- | --- | ---: | --- | ---: | ---: |",
    ]
    for r in results:
        outcome = r.outcome.replace("|", "\\|").replace("\n", " ")
        lines.append(
            f"| {r.fault} | {r.kind} | {r.did} | {r.attempts} | {outcome} | {r.rows_lost} "
            f"| {r.recover_s:.1f} |"
        )
    lines += [
        "",
        "Task retries: Prefect retries over every task run of the scenario (planning and the "
        "five `fetch-and-ingest-day` runs, reruns included; read back as `run_count - 1`). "
        "Time to recover: for transient faults and the lock, the wall time of the run "
        "that absorbed them; for permanent faults, market-open and the crash, the wall time of "
        "the rerun after the fault was cleared (Prefect start-up of each run included).",
        "",
        "How `Retry-After` is honoured: Prefect's retry delay is fixed per task, not per "
        "exception, so `fetch-and-ingest-day` sleeps, before re-raising, the part of "
        "`Retry-After` (capped by `api_max_retry_after_s`) that the coming backoff might not "
        "cover (with jitter the backoff can be as short as 0.63x its nominal value). The retry "
        "therefore starts no earlier than max(backoff, Retry-After), and the retry count stays "
        "Prefect's.",
        "",
    ]
    if hostile or situations:
        lines += [*render_hostile(list(hostile), list(situations)), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run every scenario and write the Markdown report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "reliability.md")
    parser.add_argument("--only", nargs="*", help="scenario keys to run (default: all)")
    parser.add_argument(
        "--hostile-only", action="store_true", help="run only the hostile-input table (seconds)"
    )
    args = parser.parse_args(argv)
    if args.hostile_only:
        with tempfile.TemporaryDirectory() as tmp:
            hostile = hostile_inputs(Path(tmp))
            situations = hostile_situations(Path(tmp) / "situations")
        for r in hostile:
            print(f"{r.case.name[:40]:40} {r.outcome[:60]:60} ok={r.ok}", flush=True)
        print(totals(hostile, situations))
        return 0 if all(r.ok for r in [*hostile, *situations]) else 1
    from prefect.testing.utilities import prefect_test_harness

    t0 = time.perf_counter()
    prices = market()
    results: list[Outcome] = []
    with tempfile.TemporaryDirectory() as tmp, prefect_test_harness(server_startup_timeout=180):
        lab = Lab(prices, Path(tmp))
        try:
            lab.new_env()
            ref_db = Path(os.environ["NEPSE_DATA_DIR"]) / "nepse.duckdb"
            assert lab.backfill()[0].is_completed()
            reference = prices_of(ref_db)
            assert reference.height == prices.height, "the reference backfill lost rows"
            for key, scenario in SCENARIOS:
                if args.only and key not in args.only:
                    continue
                result = scenario(lab, reference)
                print(f"{key:8} {result.outcome[:70]:70} lost={result.rows_lost}", flush=True)
                results.append(result)
        finally:
            lab.fake.stop()
        hostile = hostile_inputs(Path(tmp) / "hostile")
        situations = hostile_situations(Path(tmp) / "situations")
    seconds = time.perf_counter() - t0
    command = ".venv/bin/python scripts/reliability.py" + (
        f" --only {' '.join(args.only)}" if args.only else ""
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(results, seconds, command, hostile, situations), encoding="utf-8")
    print(f"wrote {args.out} ({seconds:.0f} s); {totals(hostile, situations)}")
    ok = all(r.ok for r in [*hostile, *situations])
    return 0 if ok and all(r.rows_lost == 0 for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
