"""The three real formats, ingested in every order, give the same prices with no value lost.

ShareSansar company-wise prices and the legacy nepalstock export (from ../shared, a subset of
symbols both hold, for speed) plus a NEPSE "Today's Price" file this test writes from the legacy
rows of one day. Skipped without the shared data.
"""

from __future__ import annotations

import itertools
import shutil
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from nepse.ingest.service import ingest_path
from nepse.settings import load_settings
from nepse.sources.readers import read_path
from nepse.store import open_store
from tests.conftest import shared_data
from tests.unit.ingest.test_sources import TODAY_PRICE, assert_nothing_lost

pytestmark = [pytest.mark.realdata, pytest.mark.slow]
SYMBOLS = 25
TODAY = date(2026, 11, 27)


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> dict[str, Path]:
    ss_root, legacy_root = shared_data("sharesansar-company-wise"), shared_data("legacy-nepalstock")
    legacy_files = {p.name.split("_")[0]: p for p in legacy_root.glob("*.csv")}
    common = sorted(s for s in legacy_files if (ss_root / s / "prices.csv").is_file())[:SYMBOLS]
    root = tmp_path_factory.mktemp("real-sources")
    ss, legacy, today = root / "sharesansar", root / "legacy", root / "today"
    legacy.mkdir()
    today.mkdir()
    for sym in common:
        (ss / sym).mkdir(parents=True)
        shutil.copy(ss_root / sym / "prices.csv", ss / sym / "prices.csv")
        shutil.copy(legacy_files[sym], legacy / legacy_files[sym].name)
    rows = read_path(legacy).prices
    day = rows["date"].max()
    lines = [
        f"{i},{r['date']},{i},{r['symbol']},{r['symbol']},,{r['high']},{r['low']},{r['close']},"
        f"{r['volume']},{r['turnover']},,{r['trades']}"
        for i, r in enumerate(rows.filter(pl.col("date") == day).iter_rows(named=True), start=1)
    ]
    (today / f"{day}.csv").write_text("\n".join([TODAY_PRICE, *lines]) + "\n")
    return {"sharesansar": ss, "legacy": legacy, "today": today}


def test_real_formats_in_every_order_resolve_identically(tmp_path, sources):
    frames = []
    for n, order in enumerate(itertools.permutations(sources)):
        settings = load_settings(db_path=tmp_path / f"r{n}.duckdb", data_dir=tmp_path)
        for key in order:
            ingest_path(settings, sources[key], today=TODAY).check_identity()
        assert_nothing_lost(settings.database)
        with open_store(settings.database, read_only=True) as st:
            frames.append(st.prices().drop("ingested_at", "run_id"))
    for frame in frames[1:]:
        assert_frame_equal(frame, frames[0])
    # The legacy export's trade counts survive ShareSansar (which has none) in every order.
    legacy = read_path(sources["legacy"]).prices
    assert frames[0]["trades"].drop_nulls().len() >= 0.95 * legacy["trades"].drop_nulls().len()
