"""Several sources for one (symbol, date): nothing lost, precedence per column, order-free."""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from nepse.ingest.service import ingest_path
from nepse.settings import load_settings
from nepse.store import open_store

TODAY = date(2026, 4, 30)
SHARESANSAR = "date,open,high,low,ltp,percent_change,qty,turnover"
LEGACY = (
    "S.N.,Date,Total Transactions,Total Traded Shares,Total Traded Amount,Max. Price,"
    "Min. Price,Close Price"
)
TODAY_PRICE = (
    "Id,Business Date,Security Id,Symbol,Security Name,Open Price,High Price,Low Price,"
    "Close Price,Total Traded Quantity,Total Traded Value,Previous Day Close Price,Total Trades"
)
DAYS = [date(2021, 1, 3) + timedelta(days=i) for i in range(6)]
VALUE_COLUMNS = ["open", "high", "low", "close", "volume", "turnover", "trades"]


def write_sources(root: Path) -> dict[str, Path]:
    """Three formats that overlap on ADBL and NABIL, with gaps, nulls and one disagreement."""
    ss, legacy, today = root / "sharesansar", root / "legacy", root / "today"
    for sym, base in (("ADBL", 300.0), ("NABIL", 500.0)):
        rows = [
            f"{d},{base + i},{base + i + 5},{base + i - 5},{base + i + 1},0,100,"
            f"{(base + i + 1) * 100}"
            for i, d in enumerate(DAYS[:5])
        ]
        (ss / sym).mkdir(parents=True)
        (ss / sym / "prices.csv").write_text("\n".join([SHARESANSAR, *rows]) + "\n")
        legacy.mkdir(exist_ok=True)
        lrows = []
        for i, d in enumerate(DAYS[1:], start=1):
            close = base + i + 1
            if sym == "NABIL" and i == 2:
                close += 20  # a disagreement beyond the tolerance
            lrows.append(
                f"{i},{d},{10 + i},100.00,{close * 100},{base + i + 5},{base + i - 5},{close}"
            )
        (legacy / f"{sym}_2000-01-01_2021-12-31.csv").write_text("\n".join([LEGACY, *lrows]) + "\n")
    today.mkdir()
    # The official day file: no open for NABIL (a missing value never overwrites), a trade count.
    (today / "2021-01-05.csv").write_text(
        f"{TODAY_PRICE}\n"
        "1,2021-01-05,1,ADBL,Agricultural,302,307,297,303.5,100,30350,302,9\n"
        "2,2021-01-05,2,NABIL,Nabil,,507,497,503,100,50300,502,\n"
    )
    return {"sharesansar": ss, "legacy": legacy, "today": today}


def resolved(db: Path) -> pl.DataFrame:
    with open_store(db, read_only=True) as st:
        return st.prices().drop("ingested_at", "run_id")


def ingest_all(tmp_path: Path, order: tuple[str, ...], sources: dict[str, Path], name: str):
    settings = load_settings(db_path=tmp_path / f"{name}.duckdb", data_dir=tmp_path)
    for key in order:
        ingest_path(settings, sources[key], today=TODAY).check_identity()
    return settings.database


def assert_nothing_lost(db: Path) -> None:
    """Every column a current observation holds for a key is present in `prices`."""
    with open_store(db, read_only=True) as st:
        obs = st.observations(current_only=True)
        prices = st.prices()
    have = obs.group_by("symbol", "date").agg(
        [pl.col(c).is_not_null().any().alias(c) for c in VALUE_COLUMNS]
    )
    joined = have.join(prices, on=["symbol", "date"], how="left", suffix="_p")
    for c in VALUE_COLUMNS:
        lost = joined.filter(
            pl.col(c) & pl.col(f"{c}_p" if f"{c}_p" in joined.columns else c).is_null()
        )
        assert lost.height == 0, (c, lost)


def test_every_order_gives_the_same_prices_and_loses_nothing(tmp_path):
    sources = write_sources(tmp_path / "in")
    results = []
    for n, order in enumerate(itertools.permutations(sources)):
        db = ingest_all(tmp_path, order, sources, f"db{n}")
        assert_nothing_lost(db)
        results.append((order, resolved(db)))
    first = results[0][1]
    for order, frame in results[1:]:
        assert_frame_equal(frame, first, check_row_order=True), order
    by_key = {(r["symbol"], r["date"]): r for r in first.iter_rows(named=True)}
    # The official day file wins its close and trades; its missing open does not erase one.
    nabil = by_key[("NABIL", DAYS[2])]
    assert nabil["close"] == 503.0 and nabil["open"] == 502.0
    assert by_key[("ADBL", DAYS[2])]["trades"] == 9
    # ShareSansar (over legacy) gives the close; legacy alone gives trades and the last day.
    assert by_key[("ADBL", DAYS[1])]["close"] == 302.0 and by_key[("ADBL", DAYS[1])]["trades"] == 11
    assert by_key[("ADBL", DAYS[5])]["close"] == 306.0 and by_key[("ADBL", DAYS[5])]["open"] is None


def test_disagreements_land_in_the_conflicts_table_with_both_values(tmp_path):
    sources = write_sources(tmp_path / "in")
    db = ingest_all(tmp_path, ("sharesansar", "legacy"), sources, "c")
    with open_store(db, read_only=True) as st:
        conflicts = st.conflicts()
    close = conflicts.filter(pl.col("column") == "close")
    assert close.select("symbol", "date", "kind", "value", "other_kind", "other_value").rows() == [
        ("NABIL", DAYS[2], "sharesansar_prices", 503.0, "nepalstock_legacy", 523.0)
    ]


def test_a_source_correcting_itself_supersedes_its_row_with_history_kept(tmp_path):
    sources = write_sources(tmp_path / "in")
    settings = load_settings(db_path=tmp_path / "h.duckdb", data_dir=tmp_path)
    ingest_path(settings, sources["sharesansar"], today=TODAY)
    f = sources["sharesansar"] / "ADBL" / "prices.csv"
    f.write_text(
        f.read_text().replace(
            "2021-01-03,300.0,305.0,295.0,301.0", "2021-01-03,300.0,305.0,295.0,301.5"
        )
    )
    report = ingest_path(settings, sources["sharesansar"], today=TODAY)
    assert (report.updated, report.prices_changed) == (1, 1)
    with open_store(settings.database, read_only=True) as st:
        history = st.observations().filter(
            (pl.col("symbol") == "ADBL") & (pl.col("date") == DAYS[0])
        )
        price = st.prices(["ADBL"], DAYS[0], DAYS[0])["close"].to_list()
    assert history["close"].to_list() == [301.0, 301.5]
    assert history["superseded_by"].is_null().to_list() == [False, True]
    assert price == [301.5]


@pytest.mark.parametrize("column", ["close", "trades"])
def test_precedence_is_configurable_per_column(tmp_path, column):
    sources = write_sources(tmp_path / "in")
    settings = load_settings(
        db_path=tmp_path / "p.duckdb",
        data_dir=tmp_path,
        source_precedence_by_column={column: ("nepalstock_legacy",)},
    )
    for key in ("sharesansar", "legacy", "today"):
        ingest_path(settings, sources[key], today=TODAY)
    symbol = {"close": "NABIL", "trades": "ADBL"}[column]
    with open_store(settings.database, read_only=True) as st:
        row = st.prices([symbol], DAYS[2], DAYS[2]).row(0, named=True)
    # default: the official file's close 503 and trades 9; legacy first: 523 and 12
    assert row[column] == {"close": 523.0, "trades": 12}[column]
