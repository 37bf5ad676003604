"""The evaluation universe is point in time: the legacy export brings back the delisted equities.

The ShareSansar folder holds only symbols listed today; the legacy nepalstock.com export holds
the equities that traded in 2019-2021 and were merged or delisted since (NCCB, MEGA, SRBL, ...).
Ingested together (the source-aware store merges them), the 2019-2021 universe has them.
"""

from __future__ import annotations

from datetime import date

import pytest

from nepse.features.panel import universe
from nepse.ingest.service import ingest_path
from nepse.store import open_store
from tests.conftest import shared_data

pytestmark = [pytest.mark.realdata, pytest.mark.slow]
TODAY = date(2026, 12, 1)


def _equities_2019_2021(settings, *folders) -> set[str]:
    ingest_path(settings, shared_data("nepse-api-2025-08-30", "CompanyList.csv"), today=TODAY)
    for f in folders:
        ingest_path(settings, shared_data(f), today=TODAY)
    with open_store(settings.database, read_only=True) as st:
        prices = st.prices(start=date(2019, 1, 1), end=date(2021, 12, 31))
        kept = prices.filter(universe(st.securities(), active_only=False))
    return set(kept["symbol"].unique())


def test_the_legacy_export_restores_the_delisted_equities(settings, tmp_path):
    both = _equities_2019_2021(settings, "sharesansar-company-wise", "legacy-nepalstock")
    s2 = settings.model_copy(update={"db_path": tmp_path / "ss.duckdb"})
    survivors = _equities_2019_2021(s2, "sharesansar-company-wise")
    gone = both - survivors
    assert {"NCCB", "MEGA", "SRBL"} <= gone
    assert len(gone) >= 45 and survivors <= both
