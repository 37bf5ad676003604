"""The API never blocks the writer and never shows half a day: clients poll it without pause
while real daily runs (the flow on the Prefect test harness, sample market) publish day after
day, a rerun of a day included.

The API runs as its own process (`python -m nepse.api`), as in production; four poller threads
ask for the latest predictions (JSON and CSV), a fixed day, the health and the drift verdict.
Every answer must be a success (once the first day is published), and every one must be whole:
its rows belong to the day, model and flow run it names, and there are as many as that run
stored. Every daily run must complete: the API never holds the database.
"""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from datetime import date
from email.message import Message

import polars as pl
import pytest

from tests.conftest import REPO
from tests.flows.test_daily import _run, data_dir, trained_dir  # noqa: F401  (fixtures)

pytestmark = pytest.mark.usefixtures("prefect_harness")

POLLERS = 4


def _get(url: str) -> tuple[int, Message, bytes]:
    """Status, headers (names in any case) and body of a GET."""
    try:
        with urllib.request.urlopen(url, timeout=30) as answer:
            return answer.status, answer.headers, answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


class Poller(threading.Thread):
    """Polls a route in a loop; keeps every answer's facts and every problem it saw."""

    def __init__(self, base: str, route: str, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.base, self.route, self.stop = base, route, stop
        self.seen: list[dict] = []
        self.problems: list[str] = []
        self.published = False

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                status, headers, body = _get(self.base + self.route)
            except OSError as exc:  # a refused or broken connection is an error answer too
                self.problems.append(f"{self.route}: {exc!r}")
                continue
            if self.route == "/health" and not self.published:
                self.published = json.loads(body)["status"] != "empty"
            if not self.published and (status == 404 and b"nothing is published" in body):
                continue  # before the first day is published
            if not self.published and self.route == "/health":
                continue  # status "empty" before the first day is published
            if status != 200:
                self.problems.append(f"{self.route}: {status} {body[:200]!r}")
                continue
            self.published = True
            try:
                self.check(headers, body)
            except Exception as exc:  # a broken answer must fail the test, not the thread
                self.problems.append(f"{self.route}: unreadable answer: {exc!r}")

    def check(self, headers: Message, body: bytes) -> None:
        if self.route.startswith("/health"):
            facts = json.loads(body)
            self.seen.append({"as_of": facts["as_of"], "status": facts["status"]})
            return
        if self.route.startswith("/drift"):
            facts = json.loads(body)
            self.seen.append({"as_of": facts["as_of"], "model": facts["model_version"]})
            return
        if "format=csv" in self.route:
            frame = pl.read_csv(io.BytesIO(body), infer_schema_length=0)
            facts = {
                "as_of": headers["X-As-Of"],
                "model_version": headers["X-Model-Version"],
                "flow_run_id": headers["X-Flow-Run-Id"],
                "total": int(headers["X-Total-Count"]),
            }
            rows = frame.to_dicts()
        else:
            facts = json.loads(body)
            rows = facts.pop("data")
        problems = []
        if len(rows) != facts["total"]:
            problems.append(f"{len(rows)} rows, total says {facts['total']}")
        for column, key in (("date", "as_of"), ("model_version", "model_version")):
            if {str(r[column]) for r in rows} != {facts[key]}:
                problems.append(f"rows' {column} differ from the answer's {key} {facts[key]}")
        if {r["flow_run_id"] for r in rows} != {facts["flow_run_id"]}:
            problems.append("rows' flow_run_id differ from the answer's")
        if problems:
            self.problems.append(f"{self.route}: torn answer: {'; '.join(problems)}")
        self.seen.append({k: facts[k] for k in ("as_of", "model_version", "flow_run_id", "total")})


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_clients_polling_during_daily_runs_see_only_whole_days(data_dir, sample_dir):  # noqa: F811
    from nepse.settings import load_settings
    from nepse.store import open_store

    with open_store(load_settings().database, read_only=True) as st:
        days = st.trading_dates(3).to_list()[-3:]
    port = _free_port()
    env = {**os.environ, "NEPSE_API_LISTEN_PORT": str(port)}
    api = subprocess.Popen(
        [sys.executable, "-m", "nepse.api"],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    stop = threading.Event()
    pollers = [
        Poller(base, "/predictions/latest", stop),
        Poller(base, "/predictions/latest?format=csv", stop),
        Poller(base, "/health", stop),
        Poller(base, "/drift/latest", stop),
    ]
    runs: dict[str, list] = {}
    try:
        deadline = time.monotonic() + 120
        while _get_ok(base + "/openapi.json") is False:
            assert api.poll() is None and time.monotonic() < deadline, "the API did not start"
            time.sleep(0.2)
        for p in pollers:
            p.start()
        for day in [*days, days[-1]]:  # the last day twice: a rerun replaces a published day
            state, out = _run(as_of=day, source=str(sample_dir))
            assert state.is_completed(), state.message  # the API never held the database
            runs.setdefault(day.isoformat(), []).append(
                (str(state.state_details.flow_run_id), out.n_predictions, out.model_version)
            )
            time.sleep(0.5)  # every poller sees this day before the next run starts
        last_id = runs[days[-1].isoformat()][-1][0]
        health = json.loads(_get(base + "/health")[2])
        assert health["last_run"]["flow_run_id"] == last_id  # the state hooks' record
        assert health["last_run"]["state_type"] == "COMPLETED"
        # A run that fails before it publishes shows in /health; the day served stays.
        failed, _ = _run(as_of=date(2099, 1, 5), source=str(sample_dir))
        assert failed.is_failed()
        health = json.loads(_get(base + "/health")[2])
        assert health["last_run"]["state_type"] == "FAILED", health["last_run"]
        assert health["last_run"]["flow_run_id"] == str(failed.state_details.flow_run_id)
        assert "future" in health["last_run"]["message"]
        assert health["as_of"] == days[-1].isoformat() and health["status"] == "ok"
    finally:
        stop.set()
        for p in pollers:
            p.join(timeout=60)
        api.terminate()
        api.wait(timeout=30)

    problems = [x for p in pollers for x in p.problems]
    assert problems == [], problems[:10]
    answers = [s for p in pollers[:2] for s in p.seen]
    assert len(answers) > 40, "the pollers asked too little to prove anything"
    for seen in answers:  # each answer is exactly one run's day
        run = {(rid, n, v) for rid, n, v in runs[seen["as_of"]]}
        assert (seen["flow_run_id"], seen["total"], seen["model_version"]) in run, seen
    by_day = Counter(s["as_of"] for s in answers)
    assert set(by_day) >= {d.isoformat() for d in days[1:]}, by_day
    run_ids = Counter(s["flow_run_id"] for s in answers if s["as_of"] == days[-1].isoformat())
    assert len(run_ids) == 2, run_ids  # the rerun's answers replaced the first run's
    health = pollers[2].seen
    assert health and all(h["status"] == "ok" for h in health), health[-3:]
    print(f"{sum(len(p.seen) for p in pollers)} answers, no error, no torn read: {dict(by_day)}")


def _get_ok(url: str) -> bool:
    try:
        return _get(url)[0] == 200
    except OSError:
        return False
