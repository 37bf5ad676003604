"""Hostile situations met by the services (issue 25): a model file cut short but consistent with
its manifest, a server trickling its answer, the report servers asked for what is not theirs to
give, an edited drift baseline. Same contract as nepse/devdata/hostile_scenarios.py.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import textwrap
import threading
import time
import urllib.error
import urllib.request
from datetime import date
from pathlib import Path

import polars as pl

from nepse.devdata.hostile_runs import SCENARIOS_RUNS
from nepse.devdata.hostile_scenarios import SCENARIOS_DATA, Scenario, Seen
from nepse.errors import ModelNotFoundError, TransientSourceError

# A model folder whose model.txt is cut and whose manifest is made to match, then the champion
# scored through the fallback chain: in a child process, so that a crash shows as a signal.
_SCORE = textwrap.dedent(
    """
    import sys
    from datetime import date
    import numpy as np, polars as pl
    from nepse.model._lightgbm import lgb
    from nepse.model import files
    from nepse.model.final import SAVED_FILES, TrainedModel
    from nepse.model.scoring import Candidate, score_with_fallback
    folder, keep = sys.argv[1], float(sys.argv[2])
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 5))
    booster = lgb.train({"objective": "regression", "verbose": -1}, lgb.Dataset(x, x[:, 0]), 40)
    meta = {"feature_names": booster.feature_name(), "best_iteration": 40, "version": "v-cut"}
    TrainedModel(booster, booster.feature_name(), [], meta, pl.DataFrame()).save(folder)
    model = f"{folder}/model.txt"
    data = open(model, "rb").read()
    open(model, "wb").write(data[: int(len(data) * keep)])
    files.seal(folder, SAVED_FILES)
    day = date(2026, 4, 2)
    features = pl.DataFrame({"symbol": ["A", "B"], "date": [day, day], "f_ret_1": [0.01, -0.02]})
    features = features.with_columns(**{n: pl.lit(0.0) for n in booster.feature_name()})
    champion = Candidate("v-cut", "champion", lambda: TrainedModel.load(folder))
    out = score_with_fallback(features, [champion])
    print(out.model_role, "|", out.problems[0] if out.problems else "")
    """
)


def truncated_model(keep: float):
    def run(root: Path) -> Seen:
        done = subprocess.run(
            [sys.executable, "-c", _SCORE, str(root / "model"), str(keep)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode != 0:
            raise RuntimeError(f"the scoring process ended with {done.returncode}")
        return Seen(done.stdout.strip().splitlines()[-1])

    return run


_COLUMNS = ["symbol", "date", "open", "high", "low", "close", "volume", "turnover", "trades"]


def trickling(kind: str):
    """A fake server sends its answer a byte every 0.05 s; the deadline is 1 s."""

    def run(root: Path) -> Seen:
        from nepse.devdata.fake_api import FakeNepseApi
        from nepse.devdata.fake_exchange import FakeExchange
        from nepse.settings import load_settings
        from nepse.sources.api import ApiSource
        from nepse.sources.nepse_exchange import ExchangeSource

        day = date(2025, 8, 28)
        prices = pl.DataFrame(
            [(f"S{i}", day, 100.0, 101.0, 99.0, 100.0, 10.0, 1000.0, 2) for i in range(20)],
            schema=[
                "symbol",
                "date",
                "open",
                "high",
                "low",
                "close",
                "volume",
                "turnover",
                "trades",
            ],
            orient="row",
        )
        fake = FakeNepseApi(prices, token="t") if kind == "api" else FakeExchange(prices)
        with fake:
            fake.set_faults({"trickle_s": 0.05})
            common = {"data_dir": root, "api_base_url": fake.url, "api_read_timeout_s": 0.5}
            if kind == "api":
                source = ApiSource(load_settings(**common, api_token="t", api_deadline_s=1.0))
            else:
                source = ExchangeSource(
                    load_settings(**common, exchange_min_interval_s=0, api_deadline_s=1.0)
                )
            t0 = time.monotonic()
            try:
                source.fetch_day(day, raw_dir=root / "raw")
                said = "the day was fetched"
            except TransientSourceError as exc:
                said = f"TransientSourceError after {time.monotonic() - t0:.1f} s: {exc}"
        return Seen(said)

    return run


def _get(url: str, method: str = "GET") -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as exc:
        return exc.code


def reports_server(root: Path) -> Seen:
    """Links out of the reports folder (to /etc/passwd, to the data folder), a listing, a PUT."""
    from nepse.monitoring.reports import build_index, serve

    build_index(root, [])
    (root / "nepse.duckdb").write_bytes(b"the database")
    reports = root / "reports"
    (reports / "passwd").symlink_to("/etc/passwd")
    (reports / "data").symlink_to(root)
    (reports / "2026-04-02").mkdir()
    server = serve(root, port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}/"
        codes = {
            "/passwd": _get(base + "passwd"),
            "/data/nepse.duckdb": _get(base + "data/nepse.duckdb"),
            "/2026-04-02/ (listing)": _get(base + "2026-04-02/"),
            "PUT /index.html": _get(base + "index.html", "PUT"),
            "/ (the index)": _get(base),
        }
    finally:
        server.shutdown()
        server.server_close()
    want = {k: 200 if "index)" in k else 501 if k.startswith("PUT") else 404 for k in codes}
    wrong = tuple(f"{k} answered {codes[k]}" for k in codes if codes[k] != want[k])
    return Seen(", ".join(f"{k} {v}" for k, v in codes.items()), wrong)


def evidently_ui(root: Path) -> Seen:
    """`nepse reports ui`'s Evidently: DELETE the monitoring project, then look for it."""
    from flows.cli.reports_ui import start_ui
    from nepse.monitoring.workspace import WORKSPACE_DIR, open_project, open_workspace

    project = open_project(open_workspace(root), root / WORKSPACE_DIR)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with (root / "ui.log").open("w") as log:
        proc = start_ui(root / WORKSPACE_DIR, "127.0.0.1", port, stdout=log, stderr=log)
        url = f"http://127.0.0.1:{port}/api/projects"
        try:
            deadline = time.monotonic() + 120
            while _get_or_none(url) is None:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the Evidently UI did not start")
                time.sleep(0.5)
            code = _get(f"{url}/{project.id}", "DELETE")
            with urllib.request.urlopen(url, timeout=10) as resp:
                names = [p["name"] for p in json.loads(resp.read())]
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    wrong = () if names else ("the monitoring project is gone",)
    return Seen(f"DELETE /api/projects/<id> answered {code}; projects afterwards: {names}", wrong)


def _get_or_none(url: str) -> int | None:
    try:
        return _get(url)
    except OSError:
        return None


def edited_drift_baseline(root: Path) -> Seen:
    """The model's drift_baseline.json edited to move every alarm line, then loaded."""
    from nepse.devdata.sample import generate_panel
    from nepse.features import FEATURE_SPEC, build_features
    from nepse.features.adjust import adjust_prices
    from nepse.model import files
    from nepse.monitoring.baseline import BASELINE_FILE, build_baseline, load_or_none

    feat = build_features(
        adjust_prices(generate_panel(symbols=20, years=0.5, seed=4), None),
        None,
    ).collect()
    folder = root / "model"
    folder.mkdir()
    files.seal(folder, [])
    build_baseline(
        feat,
        features=list(FEATURE_SPEC.names),
        categorical=[],
        reference_days=20,
        calibration_days=50,
    ).save(folder)
    path = folder / BASELINE_FILE
    meta = json.loads(path.read_text())
    for cal in meta["calibrations"].values():
        cal["values"] = [v * 100 for v in cal["values"]]  # every alarm line 100x higher
    path.write_text(json.dumps(meta))
    try:
        load_or_none(folder)
    except ModelNotFoundError as exc:
        return Seen(f"ModelNotFoundError: {exc}")
    return Seen("loaded", ("the edited alarm lines were accepted",))


SCENARIOS_SERVICES: tuple[Scenario, ...] = (
    *(
        Scenario(
            f"model.txt cut at {keep:.0%}, manifest regenerated to match",
            "crash",
            "naive_baseline | champion v-cut: ModelNotFoundError",
            truncated_model(keep),
        )
        for keep in (0.5, 0.99)
    ),
    *(
        Scenario(
            f"{kind} answer trickling a byte every 0.05 s (read timeout 0.5 s, deadline 1 s)",
            "hang",
            "no complete answer within 1 s",
            trickling(kind),
        )
        for kind in ("api", "exchange")
    ),
    Scenario(
        "reports server asked for links out, a listing, a PUT",
        "security",
        "/passwd 404",
        reports_server,
    ),
    Scenario(
        "Evidently UI: DELETE the monitoring project",
        "security",
        "answered 403",
        evidently_ui,
        slow=True,
    ),
    Scenario(
        "drift_baseline.json edited (every alarm line x100)",
        "security",
        "drift_baseline.json is corrupt",
        edited_drift_baseline,
        slow=True,
    ),
)

SCENARIOS: tuple[Scenario, ...] = (*SCENARIOS_DATA, *SCENARIOS_RUNS, *SCENARIOS_SERVICES)
