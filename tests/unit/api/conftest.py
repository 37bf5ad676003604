"""A data folder with three scored days (the naive scorer), a drift row and a registered
champion, published by the library's own writer; tests copy it before changing anything."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

VERSION = "20260101-000000-abc123"
CARD = "# Model 20260101-000000-abc123\n\nA card for the tests.\n"
KEY = "k" * 12 + "-test-key-0123456789"


@dataclass(frozen=True)
class Scored:
    """The prepared data folder and what was scored in it."""

    data_dir: Path
    days: tuple[date, ...]
    """The scored days, oldest first."""

    def settings(self, **overrides):
        from nepse.settings import load_settings

        return load_settings(data_dir=self.data_dir, stale_after_minutes=60, **overrides)


def _clean_env() -> None:
    for key in list(os.environ):
        if key.startswith("NEPSE_") and key != "NEPSE_SHARED_DATA":
            del os.environ[key]


@pytest.fixture(scope="package")
def scored_folder(tmp_path_factory) -> Scored:
    """Ingest a 30-equity, 1-year sample; score its last three sessions; add a drift row to the
    last and a champion with its card; then `nepse api publish` (publish_history)."""
    from nepse.app import daily, ingest
    from nepse.app.snapshot import publish_history
    from nepse.devdata.sample import write_sample
    from nepse.settings import load_settings
    from nepse.store import open_store

    saved = dict(os.environ)
    _clean_env()
    try:
        root = tmp_path_factory.mktemp("api")
        market = root / "market"
        write_sample(market, symbols=30, years=1.0, seed=3)
        s = load_settings(data_dir=root / "data")
        ingest.ingest_files(s, market)
        days = ingest.store_calendar(s).days[-3:]
        for d in days:
            daily.score_day(s, d, flow_run_id=f"run-{d.isoformat()}")
        with open_store(s.database) as st:
            st.save_drift(days[-1], "naive-reversal-1d", _drift_summary())
            st.insert_model(
                {
                    "version": VERSION,
                    "created_at": datetime(2026, 1, 1),
                    "status": "candidate",
                    "rank_ic": 0.05,
                    "path": str(s.data_dir / "models" / VERSION),
                }
            )
            st.set_champion(VERSION, previous=None, reason="test champion")
        card = s.data_dir / "models" / VERSION / "card.md"
        card.parent.mkdir(parents=True)
        card.write_text(CARD, encoding="utf-8")
        publish_history(s)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return Scored(data_dir=s.data_dir, days=tuple(days))


def _drift_summary() -> dict:
    return {
        "share_drifted": 0.25,
        "n_drifted": 1,
        "n_columns": 4,
        "dataset_drift": False,
        "columns": [
            {"column": "f_ret_1", "method": "z", "score": 4.2, "drifted": True},
            {"column": "f_vol_20", "method": "z", "score": 0.3, "drifted": False},
        ],
        "prediction_drift": None,
        "html_path": "None",
        "alarms": [{"name": "feature drift", "value": 0.2, "threshold": 0.35, "alarm": False}],
    }


@pytest.fixture
def scored(scored_folder, tmp_path) -> Scored:
    """A private copy of the prepared data folder (database included: writers may republish)."""
    data = tmp_path / "data"
    shutil.copytree(scored_folder.data_dir, data, symlinks=True)
    return Scored(data_dir=data, days=scored_folder.days)


def kathmandu(day: date, hour: int, minute: int = 0) -> datetime:
    """A moment in Kathmandu time, in UTC."""
    return datetime.combine(day, time(hour, minute), tzinfo=ZoneInfo("Asia/Kathmandu")).astimezone(
        UTC
    )


def client(scored: Scored, *, now: datetime | None = None, **overrides):
    """A TestClient of the API over `scored`'s published folder with a fixed clock."""
    from fastapi.testclient import TestClient

    from nepse.api.app import create_app

    moment = now or kathmandu(scored.days[-1], 18)
    return TestClient(create_app(scored.settings(**overrides), clock=lambda: moment))


class Running:
    """A real uvicorn server of an app on a free 127.0.0.1 port, in a thread."""

    def __init__(self, app) -> None:
        import socket
        import threading

        import uvicorn

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Running:
        import time as _time

        self.thread.start()
        deadline = _time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or _time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            _time.sleep(0.02)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    def raw(self, method: str, path: str, headers: dict | None = None) -> tuple[int, bytes]:
        """Send `path` exactly as given (no client-side normalisation of `..` or `%2F`)."""
        import http.client

        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.putrequest(method, path, skip_accept_encoding=True)
            for k, v in (headers or {}).items():
                conn.putheader(k, v)
            conn.endheaders()
            answer = conn.getresponse()
            return answer.status, answer.read()
        finally:
            conn.close()
