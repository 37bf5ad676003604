"""The repeated-day rule on the real data: it fires only on the source's two copied days."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from nepse.ingest.repeat import repeated_days
from nepse.sources.readers import read_path
from tests.conftest import shared_data

pytestmark = pytest.mark.realdata
NONE_STORED = pl.Series([], dtype=pl.Date)


def test_sharesansar_copies_two_days_and_only_those_are_caught():
    prices = read_path(shared_data("sharesansar-company-wise")).prices
    found = repeated_days(prices, NONE_STORED, prices.clear())
    # 2011-06-20 repeats 06-19 (the official export differs that day); 2016-09-03, a Saturday,
    # repeats 09-04 (the official export has 09-04 with these prices and no 09-03).
    assert found["date"].to_list() == [date(2011, 6, 20), date(2016, 9, 3)]
    assert "23 of 23" in found["detail"][0] and "68 of 68" in found["detail"][1]


def test_the_official_legacy_export_has_no_repeated_day():
    prices = read_path(shared_data("legacy-nepalstock")).prices
    assert repeated_days(prices, NONE_STORED, prices.clear()).is_empty()
