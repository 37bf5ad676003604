"""A real headless Chromium opens the report index, follows a link and sees the rendered report.

Needs Debian's `chromium` and `chromium-driver` packages (`apt-get install -y chromium
chromium-driver`); skipped where they are absent. Selenium Manager never downloads anything:
the driver path is given explicitly and SE_OFFLINE is set. Screenshots go to test-output/.
"""

from __future__ import annotations

import re
import threading
import time
from datetime import date

import numpy as np
import polars as pl
import pytest

from nepse.monitoring.drift import run_drift
from nepse.monitoring.reports import build_index, drift_report_path, serve
from tests.conftest import REPO

pytestmark = pytest.mark.browser

OUTPUT = REPO / "test-output"
SHIFTED = "f_shifted_momentum"


def _frame(n: int, seed: int, shift: float) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    return pl.DataFrame(
        {
            "f_ret_1": rng.normal(size=n),
            SHIFTED: rng.normal(size=n) + shift,
            "f_vol_20": rng.gamma(2.0, size=n),
            "f_sector": rng.choice(["bank", "hydro", "insurance"], size=n),
            "pred_ret": rng.normal(scale=0.01, size=n),
        }
    )


@pytest.fixture
def site(tmp_path):
    """A data folder with one real drift report and its index, served on a free local port."""
    day, version = date(2026, 5, 4), "v20260501"
    summary = run_drift(
        _frame(1500, seed=1, shift=0.0),
        _frame(250, seed=2, shift=1.5),
        features=["f_ret_1", SHIFTED, "f_vol_20"],
        categorical=["f_sector"],
        out_html=drift_report_path(tmp_path, day, version),
    )
    assert [c.column for c in summary.drifted_columns] == [SHIFTED]
    row = {"date": day, "model_version": version, "rank_ic": 0.05, **summary.to_dict()}
    row["alarms"] = [
        {
            "name": "feature drift",
            "value": 0.21,
            "threshold": 0.35,
            "position": 0.62,
            "alarm": False,
        },
    ]
    build_index(tmp_path, [row])
    server = serve(tmp_path, port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_index_links_to_a_rendered_drift_report(driver, site):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    OUTPUT.mkdir(exist_ok=True)
    driver.get(site)
    assert "drift reports" in driver.title.lower()
    cells = [td.text for td in driver.find_elements(By.CSS_SELECTOR, "#reports tbody tr td")]
    assert cells == [
        "2026-05-04",
        "v20260501",
        "feature drift 0.210 / 0.350, 62nd",
        "25.0% (1/4)",
        "no",
        "+0.050",
        "drift report",
    ]
    driver.save_screenshot(str(OUTPUT / "reports-index.png"))

    driver.find_element(By.LINK_TEXT, "drift report").click()
    assert driver.current_url == site + "2026-05-04/drift-v20260501.html"
    # The report is drawn by JavaScript from embedded JSON: wait for its text, not the load.
    WebDriverWait(driver, 60).until(
        ec.text_to_be_present_in_element((By.TAG_NAME, "body"), SHIFTED)
    )
    WebDriverWait(driver, 30).until(
        ec.text_to_be_present_in_element((By.TAG_NAME, "body"), "Drift")
    )
    text = driver.find_element(By.TAG_NAME, "body").text
    (OUTPUT / "drift-report.txt").write_text(text, encoding="utf-8")
    assert "Dataset Drift is NOT detected" in text
    assert "Drift is detected for 25.0% of columns (1 out of 4)" in text
    # The drift table: the shifted column is marked Detected, an unshifted one is not.
    assert re.search(rf"{SHIFTED}\s+num\s+Detected\s+K-S p_value", text)
    assert re.search(r"f_ret_1\s+num\s+Not Detected\s+K-S p_value", text)
    assert "Drift in column 'pred_ret'" in text
    # Self-contained: every resource the page fetched came from the local test server.
    fetched = driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
    )
    assert [u for u in fetched if not u.startswith((site, "data:", "blob:"))] == []
    driver.save_screenshot(str(OUTPUT / "drift-report.png"))
    cell = driver.find_element(By.XPATH, f"//*[normalize-space(text())='{SHIFTED}']")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", cell)
    driver.save_screenshot(str(OUTPUT / "drift-report-shifted-column.png"))


# --- the Evidently UI on the workspace the daily runs fill ---------------------------------


@pytest.fixture
def evidently_ui(tmp_path):
    """A workspace with a week of daily runs (sample market), and `evidently ui` serving it."""
    import socket
    import subprocess
    import time
    import urllib.request

    from flows.cli.reports_ui import start_ui
    from nepse.devdata.sample import generate_panel
    from nepse.features import FEATURE_SPEC, build_features
    from nepse.features.adjust import adjust_prices
    from nepse.monitoring.baseline import build_baseline, check
    from nepse.monitoring.workspace import (
        WORKSPACE_DIR,
        add_to_workspace,
        drift_snapshot,
        numbers_of,
        numbers_snapshot,
    )
    from nepse.settings import load_settings

    prices = generate_panel(symbols=40, years=2, seed=5)
    feat = build_features(adjust_prices(prices, None, settings=load_settings()), None).collect()
    feat = feat.with_columns(pred_ret=-pl.col("f_ret_1"))
    days = sorted(feat["date"].unique().to_list())
    base = build_baseline(
        feat.filter(pl.col("date") <= days[-15]),
        features=list(FEATURE_SPEC.names),
        categorical=["f_sector"],
        reference_days=60,
        calibration_days=120,
    )
    for end in range(len(days) - 5, len(days)):
        cur = feat.filter(pl.col("date").is_between(days[end - 4], days[end]))
        verdict = check(base, cur)
        snap = drift_snapshot(base, cur, verdict.top_columns(4), days[end])
        numbers = numbers_of(verdict, rolling_rank_ic=0.04 + 0.01 * (end % 3), rank_ic_floor=-0.02)
        add_to_workspace(tmp_path, snap, numbers_snapshot(numbers, days[end]))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = (tmp_path / "evidently-ui.log").open("w")
    proc = start_ui(
        tmp_path / WORKSPACE_DIR, "127.0.0.1", port, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(url + "api/projects", timeout=2).read()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError((tmp_path / "evidently-ui.log").read_text()) from None
                time.sleep(1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


def test_evidently_ui_shows_the_monitoring_dashboard_offline(driver, evidently_ui):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    from nepse.monitoring.workspace import PANELS, PROJECT

    OUTPUT.mkdir(exist_ok=True)
    driver.get(evidently_ui)
    WebDriverWait(driver, 60).until(
        ec.text_to_be_present_in_element((By.TAG_NAME, "body"), PROJECT)
    )
    driver.save_screenshot(str(OUTPUT / "evidently-ui-projects.png"))
    driver.find_element(By.PARTIAL_LINK_TEXT, PROJECT).click()
    first_panel = PANELS[0][0]
    WebDriverWait(driver, 60).until(
        ec.text_to_be_present_in_element((By.TAG_NAME, "body"), first_panel)
    )
    time.sleep(2)  # let the plots draw
    text = driver.find_element(By.TAG_NAME, "body").text
    (OUTPUT / "evidently-ui-dashboard.txt").write_text(text, encoding="utf-8")
    for title, _ in PANELS:
        assert title in text, title
    # Each panel draws its series (the legend names them) on a time axis.
    assert "feature_drift_line" in text and "rolling_rank_ic" in text
    assert text.count("Timestamps") == len(PANELS)
    assert len(driver.find_elements(By.CSS_SELECTOR, "svg")) >= len(PANELS)
    driver.save_screenshot(str(OUTPUT / "evidently-ui-dashboard.png"))
    # Offline: every resource the UI fetched came from the local Evidently server.
    fetched = driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
    )
    assert [u for u in fetched if not u.startswith((evidently_ui, "data:", "blob:"))] == []
