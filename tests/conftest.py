"""Shared fixtures: where the real NEPSE data lives, and test-wide environment."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("NEPSE_SHARED_DATA", REPO.parent / "shared" / "data" / "nepse"))

# Tests never talk to Prefect Cloud or send analytics.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")


# Folders whose tests are slow by kind (a Prefect server or harness, real data, subprocesses):
# plain `pytest` leaves them out; `./run test` (and so CI) runs everything.
SLOW_FOLDERS = ("flows", "e2e", "realdata", "deploy")


def pytest_collection_modifyitems(config, items):
    """Mark every test in a slow folder `slow` (so `-m "not slow"` skips it)."""
    root = Path(__file__).resolve().parent
    for item in items:
        rel = Path(str(item.path)).resolve().relative_to(root)
        if rel.parts and rel.parts[0] in SLOW_FOLDERS:
            item.add_marker(pytest.mark.slow)


def shared_data(*parts: str) -> Path:
    """Path inside ../shared/data/nepse; skips the test with a reason when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real NEPSE data not found at {path} (set NEPSE_SHARED_DATA to its folder)")
    return path


@pytest.fixture
def settings(tmp_path, monkeypatch):
    """Settings with the database and data folder under tmp_path and no NEPSE_* leaking in."""
    from nepse.settings import load_settings

    for key in list(os.environ):
        if key.startswith("NEPSE_") and key != "NEPSE_SHARED_DATA":
            monkeypatch.delenv(key)
    return load_settings(data_dir=tmp_path / "data")


@pytest.fixture(scope="session")
def prefect_harness(tmp_path_factory):
    """One temporary Prefect API for the whole session (it takes ~15 s to start)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="session")
def sample_dir(tmp_path_factory) -> Path:
    """A small deterministic sample market (30 equities x 2 years) in the ShareSansar layout."""
    from nepse.devdata.sample import write_sample

    out = tmp_path_factory.mktemp("sample") / "market"
    write_sample(out, symbols=30, years=2.0, seed=7)
    return out


@pytest.fixture
def flow_env(settings, monkeypatch):
    """Environment for flow runs: tasks read settings from NEPSE_* variables."""
    monkeypatch.setenv("NEPSE_DATA_DIR", str(settings.data_dir))
    return settings


CHROMIUM = Path(os.environ.get("NEPSE_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("NEPSE_CHROMEDRIVER", "/usr/bin/chromedriver"))


@pytest.fixture
def driver(tmp_path, monkeypatch):
    """Headless Chromium (Debian's) with a throw-away profile and nothing that phones home."""
    for binary in (CHROMIUM, CHROMEDRIVER):
        if not binary.is_file():
            pytest.skip(
                f"{binary} not found: install Debian's chromium and chromium-driver "
                f"(apt-get install -y chromium chromium-driver) to run browser tests"
            )
    monkeypatch.setenv("SE_OFFLINE", "true")  # Selenium Manager: never download a driver
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-quic",
        "--window-size=1400,1100",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ):
        options.add_argument(arg)
    browser = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    browser.set_page_load_timeout(60)
    try:
        yield browser
    finally:
        browser.quit()
