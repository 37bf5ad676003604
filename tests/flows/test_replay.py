"""The `replay` flow on the Prefect test harness, over a few days of the sample market.

The sample trades Monday to Friday in 2026; prefect.yaml's weekly training fires on Saturday
morning, so a replay of Wednesday 2026-11-11 to Wednesday 2026-11-18 runs the first model (as of
Tuesday 11-10, the history's last day), six daily runs, and one scheduled training as of Friday
11-13 between the runs of Friday and Monday.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from tests.flows.replay_content import content

pytestmark = pytest.mark.usefixtures("prefect_harness")

START, END = date(2026, 11, 11), date(2026, 11, 18)
FRIDAY, MONDAY = date(2026, 11, 13), date(2026, 11, 16)
FAST_MODEL = {
    "NEPSE_SEEDS": "[0]",
    "NEPSE_RETRAIN_EVERY": "63",
    "NEPSE_NUM_BOOST_ROUND": "60",
    "NEPSE_EARLY_STOPPING_ROUNDS": "20",
    "NEPSE_VALID_DAYS": "40",
    "NEPSE_TEST_START": "2026-07-01",
    "NEPSE_DRIFT_CALIBRATION_DAYS": "200",
    "NEPSE_DASK_WORKERS": "1",
}
DAY_TABLES = ("predictions", "paper_ledger", "paper_orders", "paper_trades", "paper_holdings")


def replay_env(monkeypatch, data_dir: Path, **extra: str) -> None:
    """The settings every replay of these tests runs with (tasks read NEPSE_* themselves)."""
    for key in [k for k in os.environ if k.startswith("NEPSE_")]:
        monkeypatch.delenv(key)
    for key, value in {**FAST_MODEL, **extra}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("NEPSE_DATA_DIR", str(data_dir))


def run_replay(source: Path, start: date = START, end: date = END):
    from flows.replay import replay

    state = replay(start=start, end=end, source=str(source), return_state=True)
    return state, state.result(raise_on_failure=False)


@pytest.fixture(scope="module")
def replayed(tmp_path_factory, sample_dir):
    """The sample replayed from START to END once (the reference of the module's tests)."""
    mp = pytest.MonkeyPatch()
    data = tmp_path_factory.mktemp("replayed") / "data"
    replay_env(mp, data)
    try:
        state, figures = run_replay(sample_dir)
    finally:
        mp.undo()
    assert state.is_completed(), state.message
    return data, figures


def _state(data: Path) -> dict:
    return json.loads((data / "replay" / "state.json").read_text())


def test_a_replay_runs_the_daily_flow_each_day_and_train_model_on_its_schedule(replayed):
    data, figures = replayed
    state = _state(data)
    days = ["2026-11-11", "2026-11-12", "2026-11-13", "2026-11-16", "2026-11-17", "2026-11-18"]
    assert state["days"] == days and state["done"] == days[-1]
    units = {r["unit"]: r for r in state["records"]}
    assert list(units) == ["history", *days]
    first = units["history"]["trainings"]
    assert [(t["trigger"], t["as_of"], t["state"]) for t in first] == [
        ("first model", "2026-11-10", "COMPLETED")
    ]
    # Saturday 06:00 Kathmandu lies between Friday's and Monday's daily runs: as of Friday.
    scheduled = [(d, t["as_of"]) for d in days for t in units[d]["trainings"]]
    assert scheduled == [("2026-11-16", "2026-11-13")]
    [weekly] = units["2026-11-16"]["trainings"]
    assert weekly["moment"].startswith("2026-11-14 06:00:00+05:45") and weekly["status"]
    for d in days:
        [run] = units[d]["runs"]
        assert (run["flow"], run["run"], run["state"]) == (
            "daily-predictions",
            f"daily-{d}",
            "COMPLETED",
        )
        assert run["steps"]["score-universe"] > 0 and run["steps"]["trade-paper-portfolio"] > 0
    con = duckdb.connect(str(data / "nepse.duckdb"), read_only=True)
    try:
        scored = [r[0].isoformat() for r in con.execute(
            "SELECT DISTINCT date FROM predictions ORDER BY 1").fetchall()]  # fmt: skip
        ledger = con.execute("SELECT count(*) FROM paper_ledger").fetchall()[0][0]
        models = con.execute("SELECT count(*), max(as_of) FROM models").fetchall()[0]
    finally:
        con.close()
    assert scored == days and ledger == len(days)
    assert models == (2, FRIDAY)
    assert figures["days"] == 6 and figures["trainings"] == 2
    page = (data / "reports" / "replay" / "season.html").read_text()
    assert "Replayed season 2026-11-11 .. 2026-11-18" in page and "nav-chart" in page


def _later_rows_changed(sample: Path, out: Path, after: date) -> Path:
    """A copy of the sample whose every price row after `after` is different, with a bonus
    issue announced after it too: what a day up to `after` must never see."""
    shutil.copytree(sample, out)
    for prices in out.glob("*/prices.csv"):
        frame = pl.read_csv(prices, infer_schema_length=0)
        late = pl.col("date").str.to_date(strict=False) > after
        frame = frame.with_columns(
            *[
                pl.when(late).then((pl.col(c).cast(pl.Float64) * 1.07).round(2).cast(pl.String))
                .otherwise(pl.col(c)).alias(c)
                for c in ("open", "high", "low", "ltp")
            ]
        )  # fmt: skip
        frame.write_csv(prices)
    dividends = sorted(out.glob("*/dividend.csv"))[0]  # one more bonus issue, from Monday
    with dividends.open("a", encoding="utf-8") as handle:
        handle.write(f"2083/2084,20,0,20,{MONDAY} [Closed]\n")
    return out


def _day_rows(data: Path, table: str, *, until: date | None = None, after: date | None = None):
    frame = content(data)[table]
    if until is not None:
        frame = frame.filter(pl.col("date") <= until)
    if after is not None:
        frame = frame.filter(pl.col("date") > after)
    return frame


def test_a_day_sees_nothing_after_it(replayed, sample_dir, tmp_path, monkeypatch):
    data, _ = replayed
    changed = _later_rows_changed(sample_dir, tmp_path / "changed", FRIDAY)
    other = tmp_path / "data"
    replay_env(monkeypatch, other)
    state, _ = run_replay(changed)
    assert state.is_completed(), state.message
    for table in DAY_TABLES:  # every earlier day's predictions, orders and ledger: the same
        assert_frame_equal(
            _day_rows(data, table, until=FRIDAY), _day_rows(other, table, until=FRIDAY)
        )
    assert_frame_equal(content(data)["models"], content(other)["models"])  # both trained <= Fri
    # ... and the later days did see their (changed) rows.
    later = _day_rows(data, "predictions", after=FRIDAY)
    assert not later.equals(_day_rows(other, "predictions", after=FRIDAY))


def _turnover_jump(sample: Path, out: Path, start: date) -> Path:
    """A copy of the sample whose every stock trades 100 times its volume from `start` on (the
    same prices): the turnover features of the replayed days leave their calibrated range."""
    shutil.copytree(sample, out)
    for prices in out.glob("*/prices.csv"):
        frame = pl.read_csv(prices, infer_schema_length=0)
        late = pl.col("date").str.to_date(strict=False) >= start
        frame = frame.with_columns(
            *[
                pl.when(late).then((pl.col(c).cast(pl.Float64) * 100).round(2).cast(pl.String))
                .otherwise(pl.col(c)).alias(c)
                for c in ("qty", "turnover")
            ]
        )  # fmt: skip
        frame.write_csv(prices)
    return out


def test_lasting_drift_trains_within_the_replay_not_through_a_deployment(
    sample_dir, tmp_path, monkeypatch
):
    import prefect.deployments

    def no_deployment(*args, **kwargs):
        raise AssertionError(f"a replay started a deployment run: {args}")

    monkeypatch.setattr(prefect.deployments, "run_deployment", no_deployment)
    source = _turnover_jump(sample_dir, tmp_path / "jump", START)
    replay_env(monkeypatch, tmp_path / "data", NEPSE_RETRAIN_ON_DRIFT_DAYS="1")
    state, figures = run_replay(source, START, date(2026, 11, 12))
    assert state.is_completed(), state.message
    records = _state(tmp_path / "data")["records"]
    drifted = [(r["unit"], t) for r in records for t in r["trainings"] if t["trigger"] == "drift"]
    # Each drifted day asks for a training as of itself, run right after its daily run.
    assert drifted and all(t["state"] == "COMPLETED" for _, t in drifted)
    assert all(unit == t["as_of"] for unit, t in drifted)
    assert figures["drift_alarm_days"] >= 1 and figures["alerts"] >= 1  # in the report


def _kill_when(cmd: list[str], env: dict[str, str], ready, timeout_s: float = 900) -> None:
    """Run `cmd` in its own session; SIGKILL it (and its children) once `ready()` is true."""
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    deadline = time.monotonic() + timeout_s
    try:
        while not ready():
            assert proc.poll() is None, f"ended before the kill:\n{proc.stdout.read().decode()}"
            assert time.monotonic() < deadline, "the kill point never came"
            time.sleep(0.1)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)


def test_a_killed_replay_resumes_to_the_same_database(replayed, sample_dir, tmp_path):
    """SIGKILL in the first model's walk-forward, then in a daily run; the same command twice
    more ends with the database of the uninterrupted replay (tests/flows/replay_content.py
    lists what is run-specific)."""
    data, _ = replayed
    other = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEPSE_", "PREFECT_"))}
    env.update(FAST_MODEL, NEPSE_DATA_DIR=str(other), PREFECT_HOME=str(tmp_path / "prefect"))
    env.update(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="600", DO_NOT_TRACK="1")
    cmd = [str(Path(sys.executable).parent / "nepse"), "replay", "--from", str(START)]
    cmd += ["--to", str(END), "--source", str(sample_dir)]
    jobs = other / "work" / "walkforward" / "jobs"
    _kill_when(cmd, env, lambda: jobs.is_dir() and any(jobs.glob("lightgbm-*")))
    assert _state(other)["done"] == "start"  # killed inside the first unit
    friday = other / "predictions" / f"{FRIDAY}.parquet"
    _kill_when(cmd, env, friday.is_file)  # Friday's predictions stored, its run not finished
    assert _state(other)["done"] == "2026-11-12"
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "resumed after 2026-11-12" in done.stdout + done.stderr
    expected, got = content(data), content(other)
    assert sorted(got) == sorted(expected)
    for table in expected:
        try:
            assert_frame_equal(got[table], expected[table])
        except AssertionError as exc:
            raise AssertionError(f"table {table}: {exc}") from exc


@pytest.mark.browser
def test_the_season_report_renders_offline_in_a_browser(replayed, driver):
    """Headless Chromium opens the season page from the file (no server, no network) and
    draws every chart with data; the tables hold every replayed day and both trainings."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    data, figures = replayed
    page = data / "reports" / "replay" / "season.html"
    text = page.read_text(encoding="utf-8")
    assert "<script src=" not in text  # plotly.js inlined: nothing to fetch
    driver.get(page.as_uri())
    # Six sessions: no day's label (next VWAP held 5 sessions) is known by the last one.
    assert figures["rank_ic_days"] == 0 and driver.find_elements(By.ID, "rank-ic-none")
    charts = ("nav-chart", "steps-chart", "sizes-chart")
    WebDriverWait(driver, 60).until(
        lambda d: all(d.find_elements(By.CSS_SELECTOR, f"#{c} .main-svg") for c in charts)
    )
    for chart in charts:
        traces = driver.find_elements(By.CSS_SELECTOR, f"#{chart} g.trace")
        assert traces, f"{chart} drew no trace"
    nav = driver.find_element(By.ID, "nav-chart").text
    for name in ("net of every cost", "costs added back", "equal-weighted", "turnover-weighted"):
        assert name in nav, f"the NAV chart has no {name!r} line"
    days = driver.find_elements(By.CSS_SELECTOR, "#days-table tbody tr")
    assert len(days) == figures["days"] == 6
    trainings = driver.find_elements(By.CSS_SELECTOR, "#trainings-table tbody tr")
    assert len(trainings) == figures["trainings"] == 2
    assert "first model" in trainings[0].text and "schedule" in trainings[1].text
    numbers = driver.find_element(By.ID, "season-numbers").text
    assert "NAV net of every cost" in numbers and "growth per day" in numbers
