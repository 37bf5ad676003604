"""A real headless Chromium opens the API's /docs: Swagger UI renders every route, offline.

The page's JavaScript and CSS are served by the API itself (fastapi-offline), so the docs
work on a machine without the internet; the test checks that nothing was fetched from
elsewhere. It then expands one route, sends the request from the page ("Try it out") and
reads the live answer. Needs Debian's `chromium` and `chromium-driver` (skipped otherwise);
screenshots go to test-output/.
"""

from __future__ import annotations

import pytest

from tests.conftest import REPO
from tests.unit.api.conftest import Running, scored, scored_folder  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser

OUTPUT = REPO / "test-output"


def test_docs_page_renders_every_route_offline(driver, scored):  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    from nepse.api.app import create_app

    OUTPUT.mkdir(exist_ok=True)
    app = create_app(scored.settings())
    paths = list(app.openapi()["paths"])
    assert len(paths) == 15
    with Running(app) as server:
        driver.get(server.url + "/docs")
        WebDriverWait(driver, 60).until(
            ec.presence_of_element_located((By.CSS_SELECTOR, ".opblock-summary-path"))
        )
        shown = [
            e.get_attribute("data-path")
            for e in driver.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")
        ]
        assert sorted(shown) == sorted(paths)
        assert all(
            m.text == "GET"
            for m in driver.find_elements(By.CSS_SELECTOR, ".opblock-summary-method")
        )
        text = driver.find_element(By.TAG_NAME, "body").text
        assert "NEPSE predictions API" in text
        for tag in ("predictions", "trading", "service"):
            assert tag in text
        driver.save_screenshot(str(OUTPUT / "api-docs.png"))

        # Expand /health and send it from the page: the live answer shows the scored day.
        block = driver.find_element(By.ID, "operations-service-health_health_get")
        block.find_element(By.CSS_SELECTOR, ".opblock-summary").click()
        WebDriverWait(driver, 20).until(
            ec.element_to_be_clickable(
                (By.CSS_SELECTOR, "#operations-service-health_health_get .try-out__btn")
            )
        ).click()
        block.find_element(By.CSS_SELECTOR, ".execute").click()
        WebDriverWait(driver, 30).until(
            ec.text_to_be_present_in_element(
                (By.CSS_SELECTOR, "#operations-service-health_health_get .live-responses-table"),
                scored.days[-1].isoformat(),
            )
        )
        shown = block.text
        assert '"days_published": 3' in shown  # the live answer of the 3 published days
        assert "20261118-093012-4f2a9c" in shown  # the documented example beside it
        driver.save_screenshot(str(OUTPUT / "api-docs-health.png"))
        fetched = driver.execute_script(
            "return performance.getEntriesByType('resource').map(e => e.name)"
        )
    assert fetched and [u for u in fetched if not u.startswith((server.url, "data:"))] == []
