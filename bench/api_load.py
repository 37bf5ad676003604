"""Load on the read-only API: latency and throughput of one day's predictions, alone and while
a daily run writes and publishes (issue 29: p99 <= 25 ms at 200 requests/s, 0 errors, 0 torn
reads during a daily run).

Set-up (cached in WORK/prepared, a `.ready` marker): the real ShareSansar history and
CompanyList.csv ingested into a DuckDB of its own, the last DAYS + WRITES sessions scored by the
naive one-day-reversal fallback (no champion is trained: the API serves a day's rows whatever
model made them, and the rows per day are the same), the first DAYS published. Each run copies
that folder, starts `python -m nepse.api` on it and measures three phases with N client threads
(keep-alive connections) asking for `/predictions/latest` (the whole day, JSON):

1. alone, open loop: RATE requests/s on a fixed schedule for SECONDS;
2. during writes, open loop: the same while another process runs the daily run's writing steps
   for the next WRITES sessions, one after another (score: features of the day, predictions
   into DuckDB and Parquet; evaluate: performance rows; publish: the day's folder, the index);
3. closed loop: N clients as fast as they can for SECONDS (the throughput ceiling).

Latency is from sending the request to the end of the body, by the client; "late" counts
requests sent more than 5 ms after their slot (the client could not keep the schedule). Every
answer is checked whole: rows belong to the day, model and flow run the answer names, and
there are as many as that day's publication holds. The machine's load, the server's CPU
seconds and the versions are printed beside the figures; results go to
bench/results/api_load.json.

Run: `.venv/bin/python bench/api_load.py [--clients 20 --rate 200 --seconds 20 --days 20
--writes 5 --work DIR]`.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path

from common import COMPANY_LIST, PYTHON, REPO, SHARESANSAR, load1

DEFAULT_WORK = Path(tempfile.gettempdir()) / "nepse-api-bench"
ROUTE = "/predictions/latest"
WRITER = """
import sys
from datetime import date
from nepse.app import daily, snapshot
from nepse.settings import load_settings
s = load_settings()
for text in sys.argv[1:]:
    d = date.fromisoformat(text)
    scored = daily.score_day(s, d, flow_run_id=f"bench-{d}")
    daily.evaluate_past(s, scored, None)
    snap = snapshot.publish_snapshot(s, d)
    print(f"published {d}: {snap.n} predictions", flush=True)
"""


def prepare(work: Path, days: int, writes: int) -> dict:
    """Ingest the real data, score the last days with the naive fallback, publish the first."""
    ready = work / "prepared" / ".ready"
    if ready.exists():
        info = json.loads(ready.read_text())
        if info["days"] == days and info["writes"] == writes:
            return info
    shutil.rmtree(work / "prepared", ignore_errors=True)
    from nepse.app import daily
    from nepse.app.snapshot import publish_history
    from nepse.features.panel import calendar_of
    from nepse.ingest.service import ingest_path
    from nepse.settings import load_settings
    from nepse.store import open_store

    s = load_settings(data_dir=work / "prepared")
    t0 = time.perf_counter()
    for path in (COMPANY_LIST, SHARESANSAR):
        report = ingest_path(s, path, today=date.today())
        print(f"  ingested {path.name}: {report.rows_read:,} rows")
    with open_store(s.database, read_only=True) as st:
        sessions = calendar_of(st).days
        rows = st.prices().height
    scored = sessions[-(days + writes) : -writes]
    for d in scored:
        daily.score_day(s, d, flow_run_id=f"bench-{d}")
    publish_history(s)
    info = {
        "days": days,
        "writes": writes,
        "price_rows": rows,
        "first_session": sessions[0].isoformat(),
        "published": [d.isoformat() for d in scored],
        "to_write": [d.isoformat() for d in sessions[-writes:]],
        "setup_s": round(time.perf_counter() - t0, 1),
    }
    ready.write_text(json.dumps(info, indent=1))
    return info


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Client(threading.Thread):
    """One keep-alive connection sending its share of the schedule (or as fast as it can)."""

    def __init__(
        self, port: int, slots: list[float] | None, until: float, stop: threading.Event
    ) -> None:
        super().__init__(daemon=True)
        self.port, self.slots, self.until, self.stop = port, slots, until, stop
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self.torn: list[str] = []
        self.late = 0
        self.seen: Counter = Counter()
        """Answers by (as_of, flow run, rows): checked against the index after the phase."""

    def run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        i = 0
        while not self.stop.is_set():
            if self.slots is not None:
                if i >= len(self.slots):
                    break
                wait = self.slots[i] - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
                elif wait < -0.005:
                    self.late += 1
                i += 1
            elif time.perf_counter() >= self.until:
                break
            t = time.perf_counter()
            try:
                conn.request("GET", ROUTE)
                answer = conn.getresponse()
                body = answer.read()
            except (OSError, http.client.HTTPException) as exc:
                self.errors.append(repr(exc))
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                continue
            self.latencies.append(time.perf_counter() - t)
            if answer.status != 200:
                self.errors.append(f"{answer.status} {body[:120]!r}")
                continue
            self.check(json.loads(body))
        conn.close()

    def check(self, doc: dict) -> None:
        rows, day = doc["data"], doc["as_of"]
        self.seen[(day, doc["flow_run_id"], len(rows))] += 1
        bad = [
            what
            for what, ok in (
                ("rows != total", len(rows) == doc["total"]),
                ("date", all(r["date"] == day for r in rows)),
                ("model", all(r["model_version"] == doc["model_version"] for r in rows)),
                ("run", all(r["flow_run_id"] == doc["flow_run_id"] for r in rows)),
            )
            if not ok
        ]
        if bad:
            self.torn.append(f"{day}: {', '.join(bad)}")


def phase(
    port: int,
    pid: int,
    clients: int,
    rate: float | None,
    seconds: float,
    stop: threading.Event | None = None,
) -> dict:
    """Run one phase for `seconds` or until `stop` is set; returns its figures (`seen`:
    answers by day, flow run and rows)."""
    stop = stop or threading.Event()
    start = time.perf_counter() + 0.5
    until = start + seconds
    if rate:
        schedule = [start + k / rate for k in range(int(rate * seconds))]
        threads = [Client(port, schedule[c::clients], until, stop) for c in range(clients)]
    else:
        threads = [Client(port, None, until, stop) for _ in range(clients)]
    cpu0, load0 = _cpu_s(pid), load1()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    lat = sorted(x for t in threads for x in t.latencies)
    seen = sum((t.seen for t in threads), Counter())
    q = statistics.quantiles(lat, n=1000) if len(lat) > 1 else [float("nan")] * 999
    return {
        "clients": clients,
        "target_rate": rate,
        "requests": len(lat),
        "throughput_rps": round(len(lat) / wall, 1),
        "p50_ms": round(1000 * q[499], 2),
        "p90_ms": round(1000 * q[899], 2),
        "p99_ms": round(1000 * q[989], 2),
        "max_ms": round(1000 * lat[-1], 2) if lat else None,
        "late_sends": sum(t.late for t in threads),
        "errors": sum(len(t.errors) for t in threads),
        "error_samples": [e for t in threads for e in t.errors][:5],
        "torn_reads": sum(len(t.torn) for t in threads),
        "torn_samples": [e for t in threads for e in t.torn][:5],
        "seen": seen,
        "server_cpu_s": round(_cpu_s(pid) - cpu0, 2),
        "load1_before": load0,
        "load1_after": load1(),
    }


def _against_index(figures: dict, data_dir: Path) -> None:
    """Count answers whose day, flow run and row count are not one publication's (torn), and
    replace `seen` by answers per day."""
    index = json.loads((data_dir / "published" / "index.json").read_text())
    whole = {(d["as_of"], d["flow_run_id"], d["n"]) for d in index["days"]}
    seen = figures.pop("seen")
    wrong = {k: n for k, n in seen.items() if k not in whole}
    figures["torn_reads"] += sum(wrong.values())
    figures["torn_samples"] += [f"{k}: not a publication" for k in wrong][:5]
    days: Counter = Counter()
    for (day, _, _), n in seen.items():
        days[day] += n
    figures["answers_by_day"] = dict(sorted(days.items()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", type=Path, default=DEFAULT_WORK)
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--rate", type=float, default=200.0)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--days", type=int, default=20)
    ap.add_argument("--writes", type=int, default=10)
    args = ap.parse_args()
    print(f"machine: {os.cpu_count()} cores, load {os.getloadavg()}")
    info = prepare(args.work, args.days, args.writes)
    run_dir = args.work / "run"
    shutil.rmtree(run_dir, ignore_errors=True)
    shutil.copytree(args.work / "prepared", run_dir)
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEPSE_")}
    env |= {"NEPSE_DATA_DIR": str(run_dir), "NEPSE_API_LISTEN_PORT": str(port)}
    server = subprocess.Popen(
        [PYTHON, "-m", "nepse.api"],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    import fastapi
    import starlette
    import uvicorn

    results = {
        "command": " ".join([".venv/bin/python", "bench/api_load.py", *sys.argv[1:]]),
        "setup": info,
        "route": ROUTE,
        "clients": args.clients,
        "rate": args.rate,
        "seconds": args.seconds,
        "cores": os.cpu_count(),
        "load_at_start": [round(x, 2) for x in os.getloadavg()],
        "versions": {
            "python": sys.version.split()[0],
            "fastapi": fastapi.__version__,
            "starlette": starlette.__version__,
            "uvicorn": uvicorn.__version__,
        },
    }
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                c.request("GET", ROUTE)
                body = c.getresponse().read()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("the API did not start") from None
                time.sleep(0.2)
        doc = json.loads(body)
        results["answer"] = {"bytes": len(body), "rows": doc["total"], "as_of": doc["as_of"]}
        print(f"answer: {len(body):,} bytes, {doc['total']} rows of {doc['as_of']}")
        results["alone"] = phase(port, server.pid, args.clients, args.rate, args.seconds)
        _against_index(results["alone"], run_dir)
        print("alone:", json.dumps(results["alone"]))
        writer = subprocess.Popen(
            [PYTHON, "-c", WRITER, *info["to_write"]], env=env, cwd=REPO, text=True,
            stdout=subprocess.PIPE,
        )  # fmt: skip
        t0 = time.perf_counter()
        # The phase lasts as long as the writer (at most 15 minutes); answers are checked
        # against the index the writer leaves.
        during: dict = {}
        done = threading.Event()
        box = threading.Thread(
            target=lambda: during.update(
                phase(port, server.pid, args.clients, args.rate, 900.0, done)
            )
        )
        box.start()
        out, _ = writer.communicate()
        write_s = time.perf_counter() - t0
        done.set()
        box.join()
        _against_index(during, run_dir)
        during["writer_exit"] = writer.returncode
        during["writer_s"] = round(write_s, 1)
        during["writer_output"] = out.strip().splitlines()
        results["during_writes"] = during
        print("during writes:", json.dumps(during))
        results["closed_loop"] = phase(port, server.pid, args.clients, None, args.seconds)
        _against_index(results["closed_loop"], run_dir)
        print("closed loop:", json.dumps(results["closed_loop"]))
    finally:
        server.terminate()
        server.wait(timeout=30)
    results["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    results["load_at_end"] = [round(x, 2) for x in os.getloadavg()]
    out_file = REPO / "bench" / "results" / "api_load.json"
    out_file.parent.mkdir(exist_ok=True)
    out_file.write_text(json.dumps(results, indent=1, default=str))
    print(f"results: {out_file}; load now {os.getloadavg()}")


if __name__ == "__main__":
    main()
