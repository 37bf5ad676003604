"""The whole real ShareSansar folder through the real ingestion path (skipped without the data)."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from nepse.ingest.service import ingest_path
from nepse.store import open_store
from tests.conftest import shared_data
from tests.unit.store.test_flags import assert_flags_follow_the_rules

pytestmark = [pytest.mark.realdata, pytest.mark.slow]


def test_every_real_row_is_stored_rejected_or_a_counted_duplicate(settings):
    folder = shared_data("sharesansar-company-wise")
    expected_rows = sum(
        sum(1 for line in p.read_text(encoding="utf-8").splitlines()[1:] if line.strip())
        for p in folder.glob("*/prices.csv")
    )
    today = date(2026, 11, 27)
    first = ingest_path(settings, folder, today=today)
    first.check_identity()
    assert first.rows_read >= expected_rows >= 440_000
    assert first.inserted >= 400_000
    assert first.inserted + first.updated + first.unchanged + first.rejected + first.duplicates == (
        first.rows_read
    )
    with open_store(settings.database, read_only=True) as st:
        stored = st._exec("SELECT count(*) FROM prices")[0][0]
        rejected = st._exec("SELECT count(*) FROM rejected_prices")[0][0]
        actions = st._exec("SELECT count(DISTINCT symbol) FROM corporate_actions")
    assert stored == first.inserted
    assert rejected == first.rejected
    assert actions[0][0] >= 200
    # Every stored beyond_limit flag is what nepse/market/rules.toml says (885 real rows).
    flagged = assert_flags_follow_the_rules(settings.database).filter(
        pl.col("flag") == "beyond_limit"
    )
    assert flagged.height > 500

    again = ingest_path(settings, folder, today=today)
    again.check_identity()
    assert again.inserted == 0 and again.updated == 0
    assert again.unchanged == first.inserted
