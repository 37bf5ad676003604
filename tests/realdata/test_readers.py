"""sources.readers over the real NEPSE files in ../shared/data/nepse (skipped where absent)."""

from __future__ import annotations

import csv
from pathlib import Path

import polars as pl
import pytest

from nepse.sources.readers import read_path
from tests.conftest import shared_data

pytestmark = pytest.mark.realdata


def data_lines(path: Path) -> int:
    """Non-blank lines after the header, counted without the reader's code."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return sum(1 for line in handle if line.strip()) - 1


def blank_closures(root: Path) -> int:
    """Dividend rows (with a bonus or cash value) whose book_closure_date is blank."""
    count = 0
    for path in root.glob("*/dividend.csv"):
        with path.open(encoding="utf-8-sig", newline="") as handle:
            for row in csv.DictReader(handle):
                values = (row["bonus_share"], row["cash_dividend"])
                has_value = any(float(v.replace(",", "") or 0) for v in values)
                count += has_value and not row["book_closure_date"].strip()
    return count


def rows_per_source(result) -> dict[str, int]:
    both = pl.concat([result.prices.select("source"), result.rejects.select("source")])
    return dict(both.group_by("source").len().rows())


def test_sharesansar_company_wise_folder():
    root = shared_data("sharesansar-company-wise")
    result = read_path(root)

    price_files = sorted(root.glob("*/prices.csv"))
    expected = {str(f): data_lines(f) for f in price_files}
    counted = rows_per_source(result)
    assert {s: n for s, n in counted.items() if s in expected} == expected
    price_rejects = result.rejects.filter(pl.col("source").str.ends_with("/prices.csv"))
    assert result.prices.height + price_rejects.height == sum(expected.values())
    assert result.prices.height >= 440_000
    # The pinned copy's prices parse completely; a reject here means the reader regressed.
    assert price_rejects.height == 0, price_rejects.head(5)
    # One rights row gives the total amount (16,974,000) as its issue price.
    assert result.rejects.select("source", "line", "reason").rows() == [
        (str(root / "MLBBL" / "right-share.csv"), 3, "implausible_action")
    ]

    assert result.prices["symbol"].n_unique() == len(price_files) == 339
    assert result.prices["trades"].is_null().all()
    assert result.prices["date"].min().isoformat() == "1995-07-20"

    actions = result.corporate_actions
    assert actions["symbol"].n_unique() >= 200
    assert set(actions["kind"].unique()) == {"bonus", "cash", "rights"}
    assert (actions["percent"] > 0).all()
    dated = actions.filter(pl.col("kind") != "rights")
    # A blank book-closure date (upcoming, or never published) stays null, row kept.
    undated = dated.filter(pl.col("book_closure_date").is_null())
    assert undated.select("symbol", "fiscal_year").unique().height == blank_closures(root) == 16
    assert dated["fiscal_year"].str.contains(r"^\d{4}/\d{4}$").all()
    rights = actions.filter(pl.col("kind") == "rights")
    assert rights.height == 159  # 160 rows, MLBBL's 16,974,000 issue price rejected
    assert rights["ratio"].str.contains(r"^\d+(\.\d+)?:\d+(\.\d+)?$").all()
    # ADBL ships dividend.csv and an identical dividend2.csv: each action is kept once.
    adbl = actions.filter(pl.col("symbol") == "ADBL", pl.col("kind") != "rights")
    assert adbl.select("kind", "fiscal_year").is_duplicated().sum() == 0


def test_legacy_nepalstock_folder():
    root = shared_data("legacy-nepalstock")
    result = read_path(root)
    files = sorted(root.glob("*.csv"))
    assert rows_per_source(result) == {str(f): data_lines(f) for f in files}
    assert result.fmt == "nepalstock_legacy"
    assert result.rejects.height == 0, result.rejects.head(5)
    assert result.prices["symbol"].n_unique() == len(files) == 415
    assert result.prices["open"].is_null().all()
    assert result.prices["trades"].is_not_null().all()
    assert result.prices["date"].min().isoformat() == "2010-04-15"
    assert result.prices["date"].max().isoformat() == "2021-12-29"


def test_company_list():
    path = shared_data("nepse-api-2025-08-30", "CompanyList.csv")
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    result = read_path(path)
    securities = result.securities
    assert securities.height == len(rows) == 598
    assert result.rejects.height == 0
    assert securities["symbol"].n_unique() == 598
    assert securities["name"].is_not_null().all()
    counts = dict(securities.group_by("instrument_type").len().rows())
    assert counts["Equity"] == 459
    by_symbol = {r["symbol"]: r for r in rows}
    for symbol, name, sector in securities.select("symbol", "name", "sector").rows():
        assert name == by_symbol[symbol]["securityName"].strip()
        assert sector == by_symbol[symbol]["sectorName"]
