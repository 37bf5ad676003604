"""Shared fixtures (real data, settings, the Prefect harness, a browser) and which tests run when.

Which tests run when (the one place this is decided):

- Plain `pytest` runs the fast tests: pyproject's addopts deselect `slow` (`-m 'not slow'`).
  `./run test`, and so CI, adds `-m ""`: every test.
- `slow` is every test in a SLOW_FOLDERS folder (a Prefect harness or server, a browser, the
  real data in ../shared, the deployment files' tools), and a test or module marked
  `@pytest.mark.slow` in its file because it starts a process that imports the project or
  serves (the Evidently side process, the `nepse` CLI, a second interpreter, a process holding
  the database): each costs 0.3-5 s of a fresh interpreter's imports. The walls
  (tests/test_layout.py, tests/unit/store/test_layering.py) start one too and stay fast: they
  are the rules every change must keep.
- Tests run on every core (pytest-xdist, addopts `-n auto --dist loadfile`), each file on one
  worker, so a module's fixtures are built once; a session fixture (the Prefect harness) is
  built once on each worker that needs it. Tests are independent: free ports, tmp_path,
  their own PREFECT_HOME or harness. A run of one file (or of tests in one file) runs in this
  process alone, where workers would only add their start; `-n 0` runs anything in one process
  (`--pdb` does so by itself).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent
SHARED_DATA = Path(os.environ.get("NEPSE_SHARED_DATA", REPO.parent / "shared" / "data" / "nepse"))

# Tests never talk to Prefect Cloud or send analytics.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")

SLOW_FOLDERS = ("flows", "e2e", "realdata", "deploy")
"""Folders under tests/ whose every test is slow by kind (see the module docstring)."""


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """`-n auto` on a run of one file (or of tests in one file): no workers; else xdist's count."""
    files = {str(arg).split("::")[0] for arg in config.args}
    if len(files) == 1 and Path(files.pop()).is_file():
        return 0
    return None


def pytest_collection_modifyitems(config, items):
    """Mark every test in a slow folder `slow` (so `-m "not slow"` leaves it out)."""
    for item in items:
        if Path(str(item.path)).resolve().relative_to(TESTS).parts[0] in SLOW_FOLDERS:
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
