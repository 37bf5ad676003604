"""A real headless Chromium opens the report index, follows a link and sees the rendered report.

Needs Debian's `chromium` and `chromium-driver` packages (`apt-get install -y chromium
chromium-driver`); skipped where they are absent. Selenium Manager never downloads anything:
the driver path is given explicitly and SE_OFFLINE is set. Screenshots go to test-output/.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from functools import cache

import polars as pl
import pytest

from nepse.monitoring.reports import build_index, drift_report_path, serve
from tests.conftest import REPO

pytestmark = pytest.mark.browser

OUTPUT = REPO / "test-output"
CHANGED = "f_kmid"


@cache
def _market():
    """A 40-stock, 2-year sample market, its features with a stand-in prediction, and a drift
    baseline of its sessions up to 15 before the end."""
    from nepse.devdata.sample import generate_panel
    from nepse.features import FEATURE_SPEC, build_features
    from nepse.features.adjust import adjust_prices
    from nepse.monitoring.baseline import build_baseline

    prices = generate_panel(symbols=40, years=2, seed=5)
    feat = build_features(adjust_prices(prices, None), None).collect()
    feat = feat.with_columns(pred_ret=-pl.col("f_ret_1"))
    days = sorted(feat["date"].unique().to_list())
    base = build_baseline(
        feat.filter(pl.col("date") <= days[-15]),
        features=list(FEATURE_SPEC.names),
        categorical=["f_sector"],
        reference_days=60,
        calibration_days=120,
    )
    return feat, days, base


def _window(end: int, *, changed_from: int | None = None) -> pl.DataFrame:
    """The 5 sessions ending at session `end`; from `changed_from` on, half the stocks' candle
    body twenty times too large (a change the worst-feature statistic flags)."""
    feat, days, _ = _market()
    if changed_from is not None:
        half = pl.col("symbol").hash(seed=1) % 2 == 0
        feat = feat.with_columns(
            pl.when((pl.col("date") >= days[changed_from]) & half)
            .then(pl.col(CHANGED) * 20)
            .otherwise(pl.col(CHANGED))
            .alias(CHANGED)
        )
    return feat.filter(pl.col("date").is_between(days[end - 4], days[end]))


@pytest.fixture
def site(tmp_path):
    """A data folder with one alarm day's Evidently page and its index, served on a free port."""
    from nepse.monitoring.baseline import check
    from nepse.monitoring.files import write_text_atomic
    from nepse.monitoring.page import day_snapshot, page_html

    _, days, base = _market()
    end = len(days) - 1
    window = _window(end, changed_from=end - 4)
    day, version = days[end], "v20260501"
    summary = check(base, window)
    assert summary.dataset_drift and CHANGED in [c.column for c in summary.drifted_columns]
    page = drift_report_path(tmp_path, day, version)
    snap = day_snapshot(base, window, summary, day=day, model_version=version, columns=4)
    write_text_atomic(page, page_html(snap))
    summary = replace(summary, html_path=page)
    row = {"date": day, "model_version": version, "rank_ic": 0.05, **summary.to_dict()}
    build_index(tmp_path, [row])
    server = serve(tmp_path, port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", day, version, summary
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_index_links_to_a_page_that_says_the_same_verdict(driver, site):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    url, day, version, summary = site
    OUTPUT.mkdir(exist_ok=True)
    driver.get(url)
    assert "drift reports" in driver.title.lower()
    cells = [td.text for td in driver.find_elements(By.CSS_SELECTOR, "#reports tbody tr td")]
    assert cells[:2] == [str(day), version]
    assert "worst feature" in cells[2]
    assert cells[3].endswith(f"({summary.n_drifted}/{summary.n_columns})")
    assert cells[4:] == ["yes", "+0.050", "drift report"]
    driver.save_screenshot(str(OUTPUT / "reports-index.png"))

    driver.find_element(By.LINK_TEXT, "drift report").click()
    assert driver.current_url == url + f"{day}/drift-{version}.html"
    # The report is drawn by JavaScript from embedded JSON: wait for its text, not the load.
    WebDriverWait(driver, 60).until(
        ec.text_to_be_present_in_element((By.TAG_NAME, "body"), CHANGED)
    )
    driver.save_screenshot(str(OUTPUT / "drift-report.png"))
    driver.find_element(By.XPATH, "//*[normalize-space(text())='Tests']").click()
    WebDriverWait(driver, 30).until(
        ec.text_to_be_present_in_element((By.TAG_NAME, "body"), "Value Drift for column")
    )
    text = driver.find_element(By.TAG_NAME, "body").text
    (OUTPUT / "drift-report-tests.txt").write_text(text, encoding="utf-8")
    driver.save_screenshot(str(OUTPUT / "drift-report-tests.png"))
    # Evidently's Tests tab is the verdict: the alarmed statistic and the changed feature fail,
    # at their calibrated lines; nothing else does.
    alarmed = [a.name for a in summary.alarms if a.alarm and a.name != "prediction drift"]
    shown_drifted = [c.column for c in summary.top_columns(4) if c.drifted]
    fails = len(alarmed) + len(shown_drifted)
    assert f"{fails}\nFAIL" in text, text[:400]
    line = next(c for c in summary.columns if c.column == CHANGED).threshold
    assert f"The drift threshold is {line:0.2f}" in text
    worst = summary.alarm("worst feature")
    assert f"Less or Equal {worst.threshold:.3f}" in text
    # Self-contained: every resource the page fetched came from the local test server.
    fetched = driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
    )
    assert [u for u in fetched if not u.startswith((url, "data:", "blob:"))] == []


# --- the Evidently UI on the workspace the daily runs fill ---------------------------------


@pytest.fixture
def evidently_ui(tmp_path):
    """A workspace with a week of daily runs (sample market; a change in its last two days), and
    `evidently ui` serving it; yields its URL and each day's verdict."""
    import socket
    import subprocess
    import urllib.request

    from flows.cli.reports_ui import start_ui
    from nepse.monitoring.baseline import check
    from nepse.monitoring.page import day_snapshot
    from nepse.monitoring.workspace import WORKSPACE_DIR, open_workspace, put_day_run

    _, days, base = _market()
    last = len(days) - 1
    verdicts = []
    for end in range(last - 4, last + 1):
        window = _window(end, changed_from=last - 1)
        summary = check(base, window)
        verdicts.append(summary.dataset_drift)
        snap = day_snapshot(
            base,
            window,
            summary,
            day=days[end],
            model_version="v1",
            columns=0,
            rank_ic=0.04 + 0.01 * (end % 3),
        )
        put_day_run(open_workspace(tmp_path), tmp_path, snap, day=days[end], model_version="v1")
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
        yield url, verdicts
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


def test_evidently_ui_shows_the_monitoring_dashboard_offline(driver, evidently_ui):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    from nepse.monitoring.workspace import PANELS, PROJECT

    evidently_ui, verdicts = evidently_ui
    assert any(verdicts) and not all(verdicts)  # both kinds of day are shown
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
    for title, *_ in PANELS:
        assert title in text, title
    # Each panel draws its series (the legend names it) on a time axis.
    assert "feature drift" in text and "prediction drift" in text and "rolling Rank IC" in text
    assert text.count("Timestamps") == len(PANELS)
    assert len(driver.find_elements(By.CSS_SELECTOR, "svg")) >= len(PANELS)
    driver.save_screenshot(str(OUTPUT / "evidently-ui-dashboard.png"))
    # Offline: every resource the UI fetched came from the local Evidently server.
    fetched = driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
    )
    assert [u for u in fetched if not u.startswith((evidently_ui, "data:", "blob:"))] == []
    # The runs list: one run a day, named by day and model, its verdict in tags and metadata.
    driver.find_element(By.XPATH, "//*[normalize-space(text())='Reports']").click()
    WebDriverWait(driver, 60).until(
        ec.text_to_be_present_in_element((By.TAG_NAME, "body"), "drift 2026-")
    )
    time.sleep(1)
    text = driver.find_element(By.TAG_NAME, "body").text
    (OUTPUT / "evidently-ui-runs.txt").write_text(text, encoding="utf-8")
    driver.save_screenshot(str(OUTPUT / "evidently-ui-runs.png"))
    assert text.count("drift 2026-") == len(verdicts) == 5
    assert text.count('"verdict":"ALARM') == sum(verdicts)
    assert text.count('"verdict":"no drift alarm"') == len(verdicts) - sum(verdicts)
