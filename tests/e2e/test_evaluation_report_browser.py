"""The evaluation report's pictures render in a real (headless) browser, offline."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest

from nepse.model.backtest import backtest
from nepse.model.evaluate import daily_rank_ic, quintile_returns, score_autocorrelation
from nepse.model.report import PICTURES, trading_figures, trading_report
from nepse.portfolio.market import market_frame
from nepse.portfolio.policy import PortfolioConfig

pytestmark = pytest.mark.browser


def _page() -> str:
    rng = np.random.default_rng(0)
    days = [date(2025, 1, 1) + timedelta(days=i) for i in range(60)]
    syms = [f"S{i}" for i in range(12)]
    rows, close = [], {s: 100.0 for s in syms}
    for d in days:
        for s in syms:
            close[s] *= 1 + rng.normal(0, 0.02)
            c = close[s]
            rows.append((s, d, c, c * 1.01, c * 0.99, 1.0, 1000.0, c * 1000.0))
    adjusted = pl.DataFrame(
        rows,
        schema=[
            "symbol",
            "date",
            "adj_close",
            "adj_high",
            "adj_low",
            "adj_factor",
            "volume",
            "turnover",
        ],
        orient="row",
    )
    market = market_frame(adjusted.lazy().with_columns(close=pl.col("adj_close"))).collect()
    scores = adjusted.select("date", "symbol", pred_ret=pl.col("adj_close").rank().over("date"))
    labels = adjusted.select(
        "date", "symbol", y=pl.col("adj_close").shift(-2).over("symbol") / pl.col("adj_close")
    )
    net = backtest(scores, market, config=PortfolioConfig(top_k=3, keep_k=5, capital=1e6))
    gross = net.gross()
    figs = trading_figures(
        net,
        gross,
        daily_rank_ic(scores, labels, "y"),
        quintile_returns(scores, labels, "y"),
        score_autocorrelation(scores),
    )
    return trading_report(
        figs, title="test report", note="synthetic", tables={"Backtest": [net.summary]}
    )


def test_every_picture_renders_offline(driver, tmp_path):
    page = tmp_path / "evaluation.html"
    page.write_text(_page(), encoding="utf-8")
    text = page.read_text()
    assert '<script src="http' not in text and "<script charset" not in text  # plotly inlined
    driver.get(page.as_uri())
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 30).until(
        lambda d: len(d.find_elements(By.CSS_SELECTOR, ".js-plotly-plot .main-svg")) >= 5
    )
    for i, title in enumerate(PICTURES):
        fig = driver.find_element(By.ID, f"trading-fig-{i}")
        assert fig.find_elements(By.CSS_SELECTOR, ".main-svg"), f"figure {i} did not render"
        assert title.split(",")[0] in fig.text
        # Each figure drew data: at least one trace path.
        assert fig.find_elements(By.CSS_SELECTOR, "g.trace"), f"figure {i} has no trace"
