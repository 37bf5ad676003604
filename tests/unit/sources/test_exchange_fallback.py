"""ShareSansar's today's-price page as the fallback: its reader on recorded pages the tests
write, and the choice between the exchange and the fallback, with disagreements recorded."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from nepse.devdata.fake_exchange import FakeExchange
from nepse.devdata.fake_sharesansar import render_page
from nepse.errors import SourceError, TransientSourceError
from nepse.settings import load_settings
from nepse.sources.base import Holiday, PriceSource, missing_day_reason
from nepse.sources.fallback import fetch_with_fallback
from nepse.sources.nepse_exchange import ExchangeSource
from nepse.sources.select import fallback_for, source_for
from nepse.sources.sharesansar_live import (
    ShareSansarSource,
    parse_export,
    parse_page,
    rows_to_result,
)

DAY = date(2025, 8, 28)
# A page as ShareSansar writes it: thousands commas, '-' for no value, a link in the symbol
# cell, the day in an "As of" line, and a second table that is not the prices.
RECORDED_PAGE = """<!DOCTYPE html><html><head><title>Today's Share Price</title></head><body>
<table id="index"><tr><th>Index</th></tr><tr><td>NEPSE</td></tr></table>
<div class="floatleft"><span>As of : <span class="text-org">2025-08-28</span></span></div>
<table class="table table-bordered" id="headFixed">
<thead><tr><th>S.No</th><th>Symbol</th><th>Conf.</th><th>Open</th><th>High</th><th>Low</th>
<th>Close</th><th>VWAP</th><th>Vol</th><th>Prev. Close</th><th>Turnover</th><th>Trans.</th>
<th>Diff</th><th>Range</th><th>Diff %</th><th>Range %</th><th>VWAP %</th><th>120 Days</th>
<th>180 Days</th><th>52 Weeks High</th><th>52 Weeks Low</th></tr></thead>
<tbody>
<tr><td>1</td><td><a href="/company/adbl" title="Agricultural Development Bank">ADBL</a></td>
<td>55.1</td><td>301.00</td><td>305.00</td><td>298.10</td><td>302.50</td><td>301.7</td>
<td>12,345.00</td><td>300.00</td><td>3,724,516.50</td><td>210</td><td>2.5</td><td>6.9</td>
<td>0.83</td><td>2.31</td><td>0.26</td><td>290.1</td><td>285.0</td><td>350.0</td><td>250.0</td></tr>
<tr><td>2</td><td><a href="/company/nabil" title="Nabil Bank">NABIL</a></td>
<td>48.0</td><td>-</td><td>1,210.00</td><td>1,190.00</td><td>1,201.00</td><td>1,200.2</td>
<td>5,000</td><td>1,195.00</td><td>6,001,000.00</td><td>95</td><td>6</td><td>20</td>
<td>0.5</td><td>1.68</td><td>0.07</td><td>1,180</td><td>1,170</td><td>1,300</td><td>1,000</td></tr>
<tr><td>3</td><td>BAD</td><td>0</td><td>1</td><td>1</td><td>1</td><td>n/a</td><td>1</td>
<td>1</td><td>1</td><td>1</td><td>1</td><td>0</td><td>0</td><td>0</td><td>0</td><td>0</td>
<td>0</td><td>0</td><td>0</td><td>0</td></tr>
</tbody></table></body></html>"""


def test_reader_on_a_recorded_page(tmp_path):
    path = tmp_path / "today-share-price.html"
    path.write_text(RECORDED_PAGE)
    shown, header, rows = parse_page(path.read_text(), source=str(path))
    assert shown == DAY and header[1] == "Symbol" and len(rows) == 3
    result = rows_to_result(shown, header, rows, source=str(path))
    assert result.prices.select("symbol", "open", "close", "volume", "trades").rows() == [
        ("ADBL", 301.0, 302.5, 12345.0, 210),
        ("NABIL", None, 1201.0, 5000.0, 95),  # '-' is no value, not zero
    ]
    assert result.rejects.rows(named=True)[0]["detail"] == "cannot parse Close='n/a'"
    assert result.rows_read == 3


def test_reader_on_the_csv_export(tmp_path):
    export = tmp_path / "export.csv"
    export.write_text(
        "\ufeffS.No,Symbol,Conf.,Open,High,Low,Close,VWAP,Vol,Prev. Close,Turnover,Trans.\n"
        '1,ADBL,55.1,301.00,305.00,298.10,302.50,301.7,"12,345.00",300,"3,724,516.50",210\n'
    )
    header, rows = parse_export(export.read_text())
    result = rows_to_result(DAY, header, rows, source=str(export))
    assert result.prices.select("symbol", "volume", "turnover").rows() == [
        ("ADBL", 12345.0, 3724516.5)
    ]


def test_changed_page_is_a_source_error():
    with pytest.raises(SourceError, match="headFixed"):
        parse_page("<html><table id='other'></table></html>", source="page")
    with pytest.raises(SourceError, match="lacks Close"):
        rows_to_result(DAY, ["Symbol", "Open", "High", "Low", "LTP", "Vol", "Turnover",
                             "Trans."], [], source="page")  # fmt: skip


@pytest.fixture
def prices() -> pl.DataFrame:
    symbols = [f"S{i:03d}" for i in range(12)]
    rows = [
        (s, d, 100.0 + i, 110.0 + i, 95.0 + i, 105.0 + i, 1000.0, 105000.0 + i, 10)
        for d in (date(2025, 8, 27), DAY)
        for i, s in enumerate(symbols)
    ]
    cols = ["symbol", "date", "open", "high", "low", "close", "volume", "turnover", "trades"]
    return pl.DataFrame(rows, schema=cols, orient="row")


def settings_for(fx: FakeExchange, **overrides):
    return load_settings(
        api_base_url=fx.url,
        sharesansar_url=f"{fx.url}/today-share-price",
        exchange_min_interval_s=0,
        api_read_timeout_s=1.0,
        fallback_min_rows=10,
        **overrides,
    )


def sources(fx, **overrides):
    s = settings_for(fx, **overrides)
    return source_for(s, "api"), fallback_for(s), s


def test_sources_are_chosen_by_settings(prices):
    with FakeExchange(prices) as fx:
        primary, fallback, _ = sources(fx)
        assert isinstance(primary, ExchangeSource) and isinstance(fallback, ShareSansarSource)
        assert isinstance(fallback, PriceSource)
        assert fallback_for(settings_for(fx, fallback_source="none")) is None


def test_the_fake_page_reads_back_exactly(prices, tmp_path):
    page = render_page(prices, DAY)
    shown, header, rows = parse_page(page, source="fake")
    result = rows_to_result(shown, header, rows, source="fake")
    expected = prices.filter(pl.col("date") == DAY).sort("symbol")
    assert result.prices.select(expected.columns).sort("symbol").equals(expected)


def test_primary_failing_takes_the_day_from_the_fallback(prices, tmp_path):
    with FakeExchange(prices, faults={"fail_times": -1, "fail_status": 503}) as fx:
        primary, fallback, _ = sources(fx)
        got = fetch_with_fallback(
            primary, fallback, DAY, raw_dir=tmp_path, min_rows=10, tolerance=0.005
        )
    assert got.used_fallback and got.source == "sharesansar"
    assert "nepse failed" in got.reason and "503" in got.reason
    assert got.result.prices.height == 12
    assert (tmp_path / DAY.isoformat() / "sharesansar.html").is_file()


def test_too_few_rows_takes_the_fallback_and_says_so(prices, tmp_path):
    thin = prices.filter((pl.col("date") != DAY) | (pl.col("symbol") < "S003"))
    with FakeExchange(thin, fallback_prices=prices) as fx:
        primary, fallback, _ = sources(fx)
        got = fetch_with_fallback(
            primary, fallback, DAY, raw_dir=tmp_path, min_rows=10, tolerance=0.005
        )
    assert got.source == "sharesansar"
    assert got.reason == "nepse answered 3 price row(s), fewer than 10; sharesansar has 12"
    assert got.result.prices.height == 12


def test_both_answering_records_disagreements_beyond_the_tolerance(prices, tmp_path):
    other = prices.with_columns(
        close=pl.when(pl.col("symbol") == "S001").then(pl.col("close") * 1.02)
        .when(pl.col("symbol") == "S002").then(pl.col("close") * 1.001)  # within tolerance
        .otherwise(pl.col("close"))
    )  # fmt: skip
    with FakeExchange(prices, fallback_prices=other) as fx:
        primary, fallback, _ = sources(fx)
        got = fetch_with_fallback(
            primary, fallback, DAY, raw_dir=tmp_path, min_rows=10, tolerance=0.005
        )
    assert got.source == "nepse" and not got.used_fallback and got.reconciled
    assert got.conflicts.select("symbol", "field").rows() == [("S001", "close")]
    row = got.conflicts.row(0, named=True)
    assert row["primary"] == 106.0 and row["fallback"] == pytest.approx(108.12)


def test_both_failing_raises_the_primary_error_so_prefect_retries(prices, tmp_path):
    with FakeExchange(prices, faults={"fail_times": -1, "fail_status": 503}) as fx:
        fx.fallback_status = 503
        primary, fallback, _ = sources(fx)
        with pytest.raises(TransientSourceError, match="today-price"):
            fetch_with_fallback(
                primary, fallback, DAY, raw_dir=tmp_path, min_rows=10, tolerance=0.005
            )


def test_a_past_day_is_not_taken_from_the_latest_page(prices, tmp_path):
    with FakeExchange(prices, faults={"fail_times": -1, "fail_status": 500}) as fx:
        primary, fallback, _ = sources(fx)
        with pytest.raises(SourceError, match="latest business day only"):
            fallback.fetch_day(date(2025, 8, 27), raw_dir=tmp_path)
        with pytest.raises(TransientSourceError):
            fetch_with_fallback(
                primary, fallback, date(2025, 8, 27), raw_dir=tmp_path, min_rows=10,
                tolerance=0.005,
            )  # fmt: skip


def test_market_open_day_is_not_replaced_by_the_fallback(prices, tmp_path):
    with FakeExchange(prices, faults={"market_open": True}) as fx:
        primary, fallback, _ = sources(fx)
        got = fetch_with_fallback(
            primary, fallback, DAY, raw_dir=tmp_path, min_rows=10, tolerance=0.005
        )
    assert got.source == "nepse" and got.result.status == "market_open"


@pytest.mark.parametrize(
    ("holidays", "reason", "day"),
    [
        (None, "unknown", DAY),
        ([], "missing", DAY),
        ([Holiday(DAY, "Fulpati")], "holiday", DAY),
        ([DAY], "holiday", DAY),
        (None, "weekend", date(2025, 8, 29)),  # a Friday under the Sunday-Thursday week
        (None, "weekend", date(2026, 4, 12)),  # a Sunday under the Monday-Friday week
    ],
)
def test_a_missing_day_is_a_holiday_only_when_the_exchange_says_so(holidays, reason, day):
    assert missing_day_reason(day, holidays) == reason
